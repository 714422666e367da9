"""Each function's settings: the variables it cannot run without, named on one line when missing,
and the settings several functions share read under the same variable, with the same limits, by
every function that reads them. Plain values: no AWS."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from recovery_ops.service.config import (
    CircuitWatcherConfig,
    CollectorConfig,
    ConfigurationError,
    ExecutionWatcherConfig,
    HandlerConfig,
    OperatorSettings,
    ReconcilerConfig,
    ReminderConfig,
    RoutesSettings,
    SelfHealingConfig,
    ServeSettings,
    ServicesConfig,
    SlackAppConfig,
    TrySettings,
    load_config,
)

FUNCTION = "RECOVERIES_TABLE_NAME", "SLACK_BOT_TOKEN_SECRET"

#: what each settings class cannot be read without
REQUIRED: dict[type[HandlerConfig], set[str]] = {
    CollectorConfig: {*FUNCTION, "RECOVERY_DLQ_URL", "SLACK_DEFAULT_CHANNEL"},
    ExecutionWatcherConfig: {*FUNCTION, "SLACK_DEFAULT_CHANNEL"},
    CircuitWatcherConfig: {*FUNCTION},
    SelfHealingConfig: {*FUNCTION, "CIRCUIT_BREAKER_TABLE_NAME"},
    ReconcilerConfig: {*FUNCTION},
    ReminderConfig: {*FUNCTION},
    ServicesConfig: {"RECOVERIES_TABLE_NAME"},
    SlackAppConfig: {*FUNCTION, "SLACK_SIGNING_SECRET_SECRET"},
    OperatorSettings: set(),
    RoutesSettings: set(),
    ServeSettings: set(),
    TrySettings: set(),
}

#: a value each required variable accepts
GIVEN = {
    "RECOVERIES_TABLE_NAME": "ops-recoveries",
    "SLACK_BOT_TOKEN_SECRET": "ops/slack-bot-token",
    "SLACK_SIGNING_SECRET_SECRET": "ops/slack-signing-secret",
    "RECOVERY_DLQ_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/ops-recovery-dlq",
    "SLACK_DEFAULT_CHANNEL": "C-DEFAULT",
    "CIRCUIT_BREAKER_TABLE_NAME": "ops-circuits",
}

Settings = type[HandlerConfig]
LOCAL: list[Settings] = [OperatorSettings, ServeSettings, TrySettings]
FUNCTIONS: list[Settings] = [CollectorConfig, ExecutionWatcherConfig, CircuitWatcherConfig, SelfHealingConfig]
FUNCTIONS += [ReconcilerConfig, ReminderConfig, SlackAppConfig]
ROUTED: list[Settings] = [CollectorConfig, CircuitWatcherConfig, SelfHealingConfig, ReminderConfig]
ROUTED += [RoutesSettings]

#: a shared variable: the attribute it becomes, a value given, what the attribute reads, its readers
SHARED: list[tuple[str, str, str, object, list[type[HandlerConfig]]]] = [
    (
        "SLACK_API_URL",
        "slack_api_url",
        "http://127.0.0.1:3000/api/",
        "http://127.0.0.1:3000/api/",
        [*FUNCTIONS, ServicesConfig, *LOCAL],
    ),
    ("SLACK_BOT_TOKEN_SECRET", "slack_bot_token_secret", "other/bot", "other/bot", FUNCTIONS),
    ("SLACK_BOT_TOKEN", "slack_bot_token", "xoxb-1", "xoxb-1", LOCAL),
    ("RECOVERIES_TABLE_NAME", "recoveries_table_name", "t2", "t2", [*FUNCTIONS, ServicesConfig, LOCAL[0]]),
    (
        "RECOVERY_RETENTION_DAYS",
        "retention_days",
        "30",
        30,
        [*FUNCTIONS, ServicesConfig, OperatorSettings],
    ),
    (
        "ROUTING_RULES_PARAMETER",
        "routing_rules_parameter",
        "/ops/recovery/routing-rules",
        "/ops/recovery/routing-rules",
        [*ROUTED, ServicesConfig, SlackAppConfig],
    ),
    ("SLACK_DEFAULT_CHANNEL", "default_channel", "C-OTHER", "C-OTHER", [*ROUTED, ExecutionWatcherConfig]),
    ("SLACK_TECHNICAL_CHANNEL", "technical_channel", "C-TECH", "C-TECH", [*ROUTED, ExecutionWatcherConfig]),
    ("SLACK_CLIENT_DATA_CHANNEL", "client_data_channel", "C-DATA", "C-DATA", ROUTED),
    (
        "SLACK_ALLOWED_USER_IDS",
        "allowed_users",
        "U1, U2 U3",
        frozenset({"U1", "U2", "U3"}),
        [ServicesConfig, SlackAppConfig, ServeSettings, TrySettings],
    ),
]


def required(settings: type[HandlerConfig]) -> dict[str, str]:
    return {variable: GIVEN[variable] for variable in REQUIRED[settings]}


@pytest.mark.parametrize("settings", REQUIRED, ids=lambda cls: cls.__name__)
def test_each_settings_class_names_exactly_the_variables_it_cannot_run_without(
    settings: type[HandlerConfig],
) -> None:
    # Given / When an empty environment
    if not REQUIRED[settings]:
        settings.model_validate({})
        return
    with pytest.raises(ValidationError) as refused:
        settings.model_validate({})

    # Then
    assert {error["loc"][0] for error in refused.value.errors()} == REQUIRED[settings]
    assert {error["type"] for error in refused.value.errors()} == {"missing"}


@pytest.mark.parametrize("settings", REQUIRED, ids=lambda cls: cls.__name__)
def test_each_settings_class_runs_on_its_required_variables_alone(settings: type[HandlerConfig]) -> None:
    # Given / When
    config = settings.model_validate(required(settings))

    # Then
    for variable in REQUIRED[settings]:
        (name,) = [n for n, field in settings.model_fields.items() if field.alias == variable]
        assert getattr(config, name) == GIVEN[variable]


def test_a_function_missing_its_settings_says_which_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an environment without the collector's table, bot secret and DLQ
    for variable in GIVEN:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SLACK_DEFAULT_CHANNEL", "C-DEFAULT")

    # When
    with pytest.raises(ConfigurationError) as refused:
        load_config(CollectorConfig)

    # Then
    message = str(refused.value)
    assert message.startswith("CollectorConfig is not configured: ") and "\n" not in message
    for variable in ("RECOVERIES_TABLE_NAME", "SLACK_BOT_TOKEN_SECRET", "RECOVERY_DLQ_URL"):
        assert f"{variable}: Field required" in message
    assert "SLACK_DEFAULT_CHANNEL" not in message


@pytest.mark.parametrize(
    ("variable", "attribute", "given", "read", "settings"),
    [
        pytest.param(variable, attribute, given, read, settings, id=f"{variable}-{settings.__name__}")
        for variable, attribute, given, read, readers in SHARED
        for settings in readers
    ],
)
def test_a_shared_variable_is_read_the_same_by_every_function_that_reads_it(
    variable: str, attribute: str, given: str, read: object, settings: type[HandlerConfig]
) -> None:
    # Given
    environment = {**required(settings), variable: given}

    # When
    config = settings.model_validate(environment)

    # Then
    assert getattr(config, attribute) == read


@pytest.mark.parametrize(
    "settings", [*FUNCTIONS, ServicesConfig, OperatorSettings], ids=lambda cls: cls.__name__
)
def test_every_reader_of_the_retention_refuses_the_same_values(settings: type[HandlerConfig]) -> None:
    # Given
    environment = {**required(settings), "RECOVERY_RETENTION_DAYS": "0"}

    # When / Then
    with pytest.raises(ValidationError, match="RECOVERY_RETENTION_DAYS"):
        settings.model_validate(environment)


@pytest.mark.parametrize("settings", FUNCTIONS, ids=lambda cls: cls.__name__)
def test_every_function_refuses_an_empty_table_name_or_bot_secret(settings: type[HandlerConfig]) -> None:
    for variable in FUNCTION:
        # Given
        environment = {**required(settings), variable: ""}

        # When / Then
        with pytest.raises(ValidationError, match=variable):
            settings.model_validate(environment)


@pytest.mark.parametrize(
    "settings", [CircuitWatcherConfig, SelfHealingConfig, ReminderConfig, RoutesSettings]
)
def test_a_function_that_only_falls_back_to_the_default_channel_runs_without_one(
    settings: type[HandlerConfig],
) -> None:
    # Given / When
    config = settings.model_validate(required(settings))

    # Then
    assert config.default_channel == ""  # type: ignore[attr-defined]
