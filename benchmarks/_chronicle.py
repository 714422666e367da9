"""The chronicle in a benchmark: the table's stream fed to the real ``Sealer`` as Lambda's event
source mapping delivers it, over the same fake table, with a counting EventBridge.

``StampedStream`` is ``FakeDynamoDB.stream``: every write's record (new and old images), stamped
with the simulated second it was written, kept only when template.yaml's filter passes it (INSERT
and MODIFY: counters, lanes, paces and the chronicle's own chain items reach the function too, and
it skips them). ``ChronicleRun`` takes the records in batches as the mapping makes them
(``BatchSize`` records, or what arrived within ``MaximumBatchingWindowInSeconds`` of the first)
and invokes a freshly built sealer per batch (``composition.build_chronicle``'s parts: chain items,
the publisher, the real ``EventBridgeBus`` adapter) over a boto3-shaped ``CountingEvents``.

**One shard, in order** (an assumption): the stream's records are read as one sequence and a batch
is invoked only when the previous one has returned, so a busy stream gets fuller batches and
``max_lag_s`` (from a record's write to the end of the invocation that sealed it) is the worst case
of a table with one stream shard; more shards would make more, smaller invocations in parallel.

**Time**: an invocation runs on the simulated clock from its start, its DynamoDB calls taking
``call_seconds`` each and its PutEvents calls ``putevents_seconds`` each (what its partition units
are stamped with); the clock is then given back to the process that was running. Its billed
duration is its measured time over the fakes plus those waits, as the collector's is estimated.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from recovery_ops.service.local.engine.cfn_template import load_template
from recovery_ops.service.recovery.chronicle.publisher import Publisher
from recovery_ops.service.recovery.chronicle.sealer import Sealer, audit_change
from recovery_ops.service.recovery.eventbridge.bus import EventBridgeBus
from recovery_ops.service.recovery.storage.audit_chain import ChainItems
from recovery_ops.service.recovery.storage.outbox import OutboxItems

#: EventBridge bills custom events per 64 KB chunk of each entry
EVENT_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class MappingSettings:
    """ChronicleFunction's stream event source, as template.yaml deploys it."""

    batch_size: int
    window_seconds: float
    event_names: frozenset[str]  # the filter's eventName values (INSERT, MODIFY)
    retention_days: int  # RecoveryRetentionDays' default: a chain item's expiry when its subject has none
    archive_retention_days: int  # AuditArchiveRetentionDays' default


def mapping_settings() -> MappingSettings:
    """The chronicle's stream event source, its filter and its retention, from template.yaml."""
    template = load_template()
    parameters = {name: p.get("Default") for name, p in template["Parameters"].items()}
    function = template["Resources"]["ChronicleFunction"]["Properties"]
    (source,) = (event["Properties"] for event in function["Events"].values() if event["Type"] == "DynamoDB")
    names: set[str] = set()
    for pattern in source.get("FilterCriteria", {}).get("Filters", []):
        names.update(json.loads(pattern["Pattern"]).get("eventName", []))
    return MappingSettings(
        batch_size=int(source["BatchSize"]),
        window_seconds=float(source.get("MaximumBatchingWindowInSeconds", 0)),
        event_names=frozenset(names or {"INSERT", "MODIFY", "REMOVE"}),
        retention_days=int(parameters["RecoveryRetentionDays"]),
        archive_retention_days=int(parameters["AuditArchiveRetentionDays"]),
    )


class StampedStream(list[dict[str, Any]]):
    """The table's stream as the mapping sees it: the records its filter passes, each with the
    second it became readable (never before the record ahead of it: a shard is read in order)."""

    def __init__(self, seconds: Callable[[], float], event_names: frozenset[str]) -> None:
        super().__init__()
        self._seconds, self._names = seconds, event_names
        self.stamps: list[float] = []
        self.filtered = 0  # records the filter dropped (REMOVE): never delivered, never billed
        self._latest = 0.0

    def append(self, record: dict[str, Any]) -> None:
        if record.get("eventName") not in self._names:
            self.filtered += 1
            return
        self._latest = max(self._latest, self._seconds())
        super().append(record)
        self.stamps.append(self._latest)

    def take(self, count: int) -> list[dict[str, Any]]:
        """The first ``count`` records, out of the stream."""
        taken = self[:count]
        del self[:count]
        del self.stamps[:count]
        return taken


