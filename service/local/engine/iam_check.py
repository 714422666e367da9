"""IAM held locally: every AWS call a function or state machine of the embedded stack makes is checked
against the role ``sam deploy`` creates for it.

moto checks no IAM, so a missing grant would pass every test and fail on AWS. Here:

- the roles are the SAM translator's own (the library ``sam deploy`` runs), with their intrinsics
  resolved to the embedded stack's names and ARNs by ``cfn_template.resolve``; the AWS managed
  policies the translator attaches are read from moto's bundled copies;
- a botocore ``provide-client-params`` hook on every client sees each call before anything answers
  it (moto, or a test's Stubber), turns it into IAM requests (action, resource ARN) and charges it
  to its caller: the function whose handler runs (``acting_as``, set by the Lambda dispatcher) or
  the state machine whose task runs in moto's interpreter;
- moto's own evaluator (``IAMPolicy``, reached through ``moto_seam``) decides, once per
  (principal, action, resource).

Calls without a caller (the test code's own) are not checked.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from recovery_ops.service.local.engine import moto_seam
from recovery_ops.service.local.engine.cfn_template import ResolutionContext, resolve

#: The logical id of the template function or state machine whose code makes the current call.
caller: ContextVar[str | None] = ContextVar("aws_caller", default=None)


@contextmanager
def acting_as(principal: str | None) -> Iterator[None]:
    """Charge the AWS calls made in this context (this thread) to ``principal`` (None: to nobody)."""
    token = caller.set(principal)
    try:
        yield
    finally:
        caller.reset(token)


@dataclass(frozen=True)
class Call:
    """One IAM request of one caller: an action on a resource."""

    principal: str
    action: str
    resource: str

    def __str__(self) -> str:
        return f"{self.principal} calls {self.action} on {self.resource}"


# ---------------------------------------------------------------- calls → IAM requests


@dataclass(frozen=True)
class Place:
    """Where a call's resources are: region, account, and the full ARN of a secret known by name."""

    region: str
    account: str
    secret_arn: Callable[[str], str | None] = lambda name: None
    #: a durable execution's ARN as Lambda gives it, from the ARN a call names (the local durable
    #: host's own form); None: unknown
    durable_execution: Callable[[str], str | None] = lambda arn: None
    #: the ARN (as Lambda gives it) of the durable execution a callback id belongs to; None: unknown
    callback_execution: Callable[[str], str | None] = lambda callback_id: None

    def arn(self, service: str, rest: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{rest}"


def _as_is(value: str, params: dict[str, Any], place: Place) -> str:
    return value


def _table(name: str, params: dict[str, Any], place: Place) -> str:
    table = name if name.startswith("arn:") else place.arn("dynamodb", f"table/{name}")
    return f"{table}/index/{params['IndexName']}" if params.get("IndexName") else table


def _queue(url: str, params: dict[str, Any], place: Place) -> str:
    account, name = url.rstrip("/").split("/")[-2:]  # https://sqs.<region>.amazonaws.com/<account>/<name>
    return f"arn:aws:sqs:{place.region}:{account}:{name}"


def _function(name: str, params: dict[str, Any], place: Place) -> str:
    function = name if name.startswith("arn:") else place.arn("lambda", f"function:{name}")
    return f"{function}:{params['Qualifier']}" if params.get("Qualifier") else function


def _secret(secret_id: str, params: dict[str, Any], place: Place) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    return place.secret_arn(secret_id) or place.arn("secretsmanager", f"secret:{secret_id}")


def _object(bucket: str, params: dict[str, Any], place: Place) -> str:
    """An object's ARN (a bucket's, for a call on the bucket): S3 ARNs name no Region or account."""
    return f"arn:aws:s3:::{bucket}/{params['Key']}" if params.get("Key") else f"arn:aws:s3:::{bucket}"


def _durable_execution(arn: str, params: dict[str, Any], place: Place) -> str:
    """Lambda authorizes a durable call against the durable execution's ARN:
    arn:aws:lambda:R:A:function:NAME:QUALIFIER/durable-execution/EXECUTION_NAME/ID."""
    return place.durable_execution(arn) or arn


def _callback(callback_id: str, params: dict[str, Any], place: Place) -> str:
    """A callback call is authorized against the durable execution the callback belongs to (an id
    nobody knows names no resource)."""
    return place.callback_execution(callback_id) or "*"


def _bus(name: str, place: Place) -> str:
    return name if name.startswith("arn:") else place.arn("events", "event-bus/" + name)


def _parameter(name: str, params: dict[str, Any], place: Place) -> str:
    return name if name.startswith("arn:") else place.arn("ssm", "parameter/" + name.lstrip("/"))


#: The parameter that names a call's resource, per IAM service prefix (the first one present counts).
#: Calls naming none (SendTaskSuccess acts on a token, PutMetricData on nothing) are on "*".
RESOURCE_PARAMETERS: dict[str, tuple[tuple[str, Callable[[str, dict[str, Any], Place], str]], ...]] = {
    "dynamodb": (("TableName", _table),),
    "sqs": (("QueueUrl", _queue), ("SourceArn", _as_is)),
    "states": (("executionArn", _as_is), ("stateMachineArn", _as_is)),
    "lambda": (
        ("FunctionName", _function),
        ("DurableExecutionArn", _durable_execution),
        ("CallbackId", _callback),
    ),
    "secretsmanager": (("SecretId", _secret),),
    "ssm": (("Name", _parameter),),
    "sns": (("TopicArn", _as_is), ("TargetArn", _as_is)),
    "s3": (("Bucket", _object),),
}
#: IAM service prefixes that differ from the API's signing name.
PREFIXES = {"monitoring": "cloudwatch"}
#: IAM actions named otherwise than their operation.
ACTIONS = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
#: The action each part of a DynamoDB transaction is authorized as (there is no action of its own).
TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
#: What an operation needs besides its own action, on the resource another parameter names.
ALSO_NEEDED = {
    # SQS's move task acts with the caller's rights on both queues
    "sqs:StartMessageMoveTask": (
        ("sqs:ReceiveMessage", "SourceArn"),
        ("sqs:DeleteMessage", "SourceArn"),
        ("sqs:GetQueueAttributes", "SourceArn"),
        ("sqs:SendMessage", "DestinationArn"),
    ),
}


def iam_requests(
    signing_name: str, operation: str, params: dict[str, Any], place: Place
) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs one API call needs, e.g. ``("sqs:SendMessage", <queue ARN>)``."""
    prefix = PREFIXES.get(signing_name, signing_name)
    action = ACTIONS.get(f"{prefix}:{operation}", f"{prefix}:{operation}")
    if prefix == "dynamodb" and isinstance(params.get("RequestItems"), dict):
        # BatchGetItem / BatchWriteItem: the action on each table of the batch
        return [(action, _table(str(table), {}, place)) for table in params["RequestItems"]]
    if prefix == "dynamodb" and isinstance(params.get("TransactItems"), list):
        # TransactWriteItems / TransactGetItems: IAM authorizes each write as its own action
        return [
            (f"dynamodb:{TRANSACT_ACTIONS[kind]}", _table(str(write[kind]["TableName"]), {}, place))
            for write in params["TransactItems"]
            for kind in write
        ]
    if prefix == "events" and isinstance(params.get("Entries"), list):
        # PutEvents: the action on each entry's bus (its name or ARN; none: the default bus)
        buses = [str(entry.get("EventBusName") or "default") for entry in params["Entries"]]
        return [(action, _bus(bus, place)) for bus in buses]
    resource = "*"
    for parameter, to_arn in RESOURCE_PARAMETERS.get(prefix, ()):
        if params.get(parameter):
            resource = to_arn(str(params[parameter]), params, place)
            break
    requests = [(action, resource)]
    for also, parameter in ALSO_NEEDED.get(action, ()):
        if params.get(parameter):
            requests.append((also, str(params[parameter])))
    return requests


# ---------------------------------------------------------------- the roles sam deploy creates


@dataclass
class Role:
    """A role's policy documents, as moto's IAM evaluator reads them."""

    name: str
    documents: list[dict[str, Any]]
    _policies: list[Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._policies = [moto_seam.iam_policy(document) for document in self.documents]

    def allows(self, action: str, resource: str) -> bool:
        """As moto's ``IAMRequestBase.check_action_permitted``: any Deny wins, else any Allow."""
        return moto_seam.policies_allow(self._policies, action, resource)


#: What the translator needs in place of the local paths ``sam build`` would package.
_LOCAL_PATHS = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
    "AWS::Serverless::Api": "DefinitionUri",
    "AWS::Serverless::HttpApi": "DefinitionUri",
}
_INLINE_DEFINITION = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}


