"""Operators name a stack: its outputs say where the table and the queues are (DescribeStacks,
stubbed with botocore's Stubber); an explicit option still wins."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from recovery_ops.service import aws_clients
from recovery_ops.service.cli import main
from recovery_ops.service.cli.dead_letters import (
    OPTIONAL_OUTPUTS,
    STACK_OUTPUTS,
    add_arguments,
    queue_settings,
)
from recovery_ops.service.local.engine.cfn_template import load_template
from recovery_ops.service.stack_outputs import (
    RECOVERIES_TABLE,
    StackOutputError,
    settings_from_stack,
    stack_outputs,
)

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012"
OUTPUTS = {
    "RecoveriesTableName": "ops-RecoveriesTable-1A2B",
    "RecoveryQueueUrl": f"{QUEUE}/ops-RecoveryQueue",
    "RecoveryDeadLetterQueueUrl": f"{QUEUE}/ops-RecoveryDeadLetterQueue",
    "OrdersDeadLetterQueueUrl": f"{QUEUE}/ops-OrdersDeadLetterQueue",
    "SlackRequestUrl": "https://abc.execute-api.eu-west-1.amazonaws.com/dev/slack/events",
}


@pytest.fixture
def cloudformation() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def answer_with(stubber: Stubber, name: str, outputs: dict[str, str]) -> None:
    stubber.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": name,
                    "CreationTime": "2025-01-01T00:00:00Z",
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                }
            ]
        },
        {"StackName": name},
    )


def no_such_stack(stubber: Stubber, name: str) -> None:
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message=f"Stack with id {name} does not exist",
        http_status_code=400,
        expected_params={"StackName": name},
    )


def never_read() -> Any:
    pytest.fail("the stack was read although nothing was missing")


def test_the_outputs_name_every_setting_that_was_not_given(cloudformation) -> None:
    # Given
    client, stubber = cloudformation
    answer_with(stubber, "ops", OUTPUTS)

    # When
    settings = settings_from_stack(
        "ops", {"table": None, "orders_dlq_url": None}, STACK_OUTPUTS_SUBSET, lambda: client
    )

    # Then
    assert settings == {
        "table": "ops-RecoveriesTable-1A2B",
        "orders_dlq_url": f"{QUEUE}/ops-OrdersDeadLetterQueue",
    }


STACK_OUTPUTS_SUBSET = {"table": RECOVERIES_TABLE, "orders_dlq_url": "OrdersDeadLetterQueueUrl"}


def test_an_explicit_setting_wins_over_the_stacks_output(cloudformation) -> None:
    # Given
    client, stubber = cloudformation
    answer_with(stubber, "ops", OUTPUTS)

    # When
    settings = settings_from_stack(
        "ops", {"table": "my-table", "orders_dlq_url": ""}, STACK_OUTPUTS_SUBSET, lambda: client
    )

    # Then
    assert settings == {"table": "my-table", "orders_dlq_url": f"{QUEUE}/ops-OrdersDeadLetterQueue"}


def test_the_stack_is_not_read_when_everything_was_given() -> None:
    # Given / When
    settings = settings_from_stack("ops", {"table": "my-table"}, {"table": RECOVERIES_TABLE}, never_read)

    # Then
    assert settings == {"table": "my-table"}


def test_without_a_stack_name_the_settings_stay_as_given() -> None:
    # Given / When
    settings = settings_from_stack(None, {"table": None}, {"table": RECOVERIES_TABLE}, never_read)

    # Then
    assert settings == {"table": None}


def test_a_stack_that_does_not_exist_is_named_in_a_clear_error(cloudformation) -> None:
    # Given
    client, stubber = cloudformation
    no_such_stack(stubber, "recovery-opz")

    # When / Then
    with pytest.raises(StackOutputError, match="no stack named 'recovery-opz' in this account and region"):
        stack_outputs("recovery-opz", client)


def test_a_missing_output_is_named_with_the_outputs_the_stack_has(cloudformation) -> None:
    # Given a stack of something else
    client, stubber = cloudformation
    answer_with(stubber, "payments", {"PaymentsApiUrl": "https://pay.example.com"})

    # When / Then
    with pytest.raises(StackOutputError) as raised:
        settings_from_stack("payments", {"table": None}, {"table": RECOVERIES_TABLE}, lambda: client)
    assert "stack 'payments' has no output RecoveriesTableName (it has: PaymentsApiUrl)" in str(raised.value)


def test_the_dlq_options_win_then_the_stack_then_the_environment(
    cloudformation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an explicit orders DLQ, a stack, and a recovery DLQ in the environment
    client, stubber = cloudformation
    answer_with(stubber, "ops", OUTPUTS)
    monkeypatch.setattr(aws_clients, "client", lambda name: client)
    monkeypatch.setenv("RECOVERY_DLQ_URL", f"{QUEUE}/from-the-environment")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--stack", "ops", "--orders-dlq-url", f"{QUEUE}/typed"])

    # When
    settings = queue_settings(args)

    # Then
    assert settings == {
        "orders_dlq_url": f"{QUEUE}/typed",
        "recovery_dlq_url": f"{QUEUE}/ops-RecoveryDeadLetterQueue",
        "recovery_queue_url": f"{QUEUE}/ops-RecoveryQueue",
        "table": "ops-RecoveriesTable-1A2B",
        "routing_rules_parameter": None,  # this stack has no rules parameter output
    }


@pytest.mark.parametrize(
    "argv", [["list"], ["show", "rec-1"], ["reject", "rec-1"], ["retry", "rec-1"], ["dlq"]]
)
def test_every_command_on_a_deployment_refuses_a_stack_that_does_not_exist(
    argv: list[str], cloudformation, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    client, stubber = cloudformation
    no_such_stack(stubber, "gone")
    monkeypatch.setattr(aws_clients, "client", lambda name: client)
    monkeypatch.delenv("RECOVERIES_TABLE_NAME", raising=False)

    # When
    status = main([*argv, "--stack", "gone"])

    # Then
    assert status == 2
    assert "no stack named 'gone'" in capsys.readouterr().err


def test_an_optional_setting_whose_output_the_stack_lacks_stays_missing(cloudformation) -> None:
    # Given a stack deployed without its conditional orders DLQ output
    client, stubber = cloudformation
    answer_with(stubber, "ops", {k: v for k, v in OUTPUTS.items() if k != "OrdersDeadLetterQueueUrl"})

    # When
    settings = settings_from_stack(
        "ops",
        {"table": None, "orders_dlq_url": None},
        STACK_OUTPUTS_SUBSET,
        lambda: client,
        optional=["orders_dlq_url"],
    )

    # Then
    assert settings == {"table": "ops-RecoveriesTable-1A2B", "orders_dlq_url": None}


def test_the_outputs_read_are_outputs_of_template_yaml_and_only_the_optional_one_is_conditional() -> None:
    # Given / When
    outputs = load_template()["Outputs"]

    # Then
    assert set(STACK_OUTPUTS.values()) <= set(outputs)
    conditional = {name for name, output in outputs.items() if "Condition" in output}
    assert conditional & set(STACK_OUTPUTS.values()) <= {STACK_OUTPUTS[name] for name in OPTIONAL_OUTPUTS}
