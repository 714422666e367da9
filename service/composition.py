"""The support desk behind the Slack app: the recovery core wired to one deployment.

Built on the first request that needs it (not at import: the acknowledgement path of a click
loads nothing but Bolt), then reused by every warm invocation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient

from service.breaker.circuit_board import CircuitBoard
from service.config import DeskConfig, DeskSettings
from service.recovery.access.authorization import AccessPolicy
from service.recovery.access.rules_parameter import rules_source
from service.recovery.access.team_access import TeamAccess
from service.recovery.dead_letters.audit import DeadLetterAudit
from service.recovery.dead_letters.queues import DeadLetterQueues, standard_queues
from service.recovery.failed_executions.failures import FailureStore, Redrive
from service.recovery.healing.runs import HealingRuns
from service.recovery.lifecycle.actions import RecoveryActions
from service.recovery.lifecycle.bulk import BulkAction
from service.recovery.lifecycle.ownership import Owners
from service.recovery.lifecycle.reconciler import Reconciler
from service.recovery.model.input_edit import SchemaCatalog
from service.recovery.ports.notifier import ChannelRouting
from service.recovery.stepfunctions.history import StepFunctionsHistory
from service.recovery.stepfunctions.tokens import StepFunctionsTokens
from service.recovery.storage.audit import AuditItems
from service.recovery.storage.groups import GroupStore
from service.recovery.storage.recoveries import RecoveryStore
from slack_app.notifier import SlackFailureDisplay, SlackNotifier, SlackOutcomeDisplay

#: a boto3 client by service name: ``service.aws_clients.client``, or an embedded stack's ``client``
ClientFactory = Callable[[str], Any]


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


def build_services(
    config: DeskConfig,
    clients: ClientFactory,
    slack: WebClient | None,
    *,
    open_to_everyone: bool = False,
) -> Services:
    """The desk on ``config``'s deployment: the one place it is put together, for the Slack app's
    function and ``serve``, the operator's command line, the demo and ``serve --local``.

    ``clients`` gives a boto3 client by service name (``service.aws_clients.client``, or an
    embedded stack's ``client``); the SQS client is asked for only when a DLQ is configured.
    Without ``slack`` (the command line without a bot token) outcomes are not shown in Slack and
    there is no Redrive of failed executions (it updates their Slack messages).
    """
    table, days = config.recoveries_table_name, config.retention_days
    dynamodb, sfn = clients("dynamodb"), clients("stepfunctions")
    store = RecoveryStore(table, dynamodb, days)
    groups = GroupStore(table, dynamodb, days * 86400)
    display = SlackOutcomeDisplay(slack, grouped=groups.shares_message) if slack is not None else None
    reconciler = Reconciler(store, StepFunctionsHistory(sfn), display)
    actions = RecoveryActions(store, StepFunctionsTokens(sfn), display, settler=reconciler)
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
    return Services(
        store=store,
        groups=groups,
        actions=actions,
        bulk=BulkAction(actions, rate_per_second=config.bulk_rate_per_second),
        policy=policy,
        access=TeamAccess(policy, rules.rules),
        owners=Owners(store, dynamodb),
        runs=HealingRuns(table, dynamodb, days * 86400),
        reconciler=reconciler,
        schemas=SchemaCatalog(lambda: _input_schemas(config.input_schemas_parameter)),
        audit=AuditItems(table, dynamodb, days),
        redrive=None
        if slack is None
        else Redrive(
            FailureStore(table, dynamodb, days),
            sfn,
            SlackFailureDisplay(SlackNotifier(slack), slack, channel=""),  # only updates messages
        ),
        dead_letters=dead_letter_queues(config, clients, audit_table=table),
        circuits=CircuitBoard(config.circuit_breaker_table_name, dynamodb)
        if config.circuit_breaker_table_name
        else None,
    )


def slack_client(token: str | None, api_url: str | None = None) -> WebClient | None:
    """The Slack Web API client on ``token`` (its retries and short timeouts), None without one:
    what the command line passes to ``build_services``."""
    if not token:
        return None
    from slack_app.web import web_client

    return web_client(token, base_url=api_url)


def dead_letter_queues(
    config: DeskSettings, clients: ClientFactory, audit_table: str | None
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