def _packaged(template: dict[str, Any]) -> dict[str, Any]:
    """The template as ``sam package`` leaves it: code in S3, state machine definitions inline."""
    packaged = copy.deepcopy(template)
    globals_ = packaged.get("Globals", {}).get("Function", {})
    if isinstance(globals_.get("CodeUri"), str) and not globals_["CodeUri"].startswith("s3://"):
        globals_["CodeUri"] = "s3://local-packages/code.zip"
    for logical_id, resource in packaged.get("Resources", {}).items():
        props = resource.get("Properties", {})
        key = _LOCAL_PATHS.get(resource["Type"])
        if key and isinstance(props.get(key), str) and not props[key].startswith("s3://"):
            props[key] = f"s3://local-packages/{logical_id}.zip"
        if resource["Type"] == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            del props["DefinitionUri"]
            props["Definition"] = _INLINE_DEFINITION
    return packaged


class _BundledManagedPolicies:
    """The translator's managed-policy loader, offline: the policy map bundled with the translator."""

    def load(self) -> dict[str, str]:
        from samtranslator.internal.managed_policies import get_bundled_managed_policy_map

        return get_bundled_managed_policy_map("aws") or {}


@functools.lru_cache(maxsize=16)
def _translated_roles(template_json: str, parameters_json: str, region: str) -> dict[str, dict[str, Any]]:
    from samtranslator.translator.transform import transform

    # the translator takes the deployment's region from boto3's (AWS_DEFAULT_REGION)
    with ExitStack() as environment:
        if not os.environ.get("AWS_DEFAULT_REGION"):
            environment.enter_context(mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": region}))
        translated = transform(
            _packaged(json.loads(template_json)), json.loads(parameters_json), _BundledManagedPolicies()
        )
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in translated["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
    }


@functools.cache
def _bundled_policy(name: str) -> dict[str, Any] | None:
    """One policy of moto's bundled AWS managed policies (decoded alone: all of them take a second)."""
    data = moto_seam.bundled_managed_policies()
    key = f'\n "{name}":'
    start = data.find(key)
    if start < 0:
        return json.loads(data).get(name)
    return json.JSONDecoder().raw_decode(data, start + len(key))[0]


def aws_managed_policy(arn: str) -> dict[str, Any]:
    """The document of an AWS managed policy, as moto bundles it."""
    path, _, name = arn.partition(":policy/")
    policy = _bundled_policy(name.rsplit("/", 1)[-1]) if path == "arn:aws:iam::aws" else None
    if policy is None:
        raise KeyError(f"{arn} is not an AWS managed policy that moto knows")
    return policy["Document"]


def sam_roles(template: dict[str, Any], principals: list[str], ctx: ResolutionContext) -> dict[str, Role]:
    """The role the translator creates for each principal (``<logical id>Role``), resolved in ``ctx``."""
    roles = _translated_roles(
        json.dumps(template, sort_keys=True, default=str),
        json.dumps(ctx.parameters, sort_keys=True),
        ctx.pseudo.get("AWS::Region", "us-east-1"),
    )
    found: dict[str, Role] = {}
    for principal in principals:
        given = template["Resources"][principal].get("Properties", {}).get("Role")
        name = f"{principal}Role" if given is None else _role_in_template(principal, given)
        if name not in roles:
            raise KeyError(f"the SAM translator created no role {name} (a Role of its own is not supported)")
        props = roles[name]
        documents = [resolve(policy["PolicyDocument"], ctx) for policy in props.get("Policies", [])]
        documents += [aws_managed_policy(resolve(arn, ctx)) for arn in props.get("ManagedPolicyArns", [])]
        found[principal] = Role(name, documents)
    return found


def _role_in_template(principal: str, given: Any) -> str:
    """The logical id of the AWS::IAM::Role a ``Role: !GetAtt <Role>.Arn`` names; a role from elsewhere
    (an ARN, a parameter) has policies nobody here can read, and is refused."""
    target = given.get("Fn::GetAtt") if isinstance(given, dict) else None
    if isinstance(target, str):
        target = target.split(".", 1)
    if isinstance(target, list) and len(target) == 2 and target[1] == "Arn":
        return str(target[0])
    raise KeyError(
        f"{principal}: its Role {json.dumps(given, default=str)} is not a role of the template "
        "(an AWS::IAM::Role it creates, given as !GetAtt <Role>.Arn), so its policies cannot be checked; "
        "give it Policies, or the role in the template"
    )


# ---------------------------------------------------------------- the recorder


class CallRecorder:
    """Every AWS call of the stack's functions and state machines, held against their roles."""

    def __init__(self, roles: dict[str, Role], state_machines: dict[str, str], place: Place) -> None:
        self.roles = roles
        self.state_machines = state_machines  # ARN -> logical id
        self.place = place
        self.calls: set[Call] = set()
        self.denied: list[Call] = []
        self._decisions: dict[Call, bool] = {}
        self._lock = threading.Lock()
        self._open = False

    def allows(self, call: Call) -> bool:
        decided = self._decisions.get(call)
        if decided is None:
            role = self.roles.get(call.principal)
            decided = self._decisions[call] = role is not None and role.allows(call.action, call.resource)
        return decided

    def record(self, principal: str, signing_name: str, operation: str, params: dict[str, Any]) -> None:
        for action, resource in iam_requests(signing_name, operation, params, self.place):
            call = Call(principal, action, resource)
            if call in self.calls:
                continue
            with self._lock:
                self.calls.add(call)
                if not self.allows(call):
                    self.denied.append(call)

    def take_denied(self) -> list[Call]:
        """The calls the roles did not allow so far, not reported again once taken (a test looked at them)."""
        with self._lock:
            denied, self.denied = self.denied, []
            return denied

    def _on_call(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        principal = caller.get()
        if principal is not None and self._open:
            self.record(principal, model.service_model.signing_name, model.name, params)

    @contextmanager
    def installed(self) -> Iterator[CallRecorder]:
        """Hook every client created meanwhile; charge the interpreter's tasks to their state machines."""
        recorder = self

        def hook(client: Any) -> None:
            client.meta.events.register("provide-client-params.*.*", recorder._on_call)

        def charged_to(state_machine_arn: str) -> AbstractContextManager[None]:
            return acting_as(recorder.state_machines.get(state_machine_arn))

        with ExitStack() as patches:
            patches.enter_context(moto_seam.every_new_client(hook))
            patches.enter_context(_parameter_caches_per_caller())
            patches.enter_context(moto_seam.tasks_charged_to_state_machines(charged_to))
            self._open = True
            try:
                yield self
            finally:
                self._open = False  # executions still running in moto's threads are no longer charged


class _ProvidersPerCaller(dict):
    """Powertools' default parameter providers, one set per caller: each function has its own process
    on AWS, so a secret one function read does not come out of a cache filled by another."""

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, (caller.get(), key))

    def __getitem__(self, key: str) -> Any:
        return dict.__getitem__(self, (caller.get(), key))

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, (caller.get(), key), value)


