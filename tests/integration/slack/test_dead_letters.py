"""The dead-letter queues: `/recoveries dlq` in Slack, Redrive DLQ, and `recovery-ops dlq`.

Everything runs on the embedded stack except SQS's move tasks, which moto does not implement
(StartMessageMoveTask, ListMessageMoveTasks): those two calls are answered by botocore's Stubber,
while every other call of the same SQS client (depth, previews, queue ARNs) still goes to moto.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from recovery_ops.service.cli.dead_letters import add_arguments, dlq_command
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.standin.server import SlackStandIn, block_kit_problem
from recovery_ops.slack_app.ids import DLQ_REDRIVE, DLQ_REDRIVE_CANCEL, DLQ_REDRIVE_CONFIRM
from tests.support.desk import requests_for, send
from tests.support.stacks import ALLOWED, STRANGER
from tests.support.waiting import wait_until

MOVE_TASK_OPERATIONS = ("StartMessageMoveTask", "ListMessageMoveTasks")


class MoveTaskStub:
    """botocore's Stubber for the move-task calls of ``client``; its other calls still reach moto.

    The stubbed calls are answered by a Stubber on a twin client (same service model), so the
    parameters are validated against the model and against the expected ones, in order.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.twin = boto3.session.Session().client(
            "sqs",
            region_name=client.meta.region_name,
            aws_access_key_id="stub",
            aws_secret_access_key="stub",
        )
        self.stubber = Stubber(self.twin)
        self.calls: list[tuple[str, dict]] = []

    def _remember(self, params: dict, model: Any, context: dict, **_: Any) -> None:
        context["move_task_params"] = dict(params)

    def _answer(self, model: Any, context: dict, **_: Any) -> tuple[AWSResponse, dict]:
        params = context["move_task_params"]
        self.calls.append((model.name, params))
        try:
            return AWSResponse(None, 200, {}, None), getattr(self.twin, xform_name(model.name))(**params)
        except ClientError as exc:
            return AWSResponse(None, 400, {}, None), exc.response

    def started(self) -> list[dict]:
        return [params for name, params in self.calls if name == "StartMessageMoveTask"]

    @contextmanager
    def active(self) -> Iterator[MoveTaskStub]:
        events = self.client.meta.events
        with self.stubber:
            for operation in MOVE_TASK_OPERATIONS:
                events.register(f"provide-client-params.sqs.{operation}", self._remember)
                events.register(f"before-call.sqs.{operation}", self._answer)
            try:
                yield self
            finally:
                for operation in MOVE_TASK_OPERATIONS:
                    events.unregister(f"provide-client-params.sqs.{operation}", self._remember)
                    events.unregister(f"before-call.sqs.{operation}", self._answer)


def put(stack: EmbeddedStack, queue: str, bodies: list[str], reason: str | None = None) -> None:
    sqs = stack.client("sqs")
    for body in bodies:
        attributes = {"reason": {"DataType": "String", "StringValue": reason}} if reason else {}
        sqs.send_message(QueueUrl=stack.physical(queue), MessageBody=body, MessageAttributes=attributes)
        time.sleep(0.003)  # distinct SentTimestamps: the oldest is known


