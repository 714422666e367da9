"""Approval requests in Slack: a request on its recovery's message, a bulk request's own message,
what its approvers are told, why it ended, what each click came to, and what waits for a person.

A request under a routing rule's approval policy (``recovery_ops.service.recovery.lifecycle.approvals``)
replaces a recovery's Run again / Edit / Reject buttons with Approve, Deny and Withdraw (the core
decides who may use which: the buttons only offer), and shows what would run: the action, who asked,
how many more approvals it needs, who approved already, until when it waits, and an edit's diff (in a
preformatted block, shown as written, cut within Slack's limits; the whole stays in the table). A
bulk request (or one whose recovery shares a group message) gets a message of its own naming its set:
the count and the first few recoveries.

Everything a person or a state machine wrote (names, reasons, diffs, rule names) goes through
``escaping``; every text is cut through ``limits``. Button values carry the request id only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
    RichTextBlock,
    RichTextPreformattedElement,
    RichTextSectionElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from recovery_ops.service.recovery.lifecycle.approvals import Decision, DecisionOutcome
from recovery_ops.service.recovery.lifecycle.query import inert_json
from recovery_ops.service.recovery.model.approval import ApprovalRequest, ApprovalState, PendingApproval
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.model.redaction import without_tokens
from recovery_ops.slack_app.ids import APPROVAL_APPROVE, APPROVAL_DENY, APPROVAL_WITHDRAW, DENY_SUBMIT
from recovery_ops.slack_app.views.escaping import (
    code,
    escape,
    literal,
    mrkdwn,
    one_line,
    truncate,
    user_group,
    who,
)
from recovery_ops.slack_app.views.limits import (
    BLOCK_ID_LIMIT,
    BUTTON_VALUE_LIMIT,
    HEADER_TEXT_LIMIT,
    MAX_BLOCKS,
    RICH_TEXT_LIMIT,
    SECTION_TEXT_LIMIT,
    cut_literal,
    message_text,
)

SUBJECTS_SHOWN = 5  # the recoveries a bulk request's message names one by one
NAME_SHOWN = 120  # characters of a name in a line that must keep what follows it
REQUESTS_SHOWN = 8  # the requests a section of the Home or of `/recoveries approvals` lists
DENY_REASON_BLOCK, DENY_REASON_ACTION = "deny_reason", "text"
DENY_REASON_LIMIT = 500
APPROVALS_COMMAND = "`/recoveries approvals`"
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,20}$")


# ---------------------------------------------------------------------- small parts
def when(instant: str | None) -> str:
    """An ISO 8601 instant as people read it (``2026-12-07 20:49 UTC``); anything else escaped."""
    if not instant:
        return "no time"
    try:
        return datetime.fromisoformat(instant).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return one_line(instant)


def people(users: Sequence[str]) -> str:
    return ", ".join(who(u) for u in users)


def more_needed(missing: int) -> str:
    return f"waits for {missing} more approval{'s' if missing != 1 else ''}"


def diff_block(diff: str, title: str = "Change") -> RichTextBlock:
    """An edit's diff as written (no mention, no markup in a preformatted element), cut safely."""
    shown = cut_literal(literal(without_tokens(diff)), RICH_TEXT_LIMIT) or " "
    return RichTextBlock(
        elements=[
            RichTextSectionElement(elements=[{"type": "text", "text": title, "style": {"bold": True}}]),
            RichTextPreformattedElement(elements=[{"type": "text", "text": shown}]),
        ]
    )


def approval_buttons(request_id: str, withdraw: bool = True, deny: bool = True) -> ActionsBlock:
    """Approve and Deny (for the approvers), Withdraw (for the requester); each carries the request id."""
    value = truncate(request_id, BUTTON_VALUE_LIMIT, marker="")
    elements = [ButtonElement(text="Approve", action_id=APPROVAL_APPROVE, value=value, style="primary")]
    if deny:
        elements.append(ButtonElement(text="Deny", action_id=APPROVAL_DENY, value=value, style="danger"))
    if withdraw:
        elements.append(ButtonElement(text="Withdraw", action_id=APPROVAL_WITHDRAW, value=value))
    return ActionsBlock(block_id=f"approval:{value}"[:BLOCK_ID_LIMIT], elements=elements)