@dataclass
class CountingEvents:
    """A boto3-shaped EventBridge client: every PutEvents request and entry counted and sized as
    EventBridge sizes an entry (source, detail type and detail in UTF-8, 14 bytes for the time),
    the ids of the events published kept per subject."""

    requests: int = 0
    entries: int = 0
    bytes: int = 0
    chunks: int = 0  # the billed events: each entry's 64 KB chunks
    largest_entry: int = 0
    event_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.requests += 1
        answers = []
        for entry in Entries:
            size = sum(len(str(entry[name]).encode()) for name in ("Source", "DetailType", "Detail")) + 14
            self.entries += 1
            self.bytes += size
            self.chunks += max(1, math.ceil(size / EVENT_CHUNK_BYTES))
            self.largest_entry = max(self.largest_entry, size)
            detail = json.loads(entry["Detail"])
            self.event_ids[detail["subject"]["id"]].add(detail["event_id"])
            answers.append({"EventId": detail["event_id"]})
        return {"FailedEntryCount": 0, "Entries": answers}


class _Waits:
    """A client as one invocation meets it: each call moves the clock on by ``seconds``."""

    def __init__(self, target: Any, sleep: Callable[[float], None], seconds: float) -> None:
        self._target, self._sleep, self._seconds = target, sleep, seconds
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._target, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self._sleep(self._seconds)
            return method(*args, **kwargs)

        return timed


