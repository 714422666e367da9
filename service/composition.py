"""The composition root: the one place the recovery core is wired to a deployment, from the typed
settings of ``recovery_ops.service.config``.

- ``build_services``: the services behind the Slack app, for its Lambda function and ``serve``, the
  operator's command line, the demo and ``serve --local``. Built on the first request that needs it
  (not at import: the acknowledgement path of a click loads nothing but Bolt), then reused by every
  warm invocation (``Lazy``).
- ``build_intake``, ``build_circuit_news``, ``build_catch``, ``build_reconciler``,
  ``build_reminders``, ``build_self_healing``: what each Lambda function of ``service/handlers``
  runs, built per invocation from the settings it has just read. The clients they are given are
  cached per process (``recovery_ops.service.aws_clients``), and so are the routing rules (``rules_source``)
  and
  the secrets (``recovery_ops.service.config.read_secret``: Powertools' cache, ``SECRET_MAX_AGE_SECONDS``).
- The parts they share: ``slack_bot``, ``recovery_store`` (with ``payloads``), ``group_store``,
  ``routing_rules``, ``dead_letter_queues``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient

from recovery_ops.service import aws_clients
from recovery_ops.service.breaker.circuit_board import CircuitBoard
from recovery_ops.service.config import (
    ChannelPaceSettings,
    ChronicleConfig,
    CircuitWatcherConfig,
    CollectorConfig,
    DurableEndpointSettings,
    ExecutionWatcherConfig,
    ReconcilerConfig,
    RecoveriesTableSettings,
    ReminderConfig,
    RoutingSettings,
    SelfHealingConfig,
    ServicesConfig,
    ServicesSettings,
    SlackBotSecretSettings,
    read_secret,
)
from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import RoutingRules, RoutingRulesSource
from recovery_ops.service.recovery.access.rules_parameter import rules_source
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.chronicle.publisher import Publisher
from recovery_ops.service.recovery.chronicle.sealer import Sealer
from recovery_ops.service.recovery.dead_letters.audit import DeadLetterAudit
from recovery_ops.service.recovery.dead_letters.queues import DeadLetterQueues, standard_queues
from recovery_ops.service.recovery.durable.callbacks import DurableCallbacks
from recovery_ops.service.recovery.durable.history import DurableHistory
from recovery_ops.service.recovery.eventbridge.bus import EventBridgeBus
from recovery_ops.service.recovery.failed_executions.failures import FailureStore, Redrive
from recovery_ops.service.recovery.healing.circuit_news import CircuitNews
from recovery_ops.service.recovery.healing.ramp import RampSettings
from recovery_ops.service.recovery.healing.runs import HealingRuns
from recovery_ops.service.recovery.healing.self_healing import Pace, SelfHealing
from recovery_ops.service.recovery.healing.workers import ThreadWorkers
from recovery_ops.service.recovery.intake.collect import RecoveryIntake
from recovery_ops.service.recovery.intake.unreadable import DynamoNoticeClaims, UnreadableNotices
from recovery_ops.service.recovery.lifecycle.actions import RecoveryActions
from recovery_ops.service.recovery.lifecycle.approvals import ApprovalDisplay, Approvals, PolicyGate
from recovery_ops.service.recovery.lifecycle.bulk import BulkAction
from recovery_ops.service.recovery.lifecycle.escalation import Escalations
from recovery_ops.service.recovery.lifecycle.execution_end import OutermostCatch
from recovery_ops.service.recovery.lifecycle.ownership import Owners
from recovery_ops.service.recovery.lifecycle.reconciler import Reconciler
from recovery_ops.service.recovery.lifecycle.redrive_approvals import RedriveApprovals, redrive_runner
from recovery_ops.service.recovery.lifecycle.reminders import Reminders
from recovery_ops.service.recovery.model.approval import ApprovalRequest, Gated
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.input_edit import SchemaCatalog
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.ports.execution_record import ExecutionRecordsByKind
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.service.recovery.ports.task_tokens import TaskTokensByKind
from recovery_ops.service.recovery.stepfunctions.history import StepFunctionsHistory
from recovery_ops.service.recovery.stepfunctions.tokens import StepFunctionsTokens
from recovery_ops.service.recovery.storage.approvals import ApprovalStore
from recovery_ops.service.recovery.storage.audit import AuditItems
from recovery_ops.service.recovery.storage.audit_chain import ChainItems
from recovery_ops.service.recovery.storage.channel_pace import DynamoChannelPace
from recovery_ops.service.recovery.storage.groups import GroupStore
from recovery_ops.service.recovery.storage.outbox import OutboxItems
from recovery_ops.service.recovery.storage.payloads import S3Payloads
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from recovery_ops.slack_app.notifier import (
    SlackApprovalDisplay,
    SlackFailureDisplay,
    SlackHealingDisplay,
    SlackNotifier,
    SlackOutcomeDisplay,
    SlackThreadPoster,
    web_client,
)

#: a boto3 client by service name: ``recovery_ops.service.aws_clients.client``, or an embedded stack's
#: ``client``
ClientFactory = Callable[[str], Any]


# ------------------------------------------------------------------ the parts


def slack_bot(config: SlackBotSecretSettings, clients: ClientFactory | None = None) -> WebClient:
    """The bot's Web API client, with the token of the secret ``config`` names; its posts keep to
    each channel's pace on the recoveries table when ``config`` names one and ``clients`` are given."""
    return web_client(
        read_secret(config.slack_bot_token_secret),
        base_url=config.slack_api_url,
        pace=channel_pace(config, clients("dynamodb")) if clients is not None else None,
    )


