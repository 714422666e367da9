"""The recoveries in lanes: listings a page at a time, filters served by their own lanes, counts
from counters kept in each transition's transaction (over the plain fake, with its accountant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage import recoveries as recoveries_module
from recovery_ops.service.recovery.storage.items import ENTRY_PREFIX, LANE, LANE_INDEX
from recovery_ops.service.recovery.storage.recoveries import NO_OWNER, ListFilter, RecoveryStore
from tests.support.fakes import FakeDynamoDB
from tests.support.partition_load import PartitionLoad

TABLE = "recoveries"
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LATER = START + timedelta(minutes=5)
OPEN, RESUMING, RESUMED = RecoveryStatus.OPEN, RecoveryStatus.RESUMING, RecoveryStatus.RESUMED


def a_recovery(
    n: int, machine: str = "orders", error: str = "VendorUnavailable", dependency: str | None = None
) -> Recovery:
    request = RecoveryRequest(
        task_token=f"token-{n}",
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:{machine}:run-{n}",
        execution_name=f"run-{n}",
        state_machine_arn=f"arn:aws:states:us-east-1:123456789012:stateMachine:{machine}",
        failed_state="Charge card",
        input={"n": n},
        error=error,
        dependency=dependency,
    )
    return Recovery.from_request(request, START + timedelta(seconds=n))


def stored(store: RecoveryStore, count: int, **fields: Any) -> list[Recovery]:
    made = [a_recovery(n, **fields) for n in range(count)]
    for recovery in made:
        assert store.create_if_absent(recovery)
    return made


def entry(action: str, result: str) -> AuditEntry:
    return AuditEntry(START.isoformat(), "UALICE", action, result)


def test_pages_walk_every_shard_in_order_once() -> None:
    # Given 60 open recoveries, spread over the status lane's shards
    store = RecoveryStore(TABLE, FakeDynamoDB())
    made = stored(store, 60)

    # When they are listed a page of 25 at a time, newest first, each page from the last's cursor
    seen: list[str] = []
    before = None
    while True:
        page = store.list_by_status(OPEN, limit=25, now=START + timedelta(hours=1), before=before)
        if not page:
            break
        seen += [r.recovery_id for r in page]
        before = page[-1].sort_key

    # Then every one came once, newest first
    assert seen == [r.recovery_id for r in sorted(made, key=lambda r: r.sort_key, reverse=True)]


def test_each_filter_reads_its_own_lane_and_a_closed_recovery_leaves_them() -> None:
    # Given recoveries of two machines, two errors, one dependency, one owned, one in a group
    dynamodb = FakeDynamoDB()
    store = RecoveryStore(TABLE, dynamodb)
    orders = stored(store, 3)
    refunds = [
        a_recovery(10 + n, machine="refunds", error="CardDeclined", dependency="payments") for n in range(2)
    ]
    for recovery in refunds:
        store.create_if_absent(recovery)
    store.mark_posted(orders[0].recovery_id, "C1", "1.1", group_id="grp-1")

    # When each filter lists the open ones
    def ids(where: ListFilter) -> set[str]:
        return {r.recovery_id for r in store.list_by_status(OPEN, where, limit=50)}

    # Then each gets exactly its own
    assert ids(ListFilter(state_machine="refunds")) == {r.recovery_id for r in refunds}
    assert ids(ListFilter(state_machine=refunds[0].state_machine_arn)) == {r.recovery_id for r in refunds}
    assert ids(ListFilter(error="VendorUnavailable")) == {r.recovery_id for r in orders}
    assert ids(ListFilter(dependency="payments")) == {r.recovery_id for r in refunds}
    assert ids(ListFilter(group_id="grp-1")) == {orders[0].recovery_id}
    assert ids(ListFilter(owner=NO_OWNER)) == {r.recovery_id for r in orders + refunds}

    # And once one of refunds is resumed, it leaves every filter lane (no entry of it is left)
    gone = refunds[0].recovery_id
    assert (
        store.claim(gone, entry("run again", "RESUMING"), "claim-1", START + timedelta(minutes=5)) is not None
    )
    assert store.transition(gone, RESUMING, RESUMED, entry("run again", "RESUMED"), lease_owner="claim-1")
    assert ids(ListFilter(state_machine="refunds")) == {refunds[1].recovery_id}
    assert not [k for k in dynamodb.items(TABLE) if k.startswith(ENTRY_PREFIX) and k.endswith(gone)]
    assert [r.recovery_id for r in store.list_by_status(RESUMED, limit=5)] == [gone]


def test_counts_come_from_the_counters_and_move_with_every_transition() -> None:
    # Given 5 open recoveries of orders and 3 of refunds
    store = RecoveryStore(TABLE, FakeDynamoDB())
    orders = stored(store, 5)
    for n in range(3):
        store.create_if_absent(a_recovery(20 + n, machine="refunds", error="CardDeclined"))

    # When one of orders is claimed, and another claimed and rejected
    store.claim(orders[0].recovery_id, entry("run again", "RESUMING"), "c-0", START + timedelta(minutes=5))
    store.claim(orders[1].recovery_id, entry("reject", "RESUMING"), "c-1", START + timedelta(minutes=5))
    store.transition(
        orders[1].recovery_id,
        RESUMING,
        RecoveryStatus.REJECTED,
        entry("reject", "REJECTED"),
        lease_owner="c-1",
    )

    # Then the counts are exact, by status, filter and who may see them
    assert store.counts(OPEN).by_pair == {("orders", "VendorUnavailable"): 3, ("refunds", "CardDeclined"): 3}
    assert store.counts(RESUMING).by_pair == {("orders", "VendorUnavailable"): 1}
    assert store.counts(OPEN, ListFilter(state_machine="refunds")).total == 3
    assert store.counts(OPEN, visible=lambda cell: cell["state_machine_name"] == "orders").total == 3
    assert store.counts(OPEN).complete


def test_counts_a_filter_the_counters_cannot_answer_by_reading_at_most_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given 7 open recoveries nobody owns, and a reading limit of 5
    monkeypatch.setattr(recoveries_module, "COUNT_LIMIT", 5)
    store = RecoveryStore(TABLE, FakeDynamoDB())
    stored(store, 7)

    # When those nobody owns are counted
    counts = store.counts(OPEN, ListFilter(owner=NO_OWNER))

    # Then it says it counted at least 5, not all
    assert (counts.total, counts.complete) == (5, False)


def test_a_page_reads_the_same_whatever_the_number_stored() -> None:
    # Given two tables, one with 100 open recoveries and one with 2,000, each with its accountant
    def read_units_of_a_page(count: int) -> float:
        load = PartitionLoad(lambda: START.timestamp(), indexes={})
        dynamodb = FakeDynamoDB(load=load)
        store = RecoveryStore(TABLE, dynamodb)
        stored(store, count)
        before = load.total_read_units
        store.list_by_status(OPEN, limit=25, now=START + timedelta(hours=1))
        store.counts(OPEN)
        return load.total_read_units - before

    # When a page is listed and counted in each
    small, large = read_units_of_a_page(100), read_units_of_a_page(2_000)

    # Then the larger table costs no more than half again as much
    assert large <= 1.5 * small


class ConflictsOnce(FakeDynamoDB):
    """The table, but the next transaction meets another one on its counter (and writes nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.conflicts = 1
        self.attempts = 0

    def transact_write_items(self, **request: Any) -> dict[str, Any]:
        self.attempts += 1
        if self.conflicts:
            self.conflicts -= 1
            error = ClientError(
                {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
                "TransactWriteItems",
            )
            error.response["CancellationReasons"] = [{"Code": "None"}, {"Code": "TransactionConflict"}]  # type: ignore[typeddict-unknown-key]
            raise error
        return super().transact_write_items(**request)


def test_a_transaction_that_met_another_is_tried_again_and_counted_once() -> None:
    # Given a table whose first transaction conflicts on a busy counter
    dynamodb = ConflictsOnce()
    store = RecoveryStore(TABLE, dynamodb)
    store._sleep = lambda seconds: None  # no real pause between attempts

    # When a recovery is stored
    created = store.create_if_absent(a_recovery(1))

    # Then it was tried again, stored once and counted once
    assert (created, dynamodb.attempts) == (True, 2)
    assert store.counts(OPEN).total == 1


class LosesTheAnswer(FakeDynamoDB):
    """The table, but the next transaction lands and its answer is lost."""

    lose = False

    def transact_write_items(self, **request: Any) -> dict[str, Any]:
        answer = super().transact_write_items(**request)
        if self.lose:
            self.lose = False
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "lost"}}, "TransactWriteItems"
            )
        return answer


