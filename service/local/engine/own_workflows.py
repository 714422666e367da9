"""A state machine of one's own beside the recovery service in the embedded stack.

Its Lambda tasks are answered by Python functions of this process (``module.function``, or the
function itself, called with the task's payload and a Lambda context, as on AWS); its
``${Placeholder}``s are replaced as ``DefinitionSubstitutions`` would. What ``recovery-ops
instrument`` users, the tests and the pytest plugin (``service/local/testing/recovery_stack.py``) deploy.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from recovery_ops.service.local.engine.lambda_dispatch import Handler, LocalFunction, checked_handler
from recovery_ops.service.local.engine.stack import ACCOUNT_ID, EmbeddedStack


@dataclass
class InProcessFunction(LocalFunction):
    """A function answered by a callable of this process (a test's closure, say) rather than by an
    import path; ``handler_path`` only names it."""

    function: Handler | None = None

    def handler(self) -> Handler:
        if self.function is None:
            raise TypeError(f"{self.name} has no function to call")
        return self.function


def deploy_function(
    stack: EmbeddedStack, name: str, handler: str | Handler, timeout_seconds: int = 10
) -> str:
    """A Lambda function ``name`` run in-process by ``handler`` (a ``module.function`` path or a
    callable); its ARN. Created once per stack; a callable given again replaces the one before."""
    lambda_client = stack.client("lambda")
    if isinstance(handler, str):
        checked_handler(name, handler)  # a wrong path is refused here, not when a task invokes it
    handler_path = handler if isinstance(handler, str) else _described(handler)
    try:
        arn = lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    except lambda_client.exceptions.ResourceNotFoundException:
        pass
    else:
        if not isinstance(handler, str):
            stack.dispatcher.register(_local_function(name, arn, handler, timeout_seconds))
        return arn
    role = stack.client("iam").create_role(RoleName=f"{name}-role"[:64], AssumeRolePolicyDocument="{}")
    arn = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler=handler_path[:128],  # Lambda's limit; the code runs in-process anyway
        Code={"ZipFile": _placeholder_code()},
        Timeout=timeout_seconds,
    )["FunctionArn"]
    stack.dispatcher.register(_local_function(name, arn, handler, timeout_seconds))
    return arn


def _local_function(name: str, arn: str, handler: str | Handler, timeout_seconds: int) -> LocalFunction:
    if isinstance(handler, str):
        return LocalFunction(name, arn, handler, timeout_seconds=timeout_seconds)
    return InProcessFunction(
        name, arn, _described(handler), timeout_seconds=timeout_seconds, function=handler
    )


def _described(function: Handler) -> str:
    """``module.qualified_name`` of a callable: what its function is called in messages."""
    module = getattr(function, "__module__", None) or "?"
    return f"{module}.{getattr(function, '__qualname__', type(function).__name__)}"


def deploy_state_machine(
    stack: EmbeddedStack,
    name: str,
    definition: str | Mapping[str, Any],
    *,
    functions: Mapping[str, str] | None = None,
    substitutions: Mapping[str, str] | None = None,
) -> str:
    """Create state machine ``<stack>-<name>`` from ``definition``; its ARN.

    ``functions`` maps a placeholder to a handler path: each becomes a function named
    ``<stack>-<handler, dashed>`` and ``${placeholder}`` its name; ``substitutions`` maps other
    placeholders to their values."""
    text = definition if isinstance(definition, str) else json.dumps(definition)
    for placeholder, handler_path in (functions or {}).items():
        function_name = f"{stack.name}-{handler_path.rpartition('.')[2].replace('_', '-')}"[:64]
        deploy_function(stack, function_name, handler_path)
        text = text.replace("${" + placeholder + "}", function_name)
    for placeholder, value in (substitutions or {}).items():
        text = text.replace("${" + placeholder + "}", value)
    return stack.client("stepfunctions").create_state_machine(
        name=f"{stack.name}-{name}",
        definition=text,
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{stack.name}-{name}"[:140],
    )["stateMachineArn"]


def _placeholder_code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# runs in-process: service/local/engine/lambda_dispatch.py\n")
    return buffer.getvalue()
