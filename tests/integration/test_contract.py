"""The integration contract as other teams send it: a Recovery Pattern state machine of their own
(the Catch's whole error object as ``error``) pauses and resumes; a message that still cannot be
read is dead-lettered and told once to the technical channel, without its token."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from recovery_ops.service.local.engine.collector_poller import poll_collector, sqs_event
from recovery_ops.service.local.engine.own_workflows import deploy_state_machine
from recovery_ops.service.local.engine.stack import ACCOUNT_ID, REGION, EmbeddedStack
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.slack_safety import unsafe_spots
from tests.support.stacks import ROUTED_CHANNELS
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PROCESS_ORDER = ROOT / "tests" / "fixtures" / "process_order.asl.json"
TOKEN = "AAAAKgAAAAIAAAAAAAAAAQ+live/task/token/of/a/paused/execution+9f8e7d6c5b4a=="
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:ProcessOrderSM"
EXECUTION_ARN = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:ProcessOrderSM:order-42"


# ------------------------------------------------------------------ the team's own function (in-process)
class VendorDown(Exception):
    pass


VENDOR = {"down": True}
CHECKED: list[dict[str, Any]] = []
_LOCK = threading.Lock()


def check_product_availability(event: dict, context: Any) -> dict:
    with _LOCK:
        CHECKED.append(event)
    if VENDOR["down"]:
        raise VendorDown(f"the vendor does not answer for {event['item']}")
    return {"available": True}


@pytest.fixture(autouse=True)
def _vendor_down() -> None:
    VENDOR["down"] = True
    CHECKED.clear()


@pytest.fixture
def stack_parameters(vendor_url: str) -> dict[str, str]:
    return {"VendorUrl": vendor_url, **ROUTED_CHANNELS}


def deploy_process_order(stack: EmbeddedStack) -> str:
    """The team's function and its state machine, which knows the recovery queue and nothing else."""
    return deploy_state_machine(
        stack,
        "ProcessOrderSM",
        PROCESS_ORDER.read_text(),
        functions={"CheckProductAvailabilityFunction": f"{__name__}.check_product_availability"},
        substitutions={"RecoveryQueueUrl": stack.physical("RecoveryQueue")},
    )


# ------------------------------------------------------------------ helpers
def open_recoveries(stack: EmbeddedStack) -> list[Recovery]:
    return RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb")).list_by_status(
        RecoveryStatus.OPEN
    )


def collect_until_open(stack: EmbeddedStack, count: int) -> list[Recovery]:
    def collected() -> bool:
        poll_collector(stack)
        return len(open_recoveries(stack)) >= count

    wait_until(collected)
    return open_recoveries(stack)


def unreadable_body() -> str:
    """A recovery step that forgot execution_name and sends a number as the Catch's Error."""
    return json.dumps(
        {
            "contract_version": 1,
            "task_token": TOKEN,
            "execution_arn": EXECUTION_ARN,
            "state_machine_arn": MACHINE_ARN,
            "failed_state": "Check availability",
            "error": {"Error": 500, "Cause": "vendor"},
            "input": {"item": "sku-lamp"},
        }
    )


def received(stack: EmbeddedStack, queue: str) -> list[dict[str, Any]]:
    """Every message on ``queue``, with its attributes, left there (visibility timeout 0)."""
    return (
        stack.client("sqs")
        .receive_message(
            QueueUrl=stack.physical(queue),
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            VisibilityTimeout=0,
        )
        .get("Messages", [])
    )


def deliver(stack: EmbeddedStack, message: dict[str, Any]) -> dict[str, Any]:
    """Hand ``message`` to the collector as Lambda's SQS poller does, message attributes included."""
    event = sqs_event([message], stack.arn("RecoveryQueue"))
    event["Records"][0]["messageAttributes"] = {
        name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
        for name, value in message.get("MessageAttributes", {}).items()
    }
    answer = stack.client("lambda").invoke(
        FunctionName=stack.physical("CollectorFunction"), Payload=json.dumps(event).encode()
    )
    assert not answer.get("FunctionError")
    return json.loads(answer["Payload"].read())


def notices(slack: SlackStandIn) -> list[dict[str, Any]]:
    return [c.body for c in slack.calls_of("chat.postMessage") if "could not be read" in json.dumps(c.body)]


def token_slices_in(slack: SlackStandIn) -> list[str]:
    recorded = json.dumps([c.body for c in slack.calls])
    return [TOKEN[i : i + 16] for i in range(len(TOKEN) - 15) if TOKEN[i : i + 16] in recorded]


