"""Vendor error classes.

A Lambda that raises one of these fails with ``errorType`` equal to the class name, which is the
error name that the workflow's ``Retry`` and ``Catch`` match. Keep the names stable: they are part
of the state machine's contract.
"""

from __future__ import annotations

import json


class VendorError(Exception):
    """Base class of everything the vendor call can fail with."""


class VendorUnavailable(VendorError):
    """The vendor is down, answered 5xx, or did not answer within the timeout (transient)."""


class VendorRejectedRequest(VendorError):
    """The vendor says the request's data is wrong (4xx): retrying the same data cannot help."""


class VendorThrottled(VendorError):
    """The vendor answered 429. The message is JSON so the workflow can read ``retry_after_seconds``."""

    def __init__(self, retry_after_seconds: int, detail: str = "vendor is throttling requests") -> None:
        self.retry_after_seconds = retry_after_seconds
        self.detail = detail
        super().__init__(json.dumps({"retry_after_seconds": retry_after_seconds, "detail": detail}))
