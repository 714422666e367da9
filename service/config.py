"""Typed configuration, read from the environment when a handler runs (never at import), and the
secrets it names, read through one cache."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recovery_ops.service.breaker.circuit_breaker import BreakerSettings
from recovery_ops.service.errors import RecoveryOpsError

ConfigT = TypeVar("ConfigT", bound="HandlerConfig")


#: how long a warm function keeps a secret it has read (Powertools' cache): a rotated Slack token or
#: signing secret is in use within five minutes, without a cold start
SECRET_MAX_AGE_SECONDS = 300


class ConfigurationError(RecoveryOpsError, RuntimeError):
    """The function's environment is missing or has a malformed setting."""


class HandlerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class OrdersApiConfig(HandlerConfig):
    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)
    order_state_machine_arn: str = Field(alias="ORDER_STATE_MACHINE_ARN", min_length=1)


class OrderFailedConfig(HandlerConfig):
    orders_table_name: str = Field(alias="ORDERS_TABLE_NAME", min_length=1)


class CheckAvailabilityConfig(HandlerConfig):
    vendor_url: str = Field(alias="VENDOR_URL", min_length=1)
    vendor_timeout_seconds: float = Field(alias="VENDOR_TIMEOUT_SECONDS", default=3.0, gt=0, le=25)


class CircuitBreakerConfig(HandlerConfig):
    table_name: str = Field(alias="CIRCUIT_BREAKER_TABLE_NAME", min_length=1)
    enabled: bool = Field(alias="CIRCUIT_BREAKER_ENABLED", default=True)
    threshold: int = Field(alias="CIRCUIT_BREAKER_FAILURE_THRESHOLD", default=5, ge=1)
    window_seconds: int = Field(alias="CIRCUIT_BREAKER_WINDOW_SECONDS", default=60, ge=1)
    open_seconds: int = Field(alias="CIRCUIT_BREAKER_OPEN_SECONDS", default=60, ge=1)
    max_wait_seconds: int = Field(alias="CIRCUIT_BREAKER_MAX_WAIT_SECONDS", default=900, ge=0)

    def settings(self) -> BreakerSettings:
        return BreakerSettings(
            threshold=self.threshold, window_seconds=self.window_seconds, open_seconds=self.open_seconds
        )


# ------------------------------------------------------------------ settings several functions share
# Each is declared once, here; a function's settings class puts together the ones it reads.


class SlackEndpointSettings(HandlerConfig):
    """Where the Slack Web API answers (unset: slack.com; a local stand-in or a test's mock otherwise)."""

    slack_api_url: str | None = Field(alias="SLACK_API_URL", default=None)


class ChannelPaceSettings(HandlerConfig):
    """How fast the bot posts to one channel (``recovery_ops.service.recovery.storage.channel_pace``):
    Slack allows about one message a second per channel, with short bursts; a post whose turn is
    further away than the wait goes back to its caller to try later."""

    slack_posts_per_second: float = Field(alias="SLACK_POSTS_PER_SECOND", default=1.0, gt=0, le=10)
    slack_post_burst: int = Field(alias="SLACK_POST_BURST", default=3, ge=1, le=10)
    slack_post_max_wait_seconds: float = Field(alias="SLACK_POST_MAX_WAIT_SECONDS", default=10.0, ge=0, le=60)


class SlackBotSecretSettings(SlackEndpointSettings, ChannelPaceSettings):
    """A function that calls Slack as the bot: the Secrets Manager secret holding its token."""

    slack_bot_token_secret: str = Field(alias="SLACK_BOT_TOKEN_SECRET", min_length=1)


class SlackBotTokenSettings(SlackEndpointSettings):
    """A program on this machine that may call Slack as the bot: the token itself (unset: no Slack)."""

    slack_bot_token: str | None = Field(alias="SLACK_BOT_TOKEN", default=None, repr=False)


class DurableEndpointSettings(HandlerConfig):
    """Where Lambda's durable-execution API answers (the callbacks and the executions' history):
    unset on AWS (Lambda's own endpoint); the embedded stack's local durable host otherwise."""

    durable_endpoint_url: str | None = Field(alias="DURABLE_ENDPOINT_URL", default=None)


class RetentionSettings(HandlerConfig):
    """How long a closed recovery, its group and its trail are kept (DynamoDB's TTL removes them)."""

    retention_days: int = Field(alias="RECOVERY_RETENTION_DAYS", default=90, ge=1)


