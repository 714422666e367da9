"""A team's own SAM template deployed beside the recovery service, in the same embedded stack.

The team's ``template.yaml`` (a path) is read as the product's is (``cfn_template``), under a stack
name of its own, into the same moto and the same Lambda dispatcher:

- ``AWS::Serverless::Function``: its ``Handler`` (``module.function``) imported from the team's
  code directory (``CodeUri``, relative to the template) when deployed: a missing module or
  function is a ``HandlerPathError`` then, never a task failing later; it runs in this process;
- ``AWS::Serverless::StateMachine``: ``DefinitionUri`` relative to the template (or an inline
  ``Definition``), ``DefinitionSubstitutions``, ``Policies`` or ``Role``;
- ``AWS::DynamoDB::Table``, ``AWS::SQS::Queue``, ``AWS::SNS::Topic`` created in moto;
  ``AWS::IAM::Role`` read as the role a ``Role: !GetAtt <Role>.Arn`` gives;
- parameters (given, or their defaults) and ``Fn::ImportValue`` of the recovery stack's exports
  under the name the team's stack knows it by (``recovery-ops`` unless told):
  ``!ImportValue recovery-ops-RecoveryQueueUrl`` is the embedded recovery queue.

Before anything is created: a resource type that cannot be emulated is refused, named with the
template's path (alarms, log groups and dashboards, which change nothing in a run, are listed in
``not_emulated``); every handler path is imported; and each state machine's definition is held
against its role, the SAM translator's own (``grant_check``): a missing grant is a
``MissingGrantError`` naming the state machine, the state, the action and the resource. Once
deployed, every call of the team's functions and state machines is held to the same roles by the
stack's call check (``iam_check``), when the stack has one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.local.engine import iam_check
from recovery_ops.service.local.engine.cfn_template import (
    ResolutionContext,
    function_properties,
    load_template,
    resolve,
)
from recovery_ops.service.local.engine.grant_check import MissingGrantError, missing_grants
from recovery_ops.service.local.engine.lambda_dispatch import LocalFunction, checked_handler
from recovery_ops.service.local.engine.stack import ACCOUNT_ID, REGION, EmbeddedStack, _Deployer, _lambda_zip

FUNCTION = "AWS::Serverless::Function"
STATE_MACHINE = "AWS::Serverless::StateMachine"
#: What the embedded stack creates from a team's template.
EMULATED = frozenset(
    {FUNCTION, STATE_MACHINE, "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::IAM::Role"}
)
#: What changes nothing in a run: left out, and listed.
NOT_RUN = frozenset({"AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard", "AWS::Logs::LogGroup"})
#: What the recovery stack is called by a team's template unless told otherwise (its exports'
#: names begin with it: ``recovery-ops-RecoveryQueueUrl``).
RECOVERY_STACK_NAME = "recovery-ops"
#: Variables every function sets for itself (its logs and metrics): the recovery service's stay.
_OWN_PER_FUNCTION = ("POWERTOOLS_", "LOG_LEVEL", "AWS_LAMBDA_")


class TeamTemplateError(RecoveryOpsError, ValueError):
    """A team's template cannot be deployed as it is; the message names the template's path."""


class UnsupportedResourceError(TeamTemplateError):
    """The template has resources the embedded stack cannot emulate."""


@dataclass
class DeployedTemplate:
    """A team's template, deployed: physical names and ARNs by logical id."""

    path: Path
    stack_name: str
    state_machines: dict[str, str]  # logical id -> ARN
    definitions: dict[str, dict[str, Any]]  # logical id -> the definition as created
    functions: dict[str, str]  # logical id -> function name
    tables: dict[str, str]  # logical id -> table name
    queues: dict[str, str]  # logical id -> queue URL
    topics: dict[str, str]  # logical id -> topic ARN
    context: ResolutionContext
    not_emulated: list[str] = field(default_factory=list)  # "Id (Type)" of what changes nothing in a run

    def physical(self, logical_id: str) -> Any:
        """What ``!Ref logical_id`` is in the team's stack."""
        return self.context.ref(logical_id)


def recovery_exports(stack: EmbeddedStack, known_as: str = RECOVERY_STACK_NAME) -> dict[str, str]:
    """The recovery stack's exports (``Outputs`` with an ``Export``), by their names under the local
    stack's own name and under ``known_as``, the name the team's template imports them by."""
    known = dataclasses.replace(stack.context, pseudo={**stack.context.pseudo, "AWS::StackName": known_as})
    exports: dict[str, str] = {}
    for output in stack.template.get("Outputs", {}).values():
        if "Export" not in output:
            continue
        if "Condition" in output and not stack.context.conditions.get(output["Condition"], False):
            continue
        value = str(resolve(output["Value"], stack.context))
        exports[str(resolve(output["Export"]["Name"], stack.context))] = value
        exports[str(resolve(output["Export"]["Name"], known))] = value
    return exports