def channel_pace(config: Any, dynamodb: Any) -> DynamoChannelPace | None:
    """The channels' pace on the recoveries table ``config`` names (None: it names none)."""
    table = getattr(config, "recoveries_table_name", None)
    if not table or not isinstance(config, ChannelPaceSettings):
        return None
    return DynamoChannelPace(
        table,
        dynamodb,
        per_second=config.slack_posts_per_second,
        burst=config.slack_post_burst,
        max_wait_seconds=config.slack_post_max_wait_seconds,
    )


def recovery_store(
    config: RecoveriesTableSettings, dynamodb: Any, clients: ClientFactory | None = None
) -> RecoveryStore:
    """The recoveries on ``config``'s table; their large inputs and causes in its payloads bucket
    when it names one and ``clients`` are given (else in the items, as before)."""
    return RecoveryStore(
        config.recoveries_table_name, dynamodb, config.retention_days, payloads(config, clients)
    )


def payloads(config: RecoveriesTableSettings, clients: ClientFactory | None) -> S3Payloads | None:
    """Where the recoveries' large values are kept: ``PAYLOADS_BUCKET`` (None: unset, all inline).
    The S3 client is made on the first large value, not on a cold start."""
    if not config.payloads_bucket or clients is None:
        return None
    return S3Payloads(config.payloads_bucket, lambda: clients("s3"))


def group_store(config: RecoveriesTableSettings, dynamodb: Any) -> GroupStore:
    return GroupStore(config.recoveries_table_name, dynamodb, config.retention_days * 86400)


def routing_rules(config: RoutingSettings) -> RoutingRulesSource:
    """The routing rules of ``ROUTING_RULES_PARAMETER`` over the stack's channels: one source per
    warm function, so the last good document outlives a refused one."""
    fallback = ChannelRouting(
        default=config.default_channel,
        technical=config.technical_channel,
        client_data=config.client_data_channel,
    )
    return rules_source(config.routing_rules_parameter, fallback)


def _redrive(config: RecoveriesTableSettings, dynamodb: Any, sfn: Any, slack: WebClient) -> Redrive:
    """Redrive of failed executions; its display only updates their messages (no channel)."""
    return Redrive(
        FailureStore(config.recoveries_table_name, dynamodb, config.retention_days),
        sfn,
        SlackFailureDisplay(SlackNotifier(slack), slack, channel=""),
    )


# ------------------------------------------------------------------ the services


