"""Step Functions' record of a paused step, read by ``StepFunctionsHistory`` from moto's interpreter:
a real ``.waitForTaskToken`` pause, and what the record says before and after its token is used."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from recovery_ops.service.recovery.ports.execution_record import TaskFate
from recovery_ops.service.recovery.stepfunctions.history import StepFunctionsHistory
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

DEFINITION = {
    "StartAt": "Request recovery",
    "States": {
        "Request recovery": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "QUEUE", "MessageBody": {"token.$": "$$.Task.Token", "input.$": "$"}},
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


@pytest.fixture
def aws() -> Iterator[tuple]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sqs = boto3.client("sqs", region_name="us-east-1")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        role = boto3.client("iam", region_name="us-east-1").create_role(
            RoleName="machine", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        queue = sqs.create_queue(QueueName="recoveries")["QueueUrl"]
        definition = json.dumps(DEFINITION).replace("QUEUE", queue)
        machine = sfn.create_state_machine(name="m", definition=definition, roleArn=role)["stateMachineArn"]
        yield sqs, sfn, queue, machine


def paused(aws: tuple, name: str) -> tuple[str, str]:
    sqs, sfn, queue, machine = aws
    execution = sfn.start_execution(stateMachineArn=machine, name=name, input='{"sku": "a"}')["executionArn"]
    messages: list = []

    def received() -> bool:
        messages.extend(sqs.receive_message(QueueUrl=queue).get("Messages", []))
        return bool(messages)

    wait_until(received)
    return execution, json.loads(messages[0]["Body"])["token"]


def test_a_waiting_step_is_waiting_and_a_resumed_one_succeeded_with_its_output(aws: tuple) -> None:
    _, sfn, _, _ = aws
    execution, token = paused(aws, "e1")
    history = StepFunctionsHistory(sfn)

    assert history.task_truth(execution, token).fate is TaskFate.WAITING

    sfn.send_task_success(taskToken=token, output='{"sku": "b"}')
    wait_until(lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING")

    truth = history.task_truth(execution, token)
    assert (truth.fate, truth.execution_status) == (TaskFate.SUCCEEDED, "SUCCEEDED")
    assert json.loads(truth.output or "") == {"sku": "b"}


def test_a_rejected_step_failed_with_its_error(aws: tuple) -> None:
    _, sfn, _, _ = aws
    execution, token = paused(aws, "e2")

    sfn.send_task_failure(taskToken=token, error="RecoveryRejected", cause="no")
    wait_until(lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING")

    truth = StepFunctionsHistory(sfn).task_truth(execution, token)
    assert (truth.fate, truth.error) == (TaskFate.FAILED, "RecoveryRejected")


def test_another_steps_token_is_not_this_steps_and_an_unknown_execution_is_gone(aws: tuple) -> None:
    _, sfn, _, machine = aws
    execution, _ = paused(aws, "e3")
    history = StepFunctionsHistory(sfn)

    assert history.task_truth(execution, "someone-elses-token").fate is TaskFate.UNKNOWN
    gone = machine.replace(":stateMachine:", ":execution:") + ":never-ran"
    assert history.task_truth(gone, "t").fate is TaskFate.GONE
