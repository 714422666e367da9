"""One fault at the wrong moment, end to end: signed Slack clicks → the Slack app's function → Step
Functions in moto, then the ReconcilerFunction the template deploys (every call held against its
role). Each ends with the recovery settled as the execution's own record says, the execution
resumed when it should be, and no SendTaskSuccess sent twice."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

from botocore.exceptions import ClientError, ReadTimeoutError

from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.iam_check import Call
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.items import key
from recovery_ops.slack_app.ids import RUN_AGAIN
from tests.support.desk import (
    ORDER,
    count_calls,
    execution_status,
    pause,
    requests_for,
    send,
    status_of,
    store,
    wait_for_status,
)
from tests.support.stacks import ALLOWED
from tests.support.waiting import wait_until


class Crash(RuntimeError):
    """The function died here (in Lambda: a time limit, an out-of-memory)."""


def reconcile(stack: EmbeddedStack) -> dict[str, Any]:
    """The minute's scheduled run of the ReconcilerFunction, as EventBridge invokes it."""
    answer = stack.client("lambda").invoke(
        FunctionName=stack.physical("ReconcilerFunction"), Payload=json.dumps({"source": "aws.events"})
    )
    return json.loads(answer["Payload"].read())


def let_the_lease_run_out(stack: EmbeddedStack, recovery_id: str) -> None:
    """Time passes past the claim's lease (what two minutes would do to the item)."""
    past = "2000-01-01T00:00:00.000+00:00"
    stack.client("dynamodb").update_item(
        TableName=stack.physical("RecoveriesTable"),
        Key=key(recovery_id),
        UpdateExpression="SET lease_until = :past, due_at = :past",
        ExpressionAttributeValues={":past": {"S": past}},
    )


def test_a_crash_after_the_claim_and_before_the_call_is_reopened_and_resumed_once_by_the_next_click(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a Run again whose function died after its claim, before calling Step Functions
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    resumes = count_calls(stack, "SendTaskSuccess")
    with mock.patch(
        "recovery_ops.service.recovery.stepfunctions.tokens.StepFunctionsTokens.send_success",
        side_effect=Crash("killed"),
    ):
        send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))
        wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMING)
        wait_until(lambda: any("did not complete" in r.get("text", "") for r in slack.responses))
    assert resumes == []

    # When its lease runs out and the reconciler runs
    let_the_lease_run_out(stack, recovery.recovery_id)
    report = reconcile(stack)

    # Then Step Functions' record shows the step still waits: open again, said on its message
    assert report["settled"] == {"OPEN": 1}
    reopened = store(stack).get(recovery.recovery_id)
    assert reopened.status is RecoveryStatus.OPEN and reopened.audit[-1].action == "reopen"
    assert Call("ReconcilerFunction", "states:GetExecutionHistory", recovery.execution_arn) in stack.iam.calls
    # and the next click resumes it, exactly once
    send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))
    wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")
    assert len(resumes) == 1


def test_a_task_success_whose_answer_was_lost_ends_resumed_and_is_never_sent_again(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given SendTaskSuccess lands in Step Functions but its answer is lost on the way back
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    resumes = count_calls(stack, "SendTaskSuccess")
    lost: list[bool] = []

    def lose_the_answer(**_: Any) -> None:
        if not lost:
            lost.append(True)
            raise ReadTimeoutError(endpoint_url="https://states.us-east-1.amazonaws.com")

    stack.client("stepfunctions").meta.events.register("after-call.states.SendTaskSuccess", lose_the_answer)

    # When someone runs it again
    send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))

    # Then the record is asked at once: RESUMED, the execution goes on, nothing sent twice
    resumed = wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")
    assert lost == [True] and len(resumes) == 1
    assert [e.result for e in resumed.audit[1:]] == ["RESUMING", "UNKNOWN", "RESUMED"]
    assert not any("Nothing was resumed" in r.get("text", "") for r in slack.responses)


def test_an_outcome_write_throttled_is_settled_resumed_by_the_reconciler(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given Step Functions accepts the Run again but every write of its outcome is throttled
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    resumes = count_calls(stack, "SendTaskSuccess")
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "UpdateItem"
    )
    with mock.patch(
        "recovery_ops.service.recovery.storage.recoveries.RecoveryStore.transition", side_effect=throttled
    ):
        send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))
        wait_until(lambda: any("being recorded" in r.get("text", "") for r in slack.responses))
    assert status_of(stack, recovery.recovery_id) is RecoveryStatus.RESUMING
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")

    # When its lease runs out and the reconciler runs
    let_the_lease_run_out(stack, recovery.recovery_id)
    report = reconcile(stack)

    # Then the record says it resumed: RESUMED, under the person who clicked, sent once
    assert report["settled"] == {"RESUMED": 1}
    settled = store(stack).get(recovery.recovery_id)
    assert settled.status is RecoveryStatus.RESUMED and settled.audit[-1].actor == ALLOWED
    assert len(resumes) == 1


def test_a_stale_message_is_brought_up_to_date_by_the_reconciler(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given Slack refuses the update of a resumed recovery's message (and the client's two retries)
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    slack.fail_next(3, status=500, method="chat.update")
    send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))
    wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: len(slack.calls_of("chat.update", ok_only=False)) == 3)
    wait_until(
        lambda: (
            "due"
            in stack.client("dynamodb").get_item(
                TableName=stack.physical("RecoveriesTable"), Key=key(recovery.recovery_id)
            )["Item"]
        )
    )
    assert slack.calls_of("chat.update") == []

    # When the reconciler runs
    report = reconcile(stack)

    # Then the message shows the outcome, without its buttons
    assert report["messages_updated"] == 1
    (update,) = slack.calls_of("chat.update")
    assert update.body["ts"] == store(stack).get(recovery.recovery_id).slack_ts
    assert "actions" not in [block["type"] for block in update.body["blocks"]]
    assert reconcile(stack)["messages_updated"] == 0  # nothing left behind