@dataclass
class Services:
    store: RecoveryStore
    groups: GroupStore
    actions: RecoveryActions
    bulk: BulkAction
    policy: AccessPolicy
    schemas: SchemaCatalog
    audit: AuditItems  # trails that belong to no recovery (denied looks at the list)
    access: TeamAccess  # who may act on and see each recovery: its rule's team, over the admins
    owners: Owners
    runs: HealingRuns  # self-healing runs, for Stop on a group message
    redrive: Redrive | None = None
    reconciler: Reconciler | None = None  # settles an in-flight recovery from Step Functions' record
    dead_letters: DeadLetterQueues | None = None  # `/recoveries dlq`; None: no DLQ configured
    circuits: CircuitBoard | None = None  # the Home tab's circuit breakers; None: no breaker table
    #: four eyes: the rules' approval policies, requests and their decisions (None: built without)
    approvals: Approvals | None = None


def build_services(
    config: ServicesConfig,
    clients: ClientFactory,
    slack: WebClient | None,
    *,
    open_to_everyone: bool = False,
) -> Services:
    """The services on ``config``'s deployment: the one place it is put together, for the Slack app's
    function and ``serve``, the operator's command line, the demo and ``serve --local``.

    ``clients`` gives a boto3 client by service name (``recovery_ops.service.aws_clients.client``, or an
    embedded stack's ``client``); the SQS client is asked for only when a DLQ is configured.
    Without ``slack`` (the command line without a bot token) outcomes are not shown in Slack and
    there is no Redrive of failed executions (it updates their Slack messages).
    """
    table, days = config.recoveries_table_name, config.retention_days
    dynamodb, sfn = clients("dynamodb"), clients("stepfunctions")
    store, groups = recovery_store(config, dynamodb, clients), group_store(config, dynamodb)
    display = SlackOutcomeDisplay(slack, grouped=groups.shares_message) if slack is not None else None
    policy = AccessPolicy(
        allowed_users=config.allowed_users,
        allowed_group=config.allowed_user_group or None,
        group_members=lambda group: _group_members(slack, group),
        cache_seconds=config.membership_cache_seconds,
        everyone=open_to_everyone,
        viewer_users=config.viewer_users,
        viewer_group=config.viewer_user_group or None,
    )
    # only the rules' teams and viewers are read here: the channel was chosen when it was posted
    rules = rules_source(config.routing_rules_parameter, ChannelRouting(default=""))
    access = TeamAccess(policy, rules.rules)
    gate = PolicyGate(access)
    approval_store = ApprovalStore(table, dynamodb, days)
    reconciler = Reconciler(store, execution_records(config, clients), display)
    actions = RecoveryActions(store, task_tokens(config, clients), display, settler=reconciler, gate=gate)
    approvals = Approvals(
        approval_store,
        store,
        gate,
        actions,
        display=approval_display(slack, groups.shares_message, access.rules, approval_store),
    )
    reconciler.approvals = approvals
    redrive = None if slack is None else _redrive(config, dynamodb, sfn, slack)
    dead_letters = dead_letter_queues(config, clients, audit_table=table)
    # without Slack (the command line) an approved Redrive still runs; its message is not updated
    gate_redrives(approvals, redrive or Redrive(FailureStore(table, dynamodb, days), sfn), dead_letters)
    return Services(
        store=store,
        groups=groups,
        actions=actions,
        bulk=BulkAction(actions, rate_per_second=config.bulk_rate_per_second, approvals=approvals),
        policy=policy,
        access=access,
        approvals=approvals,
        owners=Owners(store, dynamodb),
        runs=HealingRuns(table, dynamodb, days * 86400),
        reconciler=reconciler,
        schemas=SchemaCatalog(lambda: _input_schemas(config.input_schemas_parameter)),
        audit=AuditItems(table, dynamodb, days),
        redrive=redrive,
        dead_letters=dead_letters,
        circuits=CircuitBoard(config.circuit_breaker_table_name, dynamodb)
        if config.circuit_breaker_table_name
        else None,
    )


def slack_client(
    token: str | None, api_url: str | None = None, pace: DynamoChannelPace | None = None
) -> WebClient | None:
    """The Slack Web API client on ``token`` (its retries and short timeouts, its posts kept to the
    channels' ``pace``), None without one: what the command line passes to ``build_services``."""
    if not token:
        return None
    from recovery_ops.slack_app.web import web_client

    return web_client(token, base_url=api_url, pace=pace)