class RecoveriesTableSettings(RetentionSettings):
    """A function on the recoveries table."""

    recoveries_table_name: str = Field(alias="RECOVERIES_TABLE_NAME", min_length=1)
    #: the bucket of the recoveries' large inputs and causes (``storage.payloads``; unset: kept in the item)
    payloads_bucket: str | None = Field(alias="PAYLOADS_BUCKET", default=None)


class AuditEventBusSettings(HandlerConfig):
    """The EventBridge bus the audit events go to (unset: none are published; the chains are still
    sealed by the chronicle, which requires it)."""

    audit_event_bus_name: str | None = Field(alias="AUDIT_EVENT_BUS_NAME", default=None)


class StackChannelSettings(HandlerConfig):
    """The stack's channels: where a message goes that no routing rule places (a technical or
    client-data recovery to its team's channel when the stack has one, else to the default)."""

    default_channel: str = Field(alias="SLACK_DEFAULT_CHANNEL", default="")
    technical_channel: str | None = Field(alias="SLACK_TECHNICAL_CHANNEL", default=None)
    client_data_channel: str | None = Field(alias="SLACK_CLIENT_DATA_CHANNEL", default=None)


class PostingChannelSettings(StackChannelSettings):
    """A function that posts new messages: it cannot run without the default channel."""

    default_channel: str = Field(alias="SLACK_DEFAULT_CHANNEL", min_length=1)


class RoutingRulesSettings(HandlerConfig):
    """The SSM parameter of the routing rules document (unset: no rules)."""

    routing_rules_parameter: str | None = Field(alias="ROUTING_RULES_PARAMETER", default=None)


class RoutingSettings(RoutingRulesSettings, StackChannelSettings):
    """The routing rules over the stack's channels: where each recovery's message goes."""


class AllowedUsersSettings(HandlerConfig):
    """Who may act on recoveries: Slack user ids (separated by commas or spaces) and a user group."""

    allowed_user_ids: str = Field(alias="SLACK_ALLOWED_USER_IDS", default="")
    allowed_user_group: str | None = Field(alias="SLACK_ALLOWED_USER_GROUP", default=None)

    @property
    def allowed_users(self) -> frozenset[str]:
        return _user_ids(self.allowed_user_ids)


# ------------------------------------------------------------------ each function's settings
class CollectorConfig(
    RecoveriesTableSettings, SlackBotSecretSettings, PostingChannelSettings, RoutingSettings
):
    """The collector: the table it stores into, the bot that posts, the rules and channels that place
    each group's message (the default channel is required: ``PostingChannelSettings`` comes before
    ``RoutingSettings``, so its declaration wins), the DLQ for unreadable messages."""

    recovery_dlq_url: str = Field(alias="RECOVERY_DLQ_URL", min_length=1)
    group_window_seconds: int = Field(alias="RECOVERY_GROUP_WINDOW_SECONDS", default=600, ge=1)
    # how long a collector's claim on posting a group's message holds before another may take over
    posting_lease_seconds: float = Field(alias="RECOVERY_POSTING_LEASE_SECONDS", default=60, gt=0, le=900)


class ServicesSettings(RetentionSettings, SlackEndpointSettings, DurableEndpointSettings):
    """What the Slack app's services and the operator's command line share, with the same limits: the
    Slack endpoint, the input schemas, the pace of bulk actions and redrives, retention, the DLQs."""

    input_schemas_parameter: str | None = Field(alias="INPUT_SCHEMAS_PARAMETER", default=None)
    bulk_rate_per_second: float = Field(alias="BULK_RESUME_RATE_PER_SECOND", default=50.0, gt=0, le=500)
    # the dead-letter queues shown by `/recoveries dlq` (empty: left out); the recovery DLQ is
    # redriven to the recovery queue at this many messages a second (SQS allows 1 to 500)
    orders_dlq_url: str | None = Field(alias="ORDERS_DLQ_URL", default=None)
    recovery_dlq_url: str | None = Field(alias="RECOVERY_DLQ_URL", default=None)
    recovery_queue_url: str | None = Field(alias="RECOVERY_QUEUE_URL", default=None)
    dlq_redrive_rate_per_second: int = Field(alias="DLQ_REDRIVE_RATE_PER_SECOND", default=10, ge=1, le=500)


class ServicesConfig(ServicesSettings, RecoveriesTableSettings, RoutingRulesSettings, AllowedUsersSettings):
    """The services (``recovery_ops.service.composition.build_services``): where recoveries are, who may act,
    how
    fast bulk actions go. The routing rules give each rule's team the right to act on its recoveries,
    and its viewers to see them."""

    # who may see recoveries without acting on them (those who may act may always see)
    viewer_user_ids: str = Field(alias="SLACK_VIEWER_USER_IDS", default="")
    viewer_user_group: str | None = Field(alias="SLACK_VIEWER_USER_GROUP", default=None)
    membership_cache_seconds: int = Field(alias="SLACK_MEMBERSHIP_CACHE_SECONDS", default=300, ge=0)
    # the circuit breakers' table, whose circuits the Home tab shows (unset: the Home says there is none)
    circuit_breaker_table_name: str | None = Field(alias="CIRCUIT_BREAKER_TABLE_NAME", default=None)

    @property
    def viewer_users(self) -> frozenset[str]:
        return _user_ids(self.viewer_user_ids)


