"""`/recoveries dlq`: each dead-letter queue's depth and its oldest messages (previewed without
consuming them), with a **Redrive DLQ** button on a queue that can be redriven and holds
messages; and the confirmation that button asks for, with the count and the rate."""

from __future__ import annotations

from datetime import datetime, timedelta

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

from recovery_ops.service.recovery.dead_letters.model import DeadLetterQueue
from recovery_ops.service.recovery.dead_letters.preview import DeadLetter, age_text
from recovery_ops.service.recovery.dead_letters.queues import DeadLetterReport
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.slack_app.ids import DLQ_REDRIVE, DLQ_REDRIVE_CANCEL, DLQ_REDRIVE_CONFIRM
from recovery_ops.slack_app.views.escaping import code, code_block, escape, mrkdwn, one_line, truncate, who
from recovery_ops.slack_app.views.limits import MAX_BLOCKS, SECTION_TEXT_LIMIT, message_text

NOT_CONFIGURED = (
    "No dead-letter queue is configured for this deployment (ORDERS_DLQ_URL, RECOVERY_DLQ_URL on the "
    "Slack app's function)."
)


def dead_letters_text(reports: list[DeadLetterReport]) -> str:
    return f"{sum(report.depth for report in reports)} dead letters"


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


def redrive_prompt_text(queue: DeadLetterQueue, visible: int) -> str:
    return message_text(f"Redrive {visible} messages from {one_line(queue.name)}?")


def redrive_prompt_blocks(queue: DeadLetterQueue, visible: int, rate: int) -> list[Block]:
    """Redrive DLQ clicked: how many messages would move where, at what pace, and a button to
    confirm (its value is the queue's key, never a URL)."""
    plural = "" if visible == 1 else "s"
    return [
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
    ]


def _duration(count: int, rate: int) -> timedelta:
    return timedelta(seconds=max(1, -(-count // rate)))
