"""Running a durable function in AWS's local runner beside a recovery queue in moto: the queue, the
runner's answers as the desk gives them (fixtures in conftest.py)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

REGION, ACCOUNT, FUNCTION = "eu-west-1", "123456789012", "item-check"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"


@dataclass
class Queue:
    url: str
    sqs: Any

    def messages(self) -> list[dict[str, Any]]:
        """The messages on the queue now (each received once: it is not seen again)."""
        answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [json.loads(m["Body"]) for m in answer.get("Messages", [])]

    def received(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The messages sent, once ``count`` have arrived: the runner reports a callback as soon as
        it exists, and the step that sends its request runs right after, in another thread."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            found += self.messages()
            if len(found) < count:
                time.sleep(0.01)
        return found


def result(runner: DurableFunctionTestRunner, arn: str) -> dict[str, Any]:
    outcome = runner.wait_for_result(arn, timeout=10)
    assert outcome.error is None, outcome.error
    assert outcome.result is not None
    return dict(json.loads(outcome.result))


def reject(runner: DurableFunctionTestRunner, callback_id: str, cause: str) -> None:
    """As the desk rejects: the callback fails with RecoveryRejected and the person's cause."""
    error = ErrorObject(message=cause, type="RecoveryRejected", data=None, stack_trace=None)
    runner.send_callback_failure(callback_id, error)
