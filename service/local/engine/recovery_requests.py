"""Take recovery requests off the recovery queue, as the collector will: the local operator's view."""

from __future__ import annotations

import json
import time
from typing import Any

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.local.engine.execution_history import POLL_SECONDS


class NoRecoveryRequestError(RecoveryOpsError, TimeoutError):
    pass


def next_recovery_request(sqs: Any, queue_url: str, timeout: float = 30) -> dict[str, Any]:
    """The next contract message a paused execution sent (deleted from the queue once read)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", [])
        if messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            return json.loads(messages[0]["Body"])
        time.sleep(POLL_SECONDS)
    raise NoRecoveryRequestError(f"no recovery request arrived on {queue_url} within {timeout}s")
