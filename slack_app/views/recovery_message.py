"""The message of one recovery: what failed, why, when, the input, and its three buttons; once
the recovery is handled, the same message with the buttons replaced by what happened.

Causes and inputs go in ``rich_text`` preformatted blocks, which Slack shows as written: no
escaping that multiplies a ``&`` by five, no backtick that can end the code, no mention; long ones
are cut to Slack's limits (both stay whole in the recoveries table), and button values carry
only the recovery id. The task token never appears in a message, and nothing a recovery carries
is shown before it has passed through ``without_tokens`` (token fields) and
``recovery_ops.slack_app.views.escaping`` (mentions, links, markup; control characters for the
preformatted blocks). The cause and input blocks are shared with the other views of a recovery
(a group message, `/recoveries show`).
"""

from __future__ import annotations

import json
from dataclasses import replace

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    PlainTextObject,
    RichTextBlock,
    RichTextPreformattedElement,
    RichTextSectionElement,
    SectionBlock,
)

from recovery_ops.service.recovery.model.contract import Routing, WorkflowKind
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.model.redaction import without_tokens
from recovery_ops.slack_app.ids import EDIT_AND_RUN_AGAIN, REJECT, RELEASE, RUN_AGAIN, TAKE
from recovery_ops.slack_app.views.approvals import pending_blocks
from recovery_ops.slack_app.views.escaping import (
    code,
    escape,
    link,
    literal,
    mrkdwn,
    one_line,
    plain,
    truncate,
    who,
)
from recovery_ops.slack_app.views.limits import (
    BUTTON_VALUE_LIMIT,
    HEADER_TEXT_LIMIT,
    MAX_BLOCKS,
    RICH_TEXT_LIMIT,
    SECTION_TEXT_LIMIT,
    cut_literal,
)

_ROUTING_LABEL = {Routing.TECHNICAL: "technical problem", Routing.CLIENT_DATA: "client-data problem"}


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


def preformatted_block(text: str, title: str = "") -> RichTextBlock:
    """``text`` as Slack shows code, exactly as written (cut within Slack's limits), under a bold
    ``title`` when there is one."""
    elements: list[RichTextSectionElement | RichTextPreformattedElement] = []
    if title:
        elements.append(
            RichTextSectionElement(elements=[{"type": "text", "text": title, "style": {"bold": True}}])
        )
    shown = cut_literal(literal(text), RICH_TEXT_LIMIT) or " "  # Slack refuses an empty text
    elements.append(RichTextPreformattedElement(elements=[{"type": "text", "text": shown}]))
    return RichTextBlock(elements=elements)


def cause_block(cause: str, known_tokens: tuple[str, ...] = ()) -> RichTextBlock:
    return preformatted_block(readable_cause(cause, known_tokens))


def input_block(recovery: Recovery) -> RichTextBlock:
    return preformatted_block(shown_input(recovery), "Input")


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
        f"{workflow_facts(recovery)}\n"
        f"*Error:* {code(recovery.error or 'unknown')}  ·  *Routing:* {routing}\n"
        f"*Paused at:* {one_line(recovery.requested_at)}  ·  *Delivered:* {recovery.attempts}×"
    )
    if recovery.owner:
        facts += f"\n{owner_line(recovery)}"
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=header)),
        SectionBlock(text=mrkdwn(truncate(facts, SECTION_TEXT_LIMIT))),
    ]
    if recovery.cause:
        blocks.append(cause_block(recovery.cause, (recovery.task_token,)))
    blocks.append(input_block(recovery))
    if recovery.approval is not None:  # a request waits: Approve / Deny / Withdraw instead
        blocks += pending_blocks(recovery)
    else:
        blocks.append(actions_block(recovery.recovery_id, recovery.owner))
    blocks.append(ContextBlock(elements=[mrkdwn(f"recovery {code(recovery.recovery_id)}")]))
    return blocks[:MAX_BLOCKS]


def workflow_facts(recovery: Recovery) -> str:
    """Where it paused: a state machine's execution (its console page); a durable function (its
    console page), its step and its durable execution."""
    if recovery.kind is WorkflowKind.DURABLE:
        return (
            f"*Function:* {link(recovery.console_url, recovery.state_machine_name)}"
            f"  ·  *Step:* {code(recovery.failed_state)}\n"
            f"*Durable execution:* {code(recovery.execution_name)}"
        )
    return f"*Execution:* {link(recovery.console_url, recovery.execution_name)}"


def workflow_and_step(recovery: Recovery) -> str:
    """A row's "workflow / where it failed": a durable recovery says function and step."""
    if recovery.kind is WorkflowKind.DURABLE:
        return f"function {one_line(recovery.state_machine_name)} / step {one_line(recovery.failed_state)}"
    return f"{one_line(recovery.state_machine_name)} / {one_line(recovery.failed_state)}"


def owner_line(recovery: Recovery) -> str:
    """Who took it, and since when ("" when nobody did)."""
    if not recovery.owner:
        return ""
    since = f" since {one_line(recovery.owned_at)}" if recovery.owned_at else ""
    return f"👤 *Owner:* {who(recovery.owner)}{since}"


def actions_block(recovery_id: str, owner: str | None = None) -> ActionsBlock:
    """Run again, Edit, Reject, and Take it (nobody owns it) or Release (someone does)."""
    value = truncate(recovery_id, BUTTON_VALUE_LIMIT, marker="")
    ownership = (
        ButtonElement(text="Release", action_id=RELEASE, value=value)
        if owner
        else ButtonElement(text="Take it", action_id=TAKE, value=value)
    )
    return ActionsBlock(
        block_id=f"recovery:{value}"[:255],
        elements=[
            ButtonElement(text="Run again", action_id=RUN_AGAIN, value=value, style="primary"),
            ButtonElement(text="Edit input & run again", action_id=EDIT_AND_RUN_AGAIN, value=value),
            # Reject opens a modal: the confirmation, with room for a reason.
            ButtonElement(text="Reject", action_id=REJECT, value=value, style="danger"),
            ownership,
        ],
    )


def outcome_blocks(recovery: Recovery, outcome: str) -> list[Block]:
    """The message once a recovery is handled: the buttons replaced by what happened."""
    blocks = [b for b in recovery_blocks(replace(recovery, approval=None)) if not isinstance(b, ActionsBlock)]
    blocks.insert(-1, DividerBlock())
    blocks.insert(-1, SectionBlock(text=mrkdwn(truncate(outcome, SECTION_TEXT_LIMIT))))
    return blocks[:MAX_BLOCKS]


def outcome_text(recovery: Recovery) -> str:
    """What happened to a closed recovery, from its audit trail: outcome, who, when, why."""
    closing = next((e for e in reversed(recovery.audit) if e.result == recovery.status), None)
    by = who(closing.actor if closing else None)
    at = one_line(closing.at if closing else recovery.updated_at)
    detail = closing.detail if closing else {}
    if recovery.status == "RESUMED":
        verb = "Edited and run again" if closing and closing.action.startswith("edit") else "Run again"
        where = (
            "The function continues from step"
            if recovery.kind is WorkflowKind.DURABLE
            else ("The execution continues from")
        )
        return f"✅ *{verb}* by {by} at {at}. {where} *{one_line(recovery.failed_state)}*."
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