def depth(stack: EmbeddedStack, queue: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.physical(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def visible(stack: EmbeddedStack, queue: str) -> int:
    return int(
        stack.client("sqs").get_queue_attributes(
            QueueUrl=stack.physical(queue), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
    )


def answer(slack: SlackStandIn, after: int) -> dict:
    wait_until(lambda: len(slack.responses) > after)
    return slack.responses[-1]


def buttons(response: dict) -> list[dict]:
    found = []
    for block in response.get("blocks", []):
        if block.get("accessory", {}).get("type") == "button":
            found.append(block["accessory"])
        found.extend(e for e in block.get("elements", []) if block["type"] == "actions")
    return found


def order_body(index: int) -> str:
    return json.dumps(
        {
            "order_id": f"order-{index}",
            "failed_state": "Check availability",
            "error": "VendorRejectedRequest",
            "input": {"order_id": f"order-{index}", "note": "n" * 4000},
        }
    )


def test_dlq_shows_depth_and_oldest_messages_within_block_kit_limits_and_consumes_nothing(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    put(stack, "OrdersDeadLetterQueue", [order_body(i) for i in range(12)])
    put(stack, "RecoveryDeadLetterQueue", ["this is not JSON"], reason="not JSON: Expecting value")
    put(stack, "RecoveryDeadLetterQueue", ['{"contract_version": 1}'] * 2)

    send(stack, requests_for(slack).command(ALLOWED, "dlq"))  # those who may act may look
    shown = answer(slack, 0)

    assert shown["response_type"] == "ephemeral"
    assert block_kit_problem(shown["blocks"]) is None and len(shown["blocks"]) <= 50
    text = json.dumps(shown["blocks"])
    orders_section, recovery_section = (
        b["text"]["text"] for b in shown["blocks"] if b["type"] == "section" and "DLQ*" in b["text"]["text"]
    )
    assert "*12* messages" in orders_section and "*3* messages" in recovery_section
    previewed = [
        re.search(r'"order_id":"(order-\d+)"', b["text"]["text"]).group(1)
        for b in shown["blocks"]
        if b["type"] == "section" and "order_id" in b["text"]["text"]
    ]
    assert previewed == [f"order-{i}" for i in range(5)]  # the 5 oldest, oldest first
    assert "*Reason:* not JSON: Expecting value" in text and "this is not JSON" in text
    assert "Not redrivable" in text
    assert [(b["action_id"], b["value"]) for b in buttons(shown)] == [(DLQ_REDRIVE, "recovery")]
    assert depth(stack, "OrdersDeadLetterQueue") == 12 and depth(stack, "RecoveryDeadLetterQueue") == 3
    wait_until(lambda: visible(stack, "OrdersDeadLetterQueue") == 12)


def test_redrive_asks_to_confirm_then_starts_one_move_task_at_the_configured_rate(
    stack: EmbeddedStack, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "DLQ_REDRIVE_RATE_PER_SECOND", "25"
    )  # read when the app is built, on the first request
    put(stack, "RecoveryDeadLetterQueue", ['{"contract_version": 1}'] * 4)
    sqs = stack.client("sqs")
    dlq_arn, queue_arn = stack.arn("RecoveryDeadLetterQueue"), stack.arn("RecoveryQueue")
    requests = requests_for(slack)
    move = MoveTaskStub(sqs)
    move.stubber.add_response(
        "list_message_move_tasks", {"Results": []}, {"SourceArn": dlq_arn, "MaxResults": 1}
    )
    move.stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "task-handle-1"},
        {"SourceArn": dlq_arn, "DestinationArn": queue_arn, "MaxNumberOfMessagesPerSecond": 25},
    )

    with move.active():
        send(stack, requests.click(STRANGER, DLQ_REDRIVE, "recovery", message_ts=None))
        assert answer(slack, 0)["text"].startswith("🚫 You cannot redrive the Recovery DLQ")
        send(stack, requests.click(STRANGER, DLQ_REDRIVE_CONFIRM, "recovery", message_ts=None))  # forged
        assert answer(slack, 1)["text"].startswith("🚫")
        assert move.calls == []

        send(stack, requests.click(ALLOWED, DLQ_REDRIVE, "recovery", message_ts=None))
        prompt = answer(slack, 2)
        assert "Move *4* messages" in json.dumps(prompt["blocks"]) and "at 25 a second" in json.dumps(
            prompt["blocks"]
        )
        assert [b["action_id"] for b in buttons(prompt)] == [DLQ_REDRIVE_CONFIRM, DLQ_REDRIVE_CANCEL]
        assert move.calls == []  # nothing before the confirmation

        send(stack, requests.click(ALLOWED, DLQ_REDRIVE_CANCEL, "recovery", message_ts=None))
        assert answer(slack, 3)["text"] == "Cancelled: nothing was redriven."
        send(stack, requests.click(ALLOWED, DLQ_REDRIVE_CONFIRM, "recovery", message_ts=None))
        started = answer(slack, 4)

    assert started["replace_original"] is True
    assert (
        started["text"].startswith(f"✅ Redrive started by <@{ALLOWED}>")
        and "task-handle-1" in started["text"]
    )
    assert move.started() == [
        {"SourceArn": dlq_arn, "DestinationArn": queue_arn, "MaxNumberOfMessagesPerSecond": 25}
    ]
    move.stubber.assert_no_pending_responses()
    audit = stack.client("dynamodb").get_item(
        TableName=stack.physical("RecoveriesTable"),
        Key={"recovery_id": {"S": f"dlq#{stack.physical('RecoveryDeadLetterQueue').rsplit('/', 1)[-1]}"}},
    )["Item"]["audit"]["L"]
    trail = [(e["M"]["actor"]["S"], e["M"]["result"]["S"]) for e in audit]
    assert trail == [(STRANGER, "DENIED"), (STRANGER, "DENIED"), (ALLOWED, "STARTED")]

    send(stack, requests.command(ALLOWED, "dlq"))
    assert f"Last redrive: <@{ALLOWED}>" in json.dumps(answer(slack, 5)["blocks"])


def test_the_cli_shows_the_dlqs_and_redrives_with_yes(
    stack: EmbeddedStack, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("LOGNAME", "alice")
    put(stack, "OrdersDeadLetterQueue", [order_body(1)])
    put(stack, "RecoveryDeadLetterQueue", ["broken"], reason="not JSON")
    put(stack, "RecoveryDeadLetterQueue", ['{"contract_version": 1}'])
    parser = argparse.ArgumentParser(prog="recovery-ops dlq")
    add_arguments(parser)
    lines: list[str] = []

    assert dlq_command(parser.parse_args([]), out=lines.append) == 0  # the queues from the environment
    shown = "\n".join(lines)
    assert "Orders DLQ" in shown and ": 1 messages" in shown and "order-1" in shown
    assert ": 2 messages" in shown and "reason: not JSON" in shown and "not redrivable" in shown
    assert depth(stack, "RecoveryDeadLetterQueue") == 2

    dlq_arn, queue_arn = stack.arn("RecoveryDeadLetterQueue"), stack.arn("RecoveryQueue")
    move = MoveTaskStub(stack.client("sqs"))
    move.stubber.add_response(
        "list_message_move_tasks", {"Results": []}, {"SourceArn": dlq_arn, "MaxResults": 1}
    )
    move.stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "cli-handle"},
        {"SourceArn": dlq_arn, "DestinationArn": queue_arn, "MaxNumberOfMessagesPerSecond": 7},
    )
    args = parser.parse_args(
        [
            "redrive",
            "--rate",
            "7",
            "--yes",
            "--recovery-dlq-url",
            stack.physical("RecoveryDeadLetterQueue"),
            "--recovery-queue-url",
            stack.physical("RecoveryQueue"),
            "--table",
            stack.physical("RecoveriesTable"),
        ]
    )
    lines.clear()
    with move.active():
        assert dlq_command(args, out=lines.append, confirm=lambda question: pytest.fail(question)) == 0

    assert "task handle: cli-handle" in lines and any("at 7/s" in line for line in lines)
    assert len(move.started()) == 1
    move.stubber.assert_no_pending_responses()
    monkeypatch.delenv("RECOVERY_DLQ_URL")
    assert dlq_command(parser.parse_args(["redrive", "--orders-dlq-url", "x"])) == 2  # only the orders DLQ
