"""What the listeners share once past the acknowledgement: who clicked, who may act, what to tell
the clicker, how a bulk action reports in its thread.

What is said comes from ``recovery_ops.slack_app.views``; it is sent through the response_url of the request
(``via_respond``) or by the notifier (``SlackNotifier``), the one caller of ``chat.*``: ephemeral in
a channel, or as a direct message for a click in the Home tab, which has neither a response_url
nor a channel (``DirectMessageRespond``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from slack_bolt import Respond
from slack_sdk import WebClient

from recovery_ops.service.composition import Services
from recovery_ops.service.observability import count_by, logger
from recovery_ops.service.recovery.access.authorization import AccessDecision, describe_failure
from recovery_ops.service.recovery.access.team_access import Selection
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, ActionResult
from recovery_ops.service.recovery.lifecycle.bulk import BulkReport, open_matching
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import MessageRef
from recovery_ops.service.recovery.storage.items import GROUP_PREFIX, RECOVERY_PREFIX
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryNotFoundError
from recovery_ops.slack_app.notifier import SlackNotifier
from recovery_ops.slack_app.runtime import seconds_left
from recovery_ops.slack_app.views.approvals import bulk_requests_text
from recovery_ops.slack_app.views.ephemeral import (
    action_result_text,
    denied_text,
    failure_report_text,
    view_denied_text,
)
from recovery_ops.slack_app.views.limits import message_text
from recovery_ops.slack_app.views.thread_replies import (
    bulk_finished_text,
    bulk_progress_text,
    bulk_started_text,
    bulk_summary,
)

Say = Callable[[str], object]  # what it returns is not used


def clicker(body: dict) -> str:
    """Who clicked a button or chose in a menu."""
    return body["user"]["id"]


def clicked_value(body: dict) -> str:
    """The value of the button that was clicked."""
    return body["actions"][0]["value"]


def via_respond(respond: Respond) -> Say:
    """Ephemeral replies through the request's response_url (buttons, slash commands)."""
    return lambda text: respond(text=message_text(text), response_type="ephemeral", replace_original=False)


class DirectMessageRespond:
    """Stands in for a request's ``respond`` when it has no response_url (a click in the Home tab):
    what would have been an ephemeral answer goes to the person as a direct message."""

    def __init__(self, client: WebClient, user: str) -> None:
        self._notifier = SlackNotifier(client)
        self._user = user

    def __call__(self, text: str = "", blocks: list | None = None, **_: object) -> None:
        self._notifier.tell_directly(self._user, text, blocks)


def via_ephemeral(client: WebClient, channel: str | None, user: str) -> Say:
    """Ephemeral replies in a channel (modal submissions have no response_url)."""
    notifier = SlackNotifier(client)
    return lambda text: notifier.reply_privately(channel, user, text)


