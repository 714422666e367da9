"""The embedded stack: template.yaml's resources created in moto, its functions run in-process.

Tables, queues, buckets, SSM parameters and state machines are created from the template's own
properties (the state machines from the same ASL files, with the template's
``DefinitionSubstitutions`` applied). Lambda functions are registered in moto and their
invocations dispatched to the project's handlers. Resource kinds moto cannot run (HTTP APIs,
log groups, layers) are listed in ``skipped``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

from recovery_ops.service import aws_clients
from recovery_ops.service.local.engine import iam_check, moto_seam
from recovery_ops.service.local.engine.cfn_template import (
    PROJECT_ROOT,
    ResolutionContext,
    evaluate_conditions,
    function_properties,
    list_parameters,
    load_template,
    parameter_values,
    references,
    resolve,
)
from recovery_ops.service.local.engine.durable_host import DurableHost, durable_host
from recovery_ops.service.local.engine.interpreter_clock import (
    SleepLog,
    accelerated_breaker_clock,
    accelerated_pace_clock,
    scaled_interpreter_sleeps,
)
from recovery_ops.service.local.engine.lambda_dispatch import LambdaDispatcher, LocalFunction, checked_handler
from recovery_ops.service.recovery.storage.payloads import S3Payloads

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
MOTO_CONFIG: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_TRACE_DISABLED": "true",
    # botocore would address an account-specific endpoint that moto's DynamoDB Streams do not answer
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


@dataclass
class EmbeddedStack:
    """Physical names and ARNs of one local deployment of template.yaml."""

    name: str
    context: ResolutionContext
    dispatcher: LambdaDispatcher
    sleeps: SleepLog
    environment: dict[str, str]
    skipped: list[str] = field(default_factory=list)
    iam: iam_check.CallRecorder | None = None  # every call of its functions and state machines, checked
    template: dict[str, Any] = field(default_factory=dict)  # what was deployed (template.yaml as data)
    #: per nested execution, how many times its parent began to wait for its end (once, at rest)
    nested_waits: Counter[str] = field(default_factory=Counter)
    #: the durable functions run here, and Lambda's durable-execution API the product's client calls
    #: (``DURABLE_ENDPOINT_URL``)
    durable: DurableHost | None = None

    def physical(self, logical_id: str) -> str:
        """What `!Ref logical_id` is in this stack (a table or function name, a queue URL, an ARN)."""
        return self.context.ref(logical_id)

    def arn(self, logical_id: str) -> str:
        return self.context.get_att(logical_id, "Arn")

    def skipped_kinds(self) -> str:
        """What was not emulated, by resource type: "AWS::CloudWatch::Alarm x26, AWS::Logs::LogGroup x14"."""
        kinds = Counter(entry.rsplit(" (", 1)[1].rstrip(")") for entry in self.skipped)
        return ", ".join(f"{kind} x{count}" for kind, count in sorted(kinds.items()))

    def client(self, service_name: str) -> Any:
        return aws_clients.client(service_name)

    def payloads(self) -> S3Payloads | None:
        """The recoveries' large values, as the stack's functions reach them (None: no payloads bucket)."""
        if "PayloadsBucket" not in self.context.resources:
            return None
        return S3Payloads(self.physical("PayloadsBucket"), lambda: self.client("s3"))


def _forget_cached_parameters() -> None:
    """Powertools Parameters caches values and its providers' clients across stacks: start afresh."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters import base

    parameters.clear_caches()
    base.DEFAULT_PROVIDERS.clear()
    from recovery_ops.slack_app import handler

    handler.reset()  # the Slack app is built from the deployment's environment on first request


def quiet_interpreter_logs() -> None:
    """moto's interpreter logs every task failure with its whole parse tree; keep that for debugging only."""
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)


@contextmanager
def _quiet_handlers() -> Iterator[None]:
    """Handlers log at ERROR only and record no metrics (Powertools' POWERTOOLS_METRICS_DISABLED still
    accumulates values and prints them every hundred)."""
    from recovery_ops.service import observability
    from recovery_ops.service.observability import logger, metrics

    level = logger.log_level
    logger.setLevel(logging.ERROR)
    try:
        with (
            mock.patch.object(metrics, "add_metric", lambda *args, **kwargs: None),
            mock.patch.object(observability, "count_by", lambda *args, **kwargs: None),
            mock.patch.object(observability, "measure", lambda *args, **kwargs: None),
        ):
            yield
    finally:
        logger.setLevel(level)