def dead_letter_queues(
    config: ServicesSettings, clients: ClientFactory, audit_table: str | None
) -> DeadLetterQueues | None:
    """The DLQs ``config`` names (None: none), redriven at its rate; redrives are audited on
    ``audit_table`` when there is one (the command line may have no table)."""
    queues = standard_queues(config.orders_dlq_url, config.recovery_dlq_url, config.recovery_queue_url)
    if not queues:
        return None
    audit = DeadLetterAudit(audit_table, clients("dynamodb"), config.retention_days) if audit_table else None
    return DeadLetterQueues(
        clients("sqs"), queues, rate_per_second=config.dlq_redrive_rate_per_second, audit=audit
    )


# ------------------------------------------------------------------ each Lambda function's work
def build_intake(config: CollectorConfig, clients: ClientFactory, slack: WebClient) -> RecoveryIntake:
    """The collector's: each recovery stored once, each group's message posted where the rules say."""
    dynamodb = clients("dynamodb")
    return RecoveryIntake(
        store=recovery_store(config, dynamodb, clients),
        groups=group_store(config, dynamodb),
        notifier=SlackNotifier(slack),
        routes=routing_rules(config),
        group_window_seconds=config.group_window_seconds,
        posting_lease_seconds=config.posting_lease_seconds,
    )


def unreadable_notices(
    config: CollectorConfig, clients: ClientFactory, intake: RecoveryIntake
) -> UnreadableNotices:
    """The collector's notices of unreadable messages, to the stack's technical channel, once each."""
    return UnreadableNotices(
        claims=DynamoNoticeClaims(config.recoveries_table_name, clients("dynamodb"), config.retention_days),
        notifier=intake.notifier,
        channel=intake.routes.fallback.channel_for(Routing.TECHNICAL),
    )


def build_circuit_news(config: CircuitWatcherConfig, clients: ClientFactory, slack: WebClient) -> CircuitNews:
    """The circuit watcher's: a closed circuit's news on the group messages its outage left."""
    dynamodb = clients("dynamodb")
    return CircuitNews(
        store=recovery_store(config, dynamodb, clients),
        groups=group_store(config, dynamodb),
        notifier=SlackNotifier(slack),
        outage_errors=config.errors,
    )


def build_catch(config: ExecutionWatcherConfig, clients: ClientFactory, slack: WebClient) -> OutermostCatch:
    """The execution watcher's: an ended execution's recoveries closed, its failure posted."""
    dynamodb = clients("dynamodb")
    store = recovery_store(config, dynamodb, clients)
    display = SlackOutcomeDisplay(slack, group_store(config, dynamodb).shares_message)
    return OutermostCatch(
        store=store,
        failures=FailureStore(config.recoveries_table_name, dynamodb, config.retention_days),
        recovery_display=display,
        reconciler=Reconciler(store, execution_records(config, clients), display),
        failure_display=SlackFailureDisplay(
            SlackNotifier(slack), slack, config.technical_channel or config.default_channel
        ),
        handled_errors=config.handled_failure_errors,
    )


def build_reconciler(config: ReconcilerConfig, clients: ClientFactory, slack: WebClient) -> Reconciler:
    """The reconciler's: in-flight recoveries and Redrive claims settled, stale messages updated,
    approval requests expired, approved runs whose process is gone run."""
    dynamodb, sfn = clients("dynamodb"), clients("stepfunctions")
    store = recovery_store(config, dynamodb, clients)
    shares_message = group_store(config, dynamodb).shares_message
    display = SlackOutcomeDisplay(slack, shares_message)
    redrive = _redrive(config, dynamodb, sfn, slack)
    reconciler = Reconciler(
        store=store,
        records=execution_records(config, clients),
        display=display,
        budget=config.budget,
        redrives=redrive,
        outbox=audit_publisher(config, clients),
    )
    # what was approved runs with its approval (no policy is read); expiry reads none either
    no_rules = PolicyGate(TeamAccess(AccessPolicy(), lambda: RoutingRules((), ChannelRouting(default=""))))
    actions = RecoveryActions(store, task_tokens(config, clients), display, settler=reconciler)
    approval_store = ApprovalStore(config.recoveries_table_name, dynamodb, config.retention_days)
    reconciler.approvals = Approvals(
        approval_store,
        store,
        no_rules,
        actions,
        display=approval_display(slack, shares_message, store=approval_store),
        # an approved Redrive or DLQ redrive whose process is gone runs here (a Redrive's claim, a
        # move task's listing keep each once)
        runners={Gated.REDRIVE: redrive_runner(redrive)},
    )
    queues = standard_queues(None, config.recovery_dlq_url, config.recovery_queue_url)
    if queues:
        dead_letters = DeadLetterQueues(
            clients("sqs"),
            queues,
            rate_per_second=config.dlq_redrive_rate_per_second,
            audit=DeadLetterAudit(config.recoveries_table_name, dynamodb, config.retention_days),
        )
        reconciler.approvals.runners[Gated.DLQ_REDRIVE] = dead_letters.run_approved
    return reconciler