@contextmanager
def _parameter_caches_per_caller() -> Iterator[None]:
    import sys

    from aws_lambda_powertools.utilities.parameters import constants

    shared, per_caller = constants.DEFAULT_PROVIDERS, _ProvidersPerCaller()

    def modules_holding(providers: dict) -> list[Any]:
        return [
            module
            for name, module in list(sys.modules.items())
            if name.startswith("aws_lambda_powertools.utilities.parameters")
            and getattr(module, "DEFAULT_PROVIDERS", None) is providers
        ]

    for module in modules_holding(shared):
        module.DEFAULT_PROVIDERS = per_caller
    try:
        yield
    finally:
        for module in modules_holding(per_caller):
            module.DEFAULT_PROVIDERS = shared


def recorder_for_stack(
    template: dict[str, Any],
    resources: dict[str, dict[str, Any]],
    ctx: ResolutionContext,
    region: str,
    account: str,
) -> CallRecorder:
    """A recorder holding the deployed ``resources``' functions and state machines to their SAM roles."""
    principals = [
        logical_id
        for logical_id, resource in resources.items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")
    ]
    state_machines = {
        ctx.get_att(logical_id, "Arn"): logical_id
        for logical_id in principals
        if resources[logical_id]["Type"] == "AWS::Serverless::StateMachine"
    }
    return CallRecorder(
        sam_roles(template, principals, ctx),
        state_machines,
        Place(region, account, functools.partial(moto_seam.secret_arn, region, account)),
    )


# ---------------------------------------------------------------- every stack of a test run

_checked: list[CallRecorder] | None = None


def on_by_default() -> bool:
    """Whether an embedded stack checks its calls when not told (inside ``checking_every_stack``)."""
    return _checked is not None


def adopt(recorder: CallRecorder) -> None:
    if _checked is not None:
        _checked.append(recorder)


@contextmanager
def checking_every_stack() -> Iterator[list[CallRecorder]]:
    """Every embedded stack deployed meanwhile checks its calls; yields their recorders."""
    global _checked
    outer, _checked = _checked, []
    try:
        yield _checked
    finally:
        _checked = outer


def describe(denied: list[Call]) -> str:
    """What a test run reports: each call its caller's role does not allow."""
    lines = [f"{len(denied)} AWS call(s) not allowed by the caller's role (template.yaml Policies):"]
    lines += [f"  {c.principal} ({c.principal}Role): {c.action} on {c.resource}" for c in denied]
    return "\n".join(lines)
