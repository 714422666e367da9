"""The grants a state machine's definition needs, checked against its role before anything runs.

Each Task state that calls an AWS service through a Step Functions integration needs an IAM action
on a resource: ``arn:aws:states:::sqs:sendMessage.waitForTaskToken`` with a ``QueueUrl`` needs
``sqs:SendMessage`` on that queue's ARN, ``lambda:invoke`` needs ``lambda:InvokeFunction`` on the
function, ``dynamodb:putItem`` ``dynamodb:PutItem`` on the table, ``sns:publish`` ``sns:Publish``
on the topic, and so on (``aws-sdk:<service>:<action>`` integrations too; a function's ARN as the
Resource is an invocation). The action and the resource come from the same translation the
embedded stack's call check uses (``iam_check.iam_requests``), so the static check and the check of
each call agree.

A parameter the state reads at run time (``TableName.$``, a JSONata ``{% ... %}``) names no
resource before the run: such a state is left to the check of each call. Plain data in and out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.local.engine.iam_check import Place, iam_requests

_INTEGRATION = re.compile(
    r"^arn:[^:]+:states:::(?:aws-sdk:)?(?P<service>[a-z0-9-]+):(?P<action>[A-Za-z0-9]+)"
    r"(?:\.(?:waitForTaskToken|sync(?::2)?))?$"
)
_FUNCTION_ARN = re.compile(r"^arn:[^:]+:lambda:[^:]+:[^:]+:function:")


@dataclass(frozen=True)
class Grant:
    """What one Task state needs: an IAM action on a resource."""

    state: str
    action: str
    resource: str


@dataclass(frozen=True)
class MissingGrant:
    """A grant the state machine's role does not give."""

    state_machine: str
    grant: Grant

    def __str__(self) -> str:
        return (
            f"{self.state_machine}: state '{self.grant.state}' needs {self.grant.action} on "
            f"{self.grant.resource}; its role does not allow it"
        )


class MissingGrantError(RecoveryOpsError, PermissionError):
    """A state machine's role lacks a grant its definition needs (found before anything runs)."""

    def __init__(self, missing: list[MissingGrant], where: str = "") -> None:
        self.missing = missing
        lines = [str(m) for m in missing]
        head = f"{where}: " if where else ""
        super().__init__(
            head
            + "the role of a state machine does not allow what its definition does:\n  "
            + "\n  ".join(lines)
        )


def task_states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state (name, state) at any depth: Parallel branches, Map iterations."""
    states = definition.get("States") if isinstance(definition, dict) else None
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        if state.get("Type") == "Task":
            yield name, state
        for branch in state.get("Branches") or []:
            yield from task_states(branch)
        processor = state.get("ItemProcessor", state.get("Iterator"))
        if isinstance(processor, dict):
            yield from task_states(processor)


def _fields(state: dict[str, Any]) -> dict[str, Any]:
    for key in ("Parameters", "Arguments"):
        if isinstance(state.get(key), dict):
            return state[key]
    return {}


def _known(value: Any) -> bool:
    """A value fixed in the definition (not a JSONata expression evaluated at run time)."""
    return not (isinstance(value, str) and value.strip().startswith("{%"))


def needed_grants(definition: dict[str, Any], place: Place) -> list[Grant]:
    """The (action, resource) each Task state of ``definition`` needs whose resource is known before
    the run, in the definition's order."""
    needed: list[Grant] = []
    for name, state in task_states(definition):
        resource = state.get("Resource")
        if not isinstance(resource, str):
            continue
        if _FUNCTION_ARN.match(resource):
            needed.append(Grant(name, "lambda:InvokeFunction", resource))
            continue
        found = _INTEGRATION.match(resource)
        if not found:
            continue
        service, action = found["service"], found["action"]
        fields = _fields(state)
        # the API's own parameter names: ASL writes them as the SDK does, Step Functions' own in
        # PascalCase (StateMachineArn) where the API has camelCase (stateMachineArn)
        params = {
            key[:1].lower() + key[1:] if service == "states" else key: value
            for key, value in fields.items()
            if isinstance(key, str) and not key.endswith(".$") and _known(value)
        }
        dynamic = {key.removesuffix(".$") for key in fields if isinstance(key, str) and key.endswith(".$")}
        dynamic |= {key for key, value in fields.items() if not _known(value)}
        operation = action[:1].upper() + action[1:]
        requests = iam_requests(service, operation, params, place)
        for iam_action, arn in requests:
            if arn == "*" and dynamic:
                continue  # the resource is chosen when the state runs: the call check holds it
            needed.append(Grant(name, iam_action, arn))
    return needed


def missing_grants(
    state_machine: str,
    definition: dict[str, Any],
    allows: Callable[[str, str], bool],
    place: Place,
) -> list[MissingGrant]:
    """Each grant ``definition`` needs that ``allows(action, resource)`` (its role) refuses."""
    return [
        MissingGrant(state_machine, grant)
        for grant in needed_grants(definition, place)
        if not allows(grant.action, grant.resource)
    ]
