"""The lazy halves of `/recoveries dlq` and its buttons: the dead-letter queues, and redriving one.

`/recoveries dlq` shows each DLQ's depth and its oldest messages (previewed without consuming
them) with a **Redrive DLQ** button on a queue that can be redriven and holds messages. The
button asks to confirm with the count; only the confirmation starts SQS's move task, at the
deployment's rate. Both clicks are authorized like every other action; a refusal and a redrive
are audited on the item ``dlq#<queue name>`` of the recoveries table, logged and counted.
Imported by the lazy halves only (after the acknowledgement).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
    SectionBlock,
)

from service import observability
from service.observability import logger
from service.recovery.dead_letter_preview import DeadLetter, age_text
from service.recovery.dead_letter_queues import (
    DeadLetterError,
    DeadLetterQueue,
    DeadLetterQueues,
    DeadLetterReport,
)
from service.recovery.recovery import AuditEntry
from slack_app.blocks import MAX_BLOCKS, SECTION_TEXT_LIMIT, who
from slack_app.desk import Desk
from slack_app.escaping import code, code_block, escape, mrkdwn, one_line, truncate
from slack_app.ids import DLQ_REDRIVE, DLQ_REDRIVE_CANCEL, DLQ_REDRIVE_CONFIRM
from slack_app.listeners.replies import Say, denied, reporting_failures, via_respond, view_denied

NOT_CONFIGURED = (
    "No dead-letter queue is configured for this deployment (ORDERS_DLQ_URL, RECOVERY_DLQ_URL on the "
    "Slack app's function)."
)


# ---------------------------------------------------------------------- /recoveries dlq
def show_dead_letters(desk: Desk, user: str, words: list[str], respond: Any, say: Say) -> None:
    if words:
        say("Usage: `/recoveries dlq` (each queue's depth and oldest messages; Redrive DLQ from there).")
        return
    queues = desk.dead_letters
    if queues is None:
        say(NOT_CONFIGURED)
        return

    def record(why: str) -> None:  # on each queue's own audit item, like a refused redrive
        for queue in queues.queues:
            queues.record_denied(queue.key, user, why, action="view")

    if view_denied(desk, user, "the dead letters", say, record):
        return
    reports = queues.reports()
    last = {}
    if queues.audit is not None:
        last = {r.queue.key: queues.audit.last_redrive(r.queue) for r in reports if r.queue.redrivable}
    total = sum(report.depth for report in reports)
    respond(
        response_type="ephemeral",
        replace_original=False,
        text=f"{total} dead letters",
        blocks=dead_letter_blocks(reports, last, datetime.now(UTC)),
    )


def dead_letter_blocks(
    reports: list[DeadLetterReport], last_redrive: dict[str, AuditEntry | None], now: datetime
) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text="Dead-letter queues"))]
    for report in reports:
        blocks.append(_queue_section(report, now))
        for message in report.oldest:
            blocks.append(_message_section(message, now))
        notes = []
        if report.oldest:
            notes.append(
                f"The oldest {len(report.oldest)} of the messages SQS returned, previewed without "
                "consuming them (each look counts as a receive)."
            )
        if not report.queue.redrivable:
            notes.append(f"Not redrivable: {escape(report.queue.not_redrivable_because)}.")
        entry = last_redrive.get(report.queue.key)
        if entry is not None:
            handle = entry.detail.get("task_handle")
            notes.append(
                f"Last redrive: {who(entry.actor)} at {one_line(entry.at)}"
                + (f" (task {code(handle)})" if handle else "")
            )
        if notes:
            text = truncate("\n".join(notes), SECTION_TEXT_LIMIT)
            blocks.append(ContextBlock(elements=[mrkdwn(text)]))
        blocks.append(DividerBlock())
    return blocks[:MAX_BLOCKS]


def _queue_section(report: DeadLetterReport, now: datetime) -> SectionBlock:
    queue = report.queue
    title = f"*{one_line(queue.label)}* {code(queue.name)}"
    if report.problem:
        text = f"{title}: ⚠️ could not be read: {escape(report.problem)}"
        return SectionBlock(text=mrkdwn(truncate(text, SECTION_TEXT_LIMIT)))
    text = f"{title}: *{report.depth}* message{'' if report.depth == 1 else 's'}"
    if report.in_flight:
        text += f" ({report.visible} visible, {report.in_flight} in flight)"
    if report.oldest:
        text += f"\nOldest seen: {age_text(report.oldest[0].age(now))} old"
    button = None
    if queue.redrivable and report.depth:
        text += f"\nRedrive moves them back to {code(queue.destination_name)}."
        button = ButtonElement(text="Redrive DLQ", action_id=DLQ_REDRIVE, value=queue.key, style="danger")
    return SectionBlock(text=mrkdwn(truncate(text, SECTION_TEXT_LIMIT)), accessory=button)


def _message_section(message: DeadLetter, now: datetime) -> SectionBlock:
    sent = message.sent_at.isoformat(timespec="seconds") if message.sent_at else "unknown"
    text = (
        f"{code(message.message_id[:13])} sent {sent} ({age_text(message.age(now))} ago), "
        f"received {message.receive_count}×"
    )
    if message.reason:  # reasons and excerpts come without token fields (DeadLetterQueues.peek)
        text += f"\n*Reason:* {one_line(message.reason)}"
    text += "\n" + code_block(message.excerpt, 1000)
    return SectionBlock(text=mrkdwn(truncate(text, SECTION_TEXT_LIMIT)))


# ---------------------------------------------------------------------- Redrive DLQ
def open_redrive(desk: Desk, user: str, key: str, respond: Any) -> None:
    """Redrive DLQ clicked: who may, then how many would move, and a button to confirm."""
    say = via_respond(respond)
    with reporting_failures(say, "Redrive DLQ"):
        found = _redrivable(desk, key, say)
        if found is None or _denied(desk, user, *found, say):
            return
        dead_letters, queue = found
        visible, in_flight = dead_letters.depth(queue)
        if not visible:
            more = f" ({in_flight} in flight: look again later)" if in_flight else ""
            say(f"Nothing to redrive: {code(queue.name)} has no visible message{more}.")
            return
        rate = dead_letters.rate_per_second
        plural = "" if visible == 1 else "s"
        respond(
            response_type="ephemeral",
            replace_original=False,
            text=f"Redrive {visible} messages from {queue.name}?",
            blocks=[
                SectionBlock(
                    text=mrkdwn(
                        truncate(
                            f"Move *{visible}* message{plural} from {code(queue.name)} back to "
                            f"{code(queue.destination_name)} at {rate} a second (about "
                            f"{age_text(_duration(visible, rate))})? The collector takes them again; a "
                            "malformed message (one with a *Reason*) comes straight back to the DLQ.",
                            SECTION_TEXT_LIMIT,
                        )
                    )
                ),
                ActionsBlock(
                    elements=[
                        ButtonElement(
                            text=f"Redrive {visible}",
                            action_id=DLQ_REDRIVE_CONFIRM,
                            value=queue.key,
                            style="primary",
                        ),
                        ButtonElement(text="Cancel", action_id=DLQ_REDRIVE_CANCEL, value=queue.key),
                    ]
                ),
            ],
        )


def redrive_confirmed(desk: Desk, user: str, key: str, respond: Any) -> None:
    """The confirmation: start SQS's move task (or report the one already running)."""
    say = via_respond(respond)
    with reporting_failures(say, "Redrive DLQ"):
        found = _redrivable(desk, key, say)
        if found is None or _denied(desk, user, *found, say):
            return
        dead_letters, queue = found
        task = dead_letters.redrive(key, user)
        logger.info(
            "dlq redrive",
            queue=queue.name,
            user=user,
            started=task.started,
            task_handle=task.task_handle,
            rate=task.rate_per_second,
        )
        if task.started:
            observability.count_by("DeadLetterRedrives", queue=queue.key)
            text = f"✅ Redrive started by {who(user)}: {escape(task.summary())}."
        else:
            text = f"👋 Nothing new was started: {escape(task.summary())}."
        respond(text=text, response_type="ephemeral", replace_original=True)


