"""The static grant check over plain data: what each Task state of a definition needs, and which of
those needs a role refuses, named by state machine, state, action and resource."""

from __future__ import annotations

from typing import Any

from recovery_ops.service.local.engine.grant_check import (
    Grant,
    MissingGrant,
    MissingGrantError,
    missing_grants,
    needed_grants,
)
from recovery_ops.service.local.engine.iam_check import Place

PLACE = Place("us-east-1", "123456789012")
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/recovery-ops-RecoveryQueue"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:recovery-ops-RecoveryQueue"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:team-Shipped"
TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/team-Shipments"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:team-Pack"


def task(resource: str, **parameters: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True}


def machine(**states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


def test_each_integration_needs_its_action_on_the_resource_it_names() -> None:
    # Given a definition with a Lambda task, a recovery request, a DynamoDB write and an SNS publish
    definition = machine(
        Pack={**task("arn:aws:states:::lambda:invoke", FunctionName=FUNCTION_ARN, **{"Payload.$": "$"})},
        Ask=task(
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken", QueueUrl=QUEUE_URL, MessageBody={"a": 1}
        ),
        Record=task("arn:aws:states:::dynamodb:putItem", TableName="team-Shipments", Item={}),
        Announce=task("arn:aws:states:::sns:publish", TopicArn=TOPIC_ARN, **{"Message.$": "$"}),
    )

    # When the grants it needs are listed
    needed = needed_grants(definition, PLACE)

    # Then each names the state, the IAM action and the resource's ARN
    assert needed == [
        Grant("Pack", "lambda:InvokeFunction", FUNCTION_ARN),
        Grant("Ask", "sqs:SendMessage", QUEUE_ARN),
        Grant("Record", "dynamodb:PutItem", TABLE_ARN),
        Grant("Announce", "sns:Publish", TOPIC_ARN),
    ]


def test_states_inside_parallel_branches_and_map_iterations_are_checked_too() -> None:
    # Given a Lambda function's ARN as a Task's Resource inside a Map inside a Parallel
    inner = machine(Pack=task(FUNCTION_ARN))
    definition = machine(
        Both={
            "Type": "Parallel",
            "Branches": [machine(Each={"Type": "Map", "ItemProcessor": inner, "End": True})],
            "End": True,
        }
    )

    # When / Then
    assert needed_grants(definition, PLACE) == [Grant("Pack", "lambda:InvokeFunction", FUNCTION_ARN)]


def test_a_resource_chosen_at_run_time_is_left_to_the_check_of_each_call() -> None:
    # Given a queue and a table named by the state's input, and a JSONata FunctionName
    definition = machine(
        Ask=task("arn:aws:states:::sqs:sendMessage", **{"QueueUrl.$": "$.queue", "MessageBody": "x"}),
        Record=task("arn:aws:states:::dynamodb:putItem", **{"TableName.$": "$.table"}),
        Pack={
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Arguments": {"FunctionName": "{% $states.input.fn %}"},
            "End": True,
        },
    )

    # When / Then: nothing is claimed about them before the run
    assert needed_grants(definition, PLACE) == []


def test_a_missing_grant_names_the_state_machine_the_state_the_action_and_the_resource() -> None:
    # Given a role that allows everything but sending to the recovery queue
    definition = machine(
        **{
            "Request recovery: Pack": task(
                "arn:aws:states:::sqs:sendMessage.waitForTaskToken", QueueUrl=QUEUE_URL, MessageBody={}
            ),
            "Record": task("arn:aws:states:::dynamodb:putItem", TableName="team-Shipments"),
        }
    )

    def allows(action: str, resource: str) -> bool:
        return action != "sqs:SendMessage"

    # When the definition is held against the role
    missing = missing_grants("ShippingStateMachine", definition, allows, PLACE)

    # Then the one missing grant is named in words
    assert missing == [
        MissingGrant("ShippingStateMachine", Grant("Request recovery: Pack", "sqs:SendMessage", QUEUE_ARN))
    ]
    assert str(missing[0]) == (
        f"ShippingStateMachine: state 'Request recovery: Pack' needs sqs:SendMessage on {QUEUE_ARN}; "
        "its role does not allow it"
    )
    assert str(missing[0]) in str(MissingGrantError(missing, "team/template.yaml"))


def test_nested_executions_and_sdk_integrations_need_their_own_actions() -> None:
    # Given a nested execution and an aws-sdk call
    child = "arn:aws:states:us-east-1:123456789012:stateMachine:team-Child"
    definition = machine(
        Child=task("arn:aws:states:::states:startExecution.sync:2", StateMachineArn=child),
        Read=task("arn:aws:states:::aws-sdk:dynamodb:getItem", TableName="team-Shipments", Key={}),
    )

    # When / Then
    assert needed_grants(definition, PLACE) == [
        Grant("Child", "states:StartExecution", child),
        Grant("Read", "dynamodb:GetItem", TABLE_ARN),
    ]


def test_a_role_that_allows_every_need_leaves_nothing_missing() -> None:
    definition = machine(Announce=task("arn:aws:states:::sns:publish", TopicArn=TOPIC_ARN, Message="x"))
    assert missing_grants("M", definition, lambda action, resource: True, PLACE) == []
