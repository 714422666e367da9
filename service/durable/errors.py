"""What ``wait_for_recovery`` raises: the person's answer when it is not Run again, and a request it
refused to send.

``RecoveryRejected`` and ``RecoveryTimedOut`` keep the names a handler catches them by (and the
error type a durable execution fails with when the handler lets one through): ``RecoveryRejected``
is the error type the desk fails the callback with, ``RecoveryTimedOut`` the one the order example's
state machine ends with when nobody answered. Neither carries the callback id: not in its text, not
in an attribute.
"""

from __future__ import annotations

from recovery_ops.service.errors import RecoveryOpsError


class RecoveryRejected(RecoveryOpsError):
    """A person rejected the recovery: the step is not run again. ``cause`` is who and why."""

    def __init__(self, step: str, cause: str) -> None:
        super().__init__(f"recovery of step {step!r} rejected: {cause}")
        self.step = step
        self.cause = cause

    def __reduce__(self) -> tuple[type[RecoveryRejected], tuple[str, str]]:
        return type(self), (self.step, self.cause)


class RecoveryTimedOut(RecoveryOpsError, TimeoutError):
    """Nobody answered the recovery before its timeout: the step is not run again."""

    def __init__(self, step: str, timeout_seconds: int) -> None:
        super().__init__(f"recovery of step {step!r} got no answer within {timeout_seconds:,} seconds")
        self.step = step
        self.timeout_seconds = timeout_seconds

    def __reduce__(self) -> tuple[type[RecoveryTimedOut], tuple[str, int]]:
        return type(self), (self.step, self.timeout_seconds)


class RecoveryRequestError(RecoveryOpsError, ValueError):
    """The recovery request cannot be sent as given (a name, an input, its size, the queue)."""
