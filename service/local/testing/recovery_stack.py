"""The recovery service alone in the embedded stack, with a team's own state machines beside it.

What the pytest plugin's ``recovery_stack`` fixture is (``service/local/testing/pytest_plugin.py``):
template.yaml deployed into moto with ``DeployOrderExample=false``, the Slack app pointed at a
Slack stand-in, its bot token and signing secret in Secrets Manager, one person allowed to act.
A team deploys its own definition beside it (its ``${RecoveryQueueUrl}`` replaced by the stack's
recovery queue, its Lambda tasks answered by Python callables) and starts executions of it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.local.engine.cfn_template import TEMPLATE_PATH
from recovery_ops.service.local.engine.iam_check import Call
from recovery_ops.service.local.engine.lambda_dispatch import Handler, checked_handler
from recovery_ops.service.local.engine.own_workflows import deploy_function
from recovery_ops.service.local.engine.stack import ACCOUNT_ID, EmbeddedStack, embedded_stack
from recovery_ops.service.local.engine.team_template import DeployedTemplate, deploy_template
from recovery_ops.service.local.standin.server import LOCAL_BOT_TOKEN, SlackStandIn

SUPPORT_PERSON = "U0SUPPORT"  # the one Slack user allowed to act
RECOVERY_CHANNEL = "C0RECOVERIES"  # where every recovery is posted
SIGNING_SECRET = "recovery-stack-signing-secret"
BOT_TOKEN_SECRET = "recovery-ops/slack-bot-token"  # template.yaml's default secret names
SIGNING_SECRET_NAME = "recovery-ops/slack-signing-secret"

#: Placeholders of ``${...}`` left in a definition once everything known was substituted.
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_.:-]+)\}")
_NAME = re.compile(r"[^A-Za-z0-9_-]+")
Definition = str | os.PathLike[str] | Mapping[str, Any]


class DefinitionError(RecoveryOpsError, ValueError):
    """A team's definition cannot be deployed as given (not found, not JSON, a placeholder left)."""


def default_parameters(person: str = SUPPORT_PERSON, channel: str = RECOVERY_CHANNEL) -> dict[str, str]:
    """template.yaml's parameters of a recovery stack: the service alone, one channel, one person."""
    return {"DeployOrderExample": "false", "SlackDefaultChannel": channel, "SlackAllowedUserIds": person}


@dataclass(frozen=True)
class Execution:
    """One execution of a team's state machine (what ``StateMachine.start`` returns)."""

    arn: str
    name: str
    state_machine_arn: str


@dataclass
class StateMachine:
    """A team's state machine deployed beside the recovery service."""

    arn: str
    name: str
    functions: dict[str, str]  # placeholder -> the ARN of the function that answers it
    _client: Any = field(repr=False)
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def start(self, input: Any = None, name: str | None = None) -> Execution:
        """Start an execution with ``input`` (JSON-serialisable; default ``{}``), named ``name`` (default
        ``<state machine>-<n>``: executions are always named)."""
        name = name or f"{self.name}-{next(self._numbers)}"[:80]
        started = self._client.start_execution(
            stateMachineArn=self.arn, name=name, input=json.dumps({} if input is None else input)
        )
        return Execution(started["executionArn"], name, self.arn)


@dataclass(frozen=True)
class DurableExecution:
    """One execution of a team's durable function (what ``DurableFunction.start`` returns): ``arn``
    is its durable execution ARN, as the desk and ``Desk.wait_for_recovery`` take it."""

    arn: str
    name: str
    function_name: str


@dataclass
class DurableFunction:
    """A team's Lambda durable function run beside the recovery service, in AWS's local runner; its
    pauses reach the recovery queue through ``wait_for_recovery``
    (``recovery_ops.service.durable``), which finds the queue in ``RECOVERY_QUEUE_URL``."""

    name: str
    _host: Any = field(repr=False)
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def start(self, input: Any = None, name: str | None = None) -> DurableExecution:
        """Start a durable execution with ``input`` (JSON-serialisable; default ``{}``), named ``name``
        (default ``<function>-<n>``)."""
        name = name or f"{self.name}-{next(self._numbers)}"[:64]
        arn = self._host.start(self.name, {} if input is None else input, execution_name=name)
        return DurableExecution(arn, name, self.name)