class OperatorSettings(ServicesSettings, SlackBotTokenSettings, ChannelPaceSettings, RoutingRulesSettings):
    """`recovery-ops` on a deployment (list, show, retry, reject, dlq), read once when it starts.

    The table and the queues may come from options or a stack's outputs instead (``--table``,
    ``--stack`` …), which win over these; an empty variable counts as unset. With a bot token the
    recoveries' Slack messages are updated too. The operator's AWS credentials are the access
    control (IAM), so there is no list of who may act.
    """

    # optional here, unlike every function's: an option or a stack's output may name the table
    recoveries_table_name: str | None = Field(alias="RECOVERIES_TABLE_NAME", default=None)
    #: where large inputs and causes are kept (the stack's output PayloadsBucketName, with --stack)
    payloads_bucket: str | None = Field(alias="PAYLOADS_BUCKET", default=None)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> OperatorSettings:
        """The settings in ``environ`` (default: this process's environment); a malformed or
        out-of-range value raises ``ConfigurationError`` naming the variable, on one line."""
        return _from_environment(cls, environ)

    def services_config(self) -> ServicesConfig:
        """The services' configuration on the recoveries table these settings name
        (``ConfigurationError`` without one)."""
        try:
            return ServicesConfig.model_validate(self.model_dump(exclude={"slack_bot_token"}))
        except ValidationError as exc:
            raise ConfigurationError(f"the recoveries table is not configured: {_problems(exc)}") from exc


class RoutesSettings(RoutingSettings):
    """`recovery-ops routes`, read once when the command starts: where the rules document is and
    the stack's channels that decide when no rule matches (``--stack`` reads both from the stack)."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> RoutesSettings:
        """As ``OperatorSettings.from_environment``: an empty variable counts as unset."""
        return _from_environment(cls, environ)


class ServeSettings(SlackBotTokenSettings, AllowedUsersSettings):
    """`recovery-ops serve [--local]` and `recovery-ops demo`: the Slack app on this machine, read
    once when the command starts (the services on a deployment reads its own ``ServicesConfig``)."""

    slack_signing_secret: str | None = Field(alias="SLACK_SIGNING_SECRET", default=None, repr=False)
    slack_app_token: str | None = Field(alias="SLACK_APP_TOKEN", default=None, repr=False)
    channel: str = Field(alias="SLACK_CHANNEL", default="recoveries", min_length=1)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ServeSettings:
        """As ``OperatorSettings.from_environment``: an empty variable counts as unset."""
        return _from_environment(cls, environ)


class TrySettings(ServeSettings):
    """`recovery-ops try`: where its Slack messages go (as ``serve --local``) and the editor that
    Edit input opens (unset: the edited input is read as one line from the terminal)."""

    editor: str | None = Field(alias="EDITOR", default=None)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> TrySettings:
        """As ``OperatorSettings.from_environment``: an empty variable counts as unset."""
        return _from_environment(cls, environ)


SettingsT = TypeVar("SettingsT", bound=HandlerConfig)


def _from_environment(cls: type[SettingsT], environ: Mapping[str, str] | None) -> SettingsT:
    given = os.environ if environ is None else environ
    try:
        return cls.model_validate({name: value for name, value in given.items() if value != ""})
    except ValidationError as exc:
        raise ConfigurationError(f"bad setting in the environment: {_problems(exc, quoted=True)}") from exc


def _user_ids(text: str) -> frozenset[str]:
    return frozenset(u.strip() for u in text.replace(" ", ",").split(",") if u.strip())


class SlackAppConfig(ServicesConfig, SlackBotSecretSettings):
    """The Slack app's Lambda function: its services, and where its Slack secrets are."""

    slack_signing_secret_secret: str = Field(alias="SLACK_SIGNING_SECRET_SECRET", min_length=1)