def read_team_template(path: Path) -> dict[str, Any]:
    """The template as data; ``TeamTemplateError`` when it is missing, not YAML or has no resources."""
    if not path.is_file():
        raise TeamTemplateError(f"{path}: no such template file")
    try:
        template = load_template(path.resolve())
    except yaml.YAMLError as exc:
        raise TeamTemplateError(f"{path}: not a YAML template: {exc}") from exc
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise TeamTemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return template


def refuse_unsupported(template: dict[str, Any], path: Path) -> list[str]:
    """Raise ``UnsupportedResourceError`` naming every resource that cannot be emulated; the ones that
    change nothing in a run, listed."""
    unsupported = sorted(
        f"{lid} ({res.get('Type')})"
        for lid, res in template["Resources"].items()
        if res.get("Type") not in EMULATED | NOT_RUN
    )
    if unsupported:
        raise UnsupportedResourceError(
            f"{path}: the embedded stack cannot emulate {', '.join(unsupported)}; it runs "
            + ", ".join(sorted(EMULATED))
            + " (and leaves out "
            + ", ".join(sorted(NOT_RUN))
            + ")"
        )
    return sorted(
        f"{lid} ({res['Type']})" for lid, res in template["Resources"].items() if res["Type"] in NOT_RUN
    )


def _parameters(template: dict[str, Any], given: Mapping[str, str] | None, path: Path) -> dict[str, str]:
    declared = template.get("Parameters", {}) or {}
    unknown = sorted(set(given or {}) - set(declared))
    if unknown:
        raise TeamTemplateError(
            f"{path}: no parameter {', '.join(unknown)} (its parameters: {', '.join(declared) or 'none'})"
        )
    values = {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec}
    values |= {name: str(value) for name, value in (given or {}).items()}
    missing = sorted(set(declared) - set(values))
    if missing:
        raise TeamTemplateError(f"{path}: no value for parameter {', '.join(missing)} (no Default): give it")
    return values


def _name_for(path: Path) -> str:
    """A short name for the team's stack, from the template's directory."""
    directory = path.resolve().parent.name or "team"
    return re.sub(r"[^A-Za-z0-9-]+", "-", directory).strip("-")[:16] or "team"


def deploy_template(
    stack: EmbeddedStack,
    path: str | os.PathLike[str],
    parameters: Mapping[str, str] | None = None,
    *,
    stack_name: str | None = None,
    recovery_stack_name: str = RECOVERY_STACK_NAME,
) -> DeployedTemplate:
    """Deploy the team's template at ``path`` into ``stack`` (already open), beside the recovery
    service; refused with everything checked before anything is created (see the module)."""
    path = Path(path)
    template = read_team_template(path)
    not_emulated = refuse_unsupported(template, path)
    values = _parameters(template, parameters, path)
    team_name = stack_name or f"{stack.name}-{_name_for(path)}"
    where = path.resolve().parent
    try:
        deployer = _Deployer(
            team_name, template, values, base=where, imports=recovery_exports(stack, recovery_stack_name)
        )
        deployer.name_everything()
    except (KeyError, ValueError) as exc:
        raise TeamTemplateError(f"{path}: {exc.args[0] if exc.args else exc}") from exc
    functions = _checked_functions(deployer, path)
    definitions = _definitions(deployer, path)
    roles = _roles(deployer, path, stack)
    place = iam_check.Place(REGION, ACCOUNT_ID)
    missing = [
        gap
        for logical_id, definition in definitions.items()
        for gap in missing_grants(logical_id, definition, roles[logical_id].allows, place)
    ]
    if missing:
        raise MissingGrantError(missing, str(path))
    _refuse_environment_clashes(functions, path)

    # everything checked: create it
    deployer.create_tables()
    deployer.create_queues()
    deployer.create_topics()
    _create_functions(deployer, stack, functions)
    deployer.create_state_machines()
    state_machines = {lid: deployer.ctx.get_att(lid, "Arn") for lid in definitions}
    if stack.iam is not None:
        stack.iam.roles.update(roles)
        stack.iam.state_machines.update({arn: lid for lid, arn in state_machines.items()})
    return DeployedTemplate(
        path=path,
        stack_name=team_name,
        state_machines=state_machines,
        definitions=definitions,
        functions={lid: deployer.ctx.ref(lid) for lid in functions},
        tables={lid: deployer.ctx.ref(lid) for lid, _ in deployer.of_type("AWS::DynamoDB::Table")},
        queues={lid: deployer.ctx.ref(lid) for lid, _ in deployer.of_type("AWS::SQS::Queue")},
        topics={lid: deployer.ctx.ref(lid) for lid, _ in deployer.of_type("AWS::SNS::Topic")},
        context=deployer.ctx,
        not_emulated=not_emulated,
    )


