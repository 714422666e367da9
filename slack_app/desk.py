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

from service.recovery.actions import RecoveryActions
from service.recovery.audit_items import AuditItems
from service.recovery.authorization import AccessPolicy
from service.recovery.bulk import BulkAction
from service.recovery.dead_letter_audit import DeadLetterAudit
from service.recovery.dead_letter_queues import DeadLetterQueues, standard_queues
from service.recovery.failures import FailureStore, Redrive
from service.recovery.groups import GroupStore
from service.recovery.input_edit import SchemaCatalog
from service.recovery.step_functions_tokens import StepFunctionsTokens
from service.recovery.store import RecoveryStore
from slack_app.notifier import SlackFailureDisplay, SlackNotifier, SlackOutcomeDisplay


@dataclass
class Desk:
    store: RecoveryStore
    groups: GroupStore
    actions: RecoveryActions
    bulk: BulkAction
    policy: AccessPolicy
    schemas: SchemaCatalog
    audit: AuditItems  # trails that belong to no recovery (denied looks at the list)
    redrive: Redrive | None = None
    dead_letters: DeadLetterQueues | None = None  # `/recoveries dlq`; None: no DLQ configured


def build_desk(
    *,
    table_name: str,
    dynamodb: Any,
    sfn: Any,
    client: WebClient,
    allowed_users: frozenset[str],
    allowed_group: str | None,
    load_schemas: Callable[[], dict],
    viewer_users: frozenset[str] = frozenset(),
    viewer_group: str | None = None,
    membership_cache_seconds: float = 300,
    bulk_rate_per_second: float = 50.0,
    retention_days: int = 90,
    open_to_everyone: bool = False,
    sqs: Any = None,
    orders_dlq_url: str | None = None,
    recovery_dlq_url: str | None = None,
    recovery_queue_url: str | None = None,
    dlq_redrive_rate_per_second: int = 10,
) -> Desk:
    store = RecoveryStore(table_name, dynamodb, retention_days)
    groups = GroupStore(table_name, dynamodb, retention_days * 86400)
    display = SlackOutcomeDisplay(client, grouped=groups.shares_message)
    actions = RecoveryActions(store, StepFunctionsTokens(sfn), display)
    desk = Desk(
        store=store,
        groups=groups,
        actions=actions,
        bulk=BulkAction(actions, rate_per_second=bulk_rate_per_second),
        policy=AccessPolicy(
            allowed_users=allowed_users,
            allowed_group=allowed_group or None,
            group_members=lambda group: _group_members(client, group),
            cache_seconds=membership_cache_seconds,
            everyone=open_to_everyone,
            viewer_users=viewer_users,
            viewer_group=viewer_group or None,
        ),
        schemas=SchemaCatalog(load_schemas),
        audit=AuditItems(table_name, dynamodb, retention_days),
        redrive=Redrive(
            FailureStore(table_name, dynamodb, retention_days),
            sfn,
            SlackFailureDisplay(SlackNotifier(client), client, channel=""),  # only updates messages
        ),
    )
    queues = standard_queues(orders_dlq_url, recovery_dlq_url, recovery_queue_url)
    if sqs is not None and queues:
        desk.dead_letters = DeadLetterQueues(
            sqs,
            queues,
            rate_per_second=dlq_redrive_rate_per_second,
            audit=DeadLetterAudit(table_name, dynamodb, retention_days),
        )
    return desk


def _group_members(client: WebClient, group: str) -> set[str]:
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
