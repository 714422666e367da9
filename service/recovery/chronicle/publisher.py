"""Publishing audit events: batched to EventBridge's limits, failures retried, the rest parked.

``publish`` sends events in batches of at most 10 entries and 256 KB (an event over the limit has
its entry's detail cut, said in the event). Entries the bus did not take are sent again, with
backoff, a few times; what is still not taken is parked in the outbox (``storage/outbox.py``) and
the call returns: the reconciler carries parked events on (``carry``). When parking fails too, the
error goes up, so the stream's records are delivered again and nothing is lost. An event is
published at least once; its ``event_id`` lets a consumer drop a second copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from recovery_ops.service import observability
from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.ports.audit_events import (
    MAX_BATCH_BYTES,
    MAX_BATCH_ENTRIES,
    AuditEventBus,
    BusEvent,
    EventBusUnavailableError,
)
from recovery_ops.service.recovery.storage.outbox import OutboxItems, ParkedEvent


@dataclass
class Published:
    published: int = 0
    parked: int = 0


def batches(events: Sequence[BusEvent]) -> Iterator[list[BusEvent]]:
    """``events`` in order, in batches PutEvents takes (entries and bytes)."""
    batch: list[BusEvent] = []
    size = 0
    for event in events:
        if batch and (len(batch) == MAX_BATCH_ENTRIES or size + event.size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(event)
        size += event.size
    if batch:
        yield batch


def _backoff(attempt: int) -> float:
    return min(0.1 * float(2**attempt), 2.0)


@dataclass
class Publisher:
    bus: AuditEventBus
    outbox: OutboxItems
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    attempts: int = 4  # sends of an event the bus refuses, before it is parked
    backoff: Callable[[int], float] = _backoff
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def publish(self, events: Sequence[BusEvent]) -> Published:
        """Publish ``events``; those the bus still refuses after ``attempts`` are parked (raises
        only when parking fails)."""
        pending = list({event.event_id: event for event in events}.values())
        report = Published()
        for attempt in range(self.attempts):
            refused = self._send(pending)
            report.published += len(pending) - len(refused)
            pending = refused
            if not pending:
                return report
            if attempt + 1 < self.attempts:
                self.sleep(self.backoff(attempt))
        now = self.clock()
        for event in pending:
            self.outbox.park(ParkedEvent(event.event_id, event.detail_type, event.detail), now)
        report.parked = len(pending)
        observability.count_by("AuditEventsParked", len(pending))
        logger.warning("audit events parked in the outbox", parked=len(pending))
        return report

    def carry(self, limit: int) -> int:
        """Publish up to ``limit`` parked events, once each; those taken leave the outbox (the rest
        wait for the next run). How many were published."""
        ids, _ = self.outbox.due(self.clock(), limit)
        parked = [found for found in (self.outbox.get(parked_id) for parked_id in ids) if found is not None]
        events = [BusEvent(p.event_id, p.detail_type, p.detail) for p in parked]
        refused = {ev.event_id for ev in self._send(events)}
        carried = 0
        for event in events:
            if event.event_id not in refused:
                self.outbox.remove(event.event_id)
                carried += 1
        if carried:
            observability.count_by("AuditEventsCarried", carried)
        return carried

    def _send(self, events: Sequence[BusEvent]) -> list[BusEvent]:
        """One send of each event; those the bus did not take."""
        refused: list[BusEvent] = []
        for batch in batches(events):
            try:
                failed = set(self.bus.put(batch))
            except EventBusUnavailableError as exc:
                logger.warning("audit events not published", error=str(exc), events=len(batch))
                failed = {event.event_id for event in batch}
            refused.extend(event for event in batch if event.event_id in failed)
        return refused
