"""The outermost catch: executions that end FAILED, TIMED_OUT or ABORTED, seen through EventBridge."""

from __future__ import annotations

import json

from botocore.stub import Stubber

from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.execution_events import deliver, status_change_event
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.failed_executions.failures import FailureStatus, FailureStore
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.slack_app.ids import REDRIVE, RUN_AGAIN
from tests.support.desk import ORDER, execution_status, order_execution_of, pause, requests_for, send, store
from tests.support.stacks import ALLOWED, STRANGER
from tests.support.waiting import wait_until


def blocks_of(call) -> list[dict]:
    blocks = call.body["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def buttons(blocks: list[dict]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def failed_outside_the_recovery_pattern(stack: EmbeddedStack) -> str:
    """An order execution whose very first step cannot run (its input has no order fields)."""
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=stack.arn("OrderStateMachine"), name="ord-broken-input", input=json.dumps({})
    )["executionArn"]
    wait_until(lambda: execution_status(stack, arn) == "FAILED")
    return arn


def test_an_execution_stopped_while_its_recovery_is_open_closes_it_and_removes_the_buttons(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    stack.client("stepfunctions").stop_execution(executionArn=recovery.execution_arn, error="Cancelled")
    # moto leaves a waiting execution RUNNING; the event is the one AWS sends for the stop
    event = status_change_event(stack.client("stepfunctions"), recovery.execution_arn, status="ABORTED")

    answer = deliver(stack, event)

    assert answer["closed"] == [recovery.recovery_id] and answer["failure_id"] is None
    closed = store(stack).get(recovery.recovery_id)
    assert closed.status is RecoveryStatus.ABORTED
    assert closed.audit[-1].actor == "execution-watcher"
    (update,) = slack.calls_of("chat.update")
    assert buttons(blocks_of(update)) == [] and "Aborted" in json.dumps(blocks_of(update))
    # a click that arrives later on the old message is told, and sends nothing
    send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))
    wait_until(lambda: any("already closed (aborted)" in r.get("text", "") for r in slack.responses))


def test_an_order_failed_because_every_item_was_rejected_is_not_posted_again_nor_offered_redrive(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    sfn = stack.client("stepfunctions")
    sfn.send_task_failure(taskToken=recovery.task_token, error="RecoveryRejected", cause="rejected")
    order_execution = order_execution_of(stack, recovery)
    wait_until(lambda: execution_status(stack, order_execution) == "FAILED")
    posts_before = len(slack.calls_of("chat.postMessage"))

    event = status_change_event(sfn, order_execution)
    answer = deliver(stack, event)
    marking = deliver(stack, event, function="OrderFailedFunction")  # the example's own, same events

    # the workflow decided (each item rejected and in the DLQ): OrderFailed is a handled failure
    assert sfn.describe_execution(executionArn=order_execution)["error"] == "OrderFailed"
    assert answer == {"closed": [], "failure_id": None}
    assert marking == {"order_marked": False}
    assert len(slack.calls_of("chat.postMessage")) == posts_before
    assert order_api.get(recovery.input["order_id"]).body["status"] == "FAILED"


def test_a_failure_outside_the_recovery_pattern_is_posted_once_with_redrive_and_redriven_once(
    stack: EmbeddedStack, order_api: LocalOrderApi, slack: SlackStandIn
) -> None:
    arn = failed_outside_the_recovery_pattern(stack)
    event = status_change_event(stack.client("stepfunctions"), arn)

    first = deliver(stack, event)
    again = deliver(stack, event)  # EventBridge delivers at least once
    marking = deliver(stack, event, function="OrderFailedFunction")  # the example's own, same events

    assert first["failure_id"] and again["failure_id"] == first["failure_id"]
    assert marking["order_marked"] is True
    assert order_api.get("ord-broken-input").body["status"] == "FAILED"
    (post,) = [c for c in slack.calls_of("chat.postMessage") if "workflow failed" in json.dumps(blocks_of(c))]
    assert buttons(blocks_of(post)) == [REDRIVE]

    sfn = stack.client("stepfunctions")  # the Slack app's client: moto has no RedriveExecution
    with Stubber(sfn) as stubbed:
        stubbed.add_response(
            "redrive_execution", {"redriveDate": "2026-11-23T12:00:00Z"}, {"executionArn": arn}
        )
        send(stack, requests_for(slack).click(STRANGER, REDRIVE, first["failure_id"]))
        wait_until(lambda: any(r.get("text", "").startswith("🚫") for r in slack.responses))
        send(stack, requests_for(slack).click(ALLOWED, REDRIVE, first["failure_id"]))
        failures = FailureStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
        wait_until(lambda: failures.get(first["failure_id"]).status is FailureStatus.REDRIVEN)
        send(stack, requests_for(slack).click(ALLOWED, REDRIVE, first["failure_id"]))
        wait_until(lambda: any("already redriven" in r.get("text", "") for r in slack.responses))
        stubbed.assert_no_pending_responses()  # exactly one RedriveExecution

    redriven = failures.get(first["failure_id"])
    assert [(e.actor, e.result) for e in redriven.audit] == [
        ("execution-watcher", "FAILED"),
        (STRANGER, "DENIED"),
        (ALLOWED, "REDRIVING"),
        (ALLOWED, "REDRIVEN"),
    ]
    wait_until(lambda: "Redriven" in json.dumps(blocks_of(slack.calls_of("chat.update")[-1])))
    assert buttons(blocks_of(slack.calls_of("chat.update")[-1])) == []


def test_redrive_is_refused_after_14_days_and_the_message_says_so(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    from datetime import UTC, datetime, timedelta

    from recovery_ops.service.recovery.failed_executions.failures import Redrive

    arn = failed_outside_the_recovery_pattern(stack)
    failure_id = deliver(stack, status_change_event(stack.client("stepfunctions"), arn))["failure_id"]
    failures = FailureStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
    later = Redrive(
        failures, stack.client("stepfunctions"), clock=lambda: datetime.now(UTC) + timedelta(days=15)
    )

    result = later.redrive(failure_id, ALLOWED)

    assert not result.done and "14 days" in result.detail
    assert failures.get(failure_id).status is FailureStatus.NOT_REDRIVABLE
