"""The audit nobody can quietly change, over fakes: each entry sealed in its item's hash chain from
the table's stream, published once per entry (at least once, deduped by id), parked when the bus
refuses and carried on by the reconciler; `audit verify` finds a changed, a removed and a reordered
entry, and a rewrite of both the trail and the chain against the published events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest

from recovery_ops.service.recovery.chronicle import events as kinds
from recovery_ops.service.recovery.chronicle.chain import GENESIS, Problem, extend
from recovery_ops.service.recovery.chronicle.events import entry_event, schema, subject
from recovery_ops.service.recovery.chronicle.publisher import Publisher, batches
from recovery_ops.service.recovery.chronicle.sealer import Sealer
from recovery_ops.service.recovery.chronicle.verify import AuditVerifier, published_hashes
from recovery_ops.service.recovery.lifecycle.actions import RecoveryActions
from recovery_ops.service.recovery.lifecycle.reconciler import Reconciler
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery
from recovery_ops.service.recovery.ports.audit_events import (
    MAX_BATCH_BYTES,
    MAX_BATCH_ENTRIES,
    BusEvent,
    EventBusUnavailableError,
)
from recovery_ops.service.recovery.storage.audit_chain import ChainItems, chain_id
from recovery_ops.service.recovery.storage.items import audit_entries, key
from recovery_ops.service.recovery.storage.outbox import OutboxItems
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB, FakeStepFunctions
from tests.support.recoveries import opened_recovery

TABLE = "recoveries"
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
VALIDATOR = jsonschema.Draft202012Validator(schema())


class Bus:
    """An audit bus: what it took, in order; ``refuse`` names ids it answers as failed (each time
    ``refusals`` allows), ``down`` fails every call."""

    def __init__(self) -> None:
        self.taken: list[BusEvent] = []
        self.calls: list[int] = []
        self.refusals: dict[str, int] = {}
        self.down = False

    def put(self, events: Sequence[BusEvent]) -> list[str]:
        assert len(events) <= MAX_BATCH_ENTRIES and sum(e.size for e in events) <= MAX_BATCH_BYTES
        self.calls.append(len(events))
        if self.down:
            raise EventBusUnavailableError("PutEvents: 503")
        refused = []
        for event in events:
            if self.refusals.get(event.event_id, 0) > 0:
                self.refusals[event.event_id] -= 1
                refused.append(event.event_id)
            else:
                self.taken.append(event)
        return refused

    def details(self) -> list[dict[str, Any]]:
        return [json.loads(event.detail) for event in self.taken]

    def kinds(self, subject_id: str) -> list[str]:
        return [d["kind"] for d in self.details() if d["subject"]["id"] == subject_id]


class Rig:
    def __init__(self) -> None:
        self.dynamodb = FakeDynamoDB()
        self.dynamodb.stream = []
        self.store = RecoveryStore(TABLE, self.dynamodb)
        self.bus = Bus()
        self.outbox = OutboxItems(TABLE, self.dynamodb)
        self.publisher = Publisher(self.bus, self.outbox, clock=lambda: NOW, sleep=lambda s: None)
        self.chains = ChainItems(TABLE, self.dynamodb)
        self.sealer = Sealer(self.chains, self.publisher, clock=lambda: NOW)
        self.actions = RecoveryActions(self.store, FakeStepFunctions(), None)
        self.verifier = AuditVerifier(self.chains, clock=lambda: NOW)
        self._read = 0

    def resumed(self, n: int = 0) -> Recovery:
        recovery = opened_recovery(self.store, n)
        self.actions.run_again(recovery.recovery_id, "UALICE")
        return recovery

    def new_records(self) -> list[dict[str, Any]]:
        assert self.dynamodb.stream is not None
        records = self.dynamodb.stream[self._read :]
        self._read = len(self.dynamodb.stream)
        return records

    def seal(self) -> None:
        self.sealer.seal_records(self.new_records())

    def rewrite_audit(self, recovery_id: str, entries: list[AuditEntry]) -> None:
        """What someone with write access to the table could do."""
        self.dynamodb.update_item(
            TableName=TABLE,
            Key=key(recovery_id),
            UpdateExpression="SET audit = :audit",
            ExpressionAttributeValues={":audit": audit_entries(*entries)},
        )


# ---------------------------------------------------------------------- sealing and publishing
def test_a_recoverys_life_is_sealed_in_its_chain_and_published_once_per_entry() -> None:
    # Given a recovery opened, claimed and resumed
    rig = Rig()
    recovery = rig.resumed()

    # When the chronicle reads the table's stream
    rig.seal()

    # Then its three entries are sealed, chained from the genesis, and each published once
    links = rig.chains.read(recovery.recovery_id).links
    assert [link["seq"] for link in links] == [0, 1, 2]
    assert links[0]["prev"] == GENESIS and links[1]["prev"] == links[0]["hash"]
    assert rig.bus.kinds(recovery.recovery_id) == ["opened", "claimed", "resumed"]
    assert rig.verifier.verify(recovery.recovery_id).findings == []


def test_a_redelivered_batch_seals_nothing_twice_and_republishes_the_same_event_ids() -> None:
    # Given a recovery's records already sealed
    rig = Rig()
    recovery = rig.resumed()
    records = rig.new_records()
    rig.sealer.seal_records(records)
    first = [e.event_id for e in rig.bus.taken]

    # When the same batch is delivered again (and an older record once more after it)
    report = rig.sealer.seal_records(records + records[:1])

    # Then the chain is unchanged, no alteration is seen, and the events carry the same ids
    assert report.sealed == 0 and report.altered == 0
    assert len(rig.chains.read(recovery.recovery_id).links) == 3
    assert {e.event_id for e in rig.bus.taken} == set(first)


def test_what_is_sealed_is_what_was_written_not_what_the_table_holds_later() -> None:
    # Given a recovery opened, and its entry changed in the table before the chronicle ran
    rig = Rig()
    recovery = opened_recovery(rig.store)
    written = rig.new_records()
    rig.rewrite_audit(recovery.recovery_id, [AuditEntry("2020-01-01T00:00:00", "UMALLORY", "opened", "OPEN")])

    # When the chronicle seals the first record
    rig.sealer.seal_records(written)

    # Then the chain holds the entry as written, and the change shows as one
    assert rig.chains.read(recovery.recovery_id).links[0]["actor"] == "recovery-queue"
    findings = rig.verifier.verify(recovery.recovery_id).tampered
    assert [(f.seq, f.problem) for f in findings] == [(0, Problem.CHANGED)]


def test_a_change_to_a_sealed_entry_publishes_an_audit_altered_event_and_is_not_sealed_over() -> None:
    # Given a sealed trail
    rig = Rig()
    recovery = rig.resumed()
    rig.seal()
    trail = rig.store.get(recovery.recovery_id).audit
    chain_before = rig.chains.read(recovery.recovery_id).links

    # When someone changes who resumed it
    forged = AuditEntry(trail[2].at, "UMALLORY", trail[2].action, trail[2].result, trail[2].detail)
    rig.rewrite_audit(recovery.recovery_id, [*trail[:2], forged])
    report = rig.sealer.seal_records(rig.new_records())

    # Then an audit altered event says which entry, and the chain keeps what was sealed
    assert report.altered == 1
    altered = [d for d in rig.bus.details() if d["kind"] == kinds.ALTERED]
    assert [(d["finding"]["seq"], d["finding"]["problem"]) for d in altered] == [(2, "changed")]
    assert altered[0]["chain"]["hash"] == chain_before[2]["hash"]
    assert rig.chains.read(recovery.recovery_id).links == chain_before


def test_records_without_an_audit_change_are_skipped_without_reading_the_table() -> None:
    # Given the records of a recovery's life (counters, lane entries, the recovery itself)
    rig = Rig()
    rig.resumed()
    records = rig.new_records()
    audited = [r for r in records if "audit" in r["dynamodb"].get("NewImage", {})]
    reads: list[str] = []
    real_get = rig.dynamodb.get_item

    def counted(**request: Any) -> dict[str, Any]:
        reads.append(request["Key"]["recovery_id"]["S"])
        return real_get(**request)

    rig.dynamodb.get_item = counted  # type: ignore[method-assign]

    # When they are sealed
    rig.sealer.seal_records(records)

    # Then only the chain of the item whose audit changed is read, once per such record
    assert len(records) > len(audited) and all(r.startswith("chain#") for r in reads)
    assert len(reads) == len(audited)


# ---------------------------------------------------------------------- the publisher and the outbox
def test_entries_the_bus_refuses_are_sent_again_until_taken() -> None:
    # Given a bus that refuses one event twice
    rig = Rig()
    recovery = rig.resumed()
    claimed = entry_event_id(recovery.recovery_id, 1)
    rig.bus.refusals[claimed] = 2

    # When the chronicle publishes
    rig.seal()

    # Then it was taken on the third send, nothing parked
    assert rig.bus.kinds(recovery.recovery_id) == ["opened", "resumed", "claimed"]
    assert rig.outbox.due(NOW, 10)[0] == []


def test_events_the_bus_never_takes_are_parked_and_the_reconciler_carries_them_on() -> None:
    # Given a bus that is down while the chronicle runs
    rig = Rig()
    recovery = rig.resumed()
    rig.bus.down = True
    report = rig.sealer.seal_records(rig.new_records())
    assert report.events.parked == 3 and rig.bus.taken == []
    assert len(rig.outbox.due(NOW, 10)[0]) == 3

    # When the bus is back and the reconciler runs
    rig.bus.down = False
    reconciler = Reconciler(rig.store, FakeStepFunctions(), outbox=rig.publisher, clock=lambda: NOW)
    carried = reconciler.run().events_carried

    # Then every event went out once and the outbox is empty
    assert carried == 3
    assert sorted(rig.bus.kinds(recovery.recovery_id)) == ["claimed", "opened", "resumed"]
    assert rig.outbox.due(NOW, 10)[0] == []


def test_a_parked_event_the_bus_still_refuses_stays_for_the_next_run() -> None:
    rig = Rig()
    rig.resumed()
    rig.bus.down = True
    rig.seal()
    reconciler = Reconciler(rig.store, FakeStepFunctions(), outbox=rig.publisher, clock=lambda: NOW)

    assert reconciler.run().events_carried == 0
    assert len(rig.outbox.due(NOW, 10)[0]) == 3


def test_when_parking_fails_too_the_batch_fails_so_it_is_delivered_again_and_nothing_is_lost() -> None:
    # Given a bus that is down, and a table that refuses the outbox's writes
    rig = Rig()
    recovery = rig.resumed()
    records = rig.new_records()
    rig.bus.down = True
    real_put = rig.dynamodb.put_item

    def refused(**request: Any) -> dict[str, Any]:
        if request["Item"]["recovery_id"]["S"].startswith("outbox#"):
            raise RuntimeError("table unavailable")
        return real_put(**request)

    rig.dynamodb.put_item = refused  # type: ignore[method-assign]

    # When the chronicle runs, it fails
    with pytest.raises(RuntimeError):
        rig.sealer.seal_records(records)

    # Then the redelivered batch, with the bus back, publishes every event
    rig.bus.down = False
    rig.sealer.seal_records(records)
    assert rig.bus.kinds(recovery.recovery_id) == ["opened", "claimed", "resumed"]


def test_batches_keep_to_ten_entries_and_256_kb() -> None:
    small = [BusEvent(f"e{i}", "Opened", "{}") for i in range(23)]
    large = [BusEvent(f"l{i}", "Opened", json.dumps({"x": "y" * 100_000})) for i in range(5)]

    assert [len(b) for b in batches(small)] == [10, 10, 3]
    assert [len(b) for b in batches(large)] == [2, 2, 1]


def test_an_event_over_256_kb_is_sent_with_its_detail_cut_and_says_so() -> None:
    about = subject("rec-1", {})
    entry = AuditEntry(
        "2026-12-07T09:00:00.000+00:00", "UALICE", "edit input", "RESUMING", {"x": "y" * 300_000}
    )
    (sealed,) = extend("rec-1", [], [entry])

    event = entry_event(about, entry, sealed).as_bus_event()

    detail = json.loads(event.detail)
    assert event.size <= MAX_BATCH_BYTES
    assert detail["entry"]["detail"] == {} and detail["entry"]["detail_cut"] > 300_000
    assert detail["chain"]["hash"] == sealed.hash
    VALIDATOR.validate(detail)


# ---------------------------------------------------------------------- the schema, every kind
ENTRIES = {
    kinds.OPENED: ("rec-1", AuditEntry("t", "recovery-queue", "opened", "OPEN")),
    kinds.CLAIMED: ("rec-1", AuditEntry("t", "UALICE", "run again", "RESUMING")),
    kinds.RESUMED: ("rec-1", AuditEntry("t", "UALICE", "run again", "RESUMED")),
    kinds.REJECTED: ("rec-1", AuditEntry("t", "UALICE", "reject", "REJECTED", {"reason": "dup"})),
    kinds.EXPIRED: ("rec-1", AuditEntry("t", "execution-watcher", "execution ended", "EXPIRED")),
    kinds.CLOSED: ("rec-1", AuditEntry("t", "execution-watcher", "execution ended", "ABORTED")),
    kinds.REOPENED: ("rec-1", AuditEntry("t", "reconciler", "reopen", "OPEN")),
    kinds.REFUSED: ("rec-1", AuditEntry("t", "UBOB", "run again", "DENIED", {"why": "not on the team"})),
    kinds.REDRIVE_CLAIMED: ("fail-1", AuditEntry("t", "UALICE", "redrive", "REDRIVING")),
    kinds.REDRIVEN: ("dlq#recovery-dlq", AuditEntry("t", "UALICE", "redrive dlq", "STARTED")),
    kinds.NOT_REDRIVABLE: ("fail-1", AuditEntry("t", "UALICE", "redrive", "NOT_REDRIVABLE")),
    kinds.OWNERSHIP_TAKEN: ("rec-1", AuditEntry("t", "UALICE", "take", "OWNED")),
    kinds.OWNERSHIP_RELEASED: ("rec-1", AuditEntry("t", "UALICE", "release", "UNOWNED")),
    kinds.ESCALATED: ("rec-1", AuditEntry("t", "escalation", "escalate", "LEVEL 1")),
    kinds.APPROVAL_REQUESTED: ("rec-1", AuditEntry("t", "UALICE", "edit input", "APPROVAL_PENDING")),
    kinds.APPROVED: ("rec-1", AuditEntry("t", "UBOB", "approve", "APPROVED")),
    kinds.DENIED: ("rec-1", AuditEntry("t", "UBOB", "deny", "APPROVAL_DENIED")),
    kinds.WITHDRAWN: ("rec-1", AuditEntry("t", "UALICE", "withdraw", "APPROVAL_WITHDRAWN")),
    kinds.APPROVAL_EXPIRED: ("rec-1", AuditEntry("t", "reconciler", "expire", "APPROVAL_EXPIRED")),
    kinds.RECORDED: ("heal-1", AuditEntry("t", "UALICE", "stop self-healing", "STOPPED")),
}


@pytest.mark.parametrize("kind", sorted(ENTRIES))
def test_every_kind_of_event_is_valid_against_the_schema_and_carries_no_token(kind: str) -> None:
    # Given an entry (its detail with a token where none should be)
    subject_id, entry = ENTRIES[kind]
    entry = AuditEntry(
        entry.at, entry.actor, entry.action, entry.result, {**entry.detail, "task_token": "T0K"}
    )
    attributes = {"execution_arn": "arn:e", "state_machine_arn": "arn:m", "failed_state": "S", "error": "E"}
    (sealed,) = extend(subject_id, [], [entry])

    # When its event is made
    event = entry_event(subject(subject_id, {**attributes, "task_token": "T0K"}), entry, sealed)

    # Then it is of its kind, valid against the schema, and no token is in it
    assert event.detail["kind"] == kind
    VALIDATOR.validate(event.detail)
    assert "T0K" not in event.as_bus_event().detail


def test_the_schema_lists_every_kind_the_code_emits() -> None:
    assert set(schema()["properties"]["kind"]["enum"]) == set(kinds.KINDS)
    assert set(ENTRIES) | {kinds.ALTERED} == set(kinds.KINDS)


def test_no_event_of_a_recoverys_life_carries_its_task_token_and_each_is_valid() -> None:
    rig = Rig()
    recovery = rig.resumed()
    rig.seal()

    for event in rig.bus.taken:
        assert recovery.task_token not in event.detail
        VALIDATOR.validate(json.loads(event.detail))


# ---------------------------------------------------------------------- audit verify
def sealed_rig() -> tuple[Rig, Recovery, list[AuditEntry]]:
    rig = Rig()
    recovery = rig.resumed()
    rig.seal()
    return rig, recovery, rig.store.get(recovery.recovery_id).audit


def test_verify_finds_an_altered_entry() -> None:
    rig, recovery, trail = sealed_rig()
    changed = AuditEntry(trail[1].at, "UMALLORY", trail[1].action, trail[1].result, trail[1].detail)
    rig.rewrite_audit(recovery.recovery_id, [trail[0], changed, trail[2]])

    findings = rig.verifier.verify(recovery.recovery_id).tampered

    assert [(f.seq, f.problem) for f in findings] == [(1, Problem.CHANGED)]


def test_verify_finds_a_removed_entry() -> None:
    rig, recovery, trail = sealed_rig()
    rig.rewrite_audit(recovery.recovery_id, trail[:2])

    findings = rig.verifier.verify(recovery.recovery_id).tampered

    assert [(f.seq, f.problem) for f in findings] == [(2, Problem.REMOVED)]


def test_verify_finds_reordered_entries() -> None:
    rig, recovery, trail = sealed_rig()
    rig.rewrite_audit(recovery.recovery_id, [trail[0], trail[2], trail[1]])

    findings = rig.verifier.verify(recovery.recovery_id).tampered

    assert [(f.seq, f.problem) for f in findings] == [(1, Problem.REORDERED), (2, Problem.REORDERED)]


def test_verify_reports_unsealed_entries_as_pending_not_tampering() -> None:
    rig, recovery, _ = sealed_rig()
    rig.actions.store.append_audit(recovery.recovery_id, AuditEntry("t", "UALICE", "take", "OWNED"))

    verified = rig.verifier.verify(recovery.recovery_id)

    assert verified.pending == 1 and verified.tampered == []


def test_a_rewrite_of_both_the_trail_and_the_chain_is_found_against_the_published_events() -> None:
    # Given a sealed trail whose events were published
    rig, recovery, trail = sealed_rig()
    published = published_hashes(json.dumps({"detail": d}) for d in rig.bus.details())

    # When someone rewrites an entry and seals a new chain over the forged trail
    forged = [trail[0], AuditEntry(trail[1].at, "UMALLORY", trail[1].action, trail[1].result), trail[2]]
    rig.rewrite_audit(recovery.recovery_id, forged)
    rig.dynamodb.items(TABLE).pop(chain_id(recovery.recovery_id))
    rig.chains.write(
        recovery.recovery_id,
        [link.as_dict() for link in extend(recovery.recovery_id, [], forged)],
        0,
        0,
    )

    # Then the chain alone agrees, and the published copy does not
    assert rig.verifier.verify(recovery.recovery_id).tampered == []
    findings = rig.verifier.verify(recovery.recovery_id, published[recovery.recovery_id]).tampered
    assert [(f.seq, f.problem) for f in findings] == [(1, Problem.UNPUBLISHED), (2, Problem.UNPUBLISHED)]


def test_verify_all_pages_through_every_chain() -> None:
    rig = Rig()
    first, second = rig.resumed(0), rig.resumed(1)
    rig.seal()

    assert sorted(rig.verifier.subjects()) == sorted([first.recovery_id, second.recovery_id])


def entry_event_id(subject_id: str, seq: int) -> str:
    return kinds.event_id(subject_id, seq)
