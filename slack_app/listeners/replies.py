"""What the listeners share once past the acknowledgement: who may act, what to tell the clicker,
how a bulk action reports in its thread. Imported by the lazy halves only."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.models.blocks import HeaderBlock, PlainTextObject, SectionBlock

from service.observability import count_by, logger
from service.recovery.actions import ActionOutcome, ActionResult
from service.recovery.authorization import describe_failure
from service.recovery.bulk import BulkReport
from service.recovery.groups import GroupState
from service.recovery.recovery import RecoveryStatus
from service.recovery.store import ListFilter
from slack_app.blocks import who
from slack_app.desk import Desk
from slack_app.escaping import code, escape, mrkdwn, one_line, plain, truncate
from slack_app.runtime import seconds_left

Say = Callable[[str], None]


def via_respond(respond: Any) -> Say:
    """Ephemeral replies through the request's response_url (buttons, slash commands)."""
    return lambda text: respond(text=text, response_type="ephemeral", replace_original=False)


def via_ephemeral(client: WebClient, channel: str | None, user: str) -> Say:
    """Ephemeral replies in a channel (modal submissions have no response_url)."""

    def say(text: str) -> None:
        if not channel:
            logger.info("no channel to reply in", text=text)
            return
        try:
            client.chat_postEphemeral(channel=channel, user=user, text=text)
        except SlackClientError as exc:
            logger.warning("could not reply to the user", error=str(exc))

    return say


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
        say(
            f"⚠️ {what} did not complete ({escape(describe_failure(exc))}; reference `{reference}` in the "
            "Slack app's logs). Check `/recoveries show &lt;id&gt;` before trying again."
        )


def denied(desk: Desk, user: str, target: str | None, action: str, say: Say) -> bool:
    """True (and the person told, the attempt audited) when ``user`` may not act."""
    decision = desk.policy.check(user)
    if decision.allowed:
        return False
    if target:
        desk.actions.record_denied(target, user, action, decision.why)
    count_by("DeniedActions", action=action)
    logger.warning("action denied", user=user, action=action, target=target, why=decision.why)
    say(
        f"🚫 You cannot {action}: {escape(decision.why)}. Nothing was sent; your attempt is in the audit "
        "trail."
    )
    return True


def view_denied(desk: Desk, user: str, what: str, say: Say, record: Callable[[str], None]) -> bool:
    """True (and the person told, the attempt audited by ``record(why)``) when ``user`` may not see
    ``what`` (the recoveries list, a recovery, the dead letters)."""
    decision = desk.policy.check_view(user)
    if decision.allowed:
        return False
    record(decision.why)
    count_by("DeniedActions", action=f"view {what}")
    logger.warning("view denied", user=user, action=f"view {what}", why=decision.why)
    say(f"🚫 You cannot see {what}: {escape(decision.why)}. Your attempt is in the audit trail.")
    return True


def tell(result: ActionResult, say: Say, always: bool = False) -> None:
    """Explain any outcome that the updated message does not already show."""
    recovery = result.recovery
    name = code(recovery.execution_name) if recovery else "This recovery"
    detail = escape(result.detail)
    if result.outcome is ActionOutcome.ALREADY_HANDLED:
        by = f" by {who(result.handled_by)}" if result.handled_by else ""
        say(f"👋 {name} {detail}{by}. Nothing was sent.")
    elif result.outcome is ActionOutcome.EXPIRED:
        say(f"⌛ {name} can no longer be resumed: {detail}. It is now marked EXPIRED.")
    elif result.outcome in (ActionOutcome.FAILED, ActionOutcome.NOT_FOUND):
        say(f"⚠️ {name}: {detail}")
    elif always:
        say(f"{'✅ Run again' if result.outcome is ActionOutcome.RESUMED else '🛑 Rejected'}: {name}.")


def run_bulk(
    desk: Desk,
    client: WebClient,
    user: str,
    kind: str,
    ids: list[str],
    description: str,
    thread: tuple[str, str] | None,
    say: Say,
    reason: str | None = None,
) -> BulkReport:
    """Run a confirmed bulk action, reporting progress in ``thread`` (channel, ts) or to the person."""
    verb = "Run again" if kind == "run_again" else "Reject"

    def post(text: str) -> None:
        if thread is None:
            say(text)
            return
        try:
            client.chat_postMessage(channel=thread[0], thread_ts=thread[1], text=text)
        except SlackClientError as exc:
            logger.warning("could not post bulk progress", error=str(exc))

    post(f"{who(user)} started *{verb} all* on {len(ids)} open recoveries ({one_line(description)}).")

    def progress(report: BulkReport) -> None:
        post(f"… {report.done}/{report.total} handled ({report.wall_s:.0f} s)")

    if kind == "run_again":
        report = desk.bulk.run_again(ids, user, on_progress=progress, seconds_left=seconds_left.get())
    else:
        report = desk.bulk.reject(ids, user, reason, on_progress=progress, seconds_left=seconds_left.get())
    post(f"*{verb} all* finished: {report.summary()} in {report.wall_s:.1f} s.")
    refresh_messages(desk, client, report, f"{verb} all by {who(user)}: {report.summary()}")
    return report


def refresh_messages(desk: Desk, client: WebClient, report: BulkReport, summary: str) -> None:
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
            shared[group_id] = desk.groups.shares_message(recovery)
        if shared[group_id]:
            groups.add(group_id)
        else:
            desk.actions.show(recovery)
    for group_id in groups:
        group = desk.groups.get(group_id)
        if group is None or not group.channel or not group.ts:
            continue
        if desk.store.list_by_status(RecoveryStatus.OPEN, ListFilter(group_id=group_id), limit=1):
            continue  # something is still open: the buttons stay
        try:
            client.chat_update(
                channel=group.channel, ts=group.ts, text=summary, blocks=group_closed_blocks(group, summary)
            )
        except SlackClientError as exc:
            logger.warning("could not update the group message", group_id=group_id, error=str(exc))


def group_closed_blocks(group: GroupState, summary: str) -> list:
    header = plain(f"{group.count} × {group.state_machine_name}: {group.failed_state} failed")
    return [
        HeaderBlock(text=PlainTextObject(text=truncate(header, 150))),
        SectionBlock(text=mrkdwn(truncate(f"*Error:* {code(group.error or 'unknown')}\n✅ {summary}", 3000))),
    ]
