"""The Slack side of the intake's ``Notifier``, and the one caller of Slack's ``chat.*`` methods.

Every message the app posts, updates or sends to one person goes through here (approval requests
too: ``SlackApprovalDisplay``), built by a view
of ``recovery_ops.slack_app.views``: ``SlackNotifier`` for the recovery, group, failure and unreadable
messages and for the listeners' replies (ephemeral answers, bulk progress in a thread, a group
message closed by a bulk action); ``SlackOutcomeDisplay``, ``SlackFailureDisplay`` and
``SlackThreadPoster`` for what the recovery core shows once something happened or has waited too
long (reminders, escalations); ``SlackHealingDisplay`` for self-healing (a group message's notice
and Stop, the progress in its thread).

slack_sdk's retry handlers absorb short 429s, 5xx and connection errors; what is still failing
after them becomes ``NotifierUnavailableError``, and the collector leaves the record for SQS to
deliver again.

Every group message, escalation level and self-healing progress line carries its mark in Slack's
message metadata (``{"event_type": "recovery_ops_message", "event_payload": {"kind", "key"}}``:
ids the product made, never a token or a person's text), so that ``find_posted`` can find it in
the channel's history (``conversations.history``) or the thread's (``conversations.replies``) when
a crash left it posted but not recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from recovery_ops.service.observability import logger, metrics
from recovery_ops.service.recovery.failed_executions.failures import FailedExecution
from recovery_ops.service.recovery.lifecycle.escalation import Escalation, EscalationDigest
from recovery_ops.service.recovery.lifecycle.reminders import Reminder, ReminderDigest
from recovery_ops.service.recovery.model.approval import ApprovalRequest, ApprovalState
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.ports.notifier import (
    MESSAGE_EVENT_TYPE,
    CircuitClosedNotice,
    HealingNotice,
    MessageMark,
    MessageRef,
    NotifierUnavailableError,
    RecoveryBurst,
    RecoveryGroup,
    UnreadableMessage,
)
from recovery_ops.service.recovery.storage.groups import GroupState
from recovery_ops.slack_app.views.approvals import (
    approvers_told_text,
    decided_text,
    request_fallback_text,
    request_message_blocks,
)
from recovery_ops.slack_app.views.burst_message import burst_blocks, burst_fallback_text
from recovery_ops.slack_app.views.digests import (
    escalation_digest_blocks,
    escalation_digest_text,
    reminder_digest_blocks,
    reminder_digest_text,
)
from recovery_ops.slack_app.views.escalation_message import escalation_text
from recovery_ops.slack_app.views.failure_message import failure_blocks, failure_fallback_text
from recovery_ops.slack_app.views.group_message import group_blocks, group_closed_blocks, group_fallback_text
from recovery_ops.slack_app.views.healing import healing_progress_text
from recovery_ops.slack_app.views.limits import message_text
from recovery_ops.slack_app.views.recovery_message import (
    outcome_blocks,
    outcome_text,
    recovery_blocks,
    recovery_fallback_text,
)
from recovery_ops.slack_app.views.thread_replies import grouped_outcome_text, reminder_text
from recovery_ops.slack_app.views.unreadable_message import unreadable_blocks, unreadable_fallback_text
from recovery_ops.slack_app.web import web_client

__all__ = [
    "SlackApprovalDisplay",
    "SlackHealingDisplay",
    "SlackNotifier",
    "SlackOutcomeDisplay",
    "message_metadata",
    "web_client",
]

HISTORY_PAGE = 200  # messages per page of conversations.history / conversations.replies
HISTORY_PAGES = 10  # pages read at most by one search: past them, a search proves nothing
WEB_API = {
    "chat.postMessage": "chat_postMessage",
    "chat.update": "chat_update",
    "conversations.history": "conversations_history",
    "conversations.replies": "conversations_replies",
}


def message_metadata(mark: MessageMark) -> dict[str, Any]:
    """A mark as Slack message metadata."""
    return {"event_type": MESSAGE_EVENT_TYPE, "event_payload": {"kind": mark.kind, "key": mark.key}}


def is_marked(message: dict[str, Any], mark: MessageMark) -> bool:
    """Whether a message of a history answer carries ``mark``."""
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return (
        metadata.get("event_type") == MESSAGE_EVENT_TYPE
        and payload.get("kind") == mark.kind
        and payload.get("key") == mark.key
    )


class SlackNotifier:
    def __init__(self, client: WebClient) -> None:
        self._client = client

    def post_recovery(self, recovery: Recovery, channel: str, mark: MessageMark | None = None) -> MessageRef:
        return self._post(channel, recovery_fallback_text(recovery), recovery_blocks(recovery), mark=mark)

    def post_group(self, group: RecoveryGroup, channel: str) -> MessageRef:
        mark = MessageMark.group(group.group_id)
        return self._post(channel, group_fallback_text(group), group_blocks(group), mark=mark)

    def find_posted(
        self, channel: str, since: datetime, mark: MessageMark, thread_ts: str | None = None
    ) -> MessageRef | None:
        """The message marked ``mark`` in ``channel`` since ``since`` (in the thread of ``thread_ts``:
        thread replies are not in the channel's history); None when every page was read and none
        has it. ``NotifierUnavailableError`` when a page cannot be read (the bot not in the channel, a
        missing ``channels:history`` / ``groups:history`` scope, Slack down) or there are more than
        ``HISTORY_PAGES`` pages: nothing is proved then."""
        method = "conversations.replies" if thread_ts else "conversations.history"
        arguments: dict[str, Any] = {
            "channel": channel,
            "oldest": f"{since.timestamp():.6f}",
            "include_all_metadata": True,
            "limit": HISTORY_PAGE,
        }
        if thread_ts:
            arguments["ts"] = thread_ts
        for _ in range(HISTORY_PAGES):
            answer = self._call(method, **arguments)
            for message in answer.get("messages") or []:
                if is_marked(message, mark):
                    return MessageRef(channel, message["ts"])
            if not answer.get("has_more"):
                return None
            cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
            arguments["cursor"] = cursor
        raise NotifierUnavailableError(
            f"{method}: {channel} has more history since {arguments['oldest']} than is read"
        )

    def update_group(
        self, group: RecoveryGroup, message: MessageRef, notice: CircuitClosedNotice | None = None
    ) -> None:
        self._call(
            "chat.update",
            channel=message.channel,
            ts=message.ts,
            text=group_fallback_text(group),
            blocks=group_blocks(group, notice),
        )

    def post_failure(self, failure: FailedExecution, channel: str, redrivable: bool) -> MessageRef:
        return self._post(channel, failure_fallback_text(failure), failure_blocks(failure, redrivable))

    def post_unreadable(self, message: UnreadableMessage, channel: str) -> MessageRef:
        return self._post(channel, unreadable_fallback_text(message), unreadable_blocks(message))

    def reply_privately(self, channel: str | None, user: str, text: str) -> None:
        """An ephemeral reply to ``user`` in ``channel`` (modal submissions have no response_url);
        without a channel (a modal opened from the Home tab), a direct message. A failure is
        logged: the action itself happened."""
        if not channel:
            self.tell_directly(user, text)
            return
        try:
            self._client.chat_postEphemeral(channel=channel, user=user, text=message_text(text))
        except SlackClientError as exc:
            logger.warning("could not reply to the user", error=str(exc))

    def tell_directly(self, user: str, text: str, blocks: list | None = None) -> None:
        """A direct message from the app to ``user`` (clicks in the Home tab have no response_url
        and no channel); a failure is logged: the action itself happened."""
        try:
            if blocks:
                self._client.chat_postMessage(channel=user, text=message_text(text), blocks=blocks)
            else:
                self._client.chat_postMessage(channel=user, text=message_text(text))
        except (SlackClientError, NotifierUnavailableError) as exc:
            logger.warning("could not send a direct message", error=str(exc))

    def open_thread(self, channel: str, text: str) -> MessageRef | None:
        """A channel message whose thread will hold a bulk action's progress; None when it cannot be
        posted (the bot is not in the channel): the progress then goes to the person instead."""
        try:
            parent = self._client.chat_postMessage(channel=channel, text=message_text(text))
            return MessageRef(parent["channel"], parent["ts"])
        except Exception:  # noqa: BLE001 - bot not in the channel: progress goes to the person instead
            return None

    def reply_in_thread(self, thread: MessageRef, text: str, mark: MessageMark | None = None) -> MessageRef:
        """A reply in ``thread``; a failure is ``NotifierUnavailableError`` (the caller decides)."""
        return self._post(thread.channel, message_text(text), thread_ts=thread.ts, mark=mark)

    def post_progress(self, thread: MessageRef, text: str) -> None:
        """A line of a bulk action's progress in ``thread``; a failure is logged, the action goes on."""
        try:
            self._client.chat_postMessage(
                channel=thread.channel, thread_ts=thread.ts, text=message_text(text)
            )
        except (SlackClientError, NotifierUnavailableError) as exc:
            logger.warning("could not post bulk progress", error=str(exc))

    def close_group(self, group: GroupState, summary: str) -> None:
        """The group message once nothing of it is open: its buttons replaced by ``summary``."""
        if group.channel is None or group.ts is None:
            return  # never posted: no message to close
        try:
            self._client.chat_update(
                channel=group.channel, ts=group.ts, text=summary, blocks=group_closed_blocks(group, summary)
            )
        except SlackClientError as exc:
            logger.warning("could not update the group message", group_id=group.group_id, error=str(exc))

    def _post(
        self,
        channel: str,
        text: str,
        blocks: list | None = None,
        mark: MessageMark | None = None,
        **more: object,
    ) -> MessageRef:
        if blocks is not None:
            more["blocks"] = blocks
        if mark is not None:
            more["metadata"] = message_metadata(mark)
        answer = self._call("chat.postMessage", channel=channel, text=text, **more)
        return MessageRef(answer["channel"], answer["ts"])

    def _call(self, method: str, **arguments: object) -> dict:
        try:
            answer = getattr(self._client, WEB_API[method])(**arguments)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            status = exc.response.status_code if exc.response is not None else None
            metrics.add_metric(name="SlackFailures", unit="Count", value=1)
            logger.warning("slack refused", method=method, slack_error=error, http_status=status)
            raise NotifierUnavailableError(f"{method}: {error or status}") from exc
        except (SlackClientError, OSError) as exc:
            metrics.add_metric(name="SlackFailures", unit="Count", value=1)
            logger.warning("slack unreachable", method=method, error=str(exc))
            raise NotifierUnavailableError(f"{method}: {exc}") from exc
        if method.startswith("chat."):
            metrics.add_metric(name="SlackPosts", unit="Count", value=1)
        return answer.data if isinstance(answer.data, dict) else {}

    def post_burst(self, burst: RecoveryBurst, channel: str) -> MessageRef:
        """A channel's burst message, marked as its burst group's (found again after a crash)."""
        mark = MessageMark.group(burst.group_id)
        return self._post(channel, burst_fallback_text(burst), burst_blocks(burst), mark=mark)

    def update_burst(self, burst: RecoveryBurst, message: MessageRef) -> None:
        self._call(
            "chat.update",
            channel=message.channel,
            ts=message.ts,
            text=burst_fallback_text(burst),
            blocks=burst_blocks(burst),
        )


class SlackHealingDisplay:
    """Self-healing in Slack (``recovery_ops.service.recovery.healing.self_healing.HealingDisplay``): the
    group message
    updated with the run's notice (Stop while it resumes), and replies in its thread. A failure is
    ``NotifierUnavailableError``: the run goes on, only its display is stale."""

    def __init__(self, client: WebClient) -> None:
        self._notifier = SlackNotifier(client)

    def show(self, group: RecoveryGroup, channel: str, ts: str, notice: CircuitClosedNotice) -> None:
        self._notifier.update_group(group, MessageRef(channel, ts), notice)

    def progress(self, channel: str, ts: str, text_of: HealingNotice, dependency: str) -> None:
        self._notifier.reply_in_thread(
            MessageRef(channel, ts),
            healing_progress_text(text_of, dependency),
            mark=MessageMark.healing(text_of.healing_id),
        )


class SlackOutcomeDisplay:
    """Shows a closed recovery's outcome in Slack: its own message loses its buttons; a recovery that
    shares a group message gets a reply in that message's thread instead (the group stays)."""

    def __init__(self, client: WebClient, grouped: Callable[[Recovery], bool]) -> None:
        self._client = client
        self._grouped = grouped

    def show_outcome(self, recovery: Recovery) -> None:
        """Raises ``NotifierUnavailableError`` when the message could not be brought up to date (Slack,
        or reading whether it is a group's): the caller marks it for the reconciler."""
        if not (recovery.slack_channel and recovery.slack_ts):
            return
        text = outcome_text(recovery)
        try:
            if self._grouped(recovery):
                self._client.chat_postMessage(
                    channel=recovery.slack_channel,
                    thread_ts=recovery.slack_ts,
                    text=grouped_outcome_text(recovery, text),
                )
            else:
                self._client.chat_update(
                    channel=recovery.slack_channel,
                    ts=recovery.slack_ts,
                    text=recovery_fallback_text(recovery),
                    blocks=outcome_blocks(recovery, text),
                )
        except Exception as exc:  # noqa: BLE001 - the action happened; only its display is stale
            metrics.add_metric(name="SlackFailures", unit="Count", value=1)
            logger.warning(
                "recovery handled but its Slack message could not be updated",
                recovery_id=recovery.recovery_id,
                status=str(recovery.status),
                error=type(exc).__name__,
            )
            raise NotifierUnavailableError(f"message not updated: {type(exc).__name__}") from exc

    def show_open(self, recovery: Recovery, change: str) -> None:
        """An open recovery that changed hands (or is open again): its own message shows it with its
        buttons (and the owner); a recovery of a group message gets ``change`` in that message's
        thread. Raises ``NotifierUnavailableError`` when the message could not be brought up to date."""
        if not (recovery.slack_channel and recovery.slack_ts):
            return
        try:
            if self._grouped(recovery):
                self._client.chat_postMessage(
                    channel=recovery.slack_channel, thread_ts=recovery.slack_ts, text=change
                )
            else:
                self._client.chat_update(
                    channel=recovery.slack_channel,
                    ts=recovery.slack_ts,
                    text=recovery_fallback_text(recovery),
                    blocks=recovery_blocks(recovery),
                )
        except Exception as exc:  # noqa: BLE001 - what is stored stands; only the message is behind
            metrics.add_metric(name="SlackFailures", unit="Count", value=1)
            logger.warning(
                "open recovery's Slack message could not be updated",
                recovery_id=recovery.recovery_id,
                error=type(exc).__name__,
            )
            raise NotifierUnavailableError(f"message not updated: {type(exc).__name__}") from exc


class SlackFailureDisplay:
    """Posts a failed execution with its Redrive button; shows the redrive's outcome in place."""

    def __init__(
        self,
        notifier: SlackNotifier,
        client: WebClient,
        channel: str,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._notifier = notifier
        self._client = client
        self._channel = channel
        self._clock = clock or (lambda: datetime.now(UTC))

    def post_failure(self, failure: FailedExecution) -> tuple[str, str]:
        message = self._notifier.post_failure(failure, self._channel, failure.redrivable(self._clock()))
        return message.channel, message.ts

    def show_failure(self, failure: FailedExecution) -> None:
        if not (failure.slack_channel and failure.slack_ts):
            return
        try:
            self._client.chat_update(
                channel=failure.slack_channel,
                ts=failure.slack_ts,
                text=failure_fallback_text(failure),
                blocks=failure_blocks(failure, failure.redrivable(self._clock())),
            )
        except (SlackClientError, OSError) as exc:
            logger.warning("failure handled but its message could not be updated", error=str(exc))


class SlackThreadPoster:
    """Reminders, in the recovery message's thread (a failure is logged and is
    ``NotifierUnavailableError``: the reminder is given back, the next run tries again), or gathered
    in one digest per channel; escalations, in that thread or a level's own channel, marked with
    their level, or one digest per channel marked with its id (a failure is
    ``NotifierUnavailableError``: the escalation gives its levels back); ``find_posted`` looks for a
    level's message as ``SlackNotifier.find_posted`` does."""

    def __init__(self, client: WebClient) -> None:
        self._client = client
        self._notifier = SlackNotifier(client)

    def find_posted(
        self, channel: str, since: datetime, mark: MessageMark, thread_ts: str | None = None
    ) -> MessageRef | None:
        return self._notifier.find_posted(channel, since, mark, thread_ts)

    def post_reminder(self, reminder: Reminder) -> None:
        channel, ts = reminder.recovery.slack_channel, reminder.recovery.slack_ts
        if not (channel and ts):
            return
        try:
            self._client.chat_postMessage(channel=channel, thread_ts=ts, text=reminder_text(reminder))
        except (SlackClientError, OSError, NotifierUnavailableError) as exc:
            metrics.add_metric(name="SlackFailures", unit="Count", value=1)
            logger.warning("could not post a reminder", channel=channel, error=str(exc))
            raise NotifierUnavailableError(f"chat.postMessage: {exc}") from exc

    def post_escalation(self, escalation: Escalation) -> MessageRef:
        thread: dict[str, Any] = {"thread_ts": escalation.thread_ts} if escalation.thread_ts else {}
        try:
            answer = self._client.chat_postMessage(
                channel=escalation.channel,
                text=escalation_text(escalation),
                metadata=message_metadata(escalation.mark),
                **thread,
            )
        except (SlackClientError, OSError, NotifierUnavailableError) as exc:
            metrics.add_metric(name="SlackFailures", unit="Count", value=1)
            logger.warning(
                "could not post an escalation",
                recovery_id=escalation.recovery.recovery_id,
                channel=escalation.channel,
                error=str(exc),
            )
            raise NotifierUnavailableError(f"chat.postMessage: {exc}") from exc
        return MessageRef(answer["channel"], answer["ts"])

    def post_reminder_digest(self, digest: ReminderDigest) -> MessageRef:
        """One run's reminders in one channel, as one message at its top; a failure is
        ``NotifierUnavailableError`` (the reminders are given back)."""
        return self._notifier._post(
            digest.channel, reminder_digest_text(digest), reminder_digest_blocks(digest)
        )

    def post_escalation_digest(self, digest: EscalationDigest) -> MessageRef:
        """One run's escalation levels in one channel, as one message at its top marked with the
        digest's mark; a failure is ``NotifierUnavailableError`` (every level is given back)."""
        return self._notifier._post(
            digest.channel,
            escalation_digest_text(digest),
            escalation_digest_blocks(digest),
            mark=digest.mark,
        )


class SlackApprovalDisplay:
    """Approval requests in Slack (``recovery_ops.service.recovery.lifecycle.approvals.ApprovalDisplay``).

    A request on one recovery with a message of its own is shown on that message (Approve, Deny and
    Withdraw instead of its buttons); a bulk request, or one whose recovery shares a group message,
    gets a message of its own (in its rule's channel; in the group message's thread), whose place is
    stored (``posted``) so later steps update it. A new request's approvers are told in the thread;
    a request that ends without running says why there, and its recovery's message has its buttons
    back. A failure raises ``NotifierUnavailableError``: the request stands, its message catches up."""

    def __init__(
        self,
        client: WebClient,
        grouped: Callable[[Recovery], bool],
        channel_of: Callable[[ApprovalRequest], str | None],
        posted: Callable[[str, str, str], None] | None = None,
    ) -> None:
        self._notifier = SlackNotifier(client)
        self._grouped = grouped
        self._channel_of = channel_of
        self._posted = posted

    def show_request(self, request: ApprovalRequest, recoveries: Sequence[Recovery], new: bool) -> None:
        thread = self._show(request, recoveries)
        if new and thread is not None:
            self._notifier.reply_in_thread(thread, approvers_told_text(request))

    def show_decided(self, request: ApprovalRequest, recoveries: Sequence[Recovery]) -> None:
        thread = self._show(request, recoveries)
        if thread is not None and request.state is not ApprovalState.DONE:
            self._notifier.reply_in_thread(thread, decided_text(request))

    def _show(self, request: ApprovalRequest, recoveries: Sequence[Recovery]) -> MessageRef | None:
        """The request brought up to date where it shows; the thread its news goes to."""
        single = recoveries[0] if len(recoveries) == 1 and len(request.subjects) == 1 else None
        if single is not None and not request.bulk and single.slack_channel and single.slack_ts:
            if not self._grouped(single):
                self._notifier._call(
                    "chat.update",
                    channel=single.slack_channel,
                    ts=single.slack_ts,
                    text=recovery_fallback_text(single),
                    blocks=recovery_blocks(single),
                )
                return MessageRef(single.slack_channel, single.slack_ts)
            return self._own_message(request, recoveries, MessageRef(single.slack_channel, single.slack_ts))
        return self._own_message(request, recoveries, None)

    def _own_message(
        self, request: ApprovalRequest, recoveries: Sequence[Recovery], group: MessageRef | None
    ) -> MessageRef | None:
        text, blocks = request_fallback_text(request), request_message_blocks(request, recoveries)
        if request.channel and request.ts:
            self._notifier._call(
                "chat.update", channel=request.channel, ts=request.ts, text=text, blocks=blocks
            )
            return group or MessageRef(request.channel, request.ts)
        if group is not None:  # in the group message's thread: where its recovery is discussed
            posted = self._notifier._post(group.channel, text, blocks, thread_ts=group.ts)
        else:
            channel = self._channel_of(request) or next(
                (r.slack_channel for r in recoveries if r.slack_channel), None
            )
            if channel is None:
                raise NotifierUnavailableError("no channel to show the approval request in")
            posted = self._notifier._post(channel, text, blocks)
        request.channel, request.ts = posted.channel, posted.ts
        if self._posted is not None:
            self._posted(request.request_id, posted.channel, posted.ts)
        return posted if group is None else group