@dataclass
class ChronicleRun:
    """ChronicleFunction over one run's fake table: its invocations and what they did, counted."""

    dynamodb: Any  # the FakeDynamoDB (its partition-load accountant bills the chain's units)
    table: str
    clock: Any  # the run's simulated clock: now, seconds(), sleep()
    settings: MappingSettings
    call_seconds: float
    putevents_seconds: float
    bus_name: str = "recovery-ops-audit"
    events: CountingEvents = field(default_factory=CountingEvents)
    invocations: int = 0
    records_read: int = 0
    records_skipped: int = 0  # read, but no audit change (counters, lanes, paces, chain items)
    entries_sealed: int = 0
    altered: int = 0
    events_published: int = 0
    events_parked: int = 0
    dynamodb_calls: int = 0
    seconds: float = 0.0  # the invocations' estimated duration together
    max_lag_s: float = 0.0
    write_units: float = 0.0  # the partition units the invocations cost (chain items, outbox)
    read_units: float = 0.0
    _free_at: float = 0.0  # when the last invocation returned: the next starts no earlier

    def __post_init__(self) -> None:
        self.stream = StampedStream(self.clock.seconds, self.settings.event_names)
        self.dynamodb.stream = self.stream

    def drain(self, final: bool = False) -> None:
        """Invoke the function for every batch the mapping would have made by now (``final``: for
        every record left, the last batch as its window closes)."""
        while self.stream:
            batch = self._next_batch(final)
            if batch is None:
                return
            start, count = batch
            self._invoke(start, count)

    def _next_batch(self, final: bool) -> tuple[float, int] | None:
        """(when the next batch is invoked, how many records it takes), or None while its window is
        still open and it could take more."""
        stamps, size = self.stream.stamps, self.settings.batch_size
        ready = stamps[0] + self.settings.window_seconds
        if len(stamps) >= size and stamps[size - 1] <= ready:
            ready = stamps[size - 1]  # full before its window closed
        start = max(ready, self._free_at)
        count = 0
        while count < min(size, len(stamps)) and stamps[count] <= start:
            count += 1
        if not final and count < size and start > self.clock.seconds():
            return None
        return start, max(1, count)

    def _invoke(self, start: float, count: int) -> None:
        """One invocation with the batch's records: the real sealer, built as the function builds
        it, on the clock from ``start``; the clock is given back afterwards."""
        first_written = self.stream.stamps[0]
        records = self.stream.take(count)
        self.records_read += len(records)
        self.records_skipped += sum(1 for record in records if audit_change(record) is None)
        saved = self.clock.now  # the process that was running gets its clock back
        self.clock.now = datetime.fromtimestamp(start, UTC)
        load = self.dynamodb.load
        writes, reads = (load.total_write_units, load.total_read_units) if load is not None else (0.0, 0.0)
        dynamodb = _Waits(self.dynamodb, self.clock.sleep, self.call_seconds)
        events = _Waits(self.events, self.clock.sleep, self.putevents_seconds)
        try:
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # its metrics, printed as EMF
                report = self._sealer(dynamodb, events).seal_records(records)
            measured = time.perf_counter() - started
            waited = (self.clock.now - datetime.fromtimestamp(start, UTC)).total_seconds()
        finally:
            self.clock.now = saved
        if load is not None:
            self.write_units += load.total_write_units - writes
            self.read_units += load.total_read_units - reads
        self.invocations += 1
        self.dynamodb_calls += dynamodb.calls
        self.entries_sealed += report.sealed
        self.altered += report.altered
        self.events_published += report.events.published
        self.events_parked += report.events.parked
        duration = measured + waited
        self.seconds += duration
        self._free_at = start + duration
        self.max_lag_s = max(self.max_lag_s, self._free_at - first_written)

    def _sealer(self, dynamodb: Any, events: Any) -> Sealer:
        """What one invocation builds (``composition.build_chronicle``'s parts, over the fakes)."""
        publisher = Publisher(
            EventBridgeBus(events, self.bus_name),
            OutboxItems(self.table, dynamodb, self.settings.retention_days),
            clock=self.clock,
            sleep=self.clock.sleep,
        )
        return Sealer(
            ChainItems(self.table, dynamodb),
            publisher,
            retention=timedelta(days=self.settings.retention_days),
            clock=self.clock,
        )

    def figures(self, recoveries: int) -> dict[str, Any]:
        """What the chronicle did in the run, for the benchmark's last line."""
        events = self.events
        return {
            "chronicle_invocations": self.invocations,
            "chronicle_records_read": self.records_read,
            "chronicle_records_skipped": self.records_skipped,
            "chronicle_records_filtered_out": self.stream.filtered,
            "chronicle_records_per_invocation": round(self.records_read / max(1, self.invocations), 1),
            "chronicle_entries_sealed": self.entries_sealed,
            "chronicle_altered": self.altered,
            "chronicle_events_published": self.events_published,
            "chronicle_events_parked": self.events_parked,
            "chronicle_putevents_requests": events.requests,
            "chronicle_putevents_entries": events.entries,
            "chronicle_entries_per_putevents": round(events.entries / max(1, events.requests), 2),
            "chronicle_event_bytes_mean": round(events.bytes / max(1, events.entries)),
            "chronicle_event_bytes_largest": events.largest_entry,
            "chronicle_billed_events": events.chunks,
            "chronicle_events_per_recovery": round(events.entries / max(1, recoveries), 2),
            "chronicle_dynamodb_calls": self.dynamodb_calls,
            "chronicle_write_units": self.write_units,
            "chronicle_read_units": self.read_units,
            "chronicle_seconds_per_invocation": round(self.seconds / max(1, self.invocations), 4),
            "chronicle_max_lag_s_one_shard": round(self.max_lag_s, 1),
        }


def peak_of(ledger: dict[tuple[str, str, int], float], prefix: str) -> dict[str, Any]:
    """The busiest second of the busiest partition key starting with ``prefix`` (the chain items),
    and how many such keys there were."""
    best: tuple[float, str, int] = (0.0, "", 0)
    keys: set[str] = set()
    for (_where, key, second), units in ledger.items():
        if key.startswith(prefix):
            keys.add(key)
            if units > best[0]:
                best = (units, key, second)
    return {"units": best[0], "key": best[1], "second": best[2], "keys": len(keys)}
