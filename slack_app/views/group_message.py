"""One message for many recoveries of the same failure: the count, the latest, bulk buttons; a
notice on top once the dependency they wait for answers again (and, when they resume by
themselves, how that goes, with Stop while it does); and, once nothing of the group is open any
more, the same message closed with the bulk action's summary.
"""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    PlainTextObject,
    SectionBlock,
)

from recovery_ops.service.recovery.healing.runs import HealingState
from recovery_ops.service.recovery.ports.notifier import CircuitClosedNotice, RecoveryGroup
from recovery_ops.service.recovery.storage.groups import GroupState
from recovery_ops.slack_app.ids import REJECT_ALL, RUN_AGAIN_ALL, TAKE_ALL
from recovery_ops.slack_app.views.escaping import code, link, mrkdwn, one_line, plain, truncate
from recovery_ops.slack_app.views.healing import healing_notice_text, stop_button
from recovery_ops.slack_app.views.limits import (
    BUTTON_VALUE_LIMIT,
    HEADER_TEXT_LIMIT,
    MAX_BLOCKS,
    SECTION_TEXT_LIMIT,
)
from recovery_ops.slack_app.views.recovery_message import cause_block


def group_fallback_text(group: RecoveryGroup) -> str:
    return truncate(
        f"{group.count} recoveries needed: {one_line(group.state_machine_name)} / "
        f"{one_line(group.failed_state)} failed with {one_line(group.error or 'an error')}",
        SECTION_TEXT_LIMIT,
    )


def notice_text(notice: CircuitClosedNotice) -> str:
    if notice.healing is not None:
        return healing_notice_text(notice, notice.healing)
    waiting = f"{notice.waiting} paused execution{'s' if notice.waiting != 1 else ''}"
    return (
        f"✅ The circuit for {code(notice.dependency)} closed at {one_line(notice.closed_at)}: it answers "
        f"again. {waiting} of this message can run again."
    )


def group_blocks(group: RecoveryGroup, notice: CircuitClosedNotice | None = None) -> list[Block]:
    """One message for many recoveries of the same failure: the count, the latest, bulk actions
    (and a ``notice`` on top: the dependency they wait for answers again; while its recoveries
    resume by themselves, with Stop beside it). The bulk buttons stay: a click and the automatic
    resume claim each recovery exactly once, so both may go on together."""
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
        SectionBlock(
            text=mrkdwn(truncate("*Latest*\n" + (latest or "none open any more"), SECTION_TEXT_LIMIT))
        ),
    ]
    if notice:
        text = truncate(notice_text(notice), SECTION_TEXT_LIMIT)
        healing, stop = notice.healing, None
        if healing is not None and HealingState(healing.state) is HealingState.RESUMING:
            stop = stop_button(healing.healing_id)
        blocks.insert(1, SectionBlock(text=mrkdwn(text), accessory=stop))
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
                # takes every open recovery of the message the person may act on and nobody owns
                ButtonElement(text="Take all", action_id=TAKE_ALL, value=value),
            ],
        )
    )
    blocks.append(ContextBlock(elements=[mrkdwn(f"group {code(group.group_id)}")]))
    return blocks[:MAX_BLOCKS]


def group_closed_blocks(group: GroupState, summary: str) -> list[Block]:
    """The group message once a bulk action left nothing open: no buttons, the action's summary
    (``summary`` is already escaped: the product writes it from escaped parts)."""
    header = plain(f"{group.count} × {group.state_machine_name}: {group.failed_state} failed")
    return [
        HeaderBlock(text=PlainTextObject(text=truncate(header, HEADER_TEXT_LIMIT))),
        SectionBlock(
            text=mrkdwn(
                truncate(f"*Error:* {code(group.error or 'unknown')}\n✅ {summary}", SECTION_TEXT_LIMIT)
            )
        ),
    ]
