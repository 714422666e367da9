"""Slack messages for recoveries, built with slack_sdk's Block Kit models.

Slack rejects a message whose section text is over 3,000 characters, that has more than 50
blocks, or whose button value is over 2,000 characters: long causes and inputs are cut here (the
full input stays in the recoveries table), and button values carry only the recovery id. The task
token never appears in a message, and nothing a recovery carries is shown before it has passed
through ``without_tokens`` (token fields) and ``slack_app.escaping`` (mentions, links, markup).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, replace
from datetime import UTC

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

from service.recovery.contract import Routing
from service.recovery.failures import FailedExecution
from service.recovery.notifier import CircuitClosedNotice, RecoveryGroup, UnreadableMessage
from service.recovery.recovery import Recovery
from service.recovery.redaction import without_tokens
from service.recovery.reminders import Reminder, describe_duration
from slack_app.escaping import code, code_block, escape, link, mrkdwn, one_line, plain, truncate
from slack_app.ids import EDIT_AND_RUN_AGAIN, REDRIVE, REJECT, REJECT_ALL, RUN_AGAIN, RUN_AGAIN_ALL

__all__ = ["EDIT_AND_RUN_AGAIN", "REJECT", "REJECT_ALL", "RUN_AGAIN", "RUN_AGAIN_ALL", "truncate"]

SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
MAX_BLOCKS = 50
BUTTON_VALUE_LIMIT = 2000


_ROUTING_LABEL = {Routing.TECHNICAL: "technical problem", Routing.CLIENT_DATA: "client-data problem"}


_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def readable_cause(cause: str, known_tokens: tuple[str, ...] = ()) -> str:
    """A Lambda task's cause is its error JSON: show the message (the whole cause stays stored),
    token fields (and the recovery's own token, wherever it appears) removed."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return without_tokens(cause, known_tokens)
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return without_tokens(str(parsed["errorMessage"]), known_tokens)
    return without_tokens(cause, known_tokens)


def shown_input(recovery: Recovery) -> str:
    """The recovery's input as shown to people: indented JSON, token fields removed."""
    shown = json.dumps(without_tokens(recovery.input), indent=2, sort_keys=True, ensure_ascii=False)
    return without_tokens(shown, (recovery.task_token,))


def cause_block(cause: str, known_tokens: tuple[str, ...] = ()) -> SectionBlock:
    return SectionBlock(text=mrkdwn(code_block(readable_cause(cause, known_tokens), SECTION_TEXT_LIMIT)))


def input_block(recovery: Recovery) -> SectionBlock:
    return SectionBlock(text=mrkdwn("*Input*\n" + code_block(shown_input(recovery), 2990)))


def recovery_fallback_text(recovery: Recovery) -> str:
    return truncate(
        f"Recovery needed: {one_line(recovery.state_machine_name)} / {one_line(recovery.failed_state)} "
        f"failed with {one_line(recovery.error or 'an error')} ({one_line(recovery.execution_name)})",
        SECTION_TEXT_LIMIT,
    )


def recovery_blocks(recovery: Recovery) -> list[Block]:
    """The message of one open recovery: what failed, why, when, the input, and the three buttons."""
    header = truncate(
        plain(f"⚠️ {recovery.state_machine_name}: {recovery.failed_state} failed"), HEADER_TEXT_LIMIT
    )
    routing = _ROUTING_LABEL[recovery.routing]
    facts = (
        f"*Execution:* {link(recovery.console_url, recovery.execution_name)}\n"
        f"*Error:* {code(recovery.error or 'unknown')}  ·  *Routing:* {routing}\n"
        f"*Paused at:* {one_line(recovery.requested_at)}  ·  *Delivered:* {recovery.attempts}×"
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=header)),
        SectionBlock(text=mrkdwn(truncate(facts, SECTION_TEXT_LIMIT))),
    ]
    if recovery.cause:
        blocks.append(cause_block(recovery.cause, (recovery.task_token,)))
    blocks.append(input_block(recovery))
    blocks.append(actions_block(recovery.recovery_id))
    blocks.append(ContextBlock(elements=[mrkdwn(f"recovery {code(recovery.recovery_id)}")]))
    return blocks[:MAX_BLOCKS]


def actions_block(recovery_id: str) -> ActionsBlock:
    value = truncate(recovery_id, BUTTON_VALUE_LIMIT, marker="")
    return ActionsBlock(
        block_id=f"recovery:{value}"[:255],
        elements=[
            ButtonElement(text="Run again", action_id=RUN_AGAIN, value=value, style="primary"),
            ButtonElement(text="Edit input & run again", action_id=EDIT_AND_RUN_AGAIN, value=value),
            # Reject opens a modal: the confirmation, with room for a reason.
            ButtonElement(text="Reject", action_id=REJECT, value=value, style="danger"),
        ],
    )