def test_a_claim_whose_answer_was_lost_is_not_taken_twice() -> None:
    # Given an open recovery, and a table that loses the answer to the claim's transaction
    dynamodb = LosesTheAnswer()
    store = RecoveryStore(TABLE, dynamodb)
    (recovery,) = stored(store, 1)
    dynamodb.lose = True

    # When it is claimed (the fault reaches the caller), and the same claim asks again
    with pytest.raises(ClientError):
        store.claim(recovery.recovery_id, entry("run again", "RESUMING"), "c-1", START + timedelta(minutes=5))
    again = store.claim(
        recovery.recovery_id, entry("run again", "RESUMING"), "c-1", START + timedelta(minutes=5)
    )

    # Then the item names the claim that holds it, and it was counted as in flight once
    assert again is not None and again.lease_owner == "c-1"
    assert (store.counts(OPEN).total, store.counts(RESUMING).total) == (0, 1)


def test_no_lane_is_read_past_the_page_the_merge_needs() -> None:
    # Given 400 open recoveries
    dynamodb = FakeDynamoDB()
    store = RecoveryStore(TABLE, dynamodb)
    stored(store, 400)
    queries: list[dict[str, Any]] = []
    real = dynamodb.query
    dynamodb.query = lambda **kw: queries.append(kw) or real(**kw)  # type: ignore[method-assign]

    # When a page of 25 is listed
    store.list_by_status(OPEN, limit=25, now=START + timedelta(hours=1))

    # Then each status lane was read once, a page of a few entries each
    lanes = [q["ExpressionAttributeValues"][":lane"]["S"] for q in queries if q["IndexName"] == LANE_INDEX]
    assert sorted(lanes) == sorted(set(lanes)) and len(lanes) == 8
    assert all(q["Limit"] <= 10 for q in queries)
    assert all(LANE in q["KeyConditionExpression"] for q in queries)


