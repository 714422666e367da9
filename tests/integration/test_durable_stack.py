"""Durable functions in the embedded stack: a durable handler paused on ``wait_for_callback`` in the
stack's durable host, answered and read by the product's own adapters (built by the composition
from the stack's settings) over Lambda's durable-execution API on HTTP, every call held against
the caller's role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration, WaitForCallbackConfig

from recovery_ops.service import composition
from recovery_ops.service.config import ServicesConfig, load_config
from recovery_ops.service.local.engine.cfn_template import load_template
from recovery_ops.service.local.engine.durable_host import DurableHost
from recovery_ops.service.local.engine.iam_check import Call, acting_as
from recovery_ops.service.local.engine.stack import EmbeddedStack, embedded_stack
from recovery_ops.service.recovery.ports.execution_record import TaskFate
from recovery_ops.service.recovery.ports.task_tokens import TokenResult

WATCHED = "approvals"  # the durable function the Slack app's role is granted
UNWATCHED = "payroll"  # one it is not
FUNCTIONS = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
DURABLE_ACTIONS = [
    "lambda:SendDurableExecutionCallbackSuccess",
    "lambda:SendDurableExecutionCallbackFailure",
    "lambda:GetDurableExecution",
    "lambda:GetDurableExecutionHistory",
]


@durable_execution
def wait_for_a_decision(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """A step that failed hands its recovery over and waits for the decision (the callback)."""
    timeout = Duration.from_seconds(int(event.get("timeout_seconds", 300)))
    decided = context.wait_for_callback(
        lambda callback_id, ctx: None, name="recovery", config=WaitForCallbackConfig(timeout=timeout)
    )
    return {"resumed_with": decided}


def template_watching(tmp_path: Path, function_name: str) -> Path:
    """A copy of template.yaml whose Slack app may answer and read ``function_name``'s durable
    executions, as the grant on a watched durable function gives it (function:NAME:*)."""
    template = load_template()
    policies = template["Resources"]["SlackAppFunction"]["Properties"]["Policies"]
    statements = next(p["Statement"] for p in policies if isinstance(p, dict) and "Statement" in p)
    statements.append(
        {
            "Sid": "WatchedDurableFunctions",
            "Effect": "Allow",
            "Action": DURABLE_ACTIONS,
            "Resource": {"Fn::Sub": FUNCTIONS + f"{function_name}:*"},
        }
    )
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[EmbeddedStack]:
    with embedded_stack(
        parameters={"DeployOrderExample": "false"},
        template_path=template_watching(tmp_path, WATCHED),
        quiet=True,
    ) as deployed:
        assert deployed.durable is not None
        deployed.durable.register(WATCHED, wait_for_a_decision)
        deployed.durable.register(UNWATCHED, wait_for_a_decision)
        yield deployed


def host(stack: EmbeddedStack) -> DurableHost:
    assert stack.durable is not None
    return stack.durable


def services_config() -> ServicesConfig:
    """The Slack app's settings, as the stack gives them to its functions (DURABLE_ENDPOINT_URL included)."""
    return load_config(ServicesConfig)


def test_a_resumed_callback_runs_the_function_on_and_its_record_says_succeeded(stack: EmbeddedStack) -> None:
    # Given a durable execution paused on its callback, and the product's adapters from its settings
    durable = host(stack)
    arn = durable.start(WATCHED, {"order": "o-1"}, execution_name="order-o-1")
    callback_id = durable.callback_id_for(arn)
    callbacks = composition.durable_callbacks(services_config(), stack.client)
    history = composition.durable_history(services_config(), stack.client)
    with acting_as("SlackAppFunction"):
        waiting = history.task_truth(arn, callback_id)

        # When the Slack app resumes it with the input to run again with
        outcome = callbacks.send_success(callback_id, json.dumps({"quantity": 2}))
        ended = durable.wait_for_result(arn)
        truth = history.task_truth(arn, callback_id)
        again = callbacks.send_success(callback_id, "{}")

    # Then the function ran on with it, and Lambda's record says the callback SUCCEEDED with it
    assert (waiting.fate, waiting.execution_status) == (TaskFate.WAITING, "RUNNING")
    assert outcome.result is TokenResult.ACCEPTED
    assert ended.status == "SUCCEEDED"
    assert json.loads(ended.result or "") == {"resumed_with": json.dumps({"quantity": 2})}
    assert (truth.fate, truth.output, truth.execution_status) == (
        TaskFate.SUCCEEDED,
        json.dumps({"quantity": 2}),
        "SUCCEEDED",
    )
    # and a second answer finds the callback dead, without naming it
    assert again.result is TokenResult.DEAD
    assert callback_id not in again.message
    # and every call was held against the durable execution's ARN in Lambda's form
    aws_arn = durable.aws_arn(arn)
    assert aws_arn is not None and aws_arn.startswith(
        f"arn:aws:lambda:us-east-1:123456789012:function:{WATCHED}:$LATEST/durable-execution/order-o-1/"
    )
    assert stack.iam is not None
    assert {
        Call("SlackAppFunction", "lambda:SendDurableExecutionCallbackSuccess", aws_arn),
        Call("SlackAppFunction", "lambda:GetDurableExecution", aws_arn),
        Call("SlackAppFunction", "lambda:GetDurableExecutionHistory", aws_arn),
    } <= stack.iam.calls


