"""Vendor error classes.

A Lambda that raises one of these fails with ``errorType`` equal to the class name, which is the
error name that the workflow's ``Retry`` and ``Catch`` match. Keep the names stable: they are part
of the state machine's contract (which is why they do not end in ``Error`` like the project's other
errors, ``service/errors.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from recovery_ops.service.errors import RecoveryOpsError


class VendorError(RecoveryOpsError):
    """Base class of everything the vendor call can fail with."""


class VendorUnavailable(VendorError):
    """The vendor is down, answered 5xx, or did not answer within the timeout (transient)."""


class VendorRejectedRequest(VendorError):
    """The vendor says the request's data is wrong (4xx): retrying the same data cannot help."""


class VendorThrottled(VendorError):
    """The vendor answered 429.

    The message is the RFC 3339 time to wait until (now + Retry-After), so that the workflow's
    Wait state reads it with ``TimestampPath`` straight from the error's cause.
    """

    def __init__(self, retry_after_seconds: int, detail: str = "vendor is throttling requests") -> None:
        self.retry_after_seconds = retry_after_seconds
        self.detail = detail
        self.retry_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=retry_after_seconds)
        super().__init__(self.retry_at.strftime("%Y-%m-%dT%H:%M:%SZ"))