def outcome_blocks(recovery: Recovery, outcome: str) -> list[Block]:
    """The message once a recovery is handled: the buttons replaced by what happened."""
    blocks = [b for b in recovery_blocks(recovery) if not isinstance(b, ActionsBlock)]
    blocks.insert(-1, DividerBlock())
    blocks.insert(-1, SectionBlock(text=mrkdwn(truncate(outcome, SECTION_TEXT_LIMIT))))
    return blocks[:MAX_BLOCKS]


def group_fallback_text(group: RecoveryGroup) -> str:
    return truncate(
        f"{group.count} recoveries needed: {one_line(group.state_machine_name)} / "
        f"{one_line(group.failed_state)} failed with {one_line(group.error or 'an error')}",
        SECTION_TEXT_LIMIT,
    )


def notice_text(notice: CircuitClosedNotice) -> str:
    waiting = f"{notice.waiting} paused execution{'s' if notice.waiting != 1 else ''}"
    return (
        f"✅ The circuit for {code(notice.dependency)} closed at {one_line(notice.closed_at)}: it answers "
        f"again. {waiting} of this message can run again."
    )


def group_blocks(group: RecoveryGroup, notice: CircuitClosedNotice | None = None) -> list[Block]:
    """One message for many recoveries of the same failure: the count, the latest, bulk actions
    (and a ``notice`` on top: the dependency they wait for answers again)."""
    header = truncate(
        plain(f"⚠️ {group.count} × {group.state_machine_name}: {group.failed_state} failed"),
        HEADER_TEXT_LIMIT,
    )
    summary = (
        f"*Error:* {code(group.error or 'unknown')}  ·  *Paused executions:* {group.count}\n"
        "Use `/recoveries` to act on one of them."
    )
    latest = "\n".join(
        f"• {link(r.console_url, r.execution_name)} paused at {one_line(r.requested_at)}"
        for r in group.latest
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=header)),
        SectionBlock(text=mrkdwn(truncate(summary, SECTION_TEXT_LIMIT))),
        SectionBlock(text=mrkdwn(truncate("*Latest*\n" + latest, SECTION_TEXT_LIMIT))),
    ]
    if notice:
        text = truncate(notice_text(notice), SECTION_TEXT_LIMIT)
        blocks.insert(1, SectionBlock(text=mrkdwn(text)))
    latest_failing = next((r for r in reversed(group.latest) if r.cause), None)
    if latest_failing is not None and latest_failing.cause:
        blocks.append(cause_block(latest_failing.cause, (latest_failing.task_token,)))
    value = truncate(group.group_id, BUTTON_VALUE_LIMIT, marker="")
    blocks.append(
        ActionsBlock(
            block_id=f"group:{value}"[:255],
            elements=[  # both open a modal that says how many recoveries are affected and asks to confirm
                ButtonElement(text="Run again all", action_id=RUN_AGAIN_ALL, value=value, style="primary"),
                ButtonElement(text="Reject all", action_id=REJECT_ALL, value=value, style="danger"),
            ],
        )
    )
    blocks.append(ContextBlock(elements=[mrkdwn(f"group {code(group.group_id)}")]))
    return blocks[:MAX_BLOCKS]


def who(actor: str | None) -> str:
    """A Slack user id as a mention; any other actor (``cli:alice``) as plain, escaped text."""
    if actor and _SLACK_USER_ID.match(actor):
        return f"<@{actor}>"
    return one_line(actor or "someone")


def outcome_text(recovery: Recovery) -> str:
    """What happened to a closed recovery, from its audit trail: outcome, who, when, why."""
    closing = next((e for e in reversed(recovery.audit) if e.result == recovery.status), None)
    by = who(closing.actor if closing else None)
    at = one_line(closing.at if closing else recovery.updated_at)
    detail = closing.detail if closing else {}
    if recovery.status == "RESUMED":
        verb = "Edited and run again" if closing and closing.action.startswith("edit") else "Run again"
        return (
            f"✅ *{verb}* by {by} at {at}. The execution continues from *{one_line(recovery.failed_state)}*."
        )
    if recovery.status == "REJECTED":
        reason = detail.get("reason")
        reason = f"\n*Reason:* {escape(without_tokens(str(reason)))}" if reason else ""
        return f"🛑 *Rejected* by {by} at {at}. The workflow compensates.{reason}"
    if recovery.status == "EXPIRED":
        why = escape(without_tokens(str(detail.get("why") or "the task token is no longer valid")))
        return f"⌛ *Expired* at {at} ({by} tried to act): {why}. Nothing was resumed."
    if recovery.status == "ABORTED":
        return f"⏹ *Aborted* at {at}: the execution ended while this recovery was open."
    return f"*{one_line(recovery.status)}* at {at}"


def failure_fallback_text(failure: FailedExecution) -> str:
    return truncate(
        f"Workflow {one_line(failure.execution_status.lower())}: {one_line(failure.state_machine_name)} / "
        f"{one_line(failure.execution_name)} ({one_line(failure.error or 'no error')})",
        SECTION_TEXT_LIMIT,
    )


