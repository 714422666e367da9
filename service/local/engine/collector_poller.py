"""What Lambda's SQS poller does for the collector, done locally: batch, invoke, delete, redeliver.

Messages are received from the recovery queue (with their receive count), handed to the collector
function as one SQS event through moto's Lambda (so the template's function and its environment
are used), then the ones the collector did not report as failures are deleted; failures become
visible again at once, as after a visibility timeout.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from recovery_ops.service.local.engine.stack import REGION, EmbeddedStack


@dataclass(frozen=True)
class PollResult:
    received: int
    failed: list[str]
    response: dict[str, Any]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": m.get("Attributes", {}).get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": m.get("Attributes", {}).get("SentTimestamp", "0"),
                    "SenderId": m.get("Attributes", {}).get("SenderId", "AIDLOCAL"),
                    "ApproximateFirstReceiveTimestamp": m.get("Attributes", {}).get(
                        "ApproximateFirstReceiveTimestamp", "0"
                    ),
                },
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def poll_collector(
    stack: EmbeddedStack,
    batch_size: int = 100,
    batching_window_s: float = 0.0,
    retry_after_s: int = 0,
    queue: str = "RecoveryQueue",
) -> PollResult:
    """One poll: up to ``batch_size`` messages → one collector invocation. Empty queue: no call.

    ``batching_window_s`` keeps gathering messages that long once the first one arrived (the event
    source's ``MaximumBatchingWindowInSeconds``); a failed record becomes visible again after
    ``retry_after_s`` (the queue's visibility timeout; 0 = at once).
    """
    sqs = stack.client("sqs")
    queue_url = stack.physical(queue)
    messages: list[dict[str, Any]] = []
    window_ends: float | None = None
    while len(messages) < batch_size:
        page = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(10, batch_size - len(messages)),
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if page:
            messages.extend(page)
            window_ends = window_ends or time.monotonic() + batching_window_s
            continue
        if window_ends is None or time.monotonic() >= window_ends:
            break
        time.sleep(0.05)
    if not messages:
        return PollResult(0, [], {})
    event = sqs_event(messages, stack.arn(queue))
    answer = stack.client("lambda").invoke(
        FunctionName=stack.physical("CollectorFunction"), Payload=json.dumps(event).encode()
    )
    payload = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        failed = [m["MessageId"] for m in messages]  # the whole batch is delivered again
    else:
        failed = [f["itemIdentifier"] for f in payload.get("batchItemFailures", [])]
    for message in messages:
        if message["MessageId"] in failed:
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=retry_after_s
            )
        else:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return PollResult(len(messages), failed, payload)