def audit_publisher(config: ReconcilerConfig | ChronicleConfig, clients: ClientFactory) -> Publisher | None:
    """The audit events' publisher on ``config``'s bus, parking in its recoveries table (None: no
    bus configured)."""
    if not config.audit_event_bus_name:
        return None
    bus = EventBridgeBus(clients("events"), config.audit_event_bus_name)
    outbox = OutboxItems(config.recoveries_table_name, clients("dynamodb"), config.retention_days)
    return Publisher(bus, outbox)


def build_chronicle(config: ChronicleConfig, clients: ClientFactory) -> Sealer:
    """The chronicle's: each new audit entry sealed in its item's chain and published."""
    publisher = audit_publisher(config, clients)
    assert publisher is not None  # the chronicle's settings require the bus
    return Sealer(
        ChainItems(config.recoveries_table_name, clients("dynamodb")),
        publisher,
        retention=timedelta(days=config.retention_days),
    )


def build_reminders(
    config: ReminderConfig, clients: ClientFactory, slack: WebClient
) -> tuple[Reminders, Escalations]:
    """The reminders function's: reminders in the threads, and the rules' escalation ladders."""
    dynamodb = clients("dynamodb")
    store = recovery_store(config, dynamodb, clients)
    poster = SlackThreadPoster(slack)
    reminders = Reminders(
        store=store,
        dynamodb=dynamodb,
        sfn=clients("stepfunctions"),
        poster=poster,
        after=timedelta(minutes=config.remind_after_minutes),
    )
    rules = routing_rules(config).rules
    return reminders, Escalations(store=store, dynamodb=dynamodb, rules=rules, poster=poster)


def circuit_board(config: SelfHealingConfig, clients: ClientFactory) -> CircuitBoard:
    return CircuitBoard(config.circuit_breaker_table_name, clients("dynamodb"))


def build_self_healing(config: SelfHealingConfig, clients: ClientFactory, slack: WebClient) -> SelfHealing:
    """The self-healing function's: a closed circuit's recoveries resumed at a pace that ramps up to
    the ceiling (the rule's, else ``SelfHealingResumesPerSecond``), round by round."""
    dynamodb = clients("dynamodb")
    store, groups = recovery_store(config, dynamodb, clients), group_store(config, dynamodb)
    display = SlackOutcomeDisplay(slack, groups.shares_message)
    reconciler = Reconciler(store, execution_records(config, clients), display)
    rules = routing_rules(config)
    gate = PolicyGate(TeamAccess(AccessPolicy(), rules.rules))  # a policy holds self-healing too
    actions = RecoveryActions(
        store, task_tokens(config, clients), display=display, settler=reconciler, gate=gate
    )
    # what a policy holds back is asked for: its approvers are the policy's, no admin list is needed
    approvals = Approvals(
        ApprovalStore(config.recoveries_table_name, dynamodb, config.retention_days),
        store,
        gate,
        actions,
        display=approval_display(slack),
    )
    return SelfHealing(
        store=store,
        groups=groups,
        runs=HealingRuns(config.recoveries_table_name, dynamodb, config.retention_days * 86400),
        actions=actions,
        circuits=circuit_board(config, clients),
        rules=rules.rules,
        outage_errors=config.errors,
        heals_by_default=config.heals_by_default,
        display=SlackHealingDisplay(slack),
        pace=Pace(config.resumes_per_second),
        reconciler=reconciler,
        ramp=RampSettings(),
        workers=ThreadWorkers(config.concurrency),
        approvals=approvals,
    )