def withdraw_button(request_id: str) -> ActionsBlock:
    value = truncate(request_id, BUTTON_VALUE_LIMIT, marker="")
    return ActionsBlock(
        block_id=f"approval-mine:{value}"[:BLOCK_ID_LIMIT],
        elements=[ButtonElement(text="Withdraw", action_id=APPROVAL_WITHDRAW, value=value)],
    )


# ---------------------------------------------------------------------- on a recovery's own message
def pending_line(pending: PendingApproval) -> str:
    """``✋ *Edit and run again* by @a waits for 1 more approval (approved by @b) until …``."""
    action = one_line(pending.action).capitalize()
    line = f"✋ *{action}* by {who(pending.requested_by)} {more_needed(pending.missing)}"
    if pending.approved_by:
        line += f" (approved by {people(pending.approved_by)})"
    return line + f", until {when(pending.expires_at)}. Nothing runs before."


def pending_blocks(recovery: Recovery) -> list[Block]:
    """What replaces a recovery's buttons while a request waits on it: the request, its diff, and
    Approve / Deny / Withdraw."""
    pending = recovery.approval
    assert pending is not None
    blocks: list[Block] = [SectionBlock(text=mrkdwn(truncate(pending_line(pending), SECTION_TEXT_LIMIT)))]
    if pending.diff:
        blocks.append(diff_block(pending.diff))
    blocks.append(approval_buttons(pending.request_id))
    return blocks


# ---------------------------------------------------------------------- a request's own message
def request_summary(request: ApprovalRequest) -> str:
    """What the request would do, who asked, where it stands (mrkdwn, escaped)."""
    count = len(request.subjects)
    of = f" of {count} recover{'y' if count == 1 else 'ies'}" if request.bulk or count > 1 else ""
    line = f"*{one_line(request.resolver_action).capitalize()}*{of} by {who(request.requested_by)}: "
    line += _status(request)
    if request.rule:
        line += f"\nRule {code(request.rule[:NAME_SHOWN])}"
    if request.reason:
        line += f"\n*Reason:* {escape(without_tokens(request.reason))}"
    return line


def _status(request: ApprovalRequest) -> str:
    if request.state is ApprovalState.PENDING:
        line = f"{more_needed(request.missing)}, until {when(request.expires_at)}"
    elif request.state is ApprovalState.DENIED:
        line = f"denied by {who(request.decided_by)}"
    elif request.state is ApprovalState.WITHDRAWN:
        line = f"withdrawn by {who(request.decided_by)}"
    elif request.state is ApprovalState.EXPIRED:
        line = "expired before enough people approved"
    elif request.state is ApprovalState.APPROVED:
        line = "approved: running"
    else:
        line = "approved and run"
    if request.approvals:
        line += f" (approved by {people(request.approved_by)})"
    return line


def subjects_line(request: ApprovalRequest, recoveries: Sequence[Recovery]) -> str:
    """The named set: the count, and the first few (execution and id; ids alone when not read)."""
    named = {r.recovery_id: r for r in recoveries}
    lines = []
    for subject in request.subjects[:SUBJECTS_SHOWN]:
        recovery = named.get(subject)
        name = f"{code(recovery.execution_name[:NAME_SHOWN])} · " if recovery else ""
        lines.append(f"• {name}{code(subject)}")
    more = len(request.subjects) - SUBJECTS_SHOWN
    if more > 0:
        lines.append(f"… and {more} more")
    count = len(request.subjects)
    return f"*{count} recover{'y' if count == 1 else 'ies'}* (exactly these):\n" + "\n".join(lines)


