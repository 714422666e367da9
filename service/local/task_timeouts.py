"""Report a DynamoDB task's expired ``TimeoutSeconds`` as ``States.Timeout``, as Step Functions does.

moto's DynamoDB integration turns every error that is not a DynamoDB answer, its own task timeout
included, into ``DynamoDB.AmazonDynamoDBException``, which no ``Retry`` for ``States.Timeout``
matches. On a loaded machine (a hundred orders, each with a few DynamoDB tasks, in one process) a
task can outlast its ``TimeoutSeconds``; with this fix the workflow retries it as it would on AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def task_timeouts_as_on_aws() -> Iterator[None]:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_dynamodb,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask

    service = state_task_service_dynamodb.StateTaskServiceDynamoDB
    original = service._from_error

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, TimeoutError):
            return StateTask._from_error(self, env, ex)  # States.Timeout
        return original(self, env, ex)

    service._from_error = from_error
    try:
        yield
    finally:
        service._from_error = original
