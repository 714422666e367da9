"""The recovery queue in moto and AWS's local durable-function runner, for the durable tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner
from moto import mock_aws

from recovery_ops.service.durable import wait as durable_wait
from tests.unit.durable.runs import REGION, Queue


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Queue]:
    """The recovery queue in moto; the helper's default SQS client (made in moto) is dropped after."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        yield Queue(sqs.create_queue(QueueName="recovery-queue")["QueueUrl"], sqs)
    durable_wait._sqs_in.cache_clear()


@pytest.fixture
def runner_of() -> Iterator[Callable[[Callable[..., Any]], DurableFunctionTestRunner]]:
    """A local runner per durable handler (time between retries skipped), each closed after the test."""
    runners: list[DurableFunctionTestRunner] = []

    def start(handler: Callable[..., Any]) -> DurableFunctionTestRunner:
        runners.append(DurableFunctionTestRunner(handler=handler, poll_interval=0.01, region=REGION))
        return runners[-1]

    yield start
    for runner in runners:
        runner.close()