class CircuitWatcherConfig(RecoveriesTableSettings, SlackBotSecretSettings, RoutingSettings):
    outage_errors: str = Field(alias="CIRCUIT_OUTAGE_ERRORS", default="CircuitOpen")
    # self-healing: the state machine a closed circuit starts, after how long, and who may heal
    self_healing_state_machine_arn: str | None = Field(alias="SELF_HEALING_STATE_MACHINE_ARN", default=None)
    settle_seconds: int = Field(alias="SELF_HEALING_SETTLE_SECONDS", default=120, ge=0)
    heals_by_default: bool = Field(alias="SELF_HEALING_BY_DEFAULT", default=False)

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(e.strip() for e in self.outage_errors.split(",") if e.strip())


class SelfHealingConfig(CircuitWatcherConfig, DurableEndpointSettings):
    circuit_breaker_table_name: str = Field(alias="CIRCUIT_BREAKER_TABLE_NAME", min_length=1)
    resumes_per_second: float = Field(alias="SELF_HEALING_RESUMES_PER_SECOND", default=200, gt=0, le=500)
    round_seconds: int = Field(alias="SELF_HEALING_ROUND_SECONDS", default=120, ge=1)
    #: resumes a round runs at once (each waits on DynamoDB, Step Functions and Slack); at most the
    #: connections a boto3 client keeps (aws_clients)
    concurrency: int = Field(alias="SELF_HEALING_CONCURRENCY", default=32, ge=1, le=50)
    #: how long past its open period a circuit must be left unprobed before a recovery is resumed to probe it
    probe_grace_seconds: int = Field(alias="SELF_HEALING_PROBE_GRACE_SECONDS", default=60, ge=0)


class ExecutionWatcherConfig(
    RecoveriesTableSettings, SlackBotSecretSettings, PostingChannelSettings, DurableEndpointSettings
):
    handled_errors: str = Field(alias="HANDLED_FAILURE_ERRORS", default="")

    @property
    def handled_failure_errors(self) -> frozenset[str]:
        return frozenset(e.strip() for e in self.handled_errors.split(",") if e.strip())

    #: the durable functions whose executions' ends are kept (the rule hears the account's every one)
    watched_durable: str = Field(alias="WATCHED_DURABLE_FUNCTIONS", default="")

    @property
    def watched_durable_functions(self) -> frozenset[str]:
        return frozenset(name.strip() for name in self.watched_durable.split(",") if name.strip())


class ReconcilerConfig(
    RecoveriesTableSettings, SlackBotSecretSettings, AuditEventBusSettings, DurableEndpointSettings
):
    """The reconciler's function: the table it settles, the Slack messages it brings up to date, and
    the bus its parked audit events go to."""

    #: recoveries asked about per run: bounded work, the rest in the next minute's run
    budget: int = Field(alias="RECONCILER_BUDGET", default=200, ge=1, le=5000)
    #: the DLQ an approved redrive moves from (an approved request whose process died runs here)
    recovery_dlq_url: str | None = Field(alias="RECOVERY_DLQ_URL", default=None)
    recovery_queue_url: str | None = Field(alias="RECOVERY_QUEUE_URL", default=None)
    dlq_redrive_rate_per_second: int = Field(alias="DLQ_REDRIVE_RATE_PER_SECOND", default=10, ge=1, le=500)


class ChronicleConfig(RecoveriesTableSettings, AuditEventBusSettings):
    """The chronicle's function: the recoveries table's stream sealed into chains, events to the bus."""

    audit_event_bus_name: str = Field(alias="AUDIT_EVENT_BUS_NAME", min_length=1)


class ReminderConfig(RecoveriesTableSettings, SlackBotSecretSettings, RoutingSettings):
    """The reminders: the routing rules are read for their escalation ladders, the default channel
    for a level that names none."""

    remind_after_minutes: int = Field(alias="RECOVERY_REMINDER_AFTER_MINUTES", default=60, ge=1)


class DummyVendorConfig(HandlerConfig):
    behaviour_parameter: str = Field(alias="VENDOR_BEHAVIOUR_PARAMETER", min_length=1)


def load_config(model: type[ConfigT]) -> ConfigT:
    """Validate the current environment against ``model``; name every bad setting on failure."""
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as exc:
        raise ConfigurationError(f"{model.__name__} is not configured: {_problems(exc)}") from exc


def read_secret(name: str) -> str:
    """The secret ``name`` from Secrets Manager, through Powertools' cache (``SECRET_MAX_AGE_SECONDS``)."""
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_secret(name, max_age=SECRET_MAX_AGE_SECONDS))


def _problems(exc: ValidationError, quoted: bool = False) -> str:
    """Each bad setting: its variable and what is wrong (with ``quoted``, also the value given)."""
    return ", ".join(
        f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
        + (f" (got {e['input']!r})" if quoted and isinstance(e.get("input"), str) else "")
        for e in exc.errors()
    )
