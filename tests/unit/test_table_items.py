"""The recoveries table's codec: every kind's item pinned as deployments hold it, and read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from recovery_ops.service.local.engine.cfn_template import load_template
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.failed_execution import FailedExecution, FailureStatus
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage import items as table_items

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:orders:run-1"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
OPENED = AuditEntry("2026-03-01T12:00:01.000+00:00", "recovery-queue", "opened", "OPEN")
OPENED_ITEM = {
    "M": {
        "action": {"S": "opened"},
        "actor": {"S": "recovery-queue"},
        "at": {"S": "2026-03-01T12:00:01.000+00:00"},
        "detail": {"M": {}},
        "result": {"S": "OPEN"},
    }
}


def a_recovery() -> Recovery:
    return Recovery(
        recovery_id="rec-1",
        task_token="tok",
        execution_arn=EXECUTION,
        execution_name="run-1",
        state_machine_arn=MACHINE,
        failed_state="Check availability",
        input={"sku": "a", "price": 9.5, "n": 2, "none": None},
        error="VendorUnavailable",
        cause=None,
        routing=Routing.TECHNICAL,
        requested_at="2026-03-01T12:00:00+00:00",
        created_at="2026-03-01T12:00:01.000+00:00",
        status=RecoveryStatus.RESUMING,
        updated_at="2026-03-01T12:00:02.000+00:00",
        slack_channel="C1",
        slack_ts="1.2",
        attempts=2,
        audit=[OPENED],
    )


def a_failure() -> FailedExecution:
    return FailedExecution(
        failure_id="fail-1",
        execution_arn=EXECUTION,
        execution_name="run-1",
        state_machine_arn=MACHINE,
        execution_status="TIMED_OUT",
        error=None,
        cause="late",
        stopped_at="2026-03-01T12:00:00+00:00",
        audit=[
            AuditEntry(
                "2026-03-01T12:00:00.000+00:00",
                "execution-watcher",
                "ended",
                "FAILED_EXECUTION",
                {"why": "x"},
            )
        ],
    )


def test_the_key_and_indexes_are_the_tables() -> None:
    # Given the recoveries table as template.yaml declares it
    table = load_template()["Resources"]["RecoveriesTable"]["Properties"]

    # When its key, indexes and TTL attribute are read
    key = [k["AttributeName"] for k in table["KeySchema"]]
    indexes = {
        i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in table["GlobalSecondaryIndexes"]
    }

    # Then they are the names the codec writes
    assert key == [table_items.KEY] == ["recovery_id"]
    assert indexes[table_items.STATUS_INDEX] == [table_items.STATUS, table_items.CREATED_SORT]
    assert indexes[table_items.EXECUTION_INDEX] == [table_items.EXECUTION_ARN]
    assert indexes[table_items.LANE_INDEX] == [table_items.LANE, table_items.LANE_SORT]
    projected = next(i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == table_items.LANE_INDEX)
    assert set(projected["Projection"]["NonKeyAttributes"]) == {
        table_items.OF,
        table_items.CELL,
        *map(table_items.count_field, table_items.COUNTED),
    }
    assert table["TimeToLiveSpecification"]["AttributeName"] == table_items.EXPIRES_AT == "expires_at"


def test_ids_of_each_kind_keep_their_prefixes() -> None:
    # Given the ids the codec makes for each kind but recoveries and groups
    # When they are made from fixed inputs
    ids = (
        table_items.failure_id_for("arn:x"),
        table_items.notice_id("m-1"),
        table_items.dlq_audit_id("recovery-dlq"),
        table_items.RECOVERIES_LIST,
    )

    # Then they are what stored items are keyed by
    assert ids == (
        "fail-37a06272f0dfc7bb2f54fc52ee96e397",
        "unreadable#a461b472cb41a9ec3dee5c90cf8e4a78",
        "dlq#recovery-dlq",
        "access#recoveries",
    )
    assert table_items.key("rec-1") == {"recovery_id": {"S": "rec-1"}}


def test_a_recovery_is_stored_as_deployments_hold_it() -> None:
    # Given a recovery with a float in its input and fields left empty
    recovery = a_recovery()

    # When it is encoded
    item = table_items.recovery_item(recovery)

    # Then the item is exactly the stored shape (None fields left out, index attributes added)
    assert item == {
        "attempts": {"N": "2"},
        "audit": {"L": [OPENED_ITEM]},
        "created_at": {"S": "2026-03-01T12:00:01.000+00:00"},
        "error": {"S": "VendorUnavailable"},
        "execution_arn": {"S": EXECUTION},
        "execution_name": {"S": "run-1"},
        "failed_state": {"S": "Check availability"},
        "input": {"M": {"n": {"N": "2"}, "none": {"NULL": True}, "price": {"N": "9.5"}, "sku": {"S": "a"}}},
        "lane": {"S": f"s#RESUMING#{table_items.shard_of('rec-1')}"},
        "lane_sort": {"S": "2026-03-01T12:00:01.000+00:00#rec-1"},
        "recovery_id": {"S": "rec-1"},
        "requested_at": {"S": "2026-03-01T12:00:00+00:00"},
        "routing": {"S": "technical"},
        "slack_channel": {"S": "C1"},
        "slack_ts": {"S": "1.2"},
        "state_machine_arn": {"S": MACHINE},
        "state_machine_name": {"S": "orders"},
        "status": {"S": "RESUMING"},
        "task_token": {"S": "tok"},
        "updated_at": {"S": "2026-03-01T12:00:02.000+00:00"},
    }


def test_a_recovery_round_trips() -> None:
    # Given a recovery
    recovery = a_recovery()

    # When it is encoded and decoded
    back = table_items.recovery_from_item(table_items.recovery_item(recovery))

    # Then it is the same recovery, its float and integer input values as they were
    assert back == recovery
    assert isinstance(back.input["n"], int) and back.input["price"] == 9.5


def test_a_failed_execution_is_stored_as_deployments_hold_it() -> None:
    # Given a failed execution with no error
    failure = a_failure()

    # When it is encoded with its expiry
    item = table_items.failure_item(failure, expires_at=1780000000)

    # Then it sits under recovery_id, with its own status value and no error attribute
    assert item == {
        "audit": {
            "L": [
                {
                    "M": {
                        "action": {"S": "ended"},
                        "actor": {"S": "execution-watcher"},
                        "at": {"S": "2026-03-01T12:00:00.000+00:00"},
                        "detail": {"M": {"why": {"S": "x"}}},
                        "result": {"S": "FAILED_EXECUTION"},
                    }
                }
            ]
        },
        "cause": {"S": "late"},
        "execution_arn": {"S": EXECUTION},
        "execution_name": {"S": "run-1"},
        "execution_status": {"S": "TIMED_OUT"},
        "expires_at": {"N": "1780000000"},
        "recovery_id": {"S": "fail-1"},
        "state_machine_arn": {"S": MACHINE},
        "status": {"S": "FAILED_EXECUTION"},
        "stopped_at": {"S": "2026-03-01T12:00:00+00:00"},
    }


def test_a_failed_execution_round_trips() -> None:
    # Given a failed execution
    failure = a_failure()

    # When it is encoded and decoded
    back = table_items.failure_from_item(table_items.failure_item(failure, expires_at=1780000000))

    # Then it is the same failed execution, still unhandled
    assert back == failure and back.status is FailureStatus.UNHANDLED


def test_an_audit_entry_is_appended_as_a_one_element_list() -> None:
    # Given an audit entry with a float in its detail
    entry = AuditEntry("2026-03-01T12:00:00.000+00:00", "U1", "redrive dlq", "STARTED", {"rate": 2.5})

    # When it is encoded for list_append
    value = table_items.audit_entries(entry)

    # Then it is a list of one map, the float as a number
    assert value == {
        "L": [
            {
                "M": {
                    "action": {"S": "redrive dlq"},
                    "actor": {"S": "U1"},
                    "at": {"S": "2026-03-01T12:00:00.000+00:00"},
                    "detail": {"M": {"rate": {"N": "2.5"}}},
                    "result": {"S": "STARTED"},
                }
            }
        ]
    }


def test_an_audit_trail_reads_back_its_entries() -> None:
    # Given a DLQ's audit item as updates leave it
    entry = AuditEntry("2026-03-01T12:00:00.000+00:00", "U1", "redrive dlq", "STARTED", {"rate": 10})
    item = {
        "recovery_id": {"S": "dlq#recovery-dlq"},
        "audit": table_items.audit_entries(entry),
        "queue_url": {"S": "https://sqs.us-east-1.amazonaws.com/123456789012/recovery-dlq"},
        "updated_at": {"S": "2026-03-01T12:00:00.000+00:00"},
        "expires_at": {"N": "1780000000"},
    }

    # When its trail is read, and that of an item never written
    trail, none = table_items.audit_trail(item), table_items.audit_trail(None)

    # Then the entry comes back as it was (its integer an int), and no item is an empty trail
    assert trail == [entry] and isinstance(trail[0].detail["rate"], int)
    assert none == []


def test_a_group_reads_back_from_the_attributes_its_updates_write() -> None:
    # Given a group item as ADD member_ids / SET latest_ids … / SET slack_ts leave it
    item = {
        "recovery_id": {"S": "grp-1"},
        "member_ids": {"SS": ["rec-1", "rec-2"]},
        "latest_ids": {"L": [{"S": "rec-1"}, {"S": "rec-2"}]},
        "state_machine_arn": {"S": MACHINE},
        "failed_state": {"S": "Check availability"},
        "error": {"S": ""},
        "expires_at": {"N": "1780000000"},
        "slack_channel": {"S": "C1"},
        "slack_ts": {"S": "1.2"},
    }

    # When it is decoded
    group = table_items.group_from_item(item)

    # Then every field is read, and the empty error stands for none
    assert (group.group_id, group.count, group.member_ids, group.latest_ids) == (
        "grp-1",
        2,
        frozenset({"rec-1", "rec-2"}),
        ["rec-1", "rec-2"],
    )
    assert (group.channel, group.ts, group.state_machine_name, group.failed_state, group.error) == (
        "C1",
        "1.2",
        "orders",
        "Check availability",
        None,
    )


def test_a_notice_claim_is_stored_as_deployments_hold_it() -> None:
    # Given a notice claimed at noon with a 90-day retention
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)

    # When its item is made
    item = table_items.notice_claim_item("m-1", "CLAIMED", at, timedelta(days=90))

    # Then it has no status (out of every listing) and expires 90 days later
    assert item == {
        "recovery_id": {"S": "unreadable#a461b472cb41a9ec3dee5c90cf8e4a78"},
        "kind": {"S": "unreadable-notice"},
        "notice": {"S": "CLAIMED"},
        "claimed_at": {"S": "2026-03-01T12:00:00.000+00:00"},
        "expires_at": {"N": str(int((at + timedelta(days=90)).timestamp()))},
    }
