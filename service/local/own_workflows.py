"""A state machine of one's own beside the recovery service in the embedded stack.

Its Lambda tasks are answered by Python functions of this process (``module.function``, called
with the task's payload and a Lambda context, as on AWS); its ``${Placeholder}``s are replaced as
``DefinitionSubstitutions`` would. What ``recovery-ops instrument`` users and the tests deploy.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from typing import Any

from service.local.lambda_dispatch import Handler, LocalFunction
from service.local.stack import ACCOUNT_ID, EmbeddedStack


def deploy_function(
    stack: EmbeddedStack,
    name: str,
    handler_path: str,
    timeout_seconds: int = 10,
    answer: Handler | None = None,
) -> str:
    """A Lambda function ``name`` run in-process by ``handler_path`` (or by ``answer``, a function of
    this process); its ARN (created once per stack)."""
    lambda_client = stack.client("lambda")
    try:
        return lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    except lambda_client.exceptions.ResourceNotFoundException:
        pass
    role = stack.client("iam").create_role(RoleName=f"{name}-role"[:64], AssumeRolePolicyDocument="{}")
    arn = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler=handler_path,
        Code={"ZipFile": _placeholder_code()},
        Timeout=timeout_seconds,
    )["FunctionArn"]
    stack.dispatcher.register(
        LocalFunction(name, arn, handler_path, timeout_seconds=timeout_seconds, answer=answer)
    )
    return arn


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
        archive.writestr("placeholder.py", "# runs in-process: service/local/lambda_dispatch.py\n")
    return buffer.getvalue()