@contextmanager
def reporting_failures(say: Say, what: str) -> Iterator[None]:
    """A failure (a DynamoDB or Slack outage) is told to the person, never swallowed: what failed
    and a reference to its log line, never the exception's text (it may hold URLs or data)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - reported to the person and logged with its trace
        reference = uuid.uuid4().hex[:12]
        logger.exception("slack action failed", action=what, reference=reference)
        count_by("SlackActionFailures", action=what)
        say(failure_report_text(what, describe_failure(exc), reference))


def decide(services: Services, user: str, target: str | None) -> AccessDecision:
    """May ``user`` act on ``target``: a recovery (its rule's team, or an admin); a group or a
    selection (None: anyone who may act on some recoveries, the action then takes only theirs);
    anything else, a failed execution's Redrive (the admins)."""
    if target is None or target.startswith(GROUP_PREFIX):
        return services.access.may_act_on_some(user)
    if target.startswith(RECOVERY_PREFIX):
        try:
            return services.access.may_act(user, services.store.get(target))
        except RecoveryNotFoundError:
            pass  # the action says it is gone; only an admin is told so
    return services.policy.check(user)


def denied(services: Services, user: str, target: str | None, action: str, say: Say) -> bool:
    """True (and the person told, the attempt audited) when ``user`` may not act on ``target``."""
    decision = decide(services, user, target)
    if decision.allowed:
        return False
    if target:
        services.actions.record_denied(target, user, action, decision.why)
    refuse(user, action, decision.why, say, target)
    return True


def actable(services: Services, user: str, where: ListFilter) -> Selection:
    """The open recoveries ``where`` selects that ``user`` may act on, and how many were left out."""
    return services.access.actable(user, open_matching(services.store, where))


def refuse(user: str, action: str, why: str, say: Say, target: str | None = None) -> None:
    """Tell ``user`` they may not ``action`` and why, counted and logged (the caller audits it)."""
    count_by("DeniedActions", action=action)
    logger.warning("action denied", user=user, action=action, target=target, why=why)
    say(denied_text(action, why))


def view_denied(
    services: Services,
    user: str,
    what: str,
    say: Say,
    record: Callable[[str], None],
    recovery: Recovery | None = None,
    some: bool = False,
) -> bool:
    """True (and the person told, the attempt audited by ``record(why)``) when ``user`` may not see
    ``what``: ``recovery`` (its rule's team and viewers, and the deployment's), some recoveries
    (``some``: the list, which then shows only theirs), else what only the deployment's admins and
    viewers see (the dead letters, an unknown recovery)."""
    if recovery is not None:
        decision = services.access.may_see(user, recovery)
    elif some:
        decision = services.access.may_see_some(user)
    else:
        decision = services.policy.check_view(user)
    if decision.allowed:
        return False
    record(decision.why)
    count_by("DeniedActions", action=f"view {what}")
    logger.warning("view denied", user=user, action=f"view {what}", why=decision.why)
    say(view_denied_text(what, decision.why))
    return True


def tell(result: ActionResult, say: Say, always: bool = False) -> None:
    """Explain any outcome that the updated message does not already show."""
    text = action_result_text(result, always)
    if text is not None:
        say(text)


def run_bulk(
    services: Services,
    client: WebClient,
    user: str,
    kind: str,
    ids: list[str],
    description: str,
    thread: MessageRef | None,
    say: Say,
    reason: str | None = None,
    left_out: int = 0,
) -> BulkReport:
    """Run a confirmed bulk action, reporting progress in ``thread`` or to the person."""
    notifier = SlackNotifier(client)

    def post(text: str) -> None:
        if thread is None:
            say(text)
        else:
            notifier.post_progress(thread, text)

    post(bulk_started_text(user, kind, len(ids), description, left_out))

    def progress(report: BulkReport) -> None:
        post(bulk_progress_text(report))

    if kind == "run_again":
        report = services.bulk.run_again(ids, user, on_progress=progress, seconds_left=seconds_left.get())
    else:
        report = services.bulk.reject(
            ids, user, reason, on_progress=progress, seconds_left=seconds_left.get()
        )
    post(bulk_finished_text(kind, report))
    if report.requests or report.refused:  # what a policy held back: the person is told where it waits
        say(bulk_requests_text(report.requests, report.refused))
    refresh_messages(services, notifier, report, bulk_summary(user, kind, report))
    return report


def refresh_messages(services: Services, notifier: SlackNotifier, report: BulkReport, summary: str) -> None:
    """After a bulk action: each group message that has nothing open left loses its buttons; a
    recovery with its own message shows its outcome."""
    groups: set[str] = set()
    shared: dict[str, bool] = {}  # one group lookup per group, not per recovery
    for result in report.results:
        recovery = result.recovery
        if (
            recovery is None
            or not recovery.status.is_closed
            or result.outcome is ActionOutcome.ALREADY_HANDLED
        ):
            continue
        group_id = recovery.group_id or ""
        if group_id not in shared:
            shared[group_id] = services.groups.shares_message(recovery)
        if shared[group_id]:
            groups.add(group_id)
            # its group message and thread (the bulk summary) show it: not one reply per recovery
            services.store.clear_display_stale(recovery.recovery_id, recovery.status)
        else:
            services.actions.show(recovery)
    for group_id in groups:
        group = services.groups.get(group_id)
        if group is None or not group.channel or not group.ts:
            continue
        if services.store.list_by_status(RecoveryStatus.OPEN, ListFilter(group_id=group_id), limit=1):
            continue  # something is still open: the buttons stay
        notifier.close_group(group, summary)