# ------------------------------------------------------------------ durable functions' ports
def task_tokens(config: DurableEndpointSettings, clients: ClientFactory) -> TaskTokensByKind:
    """The task-token port by kind of pause: Step Functions' task tokens, durable functions' callbacks."""
    return TaskTokensByKind(StepFunctionsTokens(clients("stepfunctions")), durable_callbacks(config, clients))


def execution_records(config: DurableEndpointSettings, clients: ClientFactory) -> ExecutionRecordsByKind:
    """The execution-record port by kind of pause: Step Functions' histories, durable executions'."""
    return ExecutionRecordsByKind(
        StepFunctionsHistory(clients("stepfunctions")), durable_history(config, clients)
    )


def durable_callbacks(config: DurableEndpointSettings, clients: ClientFactory) -> DurableCallbacks:
    """The task-token port of durable functions' recoveries (SendDurableExecutionCallback*)."""
    return DurableCallbacks(durable_lambda(config, clients))


def durable_history(config: DurableEndpointSettings, clients: ClientFactory) -> DurableHistory:
    """The execution-record port of durable functions' recoveries (GetDurableExecution, its history)."""
    return DurableHistory(durable_lambda(config, clients))


def durable_lambda(config: DurableEndpointSettings, clients: ClientFactory) -> Any:
    """The Lambda client of the durable-execution API, made on its first call (a durable recovery),
    not when the services are built: at ``DURABLE_ENDPOINT_URL`` when set (the embedded stack's
    durable host), else the deployment's own Lambda client from ``clients``."""
    endpoint = config.durable_endpoint_url
    if endpoint:
        return ClientOnFirstUse(lambda: aws_clients.client("lambda", endpoint_url=endpoint))
    return ClientOnFirstUse(lambda: clients("lambda"))


class ClientOnFirstUse:
    """A boto3 client made when one of its operations is first asked for (``make`` is cached and
    locked: threads that ask at once get one client)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


# ------------------------------------------------------------------ helpers
def gate_redrives(approvals: Approvals, redrive: Redrive, dead_letters: DeadLetterQueues | None) -> None:
    """Redrive and the DLQ redrive ask the rules' approval policies before acting (a covered one
    becomes a request), and an approved one runs through them (``lifecycle/redrive_approvals.py``).
    A DLQ redrive is gated only with its audit item on the table the requests are on (its trail
    holds their steps)."""
    gate = RedriveApprovals(approvals)
    redrive.gate = gate
    approvals.runners[Gated.REDRIVE] = redrive_runner(redrive)
    if dead_letters is not None and dead_letters.audit is not None:
        dead_letters.gate = gate
        approvals.runners[Gated.DLQ_REDRIVE] = dead_letters.run_approved


def approval_display(
    slack: WebClient | None,
    grouped: Callable[[Recovery], bool] | None = None,
    rules: Callable[[], RoutingRules] | None = None,
    store: ApprovalStore | None = None,
) -> ApprovalDisplay | None:
    """Where approval requests are shown and approvers told (None: no Slack, e.g. the command line
    without a bot token): on a recovery's message (``grouped``: one that shares a group message gets
    its request in that message's thread), a bulk request in its rule's channel (read from
    ``rules``; its recoveries' channel without them), its place kept in ``store``."""
    if slack is None:
        return None

    def channel_of(request: ApprovalRequest) -> str | None:
        if rules is None or request.rule is None:
            return None
        return next((rule.channel for rule in rules().rules if rule.name == request.rule), None)

    return SlackApprovalDisplay(
        slack,
        grouped=grouped or (lambda _: False),
        channel_of=channel_of,
        posted=store.mark_posted if store is not None else None,
    )


def _input_schemas(parameter: str | None) -> dict:
    if not parameter:
        return {}
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_parameter(parameter, transform="json", max_age=300) or {}


def _group_members(client: WebClient | None, group: str) -> set[str]:
    if client is None:
        raise LookupError(f"no Slack client to read the members of {group}")
    return set(client.usergroups_users_list(usergroup=group)["users"])


class Lazy:
    """A value built once, on first use, by one thread."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._value: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
        return self._value
