"""Recoveries an earlier release stored (in the ``by-status`` index, no lane, not counted) moved
into lanes online: by a transition that meets one, by the reconciler a page a run, and by
``migrate`` at once; each counted once however many processes move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, RecoveryActions
from recovery_ops.service.recovery.lifecycle.reconciler import Reconciler
from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.items import (
    CREATED_SORT,
    LANE,
    LANE_SORT,
    STATUS_INDEX,
    recovery_item,
)
from recovery_ops.service.recovery.storage.migration import migrate
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryStore
from tests.support.fakes import FakeDynamoDB, FakeTaskTokens

TABLE = "recoveries"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OPEN = RecoveryStatus.OPEN


def a_recovery(n: int, status: RecoveryStatus = OPEN) -> Recovery:
    request = RecoveryRequest(
        task_token=f"token-{n}",
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:orders:run-{n}",
        execution_name=f"run-{n}",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:orders",
        failed_state="Charge card",
        input={"n": n},
        error="VendorUnavailable",
        dependency="payments",
    )
    recovery = Recovery.from_request(request, START + timedelta(seconds=n))
    recovery.status = status
    return recovery


def stored_the_earlier_way(dynamodb: FakeDynamoDB, recovery: Recovery) -> None:
    """As the release before lanes wrote a recovery: ``created_sort``, no lane, no entries, no count."""
    item = recovery_item(recovery)
    item[CREATED_SORT] = item.pop(LANE_SORT)
    del item[LANE]
    dynamodb.put_item(TableName=TABLE, Item=item)


def left_in_by_status(dynamodb: FakeDynamoDB) -> int:
    return sum(
        len(
            dynamodb.query(
                TableName=TABLE,
                IndexName=STATUS_INDEX,
                KeyConditionExpression="#status = :status",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":status": {"S": status}},
            )["Items"]
        )
        for status in RecoveryStatus
    )


def an_earlier_deployment(
    open_count: int, closed_count: int
) -> tuple[FakeDynamoDB, RecoveryStore, list[Recovery]]:
    dynamodb = FakeDynamoDB()
    made = [a_recovery(n) for n in range(open_count)]
    made += [a_recovery(100 + n, RecoveryStatus.RESUMED) for n in range(closed_count)]
    for recovery in made:
        stored_the_earlier_way(dynamodb, recovery)
    return dynamodb, RecoveryStore(TABLE, dynamodb), made


def test_migrate_moves_every_recovery_into_lanes_and_counts_each_once() -> None:
    # Given a deployment updated from the release before lanes: 30 open and 5 resumed recoveries
    dynamodb, store, made = an_earlier_deployment(30, 5)
    assert store.list_by_status(OPEN, limit=50) == []  # not in a lane yet

    # When they are migrated, and migrated again (twice is harmless)
    first, second = migrate(store, page_size=7), migrate(store)

    # Then every one is listed, filtered and counted, once; nothing is left in by-status
    assert (first.migrated, second.migrated) == (35, 0)
    assert len(store.list_by_status(OPEN, limit=50)) == 30
    assert len(store.list_by_status(OPEN, ListFilter(dependency="payments"), limit=50)) == 30
    assert len(store.list_by_status(RecoveryStatus.RESUMED, limit=50)) == 5
    assert store.counts(OPEN).total == 30
    assert left_in_by_status(dynamodb) == 0


def test_an_action_on_a_recovery_not_yet_migrated_migrates_it_first() -> None:
    # Given a recovery stored before lanes
    _dynamodb, store, (recovery,) = an_earlier_deployment(1, 0)
    tokens = FakeTaskTokens()

    # When someone runs it again, before any migration ran
    result = RecoveryActions(store, tokens).run_again(recovery.recovery_id, "UALICE")

    # Then it is resumed once, and counted neither open nor in flight (its open count came and went)
    assert result.outcome is ActionOutcome.RESUMED
    assert [call.token for call in tokens.calls] == ["token-0"]
    assert (store.counts(OPEN).total, store.counts(RecoveryStatus.RESUMING).total) == (0, 0)
    assert [r.recovery_id for r in store.list_by_status(RecoveryStatus.RESUMED, limit=5)] == [
        recovery.recovery_id
    ]


def test_two_processes_migrating_one_recovery_count_it_once() -> None:
    # Given a recovery stored before lanes, read by two processes that both mean to migrate it
    dynamodb, store, (recovery,) = an_earlier_deployment(1, 0)
    item: dict[str, Any] = dynamodb.get_item(
        TableName=TABLE, Key={"recovery_id": {"S": recovery.recovery_id}}
    )["Item"]

    # When both migrate it
    results = [store.migrate_item(item), store.migrate_item(item)]

    # Then one did, and it is counted once
    assert results == [True, False]
    assert store.counts(OPEN).total == 1


def test_the_reconciler_migrates_a_page_a_run_until_none_is_left() -> None:
    # Given 12 recoveries stored before lanes, and a reconciler that migrates 5 a run
    dynamodb, store, _made = an_earlier_deployment(12, 0)
    reconciler = Reconciler(store, records=None, migrate_budget=5)  # type: ignore[arg-type]

    # When it runs four times
    migrated = [reconciler.run().migrated for _ in range(4)]

    # Then it moved them 5, 5 and 2 at a time, then had nothing to do
    assert migrated == [5, 5, 2, 0]
    assert store.counts(OPEN).total == 12
    assert left_in_by_status(dynamodb) == 0
