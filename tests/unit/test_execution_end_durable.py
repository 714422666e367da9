"""The outermost catch for durable functions: a durable execution's end closes its open recoveries.

Lambda's "Durable Execution Status Change" event closes them as a Step Functions execution's end
does (ABORTED when stopped, EXPIRED otherwise, in-flight ones settled from the record); a durable
execution's failure is never recorded for Redrive; the account's other durable functions are ignored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from recovery_ops.service import composition
from recovery_ops.service.handlers import execution_watcher
from recovery_ops.service.recovery.failed_executions.failures import (
    FailureNotFoundError,
    FailureStore,
    failure_id_for,
)
from recovery_ops.service.recovery.lifecycle.execution_end import ExecutionEnded, OutermostCatch
from recovery_ops.service.recovery.lifecycle.reconciler import Reconciler
from recovery_ops.service.recovery.model.contract import WorkflowKind
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.execution_record import ExecutionRecordsByKind, TaskFate, TaskTruth
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB
from tests.support.recoveries import DURABLE_FUNCTION, claim, opened_durable_recovery, opened_recovery

TABLE = "recoveries"
ENDED_AT = 1767261600000  # 2026-01-01T10:00:00Z


def durable_event(recovery: Recovery | None = None, status: str = "FAILED", **detail: Any) -> dict[str, Any]:
    """The EventBridge event Lambda sends when a durable execution ends (its function's version named)."""
    arn = recovery.execution_arn if recovery else f"{DURABLE_FUNCTION}:$LATEST/durable-execution/order-5/id-5"
    return {
        "version": "0",
        "id": "4a7c1f0e-1b9d-4b2e-9a8f-3c2d1e0f9a8b",
        "detail-type": "Durable Execution Status Change",
        "source": "aws.lambda",
        "account": "123456789012",
        "time": "2026-01-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "durableExecutionArn": arn,
            "durableExecutionName": "order-0",
            "functionArn": f"{DURABLE_FUNCTION}:3",
            "status": status,
            "startTimestamp": ENDED_AT - 60000,
            "endTimestamp": ENDED_AT,
            **detail,
        },
    }


def ended(recovery: Recovery | None = None, status: str = "FAILED") -> ExecutionEnded:
    event = durable_event(recovery, status)
    return ExecutionEnded.from_event(event["detail-type"], event["detail"])


class Shown:
    def __init__(self) -> None:
        self.shown: dict[str, str] = {}

    def show_outcome(self, recovery: Recovery) -> None:
        self.shown[recovery.recovery_id] = str(recovery.status)

    def show_open(self, recovery: Recovery, change: str) -> None:
        self.shown[recovery.recovery_id] = str(recovery.status)


class Records:
    def __init__(self, truth: TaskTruth) -> None:
        self.truth, self.asked = truth, []  # type: ignore[var-annotated]

    def task_truth(self, execution_arn: str, task_token: str) -> TaskTruth:
        self.asked.append(execution_arn)
        return self.truth


class Failures:
    def __init__(self) -> None:
        self.posted: list[str] = []

    def post_failure(self, failure: Any) -> tuple[str, str]:
        self.posted.append(failure.failure_id)
        return "C1", "1.0"

    def show_failure(self, failure: Any) -> None:
        self.posted.append(failure.failure_id)


def catch_over(
    store: RecoveryStore, dynamodb: FakeDynamoDB, durable_records: Records | None = None
) -> tuple[OutermostCatch, Shown]:
    shown, failures = Shown(), FailureStore(TABLE, dynamodb)
    records = ExecutionRecordsByKind(Records(TaskTruth(TaskFate.UNKNOWN)), durable_records)
    catch = OutermostCatch(
        store,
        failures,
        recovery_display=shown,
        failure_display=Failures(),
        reconciler=Reconciler(store, records),
    )
    return catch, shown


