"""What EventBridge does for the outermost catch, done locally: execution status changes → watcher.

moto's Step Functions emit no EventBridge events. ``status_change_event`` builds the "Step
Functions Execution Status Change" event AWS would send for an execution (from describe_execution;
``status`` overrides it where moto cannot reach that state: it does not stop an execution that
waits for a task token), and ``deliver`` hands it to the template's watcher function through
moto's Lambda.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from recovery_ops.service.local.engine.stack import ACCOUNT_ID, REGION, EmbeddedStack


def status_change_event(sfn: Any, execution_arn: str, status: str | None = None) -> dict[str, Any]:
    described = sfn.describe_execution(executionArn=execution_arn)
    stopped = described.get("stopDate") or datetime.now(UTC)
    detail = {
        "executionArn": execution_arn,
        "stateMachineArn": described["stateMachineArn"],
        "name": described["name"],
        "status": status or described["status"],
        "startDate": int(described["startDate"].timestamp() * 1000),
        "stopDate": int(stopped.timestamp() * 1000),
        "input": described.get("input"),
        "output": described.get("output"),
        "error": described.get("error"),
        "cause": described.get("cause"),
    }
    return _event("Step Functions Execution Status Change", "aws.states", [execution_arn], detail)


def _event(detail_type: str, source: str, resources: list[str], detail: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge event of the stack's account and Region, sent now."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": resources,
        "detail": detail,
    }


def deliver(stack: EmbeddedStack, event: dict[str, Any], function: str = "ExecutionWatcherFunction") -> dict:
    answer = stack.client("lambda").invoke(FunctionName=stack.physical(function), Payload=json.dumps(event))
    payload = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        raise RuntimeError(f"{function} failed: {payload}")
    return payload


def durable_status_change_event(stack: EmbeddedStack, durable_execution_arn: str) -> dict[str, Any]:
    """The "Durable Execution Status Change" event Lambda would send for a durable execution of the
    stack's durable host, as it stands now (its ARN the host's own, as its recoveries keep it)."""
    durable = stack.durable
    if durable is None:
        raise ValueError("this stack runs no durable functions")
    now = durable.describe(durable_execution_arn)
    function = durable.function_of(durable_execution_arn)
    ended = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    detail = {
        "durableExecutionArn": durable_execution_arn,
        "durableExecutionName": durable_execution_arn.split("/", 1)[0],
        "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}:1",  # qualified, as sent
        "status": now.status,
        "startTimestamp": ended,
        "endTimestamp": ended,
    }
    return _event("Durable Execution Status Change", "aws.lambda", [], detail)
