"""The command line's settings: read from the environment once, with the Slack app's limits; an
option wins over a stack's output, which wins over the environment; a bad value is one clear line
and exit code 2. Plain values: no AWS (a stand-in answers DescribeStacks where a stack is named)."""

from __future__ import annotations

import argparse
from typing import Any
from unittest.mock import Mock

import pytest
from slack_sdk import WebClient

from recovery_ops.service import aws_clients
from recovery_ops.service.cli import main
from recovery_ops.service.cli.dead_letters import add_arguments, queue_settings
from recovery_ops.service.cli.deployment import on_deployment
from recovery_ops.service.composition import build_services
from recovery_ops.service.config import ConfigurationError, OperatorSettings, ServeSettings, ServicesConfig
from recovery_ops.service.operator import OperationError, Operator, build_operator
from recovery_ops.service.recovery.model.input_edit import SchemaCatalog
from recovery_ops.service.recovery.storage.recoveries import RecoveryNotFoundError

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012"


class OneStack:
    """A CloudFormation client that knows one stack and counts how often it was read."""

    def __init__(self, name: str, outputs: dict[str, str]) -> None:
        self.name, self.outputs, self.reads = name, outputs, 0

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 (boto3's spelling)
        self.reads += 1
        assert StackName == self.name
        return {
            "Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()]}]
        }


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> OneStack:
    cloudformation = OneStack("ops", {"RecoveriesTableName": "table-from-the-stack"})
    monkeypatch.setattr(aws_clients, "client", lambda name: cloudformation)
    return cloudformation


def dlq_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_environment_becomes_typed_settings() -> None:
    # Given
    environment = {
        "RECOVERIES_TABLE_NAME": "ops-recoveries",
        "BULK_RESUME_RATE_PER_SECOND": "12.5",
        "DLQ_REDRIVE_RATE_PER_SECOND": "25",
        "RECOVERY_DLQ_URL": f"{QUEUE}/dlq",
        "SLACK_BOT_TOKEN": "xoxb-1",
        "UNRELATED": "ignored",
    }

    # When
    settings = OperatorSettings.from_environment(environment)

    # Then
    assert settings.recoveries_table_name == "ops-recoveries"
    assert settings.bulk_rate_per_second == 12.5 and settings.dlq_redrive_rate_per_second == 25
    assert settings.recovery_dlq_url == f"{QUEUE}/dlq" and settings.slack_bot_token == "xoxb-1"


def test_an_empty_environment_gives_the_slack_apps_defaults() -> None:
    # Given / When
    settings = OperatorSettings.from_environment({})

    # Then
    assert settings.recoveries_table_name is None and settings.slack_bot_token is None
    assert (settings.bulk_rate_per_second, settings.dlq_redrive_rate_per_second) == (50.0, 10)
    assert settings.retention_days == 90


def test_an_empty_variable_counts_as_unset() -> None:
    # Given / When
    settings = OperatorSettings.from_environment(
        {"RECOVERIES_TABLE_NAME": "", "BULK_RESUME_RATE_PER_SECOND": "", "DLQ_REDRIVE_RATE_PER_SECOND": ""}
    )

    # Then
    assert settings.recoveries_table_name is None
    assert (settings.bulk_rate_per_second, settings.dlq_redrive_rate_per_second) == (50.0, 10)


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("BULK_RESUME_RATE_PER_SECOND", "0", "greater than 0"),
        ("BULK_RESUME_RATE_PER_SECOND", "501", "less than or equal to 500"),
        ("BULK_RESUME_RATE_PER_SECOND", "fast", "valid number"),
        ("DLQ_REDRIVE_RATE_PER_SECOND", "0", "greater than or equal to 1"),
        ("DLQ_REDRIVE_RATE_PER_SECOND", "501", "less than or equal to 500"),
        ("DLQ_REDRIVE_RATE_PER_SECOND", "2.5", "valid integer"),
        ("RECOVERY_RETENTION_DAYS", "0", "greater than or equal to 1"),
    ],
)
def test_a_value_outside_the_slack_apps_limits_is_refused_naming_the_variable(
    variable: str, value: str, problem: str
) -> None:
    # Given / When
    with pytest.raises(ConfigurationError) as refused:
        OperatorSettings.from_environment({variable: value})

    # Then
    message = str(refused.value)
    assert f"{variable}: " in message and problem in message and f"(got {value!r})" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("variable", "value"), [("BULK_RESUME_RATE_PER_SECOND", "0"), ("DLQ_REDRIVE_RATE_PER_SECOND", "501")]
)
def test_the_slack_app_refuses_the_same_values(variable: str, value: str) -> None:
    # Given
    environment = {"RECOVERIES_TABLE_NAME": "t", variable: value}

    # When / Then
    with pytest.raises(ValueError, match=variable):
        ServicesConfig.model_validate(environment)


