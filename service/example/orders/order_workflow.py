"""Starting and describing executions of the order workflow (execution name = order id)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from recovery_ops.service.example.orders.errors import OrderAlreadyExistsError
from recovery_ops.service.example.orders.models import ExecutionView

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN an execution named ``name`` of this state machine has (known before it starts)."""
    prefix, _, machine = state_machine_arn.partition(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


class OrderWorkflow:
    def __init__(self, state_machine_arn: str, client: SFNClient) -> None:
        self._state_machine_arn = state_machine_arn
        self._client = client

    def execution_arn(self, order_id: str) -> str:
        return execution_arn(self._state_machine_arn, order_id)

    def start(self, order_id: str, workflow_input: dict) -> str:
        try:
            response = self._client.start_execution(
                stateMachineArn=self._state_machine_arn, name=order_id, input=json.dumps(workflow_input)
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                raise OrderAlreadyExistsError(order_id) from exc
            raise
        return response["executionArn"]

    def describe(self, order_id: str) -> ExecutionView | None:
        try:
            described = self._client.describe_execution(executionArn=self.execution_arn(order_id))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return None
            raise
        stop_date = described.get("stopDate")
        return ExecutionView(
            arn=described["executionArn"],
            status=described["status"],
            start_date=described["startDate"].isoformat(),
            stop_date=stop_date.isoformat() if stop_date else None,
            error=described.get("error"),
            cause=described.get("cause"),
        )
