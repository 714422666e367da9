"""The task-token port: how the recovery core hands a paused step's token back to its workflow.

The resolver (``actions.py``) speaks only this protocol, through ``TaskTokensByKind``: its two
adapters are ``stepfunctions/tokens.py`` (SendTaskSuccess / SendTaskFailure, a task token) and
``durable/callbacks.py`` (SendDurableExecutionCallbackSuccess / Failure, a durable callback id).
An answer is a ``TokenOutcome``, never an SDK exception:

- ``ACCEPTED``: the step resumed (or failed, for a rejection);
- ``DEAD``: the token cannot be used any more (timed out, execution ended or moved): the recovery
  becomes EXPIRED;
- ``THROTTLED``: the account's SendTask* bucket is empty: the core backs off and tries again;
- ``REFUSED``: Step Functions said no (anything else, with its code and message): nothing
  happened, the recovery is open again;
- ``UNKNOWN``: no answer came (a read timeout, a dropped connection, a 5xx): the call may have
  landed. Never "refused": the core asks Step Functions' record of the execution before anything
  is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from recovery_ops.service.recovery.model.contract import WorkflowKind


class TokenResult(StrEnum):
    ACCEPTED = "ACCEPTED"
    DEAD = "DEAD"
    THROTTLED = "THROTTLED"
    REFUSED = "REFUSED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class TokenOutcome:
    """What became of one call: its result, and for anything but ACCEPTED the code and message."""

    result: TokenResult
    code: str = ""
    message: str = ""

    @classmethod
    def accepted(cls) -> TokenOutcome:
        return cls(TokenResult.ACCEPTED)

    @classmethod
    def dead(cls, code: str, message: str = "") -> TokenOutcome:
        return cls(TokenResult.DEAD, code, message)

    @classmethod
    def throttled(cls, code: str = "ThrottlingException", message: str = "") -> TokenOutcome:
        return cls(TokenResult.THROTTLED, code, message)

    @classmethod
    def refused(cls, code: str, message: str = "") -> TokenOutcome:
        return cls(TokenResult.REFUSED, code, message)

    @classmethod
    def unknown(cls, code: str, message: str = "") -> TokenOutcome:
        return cls(TokenResult.UNKNOWN, code, message)


class TaskTokens(Protocol):
    """Sends a paused step's outcome back to its workflow."""

    def send_success(self, token: str, output: str) -> TokenOutcome:
        """Resume the step with ``output`` (a JSON text)."""
        ...

    def send_failure(self, token: str, error: str, cause: str) -> TokenOutcome:
        """Fail the step with ``error`` (the ASL error name its Catch matches) and ``cause``."""
        ...


class TaskTokensByKind:
    """The port's adapter for each kind of pause: a recovery's kind picks the one its token is for.
    One adapter given for both (a test's fake) serves both."""

    def __init__(self, step_functions: TaskTokens, durable: TaskTokens | None = None) -> None:
        self._by_kind = {WorkflowKind.STEP_FUNCTIONS: step_functions, WorkflowKind.DURABLE: durable}

    def of(self, kind: WorkflowKind) -> TaskTokens:
        adapter = self._by_kind[kind]
        return adapter if adapter is not None else _NotServed(kind)


def tokens_by_kind(tokens: TaskTokens | TaskTokensByKind) -> TaskTokensByKind:
    """``tokens`` as adapters by kind (one adapter serves every kind)."""
    return tokens if isinstance(tokens, TaskTokensByKind) else TaskTokensByKind(tokens, tokens)


class _NotServed:
    """No adapter for this kind in this process: refused, nothing sent (the recovery stays open)."""

    def __init__(self, kind: WorkflowKind) -> None:
        self._message = f"this deployment does not resume {kind.value} pauses"

    def send_success(self, token: str, output: str) -> TokenOutcome:
        return TokenOutcome.refused("NotServed", self._message)

    def send_failure(self, token: str, error: str, cause: str) -> TokenOutcome:
        return TokenOutcome.refused("NotServed", self._message)