def test_a_listing_whose_counts_are_incomplete_says_at_least() -> None:
    # Given counts read from the first ones only (a filter no counter answers)
    from collections import Counter

    from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
    from recovery_ops.slack_app.views.listing import list_blocks

    counts = Counter({("orders", "VendorUnavailable"): 1000})

    # When the list is drawn with them, complete and not
    complete = list_blocks([], counts, RecoveryQuery(), None)
    partial = list_blocks([], counts, RecoveryQuery(), None, counts_complete=False)

    # Then only the incomplete one says "1000+"
    assert "1000 open" in complete[0].text.text and "+" not in complete[0].text.text  # type: ignore[attr-defined]
    assert "1000+ open" in partial[0].text.text  # type: ignore[attr-defined]


def test_the_pairs_the_lists_show_and_the_cells_the_rules_read_count_alike() -> None:
    # Given recoveries of two machines and two failed states, some moved on
    store = RecoveryStore(TABLE, FakeDynamoDB())
    made = stored(store, 6) + stored(store, 0)
    for n in range(3):
        store.create_if_absent(a_recovery(40 + n, machine="refunds", error="CardDeclined"))
    store.claim(made[0].recovery_id, entry("run again", "RESUMING"), "c-0", LATER)
    store.claim(made[1].recovery_id, entry("run again", "RESUMING"), "c-1", LATER)
    done = entry("run again", "RESUMED")
    store.transition(made[1].recovery_id, RESUMING, RESUMED, done, lease_owner="c-1")

    # When they are counted from the pairs (an admin's list) and from the cells (through the rules)
    for status in (OPEN, RESUMING):
        by_pairs = store.counts(status).by_pair
        by_cells = store.counts(status, visible=lambda cell: True).by_pair

        # Then both say the same
        assert by_pairs == by_cells
    assert store.counts(OPEN).total == 7 and store.counts(RESUMING).total == 1


def test_past_a_hundred_kinds_the_counts_read_the_minutes_rollup() -> None:
    # Given 120 kinds of failure (one state machine each) and a rollup written by the reconciler
    store = RecoveryStore(TABLE, FakeDynamoDB())
    for n in range(120):
        store.create_if_absent(a_recovery(n, machine=f"machine-{n:03d}"))
        store.create_if_absent(a_recovery(1000 + n, machine="machine-000"))
    store.roll_up(START + timedelta(minutes=1))

    # When the unfiltered counts are read, and one state machine's
    counts = store.counts(OPEN)
    narrowed = store.counts(OPEN, ListFilter(state_machine="machine-007"))

    # Then the rollup gives the whole total, the kinds and its largest kinds, with its time;
    # a filter still counts live
    assert (counts.total, counts.kinds, counts.as_of) == (240, 120, "2026-12-07T09:01:00+00:00")
    assert counts.by_pair.most_common(1) == [(("machine-000", "VendorUnavailable"), 121)]
    assert len(counts.by_pair) == 50
    assert (narrowed.total, narrowed.as_of) == (1, None)


def test_with_few_kinds_the_counts_are_live_whatever_the_rollup_says() -> None:
    # Given a rollup of two recoveries, and a third stored after it
    store = RecoveryStore(TABLE, FakeDynamoDB())
    stored(store, 2)
    store.roll_up(START)
    store.create_if_absent(a_recovery(99))

    # When they are counted
    counts = store.counts(OPEN)

    # Then the count is live (one kind: no rollup needed)
    assert (counts.total, counts.as_of) == (3, None)