# ------------------------------------------------------------------ the tests
def test_a_recovery_pattern_workflow_sending_the_catch_object_pauses_is_posted_and_resumes(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    # Given a team's state machine that sends "error.$": "$.error" (the Catch's whole object)
    machine = deploy_process_order(stack)
    sfn = stack.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=machine, name="order-1", input=json.dumps({"item": "sku-lamp"})
    )["executionArn"]

    # When its Check availability still fails after the retries and the collector runs
    (recovery,) = collect_until_open(stack, 1)

    # Then the Catch's Error and Cause became the recovery's error and cause
    assert recovery.execution_arn == execution
    assert recovery.failed_state == "Check availability"
    assert recovery.error == "VendorDown"
    assert "the vendor does not answer for sku-lamp" in (recovery.cause or "")
    assert recovery.input == {"item": "sku-lamp", "status": "CREATED"}
    (post,) = slack.calls_of("chat.postMessage")
    assert post.body["channel"] == "C-TECH"
    assert "VendorDown" in json.dumps(post.body["blocks"])

    # When the vendor is back and the step is run again with its input
    VENDOR["down"] = False
    sfn.send_task_success(taskToken=recovery.task_token, output=json.dumps(recovery.input))

    # Then the execution goes on from the failed step and finishes
    wait_until(lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING")
    finished = sfn.describe_execution(executionArn=execution)
    assert finished["status"] == "SUCCEEDED"
    assert json.loads(finished["output"])["status"] == "FINISHED"
    assert CHECKED[-1] == {"item": "sku-lamp"}


def test_an_unreadable_message_is_dead_lettered_and_told_once_to_the_technical_channel_without_its_token(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    # Given a message that does not follow the contract, carrying a live token
    stack.client("sqs").send_message(QueueUrl=stack.physical("RecoveryQueue"), MessageBody=unreadable_body())

    # When
    result = poll_collector(stack)

    # Then it is in the recovery DLQ, whole, with its reason
    assert result.failed == []
    (dead,) = received(stack, "RecoveryDeadLetterQueue")
    assert dead["Body"] == unreadable_body()
    assert "execution_name: Field required" in dead["MessageAttributes"]["reason"]["StringValue"]
    # and the technical channel has one notice: what could be read, why, that the execution waits
    (notice,) = notices(slack)
    assert notice["channel"] == "C-TECH"
    shown = json.dumps(notice, ensure_ascii=False)
    assert f"#/v2/executions/details/{EXECUTION_ARN}|order-42>" in shown
    assert "ProcessOrderSM" in shown and "Check availability" in shown
    assert "execution_name — Field required" in shown
    assert 'error — the Catch\'s object must have a string \\"Error\\", not a number' in shown
    assert "stays paused until someone acts" in shown
    # never the token, nor anything Slack would act on
    assert token_slices_in(slack) == []
    assert all(unsafe_spots(call.body) == [] for call in slack.calls)
    assert open_recoveries(stack) == []


def test_the_same_unreadable_message_delivered_again_posts_no_second_notice(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    # Given an unreadable message that was delivered and told once
    stack.client("sqs").send_message(QueueUrl=stack.physical("RecoveryQueue"), MessageBody=unreadable_body())
    (message,) = received(stack, "RecoveryQueue")
    deliver(stack, message)
    assert len(notices(slack)) == 1

    # When SQS delivers the same message (same body, same message id) again
    answer = deliver(stack, message)

    # Then nothing new is posted
    assert answer["batchItemFailures"] == []
    assert len(notices(slack)) == 1
    assert token_slices_in(slack) == []


def test_a_redrive_of_an_unreadable_message_already_told_posts_nothing_new(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    # Given an unreadable message told once and now in the DLQ
    stack.client("sqs").send_message(QueueUrl=stack.physical("RecoveryQueue"), MessageBody=unreadable_body())
    (first,) = received(stack, "RecoveryQueue")
    poll_collector(stack)
    (dead,) = received(stack, "RecoveryDeadLetterQueue")

    # When the DLQ is redriven: the message moves back, under another id, with its source_message_id
    sqs = stack.client("sqs")
    sqs.delete_message(
        QueueUrl=stack.physical("RecoveryDeadLetterQueue"), ReceiptHandle=dead["ReceiptHandle"]
    )
    answer = deliver(stack, dead)

    # Then it is dead-lettered again, still known as the first message, and nothing new is posted
    assert answer["batchItemFailures"] == []
    assert len(notices(slack)) == 1
    (again,) = received(stack, "RecoveryDeadLetterQueue")
    assert again["MessageAttributes"]["source_message_id"]["StringValue"] == first["MessageId"]


def test_a_notice_slack_refused_is_counted_and_posted_when_the_dlq_is_redriven(
    stack: EmbeddedStack, slack: SlackStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given Slack failing while an unreadable message is collected
    stack.client("sqs").send_message(QueueUrl=stack.physical("RecoveryQueue"), MessageBody=unreadable_body())
    slack.fail_next(10, status=503)
    assert poll_collector(stack).failed == []  # the message is safe in the DLQ all the same
    assert notices(slack) == []
    assert '"UnreadableNoticeFailures"' in capsys.readouterr().out  # the metric, in EMF
    slack.stop_failing()
    (dead,) = received(stack, "RecoveryDeadLetterQueue")

    # When the DLQ is redriven (the message comes back with its attributes) twice over
    deliver(stack, dead)
    deliver(stack, dead)

    # Then the notice is posted once
    (notice,) = notices(slack)
    assert notice["channel"] == "C-TECH"