def test_a_rejected_callback_fails_the_function_and_its_record_says_failed(stack: EmbeddedStack) -> None:
    # Given a durable execution paused on its callback
    durable = host(stack)
    arn = durable.start(WATCHED, {"order": "o-2"})
    callback_id = durable.callback_id_for(arn)
    with acting_as("SlackAppFunction"):
        # When the Slack app rejects the recovery
        outcome = composition.durable_callbacks(services_config(), stack.client).send_failure(
            callback_id, "RecoveryRejected", "Rejected by U1"
        )
        ended = durable.wait_for_result(arn)
        truth = composition.durable_history(services_config(), stack.client).task_truth(arn, callback_id)

    # Then the function's wait raised with that message, and the record says FAILED with its type
    assert outcome.result is TokenResult.ACCEPTED
    assert ended.status == "FAILED"
    assert ended.error is not None and ended.error.get("ErrorMessage") == "Rejected by U1"
    assert (truth.fate, truth.error, truth.execution_status) == (
        TaskFate.FAILED,
        "RecoveryRejected",
        "FAILED",
    )


def test_a_callback_whose_timeout_fired_is_timed_out_and_dead(stack: EmbeddedStack) -> None:
    # Given a durable execution whose callback times out after a second
    durable = host(stack)
    arn = durable.start(WATCHED, {"timeout_seconds": 1})
    callback_id = durable.callback_id_for(arn)
    ended = durable.wait_for_result(arn)

    # When the product reads the record and then answers
    with acting_as("SlackAppFunction"):
        truth = composition.durable_history(services_config(), stack.client).task_truth(arn, callback_id)
        outcome = composition.durable_callbacks(services_config(), stack.client).send_success(
            callback_id, "{}"
        )

    # Then the callback TIMED_OUT (the execution failed with it), and an answer finds it dead
    assert ended.status == "FAILED"
    assert (truth.fate, truth.execution_status) == (TaskFate.TIMED_OUT, "FAILED")
    assert outcome.result is TokenResult.DEAD


def test_an_execution_lambda_does_not_know_is_gone(stack: EmbeddedStack) -> None:
    # Given the product's record reader
    history = composition.durable_history(services_config(), stack.client)

    # When it asks about an execution the host never ran
    truth = history.task_truth("00000000-0000-0000-0000-000000000000/inv-1", "no-such-callback")

    # Then Lambda's ResourceNotFoundException reached it as such: GONE
    assert truth.fate is TaskFate.GONE


def test_a_callback_of_a_function_the_role_is_not_granted_is_refused_by_the_iam_check(
    stack: EmbeddedStack,
) -> None:
    # Given a paused execution of a durable function the Slack app's role is not granted
    durable = host(stack)
    arn = durable.start(UNWATCHED, {"run": 1}, execution_name="run-1")
    callback_id = durable.callback_id_for(arn)

    # When the Slack app answers it
    with acting_as("SlackAppFunction"):
        composition.durable_callbacks(services_config(), stack.client).send_success(callback_id, "{}")

    # Then the IAM check names the function, the action and the execution in Lambda's form
    assert stack.iam is not None
    denied = stack.iam.take_denied()
    assert denied == [
        Call("SlackAppFunction", "lambda:SendDurableExecutionCallbackSuccess", durable.aws_arn(arn) or "")
    ]