@pytest.mark.parametrize("argv", [["list", "--table", "t"], ["show", "rec-1"], ["dlq"]])
def test_a_bad_environment_value_stops_a_command_with_one_line_and_exit_code_2(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    monkeypatch.setenv("BULK_RESUME_RATE_PER_SECOND", "lots")
    monkeypatch.setattr(aws_clients, "client", lambda name: pytest.fail(f"{name} was asked for"))

    # When
    status = main(argv)

    # Then
    assert status == 2
    error = capsys.readouterr().err
    assert error == (
        f"recovery-ops {argv[0]}: bad setting in the environment: BULK_RESUME_RATE_PER_SECOND: "
        "Input should be a valid number, unable to parse string as a number (got 'lots')\n"
    )


def test_a_bad_environment_value_does_not_stop_a_command_that_does_not_read_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    monkeypatch.setenv("BULK_RESUME_RATE_PER_SECOND", "lots")

    # When
    status = main(["instrument", "--help"])

    # Then
    assert status == 0 and "usage: recovery-ops instrument" in capsys.readouterr().out


def test_the_option_wins_over_the_environment() -> None:
    # Given
    settings = OperatorSettings.from_environment({"RECOVERIES_TABLE_NAME": "from-the-environment"})

    # When
    deployment = on_deployment(settings, None, {"table": "typed"}, {"table": "RecoveriesTableName"})

    # Then
    assert deployment.recoveries_table_name == "typed"


def test_without_an_option_the_environment_is_used() -> None:
    # Given
    settings = OperatorSettings.from_environment({"RECOVERIES_TABLE_NAME": "from-the-environment"})

    # When
    deployment = on_deployment(settings, None, {"table": None}, {"table": "RecoveriesTableName"})

    # Then
    assert deployment.recoveries_table_name == "from-the-environment"


def test_the_stacks_output_wins_over_the_environment(stack: OneStack) -> None:
    # Given
    settings = OperatorSettings.from_environment({"RECOVERIES_TABLE_NAME": "from-the-environment"})

    # When
    deployment = on_deployment(settings, "ops", {"table": None}, {"table": "RecoveriesTableName"})

    # Then
    assert deployment.recoveries_table_name == "table-from-the-stack" and stack.reads == 1


def test_the_option_wins_over_the_stack_which_is_then_not_read(stack: OneStack) -> None:
    # Given
    settings = OperatorSettings.from_environment({})

    # When
    deployment = on_deployment(settings, "ops", {"table": "typed"}, {"table": "RecoveriesTableName"})

    # Then
    assert deployment.recoveries_table_name == "typed" and stack.reads == 0


def test_the_settings_limits_survive_the_deployments_options() -> None:
    # Given
    settings = OperatorSettings.from_environment({"BULK_RESUME_RATE_PER_SECOND": "5"})

    # When
    deployment = on_deployment(settings, None, {"table": "typed"}, {"table": "RecoveriesTableName"})

    # Then
    assert deployment.services_config().bulk_rate_per_second == 5.0


def test_the_dlq_queues_come_from_the_options_then_the_settings_given() -> None:
    # Given
    settings = OperatorSettings.from_environment(
        {"ORDERS_DLQ_URL": f"{QUEUE}/orders-env", "RECOVERY_DLQ_URL": f"{QUEUE}/recovery-env"}
    )

    # When
    queues = queue_settings(dlq_args("--orders-dlq-url", f"{QUEUE}/typed"), settings)

    # Then
    assert queues == {
        "orders_dlq_url": f"{QUEUE}/typed",
        "recovery_dlq_url": f"{QUEUE}/recovery-env",
        "recovery_queue_url": None,
        "table": None,
        "routing_rules_parameter": None,
    }


def test_the_bot_token_is_not_shown_when_the_settings_are_printed() -> None:
    # Given
    settings = OperatorSettings.from_environment({"SLACK_BOT_TOKEN": "xoxb-secret"})

    # When / Then
    assert "xoxb-secret" not in repr(settings) and "xoxb-secret" not in str(settings)


def test_without_a_table_the_operator_asks_which_deployment() -> None:
    # Given
    settings = OperatorSettings.from_environment({})

    # When / Then
    with pytest.raises(OperationError, match="which deployment\\? pass --stack NAME, or --table"):
        build_operator(settings)


class Clients:
    """A client factory that hands out placeholders and remembers what was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, name: str) -> Any:
        self.asked.append(name)
        return object()


def test_the_desk_offers_redrive_only_with_a_slack_client_to_update_the_messages() -> None:
    # Given
    config = OperatorSettings.from_environment({"RECOVERIES_TABLE_NAME": "t"}).services_config()

    # When
    without_slack = build_services(config, Clients(), None)
    with_slack = build_services(config, Clients(), Mock(WebClient))

    # Then
    assert without_slack.redrive is None and with_slack.redrive is not None


def test_the_desk_asks_for_sqs_only_when_a_dlq_is_configured() -> None:
    # Given
    without, with_dlq = Clients(), Clients()
    settings = OperatorSettings.from_environment({"RECOVERIES_TABLE_NAME": "t"})

    # When
    build_services(settings.services_config(), without, None)
    desk = build_services(
        settings.model_copy(update={"recovery_dlq_url": f"{QUEUE}/dlq"}).services_config(), with_dlq, None
    )

    # Then
    assert "sqs" not in without.asked and "sqs" in with_dlq.asked
    assert desk.dead_letters is not None and desk.dead_letters.rate_per_second == 10


def test_the_desk_paces_bulk_actions_at_the_configured_rate() -> None:
    # Given
    config = OperatorSettings.from_environment(
        {"RECOVERIES_TABLE_NAME": "t", "BULK_RESUME_RATE_PER_SECOND": "7"}
    ).services_config()

    # When
    desk = build_services(config, Clients(), None)

    # Then
    assert desk.bulk.rate_per_second == 7.0


def test_an_unknown_recovery_is_a_request_to_change_when_input_schemas_are_configured() -> None:
    # Given
    class NoRecoveries:
        def get(self, recovery_id: str) -> Any:
            raise RecoveryNotFoundError(recovery_id)

    operator = Operator(NoRecoveries(), Mock(), Mock(), "cli:alice", schemas=SchemaCatalog(dict))

    # When / Then
    with pytest.raises(OperationError, match="no recovery rec-1"):
        operator.schema_for("rec-1")


# ---------------------------------------------------------------- serve and demo
SLACK_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "SLACK_ALLOWED_USER_IDS",
    "SLACK_ALLOWED_USER_GROUP",
    "SLACK_CHANNEL",
)


def test_serve_settings_read_people_and_channel_and_hide_the_tokens() -> None:
    # Given the Slack app's variables, one of them empty
    environ = {
        "SLACK_BOT_TOKEN": "xoxb-secret-bot",
        "SLACK_SIGNING_SECRET": "signing-secret",
        "SLACK_ALLOWED_USER_IDS": "U1, U2",
        "SLACK_CHANNEL": "",
    }

    # When they are read
    settings = ServeSettings.from_environment(environ)

    # Then the people are a set, the empty channel is the default, and no token is shown
    assert settings.allowed_users == frozenset({"U1", "U2"})
    assert settings.channel == "recoveries"
    assert "xoxb-secret-bot" not in repr(settings) and "signing-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "told"),
    [
        ({}, "set SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "set SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN"),
    ],
)
def test_serve_without_its_slack_settings_says_which_and_exits_2(
    environ: dict[str, str], told: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an environment without the Slack app's tokens
    for name in SLACK_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    # When serve starts
    code = main(["serve"])

    # Then it says what to set, on one line, and serves nothing
    assert code == 2
    assert told in capsys.readouterr().err