# ---------------------------------------------------------------------- the event
def test_the_durable_event_names_the_execution_and_the_function_without_its_version() -> None:
    # Given / When
    end = ended(status="TIMED_OUT")

    # Then the function is kept as the contract keeps it, and the end is read from the event
    assert end.kind is WorkflowKind.DURABLE
    assert end.state_machine_arn == DURABLE_FUNCTION
    assert end.function_name == "order-item-check"
    assert (end.execution_name, end.status) == ("order-0", "TIMED_OUT")
    assert end.stopped_at == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_without_a_name_the_execution_is_named_from_its_arn() -> None:
    event = durable_event()
    del event["detail"]["durableExecutionName"]
    assert ExecutionEnded.from_event(event["detail-type"], event["detail"]).execution_name == "order-5"


def test_only_the_watched_functions_durable_executions_are_kept() -> None:
    # Given a durable end and a Step Functions one
    durable = ended()
    step_functions = ExecutionEnded.from_event(
        "Step Functions Execution Status Change",
        {
            "executionArn": "arn:aws:states:us-east-1:123456789012:execution:orders:run-1",
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:orders",
            "name": "run-1",
            "status": "FAILED",
        },
    )

    # Then a durable one is kept only when its function is named; a state machine's rule chose already
    assert durable.is_watched(frozenset({"order-item-check"}))
    assert not durable.is_watched(frozenset({"order-item"}))
    assert not durable.is_watched(frozenset())
    assert step_functions.kind is WorkflowKind.STEP_FUNCTIONS
    assert step_functions.is_watched(frozenset())


# ---------------------------------------------------------------------- closing its recoveries
@pytest.mark.parametrize(
    ("status", "closed_as"),
    [
        ("FAILED", RecoveryStatus.EXPIRED),
        ("TIMED_OUT", RecoveryStatus.EXPIRED),
        ("SUCCEEDED", RecoveryStatus.EXPIRED),  # it went on without the callback: nothing to answer
        ("STOPPED", RecoveryStatus.ABORTED),
    ],
)
def test_a_durable_executions_end_closes_its_open_recoveries_and_their_messages(
    status: str, closed_as: RecoveryStatus
) -> None:
    # Given an open recovery of a durable execution, and another execution's
    dynamodb = FakeDynamoDB()
    store = RecoveryStore(TABLE, dynamodb)
    recovery, other = opened_durable_recovery(store, 0), opened_durable_recovery(store, 1)
    catch, shown = catch_over(store, dynamodb)

    # When its execution ends
    report = catch.handle(ended(recovery, status))

    # Then only its recovery is closed, audited with why, and its message shows it
    assert report.closed == [recovery.recovery_id]
    closed = store.get(recovery.recovery_id)
    assert closed.status is closed_as
    assert closed.audit[-1].detail == {"why": f"the execution ended {status}"}
    assert shown.shown == {recovery.recovery_id: str(closed_as)}
    assert store.get(other.recovery_id).status is RecoveryStatus.OPEN


def test_an_in_flight_durable_recovery_is_settled_from_the_durable_record() -> None:
    # Given a Run again whose callback answer landed and whose process died, then the execution failed
    dynamodb = FakeDynamoDB()
    store = RecoveryStore(TABLE, dynamodb)
    recovery = opened_durable_recovery(store)
    claim(store, recovery.recovery_id, "UALICE", datetime.now(UTC))
    durable_records = Records(TaskTruth(TaskFate.SUCCEEDED, "FAILED", output=json.dumps(recovery.input)))
    catch, _ = catch_over(store, dynamodb, durable_records)

    # When the watcher hears it ended
    report = catch.handle(ended(recovery, "FAILED"))

    # Then the durable record was asked and the recovery is RESUMED (its step did resume)
    assert durable_records.asked == [recovery.execution_arn]
    assert report.closed == [recovery.recovery_id]
    assert store.get(recovery.recovery_id).status is RecoveryStatus.RESUMED