@dataclass
class TeamStack:
    """A team's own SAM template deployed beside the recovery service (``RecoveryStack.deploy_template``):
    its resources by logical id."""

    deployed: DeployedTemplate
    #: its state machines, each with ``start(input, name=None)``
    state_machines: dict[str, StateMachine]
    _client: Any = field(repr=False)
    _seen: dict[str, str] = field(default_factory=dict, repr=False)  # topic logical id -> queue URL
    _published: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @property
    def functions(self) -> dict[str, str]:
        """Function names by logical id (each runs its template ``Handler`` in this process)."""
        return self.deployed.functions

    @property
    def tables(self) -> dict[str, str]:
        """DynamoDB table names by logical id."""
        return self.deployed.tables

    @property
    def queues(self) -> dict[str, str]:
        """SQS queue URLs by logical id."""
        return self.deployed.queues

    @property
    def topics(self) -> dict[str, str]:
        """SNS topic ARNs by logical id."""
        return self.deployed.topics

    @property
    def not_emulated(self) -> list[str]:
        """What the template has that changes nothing in a run and was left out (alarms, log groups)."""
        return self.deployed.not_emulated

    def published(self, topic: str) -> list[str]:
        """Every message published to the topic ``topic`` (a logical id) so far, oldest first."""
        sqs = self._client("sqs")
        seen = self._published.setdefault(topic, [])
        while True:
            received = sqs.receive_message(QueueUrl=self._seen[topic], MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not received:
                return list(seen)
            for message in received:
                seen.append(message["Body"])
                sqs.delete_message(QueueUrl=self._seen[topic], ReceiptHandle=message["ReceiptHandle"])


@dataclass
class RecoveryStack:
    """The recovery service deployed into moto, and the Slack details its desk acts with."""

    embedded: EmbeddedStack
    slack: SlackStandIn
    person: str = SUPPORT_PERSON
    signing_secret: str = SIGNING_SECRET
    teams: list[TeamStack] = field(default_factory=list)  # the team templates deployed beside it

    @property
    def queue_url(self) -> str:
        """The recovery queue's URL: what ``${RecoveryQueueUrl}`` becomes in a deployed definition."""
        return self.embedded.physical("RecoveryQueue")

    @property
    def queue_arn(self) -> str:
        return self.embedded.arn("RecoveryQueue")

    def client(self, service_name: str) -> Any:
        """A boto3 client of the embedded stack (moto), e.g. ``client("stepfunctions")``."""
        return self.embedded.client(service_name)

    def deploy_template(
        self, path: str | os.PathLike[str], parameters: Mapping[str, str] | None = None
    ) -> TeamStack:
        """Deploy a team's own SAM template (a path) beside the recovery service: its functions (each
        ``Handler`` imported from its ``CodeUri``, relative to the template), state machines
        (``DefinitionUri``, ``DefinitionSubstitutions``, ``Policies``), tables, queues and topics,
        its ``parameters`` over their defaults, ``!ImportValue recovery-ops-RecoveryQueueUrl`` (and the
        other exports of the recovery stack) as this stack's. Refused before anything is created
        (``recovery_ops.service.local.engine.team_template``): a resource type that cannot be emulated
        (``UnsupportedResourceError``), a handler path that names no function (``HandlerPathError``),
        a state machine whose role lacks a grant its definition needs (``MissingGrantError``)."""
        deployed = deploy_template(self.embedded, path, parameters)
        sfn = self.client("stepfunctions")
        machines = {
            logical_id: StateMachine(arn, arn.rsplit(":", 1)[-1], dict(deployed.functions), sfn)
            for logical_id, arn in deployed.state_machines.items()
        }
        team = TeamStack(deployed, machines, self.client)
        sqs, sns = self.client("sqs"), self.client("sns")
        for logical_id, topic_arn in deployed.topics.items():  # what is published, seen by a queue of ours
            queue_name = f"{deployed.stack_name}-{logical_id}-seen"[:80]
            url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={"RawMessageDelivery": "true"},
            )
            team._seen[logical_id] = url
        self.teams.append(team)
        return team

    def denied_calls(self) -> list[Call]:
        """The AWS calls of the teams' functions and state machines that their roles did not allow (each
        once); the plugin fails the test on any."""
        recorder = self.embedded.iam
        if recorder is None:
            return []
        ours = {
            lid for team in self.teams for lid in [*team.deployed.functions, *team.deployed.state_machines]
        }
        return [call for call in list(recorder.denied) if call.principal in ours]

    def deploy_durable_function(self, handler: Handler | str, name: str | None = None) -> DurableFunction:
        """Run ``handler`` (a ``@durable_execution`` function, or its ``module.function`` path) as the
        durable function ``name`` (default: the handler's name) in AWS's local runner beside the
        recovery service: its executions call the stack's recovery queue through
        ``wait_for_recovery``, and the desk resolves their recoveries through Lambda's callback API."""
        if isinstance(handler, str):
            handler = checked_handler(f"the durable function {name or handler}", handler)
        host = self.embedded.durable
        if host is None:
            raise DefinitionError("this stack runs no durable functions (its durable host is off)")
        given = str(name or getattr(handler, "__name__", ""))
        function = _NAME.sub("-", given)[:64].strip("-") or "durable-function"
        host.register(function, handler)
        return DurableFunction(function, host)

    def deploy_state_machine(
        self,
        definition: Definition,
        *,
        name: str | None = None,
        functions: Mapping[str, Handler | str] | None = None,
        substitutions: Mapping[str, str] | None = None,
        function_timeout_seconds: int = 10,
    ) -> StateMachine:
        """Create a state machine from ``definition``: an ASL file (a path, or a string that is not
        JSON text), ASL text, or the definition as a dict.

        As ``DefinitionSubstitutions`` would, ``${RecoveryQueueUrl}`` and ``${RecoveryQueueArn}``
        become the stack's recovery queue, ``substitutions`` replace other placeholders, and each
        placeholder of ``functions`` becomes the ARN of a Lambda function answered in-process by its
        callable (or ``module.function`` path), called with the task's payload and a Lambda context;
        an exception it raises is the task's error, named by the exception's class. A placeholder left
        over is refused, naming it. ``name`` defaults to the file's name without ``.asl.json``."""
        text, source = read_definition(definition)
        machine_name = _NAME.sub("-", name or _name_of(source))[:80].strip("-") or "state-machine"
        values = {"RecoveryQueueUrl": self.queue_url, "RecoveryQueueArn": self.queue_arn}
        for placeholder, handler in (functions or {}).items():  # every path checked before any is made
            if isinstance(handler, str):
                checked_handler(f"{placeholder} of {machine_name}", handler)
        deployed_functions = {
            placeholder: deploy_function(
                self.embedded,
                function_name(self.embedded.name, machine_name, placeholder),
                handler,
                timeout_seconds=function_timeout_seconds,
            )
            for placeholder, handler in (functions or {}).items()
        }
        values |= deployed_functions
        values |= dict(substitutions or {})
        text = substituted(text, values, source)
        sfn = self.client("stepfunctions")
        full_name = f"{self.embedded.name}-{machine_name}"[:80]
        arn = sfn.create_state_machine(
            name=full_name,
            definition=text,
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{full_name}"[:140],
        )["stateMachineArn"]
        return StateMachine(arn, machine_name, deployed_functions, sfn)


