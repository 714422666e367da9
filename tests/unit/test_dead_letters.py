"""The dead-letter queues' core without AWS: previews, redrive calls (botocore's Stubber), Slack blocks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber

from recovery_ops.service.local.standin.server import block_kit_problem
from recovery_ops.service.recovery.dead_letters.preview import age_text, excerpt
from recovery_ops.service.recovery.dead_letters.queues import (
    ORDERS,
    RECOVERY,
    DeadLetterError,
    DeadLetterQueues,
    standard_queues,
)
from recovery_ops.slack_app.ids import DLQ_REDRIVE

PREFIX = "https://sqs.us-east-1.amazonaws.com/123456789012/"
ORDERS_DLQ, RECOVERY_DLQ, RECOVERY_QUEUE = (PREFIX + n for n in ("orders-dlq", "recovery-dlq", "recovery-q"))
ARN = "arn:aws:sqs:us-east-1:123456789012:"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sqs() -> Iterator[tuple[object, Stubber]]:
    client = boto3.client(
        "sqs", region_name="us-east-1", aws_access_key_id="unit", aws_secret_access_key="unit"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def queues(client: object, rate: int = 10) -> DeadLetterQueues:
    return DeadLetterQueues(client, standard_queues(ORDERS_DLQ, RECOVERY_DLQ, RECOVERY_QUEUE), rate)


def message(index: int, sent: datetime, body: str, reason: str | None = None) -> dict:
    found = {
        "MessageId": f"m-{index}",
        "ReceiptHandle": f"r-{index}",
        "Body": body,
        "Attributes": {"SentTimestamp": str(int(sent.timestamp() * 1000)), "ApproximateReceiveCount": "3"},
    }
    if reason:
        found["MessageAttributes"] = {"reason": {"DataType": "String", "StringValue": reason}}
    return found


def test_a_look_reports_depth_and_the_oldest_messages_without_consuming_them(sqs) -> None:
    client, stubber = sqs
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"ApproximateNumberOfMessages": "3", "ApproximateNumberOfMessagesNotVisible": "1"}},
        {
            "QueueUrl": RECOVERY_DLQ,
            "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        },
    )
    sampled = [
        message(2, NOW - timedelta(minutes=5), '{"a": 1,\n "b": [1, 2]}'),
        message(1, NOW - timedelta(hours=3), "not json  at\nall", reason="missing field task_token"),
        message(3, NOW - timedelta(seconds=30), "x" * 5000),
    ]
    stubber.add_response(
        "receive_message",
        {"Messages": sampled},
        {
            "QueueUrl": RECOVERY_DLQ,
            "MaxNumberOfMessages": 10,
            "VisibilityTimeout": 0,
            "WaitTimeSeconds": 0,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        },
    )

    dead_letters = queues(client)
    report = dead_letters.report(dead_letters.queue(RECOVERY), preview=2)

    assert (report.visible, report.in_flight, report.depth) == (3, 1, 4)
    assert [m.message_id for m in report.oldest] == ["m-1", "m-2"]  # oldest first, cut to the preview
    assert report.oldest[0].reason == "missing field task_token"
    assert report.oldest[0].excerpt == "not json at all" and report.oldest[1].excerpt == '{"a":1,"b":[1,2]}'
    assert report.oldest[0].receive_count == 3 and age_text(report.oldest[0].age(NOW)) == "3 h"


def test_an_unreadable_queue_is_reported_not_raised(sqs) -> None:
    client, stubber = sqs
    stubber.add_client_error("get_queue_attributes", "AccessDenied", "not allowed")
    dead_letters = queues(client)
    report = dead_letters.report(dead_letters.queue(ORDERS))
    assert report.problem == "AccessDenied" and report.depth == 0  # the code only: messages name ARNs


def test_redrive_starts_one_move_task_at_the_configured_rate(sqs) -> None:
    client, stubber = sqs
    stubber.add_response("get_queue_attributes", {"Attributes": {"QueueArn": ARN + "recovery-dlq"}})
    stubber.add_response("get_queue_attributes", {"Attributes": {"QueueArn": ARN + "recovery-q"}})
    stubber.add_response(
        "list_message_move_tasks", {"Results": []}, {"SourceArn": ARN + "recovery-dlq", "MaxResults": 1}
    )
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"ApproximateNumberOfMessages": "42", "ApproximateNumberOfMessagesNotVisible": "0"}},
    )
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-1"},
        {
            "SourceArn": ARN + "recovery-dlq",
            "DestinationArn": ARN + "recovery-q",
            "MaxNumberOfMessagesPerSecond": 25,
        },
    )

    task = queues(client, rate=25).redrive(RECOVERY, "U1")

    assert task.started and task.task_handle == "handle-1" and task.to_move == 42
    assert "at 25/s" in task.summary() and "recovery-q" in task.summary()


def test_a_running_move_task_is_reported_and_no_second_one_started(sqs) -> None:
    client, stubber = sqs
    stubber.add_response("get_queue_attributes", {"Attributes": {"QueueArn": ARN + "recovery-dlq"}})
    stubber.add_response("get_queue_attributes", {"Attributes": {"QueueArn": ARN + "recovery-q"}})
    running = {
        "TaskHandle": "handle-0",
        "Status": "RUNNING",
        "SourceArn": ARN + "recovery-dlq",
        "DestinationArn": ARN + "recovery-q",
        "MaxNumberOfMessagesPerSecond": 10,
        "ApproximateNumberOfMessagesMoved": 5,
        "ApproximateNumberOfMessagesToMove": 40,
    }
    stubber.add_response("list_message_move_tasks", {"Results": [running]})

    task = queues(client).redrive(RECOVERY, "U1")  # no start_message_move_task stubbed: none may happen

    assert not task.started and task.task_handle == "handle-0"
    assert "already running" in task.summary() and "5/40 moved" in task.summary()


def test_the_orders_dlq_is_not_redriven_and_rates_are_bounded(sqs) -> None:
    client, _ = sqs
    dead_letters = queues(client)
    with pytest.raises(DeadLetterError, match="Orders DLQ cannot be redriven"):
        dead_letters.redrive(ORDERS, "U1")
    with pytest.raises(DeadLetterError, match="no dead-letter queue 'payments'"):
        dead_letters.redrive("payments", "U1")
    for rate in (0, 501):
        with pytest.raises(DeadLetterError, match="1 to 500"):
            DeadLetterQueues(client, dead_letters.queues, rate_per_second=rate)
    assert [q.key for q in standard_queues(None, RECOVERY_DLQ, None)] == [RECOVERY]
    assert not standard_queues(None, RECOVERY_DLQ, None)[0].redrivable  # no destination, no redrive


def test_the_slack_answer_stays_within_block_kit_limits_whatever_the_messages() -> None:
    from recovery_ops.service.recovery.dead_letters.preview import DeadLetter
    from recovery_ops.service.recovery.dead_letters.queues import DeadLetterReport
    from recovery_ops.slack_app.views.dead_letters import dead_letter_blocks

    orders, recovery = standard_queues(ORDERS_DLQ, RECOVERY_DLQ, RECOVERY_QUEUE)
    huge = [
        DeadLetter(f"m-{i}", NOW - timedelta(days=i), 3, excerpt("<&>`" * 5000), reason="r" * 5000)
        for i in range(20)
    ]
    reports = [
        DeadLetterReport(orders, visible=20, oldest=huge),
        DeadLetterReport(recovery, visible=20, oldest=huge),
    ]

    blocks = [b.to_dict() for b in dead_letter_blocks(reports, {}, NOW)]

    assert block_kit_problem(blocks) is None and len(blocks) <= 50
    buttons = [b["accessory"] for b in blocks if b.get("accessory")]
    assert [(b["action_id"], b["value"]) for b in buttons] == [(DLQ_REDRIVE, RECOVERY)]
    assert "Not redrivable" in json.dumps(blocks)