def test_a_failed_durable_execution_without_recoveries_is_not_offered_redrive() -> None:
    # Given a durable execution that failed with nothing paused
    dynamodb = FakeDynamoDB()
    catch, _ = catch_over(RecoveryStore(TABLE, dynamodb), dynamodb)
    end = ended(status="FAILED")

    # When / Then nothing is recorded nor posted: there is no Redrive for durable executions
    assert catch.handle(end).failure_id is None
    with pytest.raises(FailureNotFoundError):
        catch.failures.get(failure_id_for(end.execution_arn))
    assert catch.failure_display.posted == []  # type: ignore[union-attr]


def test_a_state_machines_failure_without_recoveries_is_still_offered_redrive() -> None:
    # Given a Step Functions execution that failed with nothing paused
    dynamodb = FakeDynamoDB()
    catch, _ = catch_over(RecoveryStore(TABLE, dynamodb), dynamodb)
    task = opened_recovery(RecoveryStore(TABLE, FakeDynamoDB()))  # another table: only for its ARNs

    # When
    failure_id = catch.handle(
        ExecutionEnded(
            task.execution_arn, "run-0", task.state_machine_arn, "FAILED", "X", None, datetime.now(UTC)
        )
    ).failure_id

    # Then
    assert failure_id == failure_id_for(task.execution_arn)
    assert catch.failure_display.posted == [failure_id]  # type: ignore[union-attr]


# ---------------------------------------------------------------------- the handler
def lambda_context() -> Any:
    return SimpleNamespace(
        function_name="execution-watcher",
        memory_limit_in_mb=256,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:execution-watcher",
        aws_request_id="req-1",
    )


def test_the_watcher_drops_another_functions_durable_execution_before_reading_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a watcher of another function, whose wiring must not be built (no secret, no table read)
    monkeypatch.setenv("RECOVERIES_TABLE_NAME", TABLE)
    monkeypatch.setenv("SLACK_BOT_TOKEN_SECRET", "recovery-ops/slack-bot-token")
    monkeypatch.setenv("SLACK_DEFAULT_CHANNEL", "recoveries")
    monkeypatch.setenv("WATCHED_DURABLE_FUNCTIONS", "payment-capture, refunds")

    def built(*_: Any) -> Any:
        raise AssertionError("the watcher read something for a function it does not watch")

    monkeypatch.setattr(composition, "slack_bot", built)
    monkeypatch.setattr(composition, "build_catch", built)

    # When the account's order-item-check ends
    answer = execution_watcher.lambda_handler(durable_event(), lambda_context())

    # Then it is dropped
    assert answer == {"closed": [], "failure_id": None}


def test_the_watcher_closes_a_watched_functions_recoveries(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the watcher of order-item-check, over a table with one of its open recoveries
    monkeypatch.setenv("RECOVERIES_TABLE_NAME", TABLE)
    monkeypatch.setenv("SLACK_BOT_TOKEN_SECRET", "recovery-ops/slack-bot-token")
    monkeypatch.setenv("SLACK_DEFAULT_CHANNEL", "recoveries")
    monkeypatch.setenv("WATCHED_DURABLE_FUNCTIONS", "payment-capture,order-item-check")
    dynamodb = FakeDynamoDB()
    store = RecoveryStore(TABLE, dynamodb)
    recovery = opened_durable_recovery(store)
    catch, _ = catch_over(store, dynamodb)
    monkeypatch.setattr(composition, "slack_bot", lambda *_: None)
    monkeypatch.setattr(composition, "build_catch", lambda *_: catch)

    # When its execution is stopped
    answer = execution_watcher.lambda_handler(durable_event(recovery, "STOPPED"), lambda_context())

    # Then
    assert answer == {"closed": [recovery.recovery_id], "failure_id": None}
    assert store.get(recovery.recovery_id).status is RecoveryStatus.ABORTED
