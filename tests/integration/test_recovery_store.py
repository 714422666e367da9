"""The recoveries table: listing is a query on the status index, closed items get a TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def recovery(n: int, machine: str, state: str, error: str, age: timedelta) -> Recovery:
    request = RecoveryRequest(
        task_token=f"token-{n}",
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:{machine}:run-{n}",
        execution_name=f"run-{n}",
        state_machine_arn=f"arn:aws:states:us-east-1:123456789012:stateMachine:{machine}",
        failed_state=state,
        input={"n": n, "amount": 12.5},
        error=error,
        cause="boom",
    )
    return Recovery.from_request(request, NOW - age)


def test_open_recoveries_are_listed_newest_first_and_filtered(stack: EmbeddedStack) -> None:
    store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
    items = [
        recovery(1, "orders", "Check availability", "VendorUnavailable", timedelta(hours=3)),
        recovery(2, "orders", "Check availability", "VendorRejectedRequest", timedelta(hours=2)),
        recovery(3, "payments", "Charge card", "CardDeclined", timedelta(minutes=30)),
        recovery(4, "orders", "Check availability", "VendorUnavailable", timedelta(minutes=5)),
    ]
    for item in items:
        assert store.create_if_absent(item)
    assert not store.create_if_absent(items[0])  # a second delivery of the same task

    def names(where: ListFilter | None = None) -> list[str]:
        return [r.execution_name for r in store.list_by_status(RecoveryStatus.OPEN, where, now=NOW)]

    assert names() == ["run-4", "run-3", "run-2", "run-1"]
    assert names(ListFilter(state_machine="orders")) == ["run-4", "run-2", "run-1"]
    assert names(ListFilter(state_machine=items[2].state_machine_arn)) == ["run-3"]
    assert names(ListFilter(failed_state="Charge card")) == ["run-3"]
    assert names(ListFilter(error="VendorUnavailable")) == ["run-4", "run-1"]
    assert names(ListFilter(older_than=timedelta(hours=1))) == ["run-2", "run-1"]
    assert names(ListFilter(newer_than=timedelta(hours=1))) == ["run-4", "run-3"]
    assert store.get(items[0].recovery_id).input == {"n": 1, "amount": 12.5}


def test_a_closed_recovery_leaves_the_open_list_and_expires_after_the_retention(stack: EmbeddedStack) -> None:
    store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"), retention_days=30)
    item = recovery(1, "orders", "Check availability", "VendorUnavailable", timedelta(minutes=1))
    store.create_if_absent(item)
    entry = AuditEntry(NOW.isoformat(), "U123", "reject", "REJECTED")

    assert store.transition(item.recovery_id, RecoveryStatus.OPEN, RecoveryStatus.REJECTED, entry, NOW)
    assert not store.transition(item.recovery_id, RecoveryStatus.OPEN, RecoveryStatus.RESUMED, entry, NOW)

    assert store.list_by_status(RecoveryStatus.OPEN, now=NOW) == []
    (closed,) = store.list_by_status(RecoveryStatus.REJECTED, now=NOW)
    assert [a.action for a in closed.audit] == ["opened", "reject"]
    raw = stack.client("dynamodb").get_item(
        TableName=stack.physical("RecoveriesTable"), Key={"recovery_id": {"S": item.recovery_id}}
    )["Item"]
    assert int(raw["expires_at"]["N"]) == int((NOW + timedelta(days=30)).timestamp())
    ttl = stack.client("dynamodb").describe_time_to_live(TableName=stack.physical("RecoveriesTable"))
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
