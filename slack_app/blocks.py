"""Slack messages for recoveries, built with slack_sdk's Block Kit models.

Slack rejects a message whose section text is over 3,000 characters, that has more than 50
blocks, or whose button value is over 2,000 characters: long causes and inputs are cut here (the
full input stays in the recoveries table), and button values carry only the recovery id. The task
token never appears in a message.
"""

from __future__ import annotations

import json

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from service.recovery.contract import Routing
from service.recovery.failures import FailedExecution
from service.recovery.notifier import RecoveryGroup
from service.recovery.recovery import Recovery
from slack_app.ids import EDIT_AND_RUN_AGAIN, REDRIVE, REJECT, REJECT_ALL, RUN_AGAIN, RUN_AGAIN_ALL

__all__ = ["EDIT_AND_RUN_AGAIN", "REJECT", "REJECT_ALL", "RUN_AGAIN", "RUN_AGAIN_ALL"]

SECTION_TEXT_LIMIT = 3000
HEADER_TEXT_LIMIT = 150
MAX_BLOCKS = 50
BUTTON_VALUE_LIMIT = 2000


_ROUTING_LABEL = {Routing.TECHNICAL: "technical problem", Routing.CLIENT_DATA: "client-data problem"}


def truncate(text: str, limit: int, marker: str = "… (truncated)") -> str:
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker


def _code(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """A code block that stays within ``limit`` characters, fences included."""
    fence = "```"
    body = text.replace(fence, "ˋˋˋ")  # a fence inside the text would end the block early
    return fence + truncate(body, limit - 2 * len(fence) - 1) + "\n" + fence


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def readable_cause(cause: str) -> str:
    """A Lambda task's cause is its error JSON: show the message (the whole cause stays stored)."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return cause


def recovery_fallback_text(recovery: Recovery) -> str:
    return truncate(
        f"Recovery needed: {recovery.state_machine_name} / {recovery.failed_state} failed with "
        f"{recovery.error or 'an error'} ({recovery.execution_name})",
        SECTION_TEXT_LIMIT,
    )


def recovery_blocks(recovery: Recovery) -> list[Block]:
    """The message of one open recovery: what failed, why, when, the input, and the three buttons."""
    header = truncate(f"⚠️ {recovery.state_machine_name}: {recovery.failed_state} failed", HEADER_TEXT_LIMIT)
    routing = _ROUTING_LABEL[recovery.routing]
    facts = (
        f"*Execution:* <{recovery.console_url}|{_escape(recovery.execution_name)}>\n"
        f"*Error:* `{_escape(recovery.error or 'unknown')}`  ·  *Routing:* {routing}\n"
        f"*Paused at:* {recovery.requested_at}  ·  *Delivered:* {recovery.attempts}×"
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=header)),
        SectionBlock(text=MarkdownTextObject(text=truncate(facts, SECTION_TEXT_LIMIT))),
    ]
    if recovery.cause:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=_code(_escape(readable_cause(recovery.cause)))))
        )
    blocks.append(
        SectionBlock(text=MarkdownTextObject(text="*Input*\n" + _code(_escape(recovery.input_json), 2990)))
    )
    blocks.append(actions_block(recovery.recovery_id))
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"recovery `{recovery.recovery_id}`")]))
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
    blocks.insert(-1, SectionBlock(text=MarkdownTextObject(text=truncate(outcome, SECTION_TEXT_LIMIT))))
    return blocks[:MAX_BLOCKS]


def group_fallback_text(group: RecoveryGroup) -> str:
    return truncate(
        f"{group.count} recoveries needed: {group.state_machine_name} / {group.failed_state} failed with "
        f"{group.error or 'an error'}",
        SECTION_TEXT_LIMIT,
    )


def group_blocks(group: RecoveryGroup, notice: str | None = None) -> list[Block]:
    """One message for many recoveries of the same failure: the count, the latest, bulk actions
    (and a ``notice`` on top, e.g. that the dependency they wait for answers again)."""
    header = truncate(
        f"⚠️ {group.count} × {group.state_machine_name}: {group.failed_state} failed", HEADER_TEXT_LIMIT
    )
    summary = (
        f"*Error:* `{_escape(group.error or 'unknown')}`  ·  *Paused executions:* {group.count}\n"
        "Use `/recoveries` to act on one of them."
    )
    latest = "\n".join(
        f"• <{r.console_url}|{_escape(r.execution_name)}> paused at {r.requested_at}" for r in group.latest
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=header)),
        SectionBlock(text=MarkdownTextObject(text=truncate(summary, SECTION_TEXT_LIMIT))),
        SectionBlock(text=MarkdownTextObject(text=truncate("*Latest*\n" + latest, SECTION_TEXT_LIMIT))),
    ]
    if notice:
        blocks.insert(1, SectionBlock(text=MarkdownTextObject(text=truncate(notice, SECTION_TEXT_LIMIT))))
    cause = next((r.cause for r in reversed(group.latest) if r.cause), None)
    if cause:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_code(_escape(readable_cause(cause))))))
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
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"group `{group.group_id}`")]))
    return blocks[:MAX_BLOCKS]


def who(actor: str | None) -> str:
    """A Slack user id as a mention; any other actor (``cli:alice``) as it is."""
    if actor and actor[:1] in ("U", "W") and actor.isalnum():
        return f"<@{actor}>"
    return _escape(actor or "someone")


def outcome_text(recovery: Recovery) -> str:
    """What happened to a closed recovery, from its audit trail: outcome, who, when, why."""
    closing = next((e for e in reversed(recovery.audit) if e.result == recovery.status), None)
    by = who(closing.actor if closing else None)
    at = closing.at if closing else recovery.updated_at
    detail = closing.detail if closing else {}
    if recovery.status == "RESUMED":
        verb = "Edited and run again" if closing and closing.action.startswith("edit") else "Run again"
        return (
            f"✅ *{verb}* by {by} at {at}. The execution continues from *{_escape(recovery.failed_state)}*."
        )
    if recovery.status == "REJECTED":
        reason = f"\n*Reason:* {_escape(detail['reason'])}" if detail.get("reason") else ""
        return f"🛑 *Rejected* by {by} at {at}. The workflow compensates.{reason}"
    if recovery.status == "EXPIRED":
        why = _escape(str(detail.get("why") or "the task token is no longer valid"))
        return f"⌛ *Expired* at {at} ({by} tried to act): {why}. Nothing was resumed."
    if recovery.status == "ABORTED":
        return f"⏹ *Aborted* at {at}: the execution ended while this recovery was open."
    return f"*{recovery.status}* at {at}"


def failure_fallback_text(failure: FailedExecution) -> str:
    return truncate(
        f"Workflow {failure.execution_status.lower()}: {failure.state_machine_name} / "
        f"{failure.execution_name} ({failure.error or 'no error'})",
        SECTION_TEXT_LIMIT,
    )


def failure_blocks(failure: FailedExecution, redrivable: bool) -> list[Block]:
    """An execution that ended without asking for a person: what, why, and Redrive while allowed."""
    header = truncate(f"❌ {failure.state_machine_name}: workflow {failure.execution_status.lower()}", 150)
    facts = (
        f"*Execution:* <{failure.console_url}|{_escape(failure.execution_name)}>\n"
        f"*Error:* `{_escape(failure.error or 'none')}`  ·  *Stopped at:* {failure.stopped_at}\n"
        "No step of this execution asked for a person: it failed outside the recovery pattern."
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=header)),
        SectionBlock(text=MarkdownTextObject(text=truncate(facts, SECTION_TEXT_LIMIT))),
    ]
    if failure.cause:
        blocks.append(
            SectionBlock(text=MarkdownTextObject(text=_code(_escape(readable_cause(failure.cause)))))
        )
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
            "REDRIVEN": f"🔁 *Redriven* by {who(last.actor)} at {last.at}: it restarts where it failed.",
            "NOT_REDRIVABLE": f"⛔ *Not redrivable* ({_escape(str(last.detail.get('why') or last.detail))}).",
            "REDRIVING": f"🔁 Redrive by {who(last.actor)} under way…",
        }.get(str(failure.status), str(failure.status))
        blocks.append(SectionBlock(text=MarkdownTextObject(text=truncate(outcome, SECTION_TEXT_LIMIT))))
    else:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text="Older than 14 days: Step Functions cannot redrive it.")
            )
        )
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f"failure `{failure.failure_id}`")]))
    return blocks