def _checked_functions(deployer: _Deployer, path: Path) -> dict[str, dict[str, Any]]:
    """Each function's resolved properties, its handler imported from its code directory."""
    found: dict[str, dict[str, Any]] = {}
    for logical_id, _ in deployer.of_type(FUNCTION):
        props = resolve(function_properties(deployer.template, logical_id), deployer.ctx)
        runtime = str(props.get("Runtime", ""))
        if not runtime.startswith("python"):
            raise TeamTemplateError(
                f"{path}: function {logical_id}: runtime {runtime or '(none)'} cannot run here "
                "(the embedded stack runs Python handlers in its own process)"
            )
        code_uri = props.get("CodeUri", ".")
        if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
            raise TeamTemplateError(f"{path}: function {logical_id}: CodeUri must be a local directory")
        code_dir = (deployer.base / code_uri).resolve()
        if not code_dir.is_dir():
            raise TeamTemplateError(f"{path}: function {logical_id}: no code directory {code_dir} (CodeUri)")
        if str(code_dir) not in sys.path:
            sys.path.insert(0, str(code_dir))  # as Lambda runs it: the code directory is the import root
        checked_handler(f"{logical_id} of {path}", str(props.get("Handler", "")))
        found[logical_id] = props
    return found


def _definitions(deployer: _Deployer, path: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for logical_id, resource in deployer.of_type(STATE_MACHINE):
        props = resource.get("Properties", {})
        if "DefinitionUri" not in props and "Definition" not in props:
            raise TeamTemplateError(f"{path}: state machine {logical_id} has no DefinitionUri nor Definition")
        if not isinstance(props.get("DefinitionUri", ""), str):
            raise TeamTemplateError(f"{path}: state machine {logical_id}: DefinitionUri must be a local file")
        try:
            text = deployer.state_machine_definition(logical_id)
        except FileNotFoundError as exc:
            raise TeamTemplateError(
                f"{path}: state machine {logical_id}: no definition file {exc.filename}"
            ) from exc
        except KeyError as exc:
            raise TeamTemplateError(f"{path}: state machine {logical_id}: {exc.args[0]}") from exc
        try:
            found[logical_id] = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TeamTemplateError(
                f"{path}: state machine {logical_id}: its definition is not JSON once substituted: {exc}"
            ) from exc
    return found


def _roles(deployer: _Deployer, path: Path, stack: EmbeddedStack) -> dict[str, iam_check.Role]:
    principals = [lid for lid, _ in deployer.of_type(FUNCTION, STATE_MACHINE)]
    if stack.iam is not None:
        clashing = sorted(set(principals) & set(stack.iam.roles))
        if clashing:
            raise TeamTemplateError(
                f"{path}: {', '.join(clashing)} already name functions or state machines of the "
                "embedded stack; give yours other logical ids"
            )
    try:
        return iam_check.sam_roles(_translatable(deployer), principals, deployer.ctx)
    except KeyError as exc:
        raise TeamTemplateError(f"{path}: {exc.args[0] if exc.args else exc}") from exc
    except Exception as exc:  # noqa: BLE001 - the SAM translator's own refusal, in its words
        raise TeamTemplateError(f"{path}: the SAM translator refused it: {exc}") from exc


def _translatable(deployer: _Deployer) -> dict[str, Any]:
    """The template as the translator reads it: only the resources kept, the ones left out of the run
    gone (an alarm's reference to a topic of another stack means nothing to it)."""
    template = {key: value for key, value in deployer.template.items() if key != "Outputs"}
    template["Resources"] = {
        lid: res for lid, res in deployer.resources.items() if res["Type"] not in NOT_RUN
    }
    return template


def _refuse_environment_clashes(functions: Mapping[str, Mapping[str, Any]], path: Path) -> None:
    """The team's functions run in this process, with the recovery service's: their variables join
    ``os.environ``; one that would change a value already set is refused (each function's own
    logging and Powertools settings excepted: the recovery service's stay)."""
    seen: dict[str, str] = {}
    for logical_id, props in functions.items():
        for key, value in _variables(props).items():
            if key.startswith(_OWN_PER_FUNCTION):
                continue
            current = seen.get(key, os.environ.get(key, value))
            if current != value:
                raise TeamTemplateError(
                    f"{path}: function {logical_id} sets {key}={value!r}, already {current!r} in the "
                    "process its handlers run in: give it another name"
                )
            seen[key] = value


def _variables(props: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}


def _create_functions(
    deployer: _Deployer, stack: EmbeddedStack, functions: Mapping[str, Mapping[str, Any]]
) -> None:
    iam = stack.client("iam")
    lambda_client = stack.client("lambda")
    for logical_id, props in functions.items():
        role_arn = iam.create_role(
            RoleName=f"{deployer.stack_name}-{logical_id}"[:64],
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        variables = _variables(props)
        name = deployer.ctx.ref(logical_id)
        lambda_client.create_function(
            FunctionName=name,
            Runtime=str(props["Runtime"]),
            Role=role_arn,
            Handler=str(props["Handler"]),
            Code={"ZipFile": _lambda_zip()},
            Timeout=int(props.get("Timeout", 3)),
            Environment={"Variables": variables},
        )
        for key, value in variables.items():
            if not key.startswith(_OWN_PER_FUNCTION):
                os.environ[key] = value  # the stack puts the environment back when it closes
        stack.dispatcher.register(
            LocalFunction(
                name=name,
                arn=deployer.ctx.get_att(logical_id, "Arn"),
                handler_path=str(props["Handler"]),
                timeout_seconds=float(props.get("Timeout", 3)),
                logical_id=logical_id,
            )
        )