def _lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# runs in-process: service/local/engine/lambda_dispatch.py\n")
    return buffer.getvalue()


#: the services the product's handlers call (their clients are made before any execution runs)
HANDLER_SERVICES = ("dynamodb", "sqs", "lambda", "stepfunctions", "secretsmanager", "ssm", "s3", "events")


class _Deployer:
    def __init__(
        self,
        stack_name: str,
        template: dict[str, Any],
        parameters: dict[str, str],
        base: Path = PROJECT_ROOT,
        imports: dict[str, str] | None = None,
    ) -> None:
        self.stack_name = stack_name
        self.template = template
        self.base = base  # where the template's DefinitionUri and CodeUri paths start
        self.ctx = ResolutionContext(
            parameters=parameters,
            pseudo={
                "AWS::Region": REGION,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::Partition": "aws",
                "AWS::StackName": stack_name,
                "AWS::URLSuffix": "amazonaws.com",
            },
            list_parameters=list_parameters(template),
            imports=dict(imports or {}),
        )
        evaluate_conditions(template, self.ctx)
        self.resources: dict[str, dict[str, Any]] = {
            logical_id: resource
            for logical_id, resource in template["Resources"].items()
            if "Condition" not in resource or self.ctx.conditions[resource["Condition"]]
        }
        self._refuse_references_to_left_out_resources()
        self.skipped: list[str] = []
        self.environment: dict[str, str] = {}

    def _refuse_references_to_left_out_resources(self) -> None:
        """CloudFormation refuses a template whose kept resources or outputs refer to one its conditions
        leave out (with the Globals every function gets): so does the local stack, naming them."""
        left_out = set(self.template["Resources"]) - set(self.resources)
        kept = {lid: {k: v for k, v in r.items() if k != "Condition"} for lid, r in self.resources.items()}
        kept["Globals"] = self.template.get("Globals", {})
        for output_id, output in self.template.get("Outputs", {}).items():
            if "Condition" not in output or self.ctx.conditions[output["Condition"]]:
                kept[f"Outputs.{output_id}"] = output
        dangling = {
            f"{lid} -> {target}"
            for lid, resource in kept.items()
            for target in references(resource, self.ctx.conditions) & left_out
        }
        if dangling:
            raise ValueError(f"resources refer to resources their conditions leave out: {sorted(dangling)}")

    def physical_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"[:64]

    def of_type(self, *types: str) -> list[tuple[str, dict[str, Any]]]:
        return [(lid, res) for lid, res in self.resources.items() if res["Type"] in types]

    def name_everything(self) -> None:
        """Give every resource its physical name and ARN first, so properties can refer to any of them."""
        arn = f"arn:aws:{{service}}:{REGION}:{ACCOUNT_ID}:{{rest}}"
        for logical_id, resource in self.resources.items():
            name = self.physical_name(logical_id)
            kind = resource["Type"]
            if kind == "AWS::DynamoDB::Table":
                self.ctx.resources[logical_id] = {
                    "Ref": name,
                    "Arn": arn.format(service="dynamodb", rest=f"table/{name}"),
                    # moto's own (with its creation time) once the table exists: see create_tables
                    "StreamArn": arn.format(service="dynamodb", rest=f"table/{name}/stream/local"),
                }
            elif kind == "AWS::SQS::Queue":
                props = resource.get("Properties", {})
                queue_name = name + (".fifo" if props.get("FifoQueue") else "")
                self.ctx.resources[logical_id] = {
                    "Ref": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{queue_name}",
                    "Arn": arn.format(service="sqs", rest=queue_name),
                    "QueueName": queue_name,
                    "QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{queue_name}",
                }
            elif kind == "AWS::Serverless::Function":
                self.ctx.resources[logical_id] = {
                    "Ref": name,
                    "Arn": arn.format(service="lambda", rest=f"function:{name}"),
                }
            elif kind == "AWS::Serverless::StateMachine":
                state_machine_arn = arn.format(service="states", rest=f"stateMachine:{name}")
                self.ctx.resources[logical_id] = {
                    "Ref": state_machine_arn,
                    "Arn": state_machine_arn,
                    "Name": name,
                }
            elif kind == "AWS::SNS::Topic":  # its Ref is its ARN, as in CloudFormation
                topic_name = resource.get("Properties", {}).get("TopicName")
                topic_name = name if not isinstance(topic_name, str) else topic_name
                self.ctx.resources[logical_id] = {
                    "Ref": arn.format(service="sns", rest=topic_name),
                    "TopicArn": arn.format(service="sns", rest=topic_name),
                    "TopicName": topic_name,
                }
            elif kind == "AWS::SSM::Parameter":
                self.ctx.resources[logical_id] = {"Ref": "", "Type": "String"}
            elif kind == "AWS::Events::EventBus":  # its Ref is its name (set below from Properties.Name)
                self.ctx.resources[logical_id] = {"Ref": name, "Name": name, "Arn": ""}
            elif kind == "AWS::Events::Archive":
                archive = arn.format(service="events", rest=f"archive/{name}")
                self.ctx.resources[logical_id] = {"Ref": name, "Arn": archive}
            elif kind == "AWS::S3::Bucket":  # lower case, as S3 names are; an S3 ARN has no Region or account
                bucket = name.lower()[:63]
                self.ctx.resources[logical_id] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}
            else:
                self.ctx.resources[logical_id] = {"Ref": name, "Arn": arn.format(service="local", rest=name)}
        for logical_id, resource in self.of_type("AWS::SSM::Parameter"):
            props = resolve(resource["Properties"], self.ctx)
            self.ctx.resources[logical_id]["Ref"] = props.get("Name") or self.physical_name(logical_id)
        for logical_id, resource in self.of_type("AWS::Events::EventBus"):
            bus = str(resolve(resource["Properties"].get("Name", self.physical_name(logical_id)), self.ctx))
            self.ctx.resources[logical_id].update(
                {"Ref": bus, "Name": bus, "Arn": arn.format(service="events", rest=f"event-bus/{bus}")}
            )
        for logical_id, resource in self.of_type("AWS::Serverless::Function"):
            if "FunctionName" in resource.get("Properties", {}):  # a name of its own, as on AWS
                name = resolve(resource["Properties"]["FunctionName"], self.ctx)
                self.ctx.resources[logical_id] = {
                    "Ref": name,
                    "Arn": arn.format(service="lambda", rest=f"function:{name}"),
                }

    def create_tables(self) -> None:
        dynamodb = aws_clients.client("dynamodb")
        for logical_id, resource in self.of_type("AWS::DynamoDB::Table"):
            props = resolve(resource["Properties"], self.ctx)
            request = {
                key: props[key]
                for key in (
                    "AttributeDefinitions",
                    "KeySchema",
                    "GlobalSecondaryIndexes",
                    "LocalSecondaryIndexes",
                )
                if key in props
            }
            request["BillingMode"] = props.get("BillingMode", "PROVISIONED")
            if "StreamSpecification" in props:
                request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            if "ProvisionedThroughput" in props:
                request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
            table_name = self.ctx.ref(logical_id)
            table = dynamodb.create_table(TableName=table_name, **request)["TableDescription"]
            if "LatestStreamArn" in table:
                self.ctx.resources[logical_id]["StreamArn"] = table["LatestStreamArn"]
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                dynamodb.update_time_to_live(
                    TableName=table_name,
                    TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
                )

    def create_queues(self) -> None:
        sqs = aws_clients.client("sqs")
        pending = dict(self.of_type("AWS::SQS::Queue"))
        created: set[str] = set()
        while pending:
            progressed = False
            for logical_id, resource in list(pending.items()):
                depends = _referenced_ids(resource.get("Properties", {})) & set(pending)
                if depends - {logical_id}:
                    continue
                props = resolve(resource.get("Properties", {}), self.ctx)
                attributes = {
                    key: json.dumps(value)
                    if isinstance(value, dict)
                    else str(value).lower()
                    if isinstance(value, bool)
                    else str(value)
                    for key, value in props.items()
                    if key
                    not in (
                        "QueueName",
                        "Tags",
                        "KmsMasterKeyId",
                        "SqsManagedSseEnabled",
                        "KmsDataKeyReusePeriodSeconds",
                    )
                }
                sqs.create_queue(QueueName=self.ctx.get_att(logical_id, "QueueName"), Attributes=attributes)
                created.add(logical_id)
                del pending[logical_id]
                progressed = True
            if not progressed:
                raise ValueError(f"queues refer to each other in a cycle: {sorted(pending)}")

    def create_buckets(self) -> None:
        """Buckets with their default encryption, public access block and lifecycle rules. Bucket
        policies are left out (listed in ``skipped``): moto applies a Deny without its condition, so the
        TLS-only policy would refuse every call here."""
        s3 = aws_clients.client("s3")
        for logical_id, resource in self.of_type("AWS::S3::Bucket"):
            props = resolve(resource.get("Properties", {}), self.ctx)
            bucket = self.ctx.ref(logical_id)
            s3.create_bucket(Bucket=bucket)
            encryption = props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
            if encryption:
                rules = [
                    {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
                    for r in encryption
                ]
                s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
            if "PublicAccessBlockConfiguration" in props:
                s3.put_public_access_block(
                    Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
                )
            lifecycle = props.get("LifecycleConfiguration", {}).get("Rules", [])
            if lifecycle:
                s3.put_bucket_lifecycle_configuration(
                    Bucket=bucket, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in lifecycle]}
                )

    def create_parameters(self) -> None:
        ssm = aws_clients.client("ssm")
        for logical_id, resource in self.of_type("AWS::SSM::Parameter"):
            props = resolve(resource["Properties"], self.ctx)
            ssm.put_parameter(
                Name=self.ctx.ref(logical_id), Value=props["Value"], Type=props.get("Type", "String")
            )

    def create_event_buses(self) -> None:
        """Buses, and their archives (moto keeps the events an archive's pattern matches)."""
        events = aws_clients.client("events")
        for logical_id, _ in self.of_type("AWS::Events::EventBus"):
            events.create_event_bus(Name=self.ctx.ref(logical_id))
        for logical_id, resource in self.of_type("AWS::Events::Archive"):
            props = resolve(resource["Properties"], self.ctx)
            request = {"ArchiveName": self.ctx.ref(logical_id)[:48], "EventSourceArn": props["SourceArn"]}
            if "EventPattern" in props:
                request["EventPattern"] = json.dumps(props["EventPattern"])
            if "RetentionDays" in props:
                request["RetentionDays"] = int(props["RetentionDays"])
            events.create_archive(**request)

    def register_functions(self, dispatcher: LambdaDispatcher) -> None:
        iam = aws_clients.client("iam")
        role_arn = iam.create_role(
            RoleName=f"{self.stack_name}-local-execution"[:64],
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
        lambda_client = aws_clients.client("lambda")
        for logical_id, _ in self.of_type("AWS::Serverless::Function"):
            props = resolve(function_properties(self.template, logical_id), self.ctx)
            variables = {k: str(v) for k, v in props["Environment"]["Variables"].items()}
            for key, value in variables.items():
                if self.environment.get(key, value) != value:
                    raise ValueError(
                        f"functions disagree on environment variable {key}: cannot run them in one process"
                    )
                self.environment[key] = value
            name = self.ctx.ref(logical_id)
            checked_handler(logical_id, props["Handler"])  # a wrong path is refused here, not in a task
            lambda_client.create_function(
                FunctionName=name,
                Runtime=props["Runtime"],
                Role=role_arn,
                Handler=props["Handler"],
                Code={"ZipFile": _lambda_zip()},
                Timeout=int(props.get("Timeout", 3)),
                Environment={"Variables": variables},
            )
            dispatcher.register(
                LocalFunction(
                    name=name,
                    arn=self.ctx.get_att(logical_id, "Arn"),
                    handler_path=props["Handler"],
                    timeout_seconds=float(props.get("Timeout", 3)),
                    logical_id=logical_id,
                )
            )

    def state_machine_definition(self, logical_id: str) -> str:
        """The state machine's definition as it is created: its ``DefinitionUri`` file (relative to the
        template) or inline ``Definition``, with ``DefinitionSubstitutions`` applied."""
        props = self.resources[logical_id]["Properties"]
        if "DefinitionUri" in props:
            definition = Path(self.base, props["DefinitionUri"]).read_text()
        else:
            definition = json.dumps(resolve(props["Definition"], self.ctx))
        for key, value in resolve(props.get("DefinitionSubstitutions", {}), self.ctx).items():
            definition = definition.replace("${" + key + "}", str(value))
        return definition

    def create_topics(self) -> None:
        sns = aws_clients.client("sns")
        for logical_id, resource in self.of_type("AWS::SNS::Topic"):
            props = resolve(resource.get("Properties", {}), self.ctx)
            attributes = {
                key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
                for key in ("FifoTopic", "ContentBasedDeduplication", "DisplayName")
                if key in props
            }
            sns.create_topic(Name=self.ctx.get_att(logical_id, "TopicName"), Attributes=attributes)

    def create_state_machines(self) -> None:
        sfn = aws_clients.client("stepfunctions")
        for logical_id, resource in self.of_type("AWS::Serverless::StateMachine"):
            props = resource["Properties"]
            definition = self.state_machine_definition(logical_id)
            sfn.create_state_machine(
                name=self.ctx.get_att(logical_id, "Name"),
                definition=definition,
                roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{self.stack_name}-states",
                type=props.get("Type", "STANDARD"),
            )

    def note_skipped(self) -> None:
        handled = {
            "AWS::DynamoDB::Table",
            "AWS::SQS::Queue",
            "AWS::SSM::Parameter",
            "AWS::Serverless::Function",
            "AWS::Serverless::StateMachine",
            "AWS::S3::Bucket",
            "AWS::Events::EventBus",
            "AWS::Events::Archive",
        }
        self.skipped = sorted(
            f"{lid} ({res['Type']})" for lid, res in self.resources.items() if res["Type"] not in handled
        )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A lifecycle rule as CloudFormation writes it (``Prefix``, ``ExpirationInDays``), in S3 API form."""
    api: dict[str, Any] = {"Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "Id" in rule:
        api["ID"] = rule["Id"]
    if "ExpirationInDays" in rule:
        api["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])
        api["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": days}
    return api


def _referenced_ids(value: Any) -> set[str]:
    if isinstance(value, dict):
        found: set[str] = set()
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0])
            else:
                found |= _referenced_ids(arg)
        return found
    if isinstance(value, list):
        return set().union(*(_referenced_ids(v) for v in value)) if value else set()
    return set()


def _with_durable_executions(place: iam_check.Place, durable: DurableHost) -> iam_check.Place:
    """``place`` knowing the durable host's executions: their ARNs as Lambda gives them, and which
    execution each callback id belongs to (the host knows; nothing here decodes a callback id)."""

    def callback_execution(callback_id: str) -> str | None:
        arn = durable.execution_of_callback(callback_id)
        return durable.aws_arn(arn) if arn is not None else None

    return dataclasses.replace(
        place, durable_execution=durable.aws_arn, callback_execution=callback_execution
    )


def planned_stack(
    parameters: dict[str, str] | None = None, stack_name: str = "recovery-ops"
) -> tuple[dict[str, dict[str, Any]], ResolutionContext]:
    """What ``embedded_stack`` would deploy with these parameters, named but not created (no moto):
    the resources the template's conditions keep, and the context that resolves their properties."""
    template = load_template()
    deployer = _Deployer(stack_name, template, parameter_values(template, parameters))
    deployer.name_everything()
    return deployer.resources, deployer.ctx


@contextmanager
def embedded_stack(
    parameters: dict[str, str] | None = None,
    stack_name: str | None = None,
    sleep_scale: float = 0.01,
    template_path: Path | None = None,
    quiet: bool = False,
    secrets: dict[str, str] | None = None,
    environment: dict[str, str] | None = None,
    prepare: Callable[[EmbeddedStack], None] | None = None,
    iam: bool | None = None,
) -> Iterator[EmbeddedStack]:
    """Deploy template.yaml into a fresh moto backend; yield the stack; tear everything down after.

    ``parameters`` override the template's parameter defaults (e.g. ``VendorUrl`` pointing at a local
    dummy vendor). ``sleep_scale`` scales the interpreter's Retry and Wait sleeps. ``quiet=True``
    keeps the handlers' log lines below ERROR and their EMF metric lines off standard output.
    ``secrets`` are created in Secrets Manager (what a deployer creates before ``sam deploy``, such
    as the Slack bot token); ``environment`` adds local-only settings, such as ``SLACK_API_URL``
    pointing at the Slack stand-in. ``prepare`` is called with the deployed stack before anything
    runs in it (the order example stocks its table: ``stock_local_catalogue`` of
    ``recovery_ops.service.local.programs.order_stock``). ``iam`` holds every AWS call of the template's
    functions
    and state machines to the role ``sam deploy`` creates for it (``stack.iam``; default: inside
    ``iam_check.checking_every_stack()``, as in the test suite; ``False`` for a test that breaks it).
    """
    from moto import mock_aws

    moto_seam.check_installed()  # before any patch: a moto whose internals moved fails here, by name
    # A fresh name per stack: executions of an earlier stack that still run in moto's threads
    # cannot reach this stack's queues and tables.
    stack_name = stack_name or f"recovery-ops-{uuid.uuid4().hex[:6]}"
    template = load_template(template_path) if template_path else load_template()
    deployer = _Deployer(stack_name, template, parameter_values(template, parameters))
    deployer.name_everything()
    saved_environ = dict(os.environ)
    with ExitStack() as stack:
        os.environ.update(_CREDENTIALS)
        if quiet:
            stack.enter_context(_quiet_handlers())
        aws_clients.reset()
        stack.enter_context(mock_aws(config=MOTO_CONFIG))
        recorder = None
        if iam_check.on_by_default() if iam is None else iam:
            recorder = iam_check.recorder_for_stack(
                template, deployer.resources, deployer.ctx, REGION, ACCOUNT_ID
            )
            stack.enter_context(recorder.installed())  # before any client is made
            iam_check.adopt(recorder)
        stack.enter_context(moto_seam.memoised_hot_paths())
        stack.enter_context(moto_seam.jsonata_engine())
        nested = stack.enter_context(moto_seam.nested_executions_as_on_aws())
        stack.enter_context(moto_seam.ended_threads_released())
        stack.enter_context(moto_seam.no_threads_only_to_wait())
        stack.enter_context(moto_seam.task_timeouts_as_on_aws())
        stack.enter_context(moto_seam.task_failure_causes_as_on_aws())
        stack.enter_context(moto_seam.atomic_dynamodb_writes())
        stack.enter_context(moto_seam.transactions_backed_up_by_item())
        sleeps = stack.enter_context(scaled_interpreter_sleeps(sleep_scale))
        stack.enter_context(accelerated_breaker_clock(sleep_scale))
        stack.enter_context(accelerated_pace_clock(sleep_scale))
        dispatcher = stack.enter_context(LambdaDispatcher().installed())
        durable = stack.enter_context(durable_host(REGION, ACCOUNT_ID))
        if recorder is not None:
            recorder.place = _with_durable_executions(recorder.place, durable)
        for service in HANDLER_SERVICES:
            aws_clients.client(service)  # the handlers' clients, built once before any execution
        deployer.create_tables()
        deployer.create_queues()
        deployer.create_buckets()
        deployer.create_parameters()
        deployer.create_event_buses()
        deployer.register_functions(dispatcher)
        deployer.create_state_machines()
        deployer.note_skipped()
        deployer.environment["DURABLE_ENDPOINT_URL"] = durable.endpoint_url
        _forget_cached_parameters()
        deployed = EmbeddedStack(
            name=stack_name,
            context=deployer.ctx,
            dispatcher=dispatcher,
            sleeps=sleeps,
            environment=deployer.environment,
            skipped=deployer.skipped,
            iam=recorder,
            template=template,
            nested_waits=nested.waits,
            durable=durable,
        )
        if prepare is not None:
            prepare(deployed)
        for name, value in (secrets or {}).items():
            aws_clients.client("secretsmanager").create_secret(Name=name, SecretString=value)
        os.environ.update(deployer.environment)
        os.environ.update(environment or {})
        try:
            yield deployed
        finally:
            aws_clients.reset()
            os.environ.clear()
            os.environ.update(saved_environ)