def substituted(text: str, values: Mapping[str, str], source: str = "the definition") -> str:
    """``text`` with each ``${key}`` of ``values`` replaced; refused (``DefinitionError``) when a
    placeholder is left or the result is not JSON."""
    for key, value in values.items():
        text = text.replace("${" + key + "}", str(value))
    left = sorted(set(_PLACEHOLDER.findall(text)))
    if left:
        raise DefinitionError(
            f"{source} still has {', '.join('${' + p + '}' for p in left)} after substitution: give "
            "each one to deploy_state_machine, a Lambda task's in functions={...} (a callable that "
            "answers it), any other in substitutions={...}"
        )
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"{source} is not JSON: {exc}") from exc
    return text


def read_definition(definition: Definition) -> tuple[str, str]:
    """The definition's text and what to call it in messages."""
    if isinstance(definition, Mapping):
        return json.dumps(definition), "the definition"
    if isinstance(definition, str) and definition.lstrip().startswith("{"):
        return definition, "the definition"
    path = Path(definition)
    if not path.is_file():
        raise DefinitionError(f"no definition file at {path.resolve()}")
    if path.suffix in (".yaml", ".yml"):  # SAM takes YAML definitions too
        import yaml

        return json.dumps(yaml.safe_load(path.read_text())), str(path)
    return path.read_text(), str(path)


