"""The audit-events port: how the core hands audit events to a bus outside the recoveries table.

The chronicle (``service/recovery/chronicle/``) speaks only this protocol; ``eventbridge/bus.py`` is
the one adapter that calls EventBridge's PutEvents. One call takes at most ``MAX_BATCH_ENTRIES``
events of at most ``MAX_BATCH_BYTES`` together (EventBridge's own limits); the answer names the
events the bus did not take (PutEvents' ``FailedEntryCount``), so the caller retries only those. A
call that fails as a whole raises ``EventBusUnavailableError``: nothing can be assumed taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from recovery_ops.service.errors import RecoveryOpsError

MAX_BATCH_ENTRIES = 10  # PutEvents: entries per call
MAX_BATCH_BYTES = 256 * 1024  # PutEvents: the size of one call's entries together (and of one entry)
SOURCE = "recovery-ops"


class EventBusUnavailableError(RecoveryOpsError, RuntimeError):
    """The bus could not be reached or refused the whole call (throttled, a 5xx, no permission)."""


@dataclass(frozen=True)
class BusEvent:
    """One event as the bus takes it: its id (the dedupe key a consumer reads from the detail),
    its detail type and its detail (a JSON text)."""

    event_id: str
    detail_type: str
    detail: str

    @property
    def size(self) -> int:
        """Its size as EventBridge counts a PutEvents entry: source, detail type and detail in UTF-8,
        and 14 bytes for the time."""
        return len(SOURCE.encode()) + len(self.detail_type.encode()) + len(self.detail.encode()) + 14


class AuditEventBus(Protocol):
    """Publishes audit events."""

    def put(self, events: Sequence[BusEvent]) -> list[str]:
        """Publish ``events`` (one PutEvents call); the ids of those the bus did not take."""
        ...
