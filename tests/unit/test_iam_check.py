"""IAM held locally, without a stack: calls → IAM requests, policy evaluation, the recorder."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from recovery_ops.service.local.engine import iam_check
from recovery_ops.service.local.engine.cfn_template import ResolutionContext
from recovery_ops.service.local.engine.iam_check import (
    Call,
    CallRecorder,
    Place,
    Role,
    acting_as,
    iam_requests,
)

PLACE = Place(
    "us-east-1",
    "123456789012",
    secret_arn=lambda name: (
        f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"
        if name == "slack/bot-token"
        else None
    ),
)
ARN = "arn:aws:{service}:us-east-1:123456789012:{rest}"
EXECUTION = ARN.format(service="states", rest="execution:orders:ord-1")


def allow(action: Any, resource: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


# ---------------------------------------------------------------- calls → IAM requests


@pytest.mark.parametrize(
    ("signing_name", "operation", "params", "expected"),
    [
        (
            "dynamodb",
            "UpdateItem",
            {"TableName": "recoveries", "Key": {}},
            ("dynamodb:UpdateItem", ARN.format(service="dynamodb", rest="table/recoveries")),
        ),
        (
            "dynamodb",
            "Query",
            {"TableName": "recoveries", "IndexName": "by-status"},
            ("dynamodb:Query", ARN.format(service="dynamodb", rest="table/recoveries/index/by-status")),
        ),
        (
            "sqs",
            "SendMessage",
            {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/recovery", "MessageBody": "{}"},
            ("sqs:SendMessage", ARN.format(service="sqs", rest="recovery")),
        ),
        ("states", "SendTaskSuccess", {"taskToken": "t", "output": "{}"}, ("states:SendTaskSuccess", "*")),
        ("states", "RedriveExecution", {"executionArn": EXECUTION}, ("states:RedriveExecution", EXECUTION)),
        (
            "states",
            "StartExecution",
            {"stateMachineArn": ARN.format(service="states", rest="stateMachine:orders"), "name": "ord-1"},
            ("states:StartExecution", ARN.format(service="states", rest="stateMachine:orders")),
        ),
        (
            "lambda",
            "Invoke",
            {"FunctionName": "slack-app", "InvocationType": "Event"},
            ("lambda:InvokeFunction", ARN.format(service="lambda", rest="function:slack-app")),
        ),
        (
            "ssm",
            "GetParameter",
            {"Name": "/stack/recovery/input-schemas"},
            ("ssm:GetParameter", ARN.format(service="ssm", rest="parameter/stack/recovery/input-schemas")),
        ),
        ("monitoring", "PutMetricData", {"Namespace": "RecoveryOps"}, ("cloudwatch:PutMetricData", "*")),
    ],
)
def test_a_call_becomes_the_iam_action_on_the_resource_its_parameters_name(
    signing_name: str, operation: str, params: dict[str, Any], expected: tuple[str, str]
) -> None:
    # Given a call as botocore sees it / When it becomes IAM requests
    requests = iam_requests(signing_name, operation, params, PLACE)

    # Then it is one action on one resource
    assert requests == [expected]


def test_a_secret_named_by_name_is_requested_by_its_full_arn_with_the_random_suffix() -> None:
    requests = iam_requests("secretsmanager", "GetSecretValue", {"SecretId": "slack/bot-token"}, PLACE)

    assert requests == [
        (
            "secretsmanager:GetSecretValue",
            ARN.format(service="secretsmanager", rest="secret:slack/bot-token-AbCdEf"),
        )
    ]


def test_starting_a_message_move_task_also_needs_reading_the_source_and_sending_to_the_destination() -> None:
    source = ARN.format(service="sqs", rest="recovery-dlq")
    destination = ARN.format(service="sqs", rest="recovery")

    requests = iam_requests(
        "sqs", "StartMessageMoveTask", {"SourceArn": source, "DestinationArn": destination}, PLACE
    )

    assert requests == [
        ("sqs:StartMessageMoveTask", source),
        ("sqs:ReceiveMessage", source),
        ("sqs:DeleteMessage", source),
        ("sqs:GetQueueAttributes", source),
        ("sqs:SendMessage", destination),
    ]


def test_a_batch_read_is_the_action_on_each_table_it_reads() -> None:
    requests = iam_requests(
        "dynamodb",
        "BatchGetItem",
        {"RequestItems": {"recoveries": {"Keys": []}, "orders": {"Keys": []}}},
        PLACE,
    )

    assert requests == [
        ("dynamodb:BatchGetItem", ARN.format(service="dynamodb", rest="table/recoveries")),
        ("dynamodb:BatchGetItem", ARN.format(service="dynamodb", rest="table/orders")),
    ]


# ---------------------------------------------------------------- evaluation (moto's IAMPolicy)


def test_a_grant_on_a_secret_name_followed_by_a_wildcard_allows_the_suffixed_secret() -> None:
    role = Role(
        "R",
        [
            document(
                allow(
                    "secretsmanager:GetSecretValue",
                    ARN.format(service="secretsmanager", rest="secret:slack/bot-token-*"),
                )
            )
        ],
    )

    assert role.allows(
        "secretsmanager:GetSecretValue",
        ARN.format(service="secretsmanager", rest="secret:slack/bot-token-AbCdEf"),
    )
    assert not role.allows(
        "secretsmanager:GetSecretValue", ARN.format(service="secretsmanager", rest="secret:other-AbCdEf")
    )


def test_an_action_wildcard_of_a_policy_template_allows_the_action_it_covers() -> None:
    queue = ARN.format(service="sqs", rest="dlq")
    role = Role("R", [document(allow(["sqs:SendMessage*"], queue))])

    assert role.allows("sqs:SendMessage", queue)
    assert not role.allows("sqs:ReceiveMessage", queue)


def test_a_deny_in_any_policy_wins_over_an_allow_in_another() -> None:
    table = ARN.format(service="dynamodb", rest="table/orders")
    role = Role(
        "R",
        [
            document(allow("dynamodb:*", "*")),
            document({"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": table}),
        ],
    )

    assert role.allows("dynamodb:GetItem", table)
    assert not role.allows("dynamodb:DeleteItem", table)


def test_what_no_statement_allows_is_denied() -> None:
    role = Role("R", [document(allow("dynamodb:GetItem", ARN.format(service="dynamodb", rest="table/a")))])

    assert not role.allows("dynamodb:GetItem", ARN.format(service="dynamodb", rest="table/b"))


def test_an_aws_managed_policy_is_read_from_the_documents_moto_bundles() -> None:
    basic = iam_check.aws_managed_policy("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")

    assert Role("R", [basic]).allows("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:x")
    with pytest.raises(KeyError):
        iam_check.aws_managed_policy("arn:aws:iam::123456789012:policy/MyOwnPolicy")


# ---------------------------------------------------------------- the roles sam deploy creates

TEMPLATE = {
    "Transform": "AWS::Serverless-2016-10-31",
    "Parameters": {"UseQueue": {"Type": "String", "Default": "true"}},
    "Conditions": {"UseQueue": {"Fn::Equals": [{"Ref": "UseQueue"}, "true"]}},
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Worker": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": ".",
                "Handler": "app.handler",
                "Runtime": "python3.13",
                "Tracing": "Active",
                "Policies": [
                    {"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": ["Queue", "QueueName"]}}},
                    {
                        "Statement": [
                            {
                                "Fn::If": [
                                    "UseQueue",
                                    allow("sqs:ReceiveMessage", "*"),
                                    {"Ref": "AWS::NoValue"},
                                ]
                            },
                        ]
                    },
                ],
            },
        },
    },
}


def context(use_queue: str = "true") -> ResolutionContext:
    ctx = ResolutionContext(
        parameters={"UseQueue": use_queue},
        pseudo={
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
        },
        resources={
            "Queue": {
                "Ref": "https://queue",
                "Arn": ARN.format(service="sqs", rest="q-1"),
                "QueueName": "q-1",
            }
        },
    )
    ctx.conditions["UseQueue"] = use_queue == "true"
    return ctx


def test_a_functions_role_holds_its_expanded_policy_templates_and_the_managed_policies_sam_adds() -> None:
    # Given a function with a policy template and active tracing / When the translator builds its role
    (role,) = iam_check.sam_roles(TEMPLATE, ["Worker"], context()).values()

    # Then the template's grant points at the deployed queue, and X-Ray and logs come with SAM's defaults
    assert role.name == "WorkerRole"
    assert role.allows("sqs:SendMessage", ARN.format(service="sqs", rest="q-1"))
    assert not role.allows("sqs:SendMessage", ARN.format(service="sqs", rest="q-2"))
    assert role.allows("xray:PutTraceSegments", "*")
    assert role.allows("logs:CreateLogStream", "*")


def test_a_statement_that_is_no_value_under_its_condition_grants_nothing() -> None:
    (with_queue,) = iam_check.sam_roles(TEMPLATE, ["Worker"], context("true")).values()
    (without,) = iam_check.sam_roles(TEMPLATE, ["Worker"], context("false")).values()

    assert with_queue.allows("sqs:ReceiveMessage", ARN.format(service="sqs", rest="q-1"))
    assert not without.allows("sqs:ReceiveMessage", ARN.format(service="sqs", rest="q-1"))


# ---------------------------------------------------------------- the recorder


class CountingRole(Role):
    def __init__(self, allowed: set[tuple[str, str]]) -> None:
        self.name, self.documents, self.allowed, self.asked = "FakeRole", [], allowed, 0

    def allows(self, action: str, resource: str) -> bool:
        self.asked += 1
        return (action, resource) in self.allowed


def test_a_call_the_role_does_not_allow_is_recorded_with_its_caller_action_and_resource() -> None:
    recorder = CallRecorder({"SlackApp": CountingRole(set())}, {}, PLACE)

    recorder.record("SlackApp", "states", "RedriveExecution", {"executionArn": EXECUTION})

    assert recorder.denied == [Call("SlackApp", "states:RedriveExecution", EXECUTION)]
    assert "SlackApp (SlackAppRole): states:RedriveExecution on " + EXECUTION in iam_check.describe(
        recorder.denied
    )


def test_the_same_call_is_evaluated_once_however_often_it_is_made() -> None:
    role = CountingRole({("states:SendTaskSuccess", "*")})
    recorder = CallRecorder({"SlackApp": role}, {}, PLACE)

    for _ in range(50):
        recorder.record("SlackApp", "states", "SendTaskSuccess", {"taskToken": "t"})

    assert role.asked == 1 and recorder.denied == []
    assert recorder.calls == {Call("SlackApp", "states:SendTaskSuccess", "*")}


def test_a_caller_without_a_role_is_allowed_nothing() -> None:
    recorder = CallRecorder({}, {}, PLACE)

    recorder.record("Unknown", "states", "SendTaskSuccess", {"taskToken": "t"})

    assert recorder.denied == [Call("Unknown", "states:SendTaskSuccess", "*")]


def test_denied_calls_once_taken_are_not_reported_again() -> None:
    recorder = CallRecorder({"SlackApp": CountingRole(set())}, {}, PLACE)
    recorder.record("SlackApp", "states", "SendTaskSuccess", {"taskToken": "t"})

    taken = recorder.take_denied()
    recorder.record("SlackApp", "states", "SendTaskSuccess", {"taskToken": "t2"})

    assert taken == [Call("SlackApp", "states:SendTaskSuccess", "*")]
    assert recorder.take_denied() == []


def test_calls_are_charged_to_the_caller_of_their_own_thread_only() -> None:
    seen: dict[str, str | None] = {}

    with acting_as("SlackApp"):
        seen["handler"] = iam_check.caller.get()
        thread = threading.Thread(target=lambda: seen.update(thread=iam_check.caller.get()))
        thread.start()
        thread.join()
    seen["after"] = iam_check.caller.get()

    assert seen == {"handler": "SlackApp", "thread": None, "after": None}


def test_parameter_providers_are_kept_apart_per_caller_as_in_separate_lambda_processes() -> None:
    providers = iam_check._ProvidersPerCaller()

    with acting_as("Collector"):
        providers["secrets"] = "the collector's provider"
    with acting_as("SlackApp"):
        assert "secrets" not in providers
        providers["secrets"] = "the Slack app's provider"
    with acting_as("Collector"):
        assert providers["secrets"] == "the collector's provider"
