"""The chronicle as the outage benchmark runs it (benchmarks/_chronicle.py): the fake table's stream
fed to the real sealer in the batches Lambda's event source mapping makes, PutEvents counted."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from recovery_ops.service.recovery.storage.audit_chain import ChainItems
from recovery_ops.service.recovery.storage.items import key
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB
from tests.support.recoveries import opened_recovery

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_chronicle.py"
_SPEC = importlib.util.spec_from_file_location("bench_chronicle", _PATH)
chronicle = sys.modules[_SPEC.name] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(chronicle)

TABLE = "recoveries"
SETTINGS = chronicle.MappingSettings(
    batch_size=10,
    window_seconds=1.0,
    event_names=frozenset({"INSERT", "MODIFY"}),
    retention_days=90,
    archive_retention_days=2557,
)


@dataclass
class Clock:
    now: datetime = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def rig() -> tuple[FakeDynamoDB, RecoveryStore, Clock, object]:
    fake, clock = FakeDynamoDB(), Clock()
    run = chronicle.ChronicleRun(fake, TABLE, clock, SETTINGS, call_seconds=0.005, putevents_seconds=0.02)
    return fake, RecoveryStore(TABLE, fake), clock, run


def test_every_entry_is_sealed_and_published_once_in_batches_no_larger_than_the_mappings() -> None:
    # Given 30 recoveries opened within one second (more records than one batch takes)
    fake, store, _clock, run = rig()
    opened = [opened_recovery(store, n) for n in range(30)]

    # When the stream is drained to its end
    run.drain(final=True)

    # Then no invocation read more than the batch size, and each recovery's entry is sealed and
    # published once (the chain items' own records read, and skipped)
    assert run.invocations >= run.records_read / SETTINGS.batch_size
    assert run.entries_sealed == run.events_published == 30
    for recovery in opened:
        assert len(ChainItems(TABLE, fake).read(recovery.recovery_id).links) == 1
        assert len(run.events.event_ids[recovery.recovery_id]) == 1
    assert run.records_skipped == run.records_read - 30
    assert run.events.requests <= run.invocations  # a batch's events fit one PutEvents call here
    assert run.events.chunks == run.events.entries == 30  # each event under 64 KB: billed once


def test_a_batch_waits_for_its_window_and_takes_only_what_came_within_it() -> None:
    # Given one recovery opened, and another five seconds later
    _fake, store, clock, run = rig()
    first = opened_recovery(store, 1)
    run.drain()
    before = run.invocations
    clock.sleep(5)
    opened_recovery(store, 2)

    # When the chronicle takes the batches due by now
    run.drain()

    # Then the first recovery's batch waited for its window, then went alone; the second waits
    assert before == 0
    assert run.invocations == 1
    assert run.entries_sealed == 1 and set(run.events.event_ids) == {first.recovery_id}
    assert len(run.stream) > 0


def test_removals_are_filtered_out_before_they_reach_the_function() -> None:
    # Given a recovery written, then deleted (as its TTL would)
    fake, store, _clock, run = rig()
    recovery = opened_recovery(store, 1)
    fake.delete_item(TableName=TABLE, Key=key(recovery.recovery_id))

    # When the stream is drained
    run.drain(final=True)

    # Then the removal was never delivered, and nothing was billed for it
    assert run.stream.filtered == 1
    assert run.records_read == run.records_skipped + 1
