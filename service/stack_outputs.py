"""Where a deployment's tables and queues are, read from its CloudFormation stack's outputs.

Operators name a stack (``recovery-ops list --stack recovery-ops``) instead of copying table names
and queue URLs; ``settings_from_stack`` fills in only what was not given explicitly, so an explicit
option still wins, and reads the stack (one ``DescribeStacks``) only when something is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recovery_ops.service.errors import RecoveryOpsError

RECOVERIES_TABLE = "RecoveriesTableName"
PAYLOADS_BUCKET = "PayloadsBucketName"
RECOVERY_QUEUE = "RecoveryQueueUrl"
RECOVERY_DLQ = "RecoveryDeadLetterQueueUrl"
ORDERS_DLQ = "OrdersDeadLetterQueueUrl"
ROUTING_RULES = "RoutingRulesParameterName"


class StackOutputError(RecoveryOpsError, RuntimeError):
    """The stack does not exist, cannot be read, or lacks an output that is needed."""


def stack_outputs(stack_name: str, cloudformation: Any) -> dict[str, str]:
    """Every output of ``stack_name``, by its key."""
    return {
        o["OutputKey"]: o["OutputValue"] for o in _describe(stack_name, cloudformation).get("Outputs", [])
    }


def stack_outputs_and_parameters(
    stack_name: str, cloudformation: Any
) -> tuple[dict[str, str], dict[str, str]]:
    """Every output and every parameter value of ``stack_name``, by key (one ``DescribeStacks``)."""
    stack = _describe(stack_name, cloudformation)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    return outputs, parameters


def _describe(stack_name: str, cloudformation: Any) -> dict[str, Any]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", "")
        if "does not exist" in message:
            raise StackOutputError(
                f"no stack named {stack_name!r} in this account and region (check --stack, "
                "AWS_PROFILE and AWS_REGION)"
            ) from exc
        code = exc.response.get("Error", {}).get("Code", "error")
        raise StackOutputError(f"could not read stack {stack_name!r}: {code}: {message}") from exc
    except BotoCoreError as exc:
        raise StackOutputError(f"could not read stack {stack_name!r}: {exc}") from exc
    if not stacks:
        raise StackOutputError(f"no stack named {stack_name!r} in this account and region")
    return stacks[0]


def settings_from_stack(
    stack_name: str | None,
    given: Mapping[str, str | None],
    outputs_for: Mapping[str, str],
    cloudformation: Callable[[], Any],
    optional: Collection[str] = (),
) -> dict[str, str | None]:
    """``given`` with each missing (None or empty) setting taken from the stack output that
    ``outputs_for`` names for it; without a stack name, ``given`` as it is. ``cloudformation``
    builds the client, called only when the stack has to be read. An ``optional`` setting whose
    output the stack does not have (a conditional output) stays missing; any other is an error."""
    settings = dict(given)
    missing = [name for name in outputs_for if not settings.get(name)]
    if not stack_name or not missing:
        return settings
    outputs = stack_outputs(stack_name, cloudformation())
    absent = [
        outputs_for[name] for name in missing if name not in optional and not outputs.get(outputs_for[name])
    ]
    if absent:
        raise StackOutputError(
            f"stack {stack_name!r} has no output {', '.join(absent)} (it has: "
            f"{', '.join(sorted(outputs)) or 'no outputs'}); is it a recovery-ops stack?"
        )
    settings.update({name: outputs.get(outputs_for[name]) for name in missing})
    return settings
