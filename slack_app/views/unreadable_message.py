"""A recovery request that does not follow the contract: what could be read of it, why it was
refused, and that its execution waits; never its task token."""

from __future__ import annotations

from dataclasses import asdict, replace

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, PlainTextObject, SectionBlock

from recovery_ops.service.recovery.model.redaction import without_tokens
from recovery_ops.service.recovery.ports.notifier import UnreadableMessage
from recovery_ops.slack_app.views.escaping import code, code_block, link, mrkdwn, one_line, truncate
from recovery_ops.slack_app.views.limits import SECTION_TEXT_LIMIT


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
