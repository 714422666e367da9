"""A Lambda durable function's pause beside a Step Functions task's: one contract, one desk.

The durable shape of the contract, the recovery it becomes, the task-token and execution-record
ports routed by a recovery's kind, and the callback id kept as secret as a task token.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, RecoveryActions
from recovery_ops.service.recovery.lifecycle.reconciler import Reconciler
from recovery_ops.service.recovery.model.contract import (
    RecoveryRequest,
    WorkflowKind,
    contract_problems,
    parse_contract,
)
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.model.redaction import REDACTED, without_tokens
from recovery_ops.service.recovery.ports.execution_record import (
    ExecutionRecordsByKind,
    TaskFate,
    TaskTruth,
)
from recovery_ops.service.recovery.ports.task_tokens import TaskTokensByKind, TokenResult
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB, FakeTaskTokens
from tests.support.recoveries import claim, opened_recovery

CALLBACK_ID = "eyJhcm4iOiJleGVjLTEiLCJvcCI6IjEyMyJ9"
FUNCTION = "arn:aws:lambda:eu-west-1:123456789012:function:order-item-check"
DURABLE_EXECUTION = f"{FUNCTION}:$LATEST/durable-execution/order-7/0f9c4b7e-5b1d-4c4e-9d7a-2f7e3c1b8a90"
DURABLE: dict[str, Any] = {
    "contract_version": 1,
    "kind": "durable-callback",
    "callback_id": CALLBACK_ID,
    "durable_execution_arn": DURABLE_EXECUTION,
    "function_arn": f"{FUNCTION}:3",
    "step": "check stock",
    "input": {"sku": "sku-lamp", "quantity": 2},
    "error": {"Error": "VendorUnavailable", "Cause": "the vendor answered 503"},
    "dependency": "vendor",
}


def durable(**fields: Any) -> RecoveryRequest:
    return parse_contract(json.dumps({**DURABLE, **fields}))


def durable_problems(message: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as raised:
        parse_contract(json.dumps(message))
    return contract_problems(raised.value)


# ---------------------------------------------------------------------- the contract
def test_a_durable_callback_becomes_a_recovery_of_its_function_and_step() -> None:
    # Given / When the message a durable function sends
    request = durable()

    # Then the desk keeps it as any recovery: the callback where a token is, the function where a
    # state machine is (without its version), the step where a failed state is
    assert request.kind is WorkflowKind.DURABLE
    assert request.task_token == CALLBACK_ID
    assert request.execution_arn == DURABLE_EXECUTION
    assert request.execution_name == "order-7"  # from AWS's durable execution ARN
    assert request.state_machine_arn == FUNCTION
    assert request.state_machine_name == "order-item-check"
    assert (request.failed_state, request.error, request.cause) == (
        "check stock",
        "VendorUnavailable",
        "the vendor answered 503",
    )
    assert request.dependency == "vendor"


def test_a_durable_recovery_id_is_a_hash_of_its_callback_id_and_never_shows_it() -> None:
    # Given / When
    request = durable()

    # Then the id is stable per callback and holds no slice of it
    assert request.recovery_id == durable(input={"other": True}).recovery_id
    assert request.recovery_id != durable(callback_id=CALLBACK_ID + "A").recovery_id
    assert CALLBACK_ID[:8] not in request.recovery_id
    assert CALLBACK_ID not in repr(request)


def test_an_execution_name_given_wins_and_a_local_arn_is_accepted() -> None:
    # Given a local runner's durable execution ARN, which is not AWS's form
    request = durable(durable_execution_arn="8c1e-4d/inv-1234", execution_name="order-9")

    # Then
    assert (request.execution_arn, request.execution_name) == ("8c1e-4d/inv-1234", "order-9")
    assert durable(durable_execution_arn="8c1e-4d/inv-1234").execution_name == "8c1e-4d"


def test_a_broken_durable_message_names_the_durable_fields() -> None:
    # Given messages that break the durable shape
    missing_step = {k: v for k, v in DURABLE.items() if k != "step"}

    # Then each problem is named by the field the function sent, never by its value
    assert durable_problems(missing_step) == [("step", "Field required")]
    assert [where for where, _ in durable_problems({**DURABLE, "callback_id": "not base64!"})] == [
        "callback_id"
    ]
    assert [where for where, _ in durable_problems({**DURABLE, "function_arn": "order-item-check"})] == [
        "function_arn"
    ]
    assert [where for where, _ in durable_problems({**DURABLE, "durable_execution_arn": "has space"})] == [
        "durable_execution_arn"
    ]
    assert durable_problems({**DURABLE, "kind": "activity"}) == [
        ("kind", "must be 'task-token' (or absent) or 'durable-callback'")
    ]
    assert all(
        "not base64" not in what for _, what in durable_problems({**DURABLE, "callback_id": "not base64!"})
    )


def test_a_step_functions_message_reads_as_before() -> None:
    # Given today's message, without a kind
    message = {
        "task_token": "token-1",
        "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:Orders:o-1",
        "execution_name": "o-1",
        "state_machine_arn": "arn:aws:states:eu-west-1:123456789012:stateMachine:Orders",
        "failed_state": "Check",
    }

    # Then it is a task token's recovery; a function's ARN is no state machine's
    assert parse_contract(json.dumps(message)).kind is WorkflowKind.STEP_FUNCTIONS
    assert [w for w, _ in durable_problems({**message, "state_machine_arn": FUNCTION})] == [
        "state_machine_arn"
    ]


def test_a_durable_recovery_knows_its_kind_and_links_to_its_function() -> None:
    # Given / When
    recovery = Recovery.from_request(durable(), datetime.now(UTC))

    # Then
    assert recovery.kind is WorkflowKind.DURABLE
    assert recovery.console_url == (
        "https://eu-west-1.console.aws.amazon.com/lambda/home?region=eu-west-1#/functions/order-item-check"
    )
    assert recovery.kind.workflow_noun == "function"
    assert CALLBACK_ID not in recovery.console_url


# ---------------------------------------------------------------------- the callback id is a secret
@pytest.mark.parametrize("key", ["callback_id", "callbackId", "CallbackId", "callback-id", "task_token"])
def test_callback_id_fields_are_redacted_like_tokens(key: str) -> None:
    # Given / When
    shown = without_tokens({key: CALLBACK_ID, "sku": "a"})
    text = without_tokens(f'{{"{key}": "{CALLBACK_ID}", "sku": "a"}}')
    cut = without_tokens(f"failed: {key}={CALLBACK_ID[:20]}")

    # Then
    assert shown == {key: REDACTED, "sku": "a"}
    assert CALLBACK_ID[:12] not in text and "sku" in text
    assert CALLBACK_ID[:12] not in cut


# ---------------------------------------------------------------------- the ports, by kind
def durable_recovery(store: RecoveryStore) -> Recovery:
    recovery = Recovery.from_request(durable(), datetime.now(UTC))
    store.create_if_absent(recovery)
    return recovery


def test_run_again_sends_each_recovery_through_the_adapter_of_its_kind() -> None:
    # Given one Step Functions recovery and one durable recovery
    store = RecoveryStore("recoveries", FakeDynamoDB())
    task, callback = opened_recovery(store), durable_recovery(store)
    step_functions, durable_functions = FakeTaskTokens(), FakeTaskTokens()
    actions = RecoveryActions(store, TaskTokensByKind(step_functions, durable_functions))

    # When both are run again
    assert actions.run_again(task.recovery_id, "UALICE").outcome is ActionOutcome.RESUMED
    assert actions.run_again(callback.recovery_id, "UBOB").outcome is ActionOutcome.RESUMED

    # Then each went to its own engine, the durable one with its input as the callback's result
    assert [c.token for c in step_functions.calls] == ["token-0"]
    assert [(c.kind, c.token) for c in durable_functions.calls] == [("success", CALLBACK_ID)]
    assert json.loads(durable_functions.calls[0].output or "") == {"sku": "sku-lamp", "quantity": 2}
    assert store.get(callback.recovery_id).status is RecoveryStatus.RESUMED


def test_reject_fails_the_durable_callback_with_the_rejection() -> None:
    # Given
    store = RecoveryStore("recoveries", FakeDynamoDB())
    callback = durable_recovery(store)
    durable_functions = FakeTaskTokens()
    actions = RecoveryActions(store, TaskTokensByKind(FakeTaskTokens(), durable_functions))

    # When
    result = actions.reject(callback.recovery_id, "UALICE", "customer cancelled")

    # Then
    assert result.outcome is ActionOutcome.REJECTED
    assert [(c.kind, c.token, c.error) for c in durable_functions.calls] == [
        ("failure", CALLBACK_ID, "RecoveryRejected")
    ]


def test_a_deployment_without_a_durable_adapter_refuses_and_keeps_the_recovery_open() -> None:
    # Given a resolver that serves only Step Functions
    store = RecoveryStore("recoveries", FakeDynamoDB())
    callback = durable_recovery(store)
    step_functions = FakeTaskTokens()
    tokens = TaskTokensByKind(step_functions)

    # When
    result = RecoveryActions(store, tokens).run_again(callback.recovery_id, "UALICE")

    # Then nothing was sent anywhere and the recovery is open again, with why
    assert tokens.of(WorkflowKind.DURABLE).send_success("x", "{}").result is TokenResult.REFUSED
    assert step_functions.calls == []
    assert result.outcome is not ActionOutcome.RESUMED
    assert store.get(callback.recovery_id).status is RecoveryStatus.OPEN


class _Records:
    def __init__(self, truth: TaskTruth) -> None:
        self.truth, self.asked = truth, []  # type: ignore[var-annotated]

    def task_truth(self, execution_arn: str, task_token: str) -> TaskTruth:
        self.asked.append(execution_arn)
        return self.truth


def test_the_reconciler_settles_a_durable_claim_from_the_durable_record() -> None:
    # Given a durable recovery claimed by a process that died after the call landed
    store = RecoveryStore("recoveries", FakeDynamoDB())
    callback = durable_recovery(store)
    claimed_at = datetime.now(UTC) - timedelta(minutes=10)
    claim(store, callback.recovery_id, "UALICE", claimed_at)
    step_functions = _Records(TaskTruth(TaskFate.UNKNOWN))
    durable_functions = _Records(TaskTruth(TaskFate.SUCCEEDED, "RUNNING", output="{}"))

    # When the reconciler runs past the lease
    Reconciler(store, ExecutionRecordsByKind(step_functions, durable_functions)).run()

    # Then it asked the durable record, not Step Functions', and settled it resumed
    assert step_functions.asked == []
    assert durable_functions.asked == [DURABLE_EXECUTION]
    assert store.get(callback.recovery_id).status is RecoveryStatus.RESUMED
