"""The audit-events port over EventBridge: the only caller of PutEvents.

One call per batch; the entries EventBridge answers with an ``ErrorCode`` (throttling, an internal
failure) are named back so the publisher retries only them. A call that fails as a whole (no
connection, throttled, refused) is ``EventBusUnavailableError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recovery_ops.service.recovery.ports.audit_events import SOURCE, BusEvent, EventBusUnavailableError


class EventBridgeBus:
    """``AuditEventBus`` over a boto3 EventBridge client and one bus (its name or ARN)."""

    def __init__(self, events: Any, bus_name: str) -> None:
        self._events = events
        self._bus = bus_name

    def put(self, events: Sequence[BusEvent]) -> list[str]:
        if not events:
            return []
        entries = [
            {
                "Source": SOURCE,
                "DetailType": event.detail_type,
                "Detail": event.detail,
                "EventBusName": self._bus,
            }
            for event in events
        ]
        try:
            answer = self._events.put_events(Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            raise EventBusUnavailableError(f"PutEvents failed: {exc}") from exc
        if not answer.get("FailedEntryCount"):
            return []
        results = answer.get("Entries", [])
        return [
            event.event_id
            for event, result in zip(events, results, strict=False)
            if result.get("ErrorCode") or not result.get("EventId")
        ] + [event.event_id for event in events[len(results) :]]