def request_message_blocks(request: ApprovalRequest, recoveries: Sequence[Recovery]) -> list[Block]:
    """A request's own message: what it would do on which set, where it stands, and its buttons while
    it waits (its outcome once decided)."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate("✋ Approval requested", HEADER_TEXT_LIMIT))),
        SectionBlock(text=mrkdwn(truncate(request_summary(request), SECTION_TEXT_LIMIT))),
        SectionBlock(text=mrkdwn(truncate(subjects_line(request, recoveries), SECTION_TEXT_LIMIT))),
    ]
    if request.diff:
        blocks.append(diff_block(request.diff))
    if request.state is ApprovalState.PENDING:
        blocks.append(approval_buttons(request.request_id))
    elif request.state.is_final and request.state is not ApprovalState.DONE:
        blocks.append(SectionBlock(text=mrkdwn(truncate(decided_text(request), SECTION_TEXT_LIMIT))))
    blocks.append(ContextBlock(elements=[mrkdwn(f"request {code(request.request_id)}")]))
    return blocks[:MAX_BLOCKS]


def request_fallback_text(request: ApprovalRequest) -> str:
    return message_text(f"Approval requested: {request_summary(request)}")


# ---------------------------------------------------------------------- what approvers and the thread read
def approvers_mention(request: ApprovalRequest) -> str:
    """The approvers: their user group and/or users (only valid ids become mentions)."""
    parts = [user_group(request.approver_group)] if request.approver_group else []
    parts += [who(u) for u in request.approver_ids if u != request.requested_by]
    return " ".join(parts) or "Approvers"


def approvers_told_text(request: ApprovalRequest) -> str:
    """The thread reply that tells the approvers what waits for them, and until when."""
    needed = request.needed
    text = (
        f"{approvers_mention(request)}: ✋ {request_summary(request)}.\n"
        f"It needs {needed} approval{'s' if needed != 1 else ''} from you (never the requester's own) "
        f"before {when(request.expires_at)}: *Approve* or *Deny* on the message, or {APPROVALS_COMMAND}."
    )
    return message_text(text)


def decided_text(request: ApprovalRequest) -> str:
    """Why a request ended without running: denied (and the reason), withdrawn, expired."""
    what = f"*{one_line(request.resolver_action).capitalize()}* by {who(request.requested_by)}"
    reason = escape(without_tokens(request.decision_reason)) if request.decision_reason else ""
    if request.state is ApprovalState.DENIED:
        why = f"denied by {who(request.decided_by)}"
    elif request.state is ApprovalState.WITHDRAWN:
        why = f"withdrawn by {who(request.decided_by)}"
    elif request.state is ApprovalState.EXPIRED:
        why = f"expired at {when(request.expires_at)} before enough people approved"
        if request.approvals:
            why += f" (approved by {people(request.approved_by)})"
    else:
        why = _status(request)
    count = len(request.subjects)
    left = "the recovery stays open" if count == 1 else f"the {count} recoveries stay open"
    said = f"\n*Reason:* {reason}" if reason and request.state is not ApprovalState.EXPIRED else ""
    return message_text(f"✋ {what}: {why}. Nothing ran; {left}.{said}")


# ---------------------------------------------------------------------- what the clicker is told
def decision_text(decision: Decision) -> str:
    """What an Approve, Deny, Withdraw or a request came to, in words, for the person who clicked."""
    request = decision.request
    detail = escape(decision.detail)
    outcome = decision.outcome
    if outcome is DecisionOutcome.REQUESTED and request is not None:
        text = (
            f"✋ Nothing ran yet: {request_summary(request)}. Its approvers are told; "
            "you may withdraw it on the message."
        )
    elif outcome is DecisionOutcome.COUNTED and request is not None:
        text = f"👍 Your approval counted: {request.missing} more needed."
    elif outcome is DecisionOutcome.APPROVED:
        text = f"✅ Approved, and run: {detail}."
    elif outcome is DecisionOutcome.DENIED:
        text = "🛑 Denied: nothing ran, the request's recoveries stay open."
    elif outcome is DecisionOutcome.WITHDRAWN:
        text = "↩️ Withdrawn: nothing ran, the request's recoveries stay open."
    elif outcome is DecisionOutcome.EXPIRED:
        text = f"⌛ Too late: {detail}. Nothing ran."
    elif outcome is DecisionOutcome.ALREADY_DECIDED:
        text = f"👋 Already decided: {detail}."
    elif outcome is DecisionOutcome.NOT_FOUND:
        text = "⚠️ No such request (decided long ago and expired from the table?)."
    else:
        text = f"🚫 Not done: {detail}. Your attempt is in the audit trail."
    return message_text(text)


# ---------------------------------------------------------------------- what waits for a person
def waiting_blocks(
    waiting: Sequence[ApprovalRequest], mine: Sequence[ApprovalRequest], shown: int = REQUESTS_SHOWN
) -> list[Block]:
    """ "Waiting for your approval" (Approve / Deny on each) and "Your requests" (Withdraw): at most
    ``shown`` of each, two blocks a request, so within any message's or Home's block limit."""
    blocks: list[Block] = [_header(f"Waiting for your approval ({len(waiting)})")]
    if not waiting:
        blocks.append(ContextBlock(elements=[mrkdwn("Nothing waits for your approval.")]))
    for request in waiting[:shown]:
        blocks.append(SectionBlock(text=mrkdwn(truncate(_row(request), SECTION_TEXT_LIMIT))))
        blocks.append(approval_buttons(request.request_id, withdraw=False))
    if len(waiting) > shown:
        blocks.append(ContextBlock(elements=[mrkdwn(f"… and {len(waiting) - shown} more")]))
    if mine:
        blocks.append(_header(f"Your requests ({len(mine)})"))
        for request in mine[:shown]:
            blocks.append(SectionBlock(text=mrkdwn(truncate(_row(request), SECTION_TEXT_LIMIT))))
            blocks.append(withdraw_button(request.request_id))
        if len(mine) > shown:
            blocks.append(ContextBlock(elements=[mrkdwn(f"… and {len(mine) - shown} more")]))
    return blocks


def _row(request: ApprovalRequest) -> str:
    first = code(request.subjects[0]) if request.subjects else "nothing"
    more = f" and {len(request.subjects) - 1} more" if len(request.subjects) > 1 else ""
    return f"{request_summary(request)}\non {first}{more} · request {code(request.request_id)}"


def waiting_note(count: int) -> str:
    """The default list's line: how many requests wait for the person's approval."""
    them = "request waits" if count == 1 else "requests wait"
    return f"✋ {count} {them} for your approval ({APPROVALS_COMMAND})"


def approvals_fallback_text(waiting: int, mine: int) -> str:
    return f"{waiting} waiting for your approval, {mine} of your requests pending"


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=truncate(text, HEADER_TEXT_LIMIT)))


# ---------------------------------------------------------------------- Deny's modal
def deny_modal(request_id: str, channel: str | None) -> View:
    """Deny, with an optional reason (told in the thread and kept in the audit)."""
    return View(
        type="modal",
        callback_id=DENY_SUBMIT,
        private_metadata=inert_json({"request_id": request_id, "channel": channel}),
        title=PlainTextObject(text="Deny the request?"),
        submit=PlainTextObject(text="Deny"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(text=mrkdwn("Nothing runs; the recovery stays open and the requester is told why.")),
            InputBlock(
                block_id=DENY_REASON_BLOCK,
                optional=True,
                label=PlainTextObject(text="Reason (optional, kept in the audit trail)"),
                element=PlainTextInputElement(
                    action_id=DENY_REASON_ACTION, multiline=True, max_length=DENY_REASON_LIMIT
                ),
            ),
        ],
    )


def bulk_requests_text(requests: Sequence[ApprovalRequest], refused: Sequence[str] = ()) -> str:
    """What a bulk action held back for approval: each request (its set's size, where it stands, where
    its message is), and what could not be asked for."""
    lines = []
    for request in requests:
        where = f" in <#{request.channel}>" if request.channel and _CHANNEL_ID.match(request.channel) else ""
        lines.append(
            f"• {len(request.subjects)} under rule {code(request.rule or 'none')}: {_status(request)} "
            f"(request {code(request.request_id)}, its message{where} has Approve / Deny / Withdraw)"
        )
    lines += [f"• held back: {escape(why)}" for why in refused]
    count = sum(len(r.subjects) for r in requests)
    head = f"✋ {count} recover{'y' if count == 1 else 'ies'} wait for approval; nothing ran on them:"
    if not requests:
        head = "✋ Held back by an approval policy; nothing ran on them:"
    return message_text(head + "\n" + "\n".join(lines))