def redrive_cancelled(respond: Any) -> None:
    respond(text="Cancelled: nothing was redriven.", response_type="ephemeral", replace_original=True)


def _redrivable(desk: Desk, key: str, say: Say) -> tuple[DeadLetterQueues, DeadLetterQueue] | None:
    """The deployment's DLQs and the one named by a button's value (a key, never a URL), if redrivable."""
    dead_letters = desk.dead_letters
    if dead_letters is None:
        say(NOT_CONFIGURED)
        return None
    try:
        queue = dead_letters.queue(key)
    except DeadLetterError as exc:
        say(f"⚠️ {escape(exc)}.")
        return None
    if not queue.redrivable:
        say(f"⚠️ The {one_line(queue.label)} cannot be redriven: {escape(queue.not_redrivable_because)}.")
        return None
    return dead_letters, queue


def _denied(desk: Desk, user: str, dead_letters: DeadLetterQueues, queue: DeadLetterQueue, say: Say) -> bool:
    """Authorized like every action; a refusal is audited on the queue's item (there is no recovery)."""
    if not denied(desk, user, None, f"redrive the {queue.label}", say):
        return False
    dead_letters.record_denied(queue.key, user, desk.policy.check(user).why)
    return True


def _duration(count: int, rate: int) -> timedelta:
    return timedelta(seconds=max(1, -(-count // rate)))