def failure_blocks(failure: FailedExecution, redrivable: bool) -> list[Block]:
    """An execution that ended without asking for a person: what, why, and Redrive while allowed."""
    header = truncate(
        plain(f"❌ {failure.state_machine_name}: workflow {failure.execution_status.lower()}"), 150
    )
    facts = (
        f"*Execution:* {link(failure.console_url, failure.execution_name)}\n"
        f"*Error:* {code(failure.error or 'none')}  ·  *Stopped at:* {one_line(failure.stopped_at)}\n"
        "No step of this execution asked for a person: it failed outside the recovery pattern."
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=header)),
        SectionBlock(text=mrkdwn(truncate(facts, SECTION_TEXT_LIMIT))),
    ]
    if failure.cause:
        blocks.append(cause_block(failure.cause))
    if failure.status == "FAILED_EXECUTION" and redrivable:
        blocks.append(
            ActionsBlock(
                block_id=f"failure:{failure.failure_id}",
                elements=[
                    ButtonElement(
                        text="Redrive", action_id=REDRIVE, value=failure.failure_id, style="primary"
                    )
                ],
            )
        )
    elif failure.status != "FAILED_EXECUTION":
        last = failure.audit[-1]
        outcome = {
            "REDRIVEN": f"🔁 *Redriven* by {who(last.actor)} at {one_line(last.at)}: it restarts where it "
            "failed.",
            "NOT_REDRIVABLE": "⛔ *Not redrivable* "
            f"({escape(without_tokens(str(last.detail.get('why') or last.detail)))}).",
            "REDRIVING": f"🔁 Redrive by {who(last.actor)} under way…",
        }.get(str(failure.status), one_line(failure.status))
        blocks.append(SectionBlock(text=mrkdwn(truncate(outcome, SECTION_TEXT_LIMIT))))
    else:
        blocks.append(
            SectionBlock(
                text=mrkdwn("Older than 14 days: Step Functions cannot redrive it.")
            )
        )
    blocks.append(ContextBlock(elements=[mrkdwn(f"failure {code(failure.failure_id)}")]))
    return blocks


def reminder_text(reminder: Reminder) -> str:
    """A reminder in the recovery's thread: how long it has waited and how long its token has left."""
    text = (
        f"⏰ Still waiting for a person: {code(reminder.recovery.execution_name)} paused "
        f"{describe_duration(reminder.waited)} ago."
    )
    left = reminder.time_left
    if left is None or reminder.deadline is None:
        return text + " Its paused step has no known timeout."
    if left.total_seconds() <= 0:
        return text + " Its paused step's timeout has passed: the workflow is handling it."
    until = reminder.deadline.astimezone(UTC).isoformat(timespec="minutes")
    return (
        text + f" Its task token has {describe_duration(left)} left (until {until}); then the workflow "
        "gives up on it."
    )


def _without_tokens(message: UnreadableMessage) -> UnreadableMessage:
    return replace(message, **without_tokens(asdict(message)))


def unreadable_fallback_text(message: UnreadableMessage) -> str:
    message = _without_tokens(message)
    where = " / ".join(one_line(v) for v in (message.state_machine_name, message.failed_state) if v)
    return truncate(
        f"A recovery request could not be read{f' ({where})' if where else ''}: its execution stays paused "
        "until someone acts",
        SECTION_TEXT_LIMIT,
    )


def unreadable_blocks(message: UnreadableMessage) -> list[Block]:
    """A recovery request that does not follow the contract: what could be read of it, why it was
    refused, and that its execution waits; never its task token."""
    message = _without_tokens(message)
    if message.console_url:
        execution = link(message.console_url, message.execution_name or message.execution_arn)
    elif message.execution_name:
        execution = code(message.execution_name)
    else:
        execution = "unknown (no readable `execution_arn`)"
    facts = (
        f"*Execution:* {execution}\n"
        f"*State machine:* {code(message.state_machine_name) if message.state_machine_name else 'unknown'}"
        f"  ·  *Failed state:* {code(message.failed_state) if message.failed_state else 'unknown'}"
    )
    what_now = (
        "*The execution stays paused until someone acts.* No recovery could be stored, so there are no "
        "buttons. The message is kept whole in the recovery DLQ (`/recoveries dlq`, `recovery-ops dlq`): "
        "send a corrected copy to the recovery queue to open its recovery, or stop the execution; and "
        "fix the state machine's recovery step."
    )
    return [
        HeaderBlock(text=PlainTextObject(text="⚠️ A recovery request could not be read")),
        SectionBlock(text=mrkdwn(truncate(facts, SECTION_TEXT_LIMIT))),
        SectionBlock(text=mrkdwn("*Why*\n" + code_block(message.reason, SECTION_TEXT_LIMIT - 10))),
        SectionBlock(text=mrkdwn(what_now)),
        ContextBlock(elements=[mrkdwn(f"SQS message {code(message.message_id)}")]),
    ]