def _name_of(source: str) -> str:
    if source == "the definition":
        return "state-machine"
    name = Path(source).name
    for suffix in (".asl.json", ".json", ".asl.yaml", ".yaml"):
        name = name.removesuffix(suffix)
    return name


def function_name(stack_name: str, machine_name: str, placeholder: str) -> str:
    """``<stack>-<machine>-<placeholder>``, shortened with a hash to Lambda's 64 characters."""
    name = _NAME.sub("-", f"{stack_name}-{machine_name}-{placeholder}")
    if len(name) <= 64:
        return name
    return f"{name[:55]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


@contextmanager
def deployed_recovery_stack(
    slack: SlackStandIn,
    parameters: Mapping[str, str] | None = None,
    *,
    person: str = SUPPORT_PERSON,
    sleep_scale: float = 0.01,
    quiet: bool = True,
) -> Iterator[RecoveryStack]:
    """template.yaml's recovery service in moto (``default_parameters`` under ``parameters``), the Slack
    app at ``slack``, ``person`` allowed to act; Retry, Wait and task-token timeouts run ``sleep_scale``
    times as long (a recovery step's ``TimeoutSeconds: 3600`` lasts 36 s). ``quiet`` keeps the
    service's log lines below ERROR, its metrics off standard output, and moto's interpreter from
    logging every task failure with its parse tree."""
    if not TEMPLATE_PATH.is_file():  # a wheel carries the code, not template.yaml and infra/
        raise FileNotFoundError(
            f"no template.yaml at {TEMPLATE_PATH}: the recovery stack deploys the template of a "
            'recovery-ops checkout; install one editable: pip install -e "path/to/recovery-ops[local]"'
        )
    parameters = {**default_parameters(person), **(parameters or {})}
    # the stack's channels exist in its workspace before anything is posted there
    slack.add_channels(
        *(parameters.get(f"Slack{kind}Channel") for kind in ("Default", "Technical", "ClientData"))
    )
    secrets = {
        parameters.get("SlackBotTokenSecretName", BOT_TOKEN_SECRET): LOCAL_BOT_TOKEN,
        parameters.get("SlackSigningSecretName", SIGNING_SECRET_NAME): SIGNING_SECRET,
    }
    interpreter_logs = logging.getLogger("moto.stepfunctions")
    level = interpreter_logs.level
    if quiet:
        interpreter_logs.setLevel(logging.CRITICAL)
    try:
        with embedded_stack(
            parameters=parameters,
            secrets=secrets,
            environment={"SLACK_API_URL": slack.base_url},
            sleep_scale=sleep_scale,
            quiet=quiet,
            iam=True,  # a team template's calls are held to its roles, in any test run
        ) as embedded:
            try:
                yield RecoveryStack(embedded, slack, person=person)
            finally:
                embedded.dispatcher.settle()  # the Slack app's lazy halves end before the stack goes
    finally:
        interpreter_logs.setLevel(level)
