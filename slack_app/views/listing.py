"""The answers of `/recoveries`: the open list (paged within Slack's limits) and one recovery in full.

A page has a header, the counts by state machine and error, one section per recovery (its
actions in an overflow menu: Run again, Edit input & run again, Reject) and a "Next page" button
that carries the query and a cursor. 20 rows keep a page far below 50 blocks and Slack's message
size, whatever the errors' length.
"""

from __future__ import annotations

from collections import Counter

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    Option,
    OverflowMenuElement,
    PlainTextObject,
    SectionBlock,
)

from service.recovery.query import RecoveryQuery
from service.recovery.recovery import Recovery
from service.recovery.redaction import without_tokens
from slack_app.ids import EDIT_AND_RUN_AGAIN, NEXT_PAGE, REJECT, RELEASE, ROW_MENU, RUN_AGAIN, TAKE
from slack_app.views.escaping import code, code_block, escape, link, mrkdwn, one_line, plain, truncate, who
from slack_app.views.limits import BUTTON_VALUE_LIMIT, HEADER_TEXT_LIMIT, MAX_BLOCKS, SECTION_TEXT_LIMIT
from slack_app.views.recovery_message import actions_block, cause_block, input_block, outcome_text, owner_line

PAGE_SIZE = 20
COUNTS_SHOWN = 10
HISTORY_SHOWN = 30
_ROW_ACTIONS = ((RUN_AGAIN, "Run again"), (EDIT_AND_RUN_AGAIN, "Edit input & run again"), (REJECT, "Reject"))
_ROW_OWNERSHIP = {False: (TAKE, "Take it"), True: (RELEASE, "Release")}


def row_menu_value(action_id: str, recovery_id: str) -> str:
    return f"{action_id}|{recovery_id}"


def parse_row_menu_value(value: str) -> tuple[str, str]:
    action_id, _, recovery_id = value.partition("|")
    return action_id, recovery_id


def list_blocks(
    page: list[Recovery],
    counts: Counter[tuple[str, str | None]],
    query: RecoveryQuery,
    next_cursor: str | None,
    page_number: int = 1,
) -> list[Block]:
    total = sum(counts.values())
    title = f"{total} open recover{'y' if total == 1 else 'ies'}" + (
        f" ({query.describe()})" if query.narrowed else ""
    )
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=truncate(plain(title), HEADER_TEXT_LIMIT)))]
    if total:
        lines = [
            f"• *{one_line(machine)}* · {code(error or 'unknown')}: {count}"
            for (machine, error), count in counts.most_common(COUNTS_SHOWN)
        ]
        if len(counts) > COUNTS_SHOWN:
            lines.append(f"… and {len(counts) - COUNTS_SHOWN} more kinds")
        blocks.append(SectionBlock(text=mrkdwn(truncate("\n".join(lines), SECTION_TEXT_LIMIT))))
    else:
        blocks.append(SectionBlock(text=mrkdwn("Nothing is waiting for a person. 🎉")))
    blocks.append(DividerBlock())
    for recovery in page:
        blocks.append(recovery_row(recovery))
    footer = f"Page {page_number} · newest first · `/recoveries show {escape('<id>')}` for one in full"
    blocks.append(ContextBlock(elements=[mrkdwn(footer)]))
    if next_cursor:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text=f"Next {PAGE_SIZE}",
                        action_id=NEXT_PAGE,
                        value=truncate(
                            f"{page_number + 1}|{query.next_page(next_cursor).to_json()}",
                            BUTTON_VALUE_LIMIT,
                            marker="",
                        ),
                    )
                ]
            )
        )
    return blocks[:MAX_BLOCKS]


def recovery_row(recovery: Recovery, with_actions: bool = True) -> SectionBlock:
    """One open recovery on one line or two; its actions (Run again, Edit input & run again,
    Reject) in an overflow menu, unless ``with_actions`` is False (someone who may only see it)."""
    text = (
        f"*{link(recovery.console_url, recovery.execution_name)}*"
        f"  ·  {one_line(recovery.state_machine_name)}"
        f" / {one_line(recovery.failed_state)}\n{code(recovery.error or 'unknown')} · paused at "
        f"{one_line(recovery.requested_at)} · {code(recovery.recovery_id)}"
    )
    if recovery.owner:
        text += f" · owner {who(recovery.owner)}"
    actions = (*_ROW_ACTIONS, _ROW_OWNERSHIP[recovery.owner is not None])
    menu = OverflowMenuElement(
        action_id=ROW_MENU,
        options=[
            Option(value=row_menu_value(action, recovery.recovery_id), label=label)
            for action, label in actions
        ],
    )
    return SectionBlock(
        text=mrkdwn(truncate(text, SECTION_TEXT_LIMIT)), accessory=menu if with_actions else None
    )


def show_blocks(recovery: Recovery) -> list[Block]:
    """One recovery in full: what failed, the whole cause (as far as Slack allows), the history."""
    blocks: list[Block] = [
        HeaderBlock(
            text=PlainTextObject(
                text=truncate(
                    plain(f"{recovery.state_machine_name}: {recovery.failed_state}"), HEADER_TEXT_LIMIT
                )
            )
        ),
        SectionBlock(
            text=mrkdwn(
                truncate(
                    f"*Status:* {recovery.status}  ·  *Execution:* "
                    f"{link(recovery.console_url, recovery.execution_name)}\n"
                    f"*Error:* {code(recovery.error or 'unknown')}"
                    f"  ·  *Paused at:* {one_line(recovery.requested_at)}"
                    f"  ·  *Delivered:* {recovery.attempts}×"
                    + (f"\n{owner_line(recovery)}" if recovery.owner else ""),
                    SECTION_TEXT_LIMIT,
                )
            )
        ),
    ]
    if recovery.cause:
        blocks.append(cause_block(recovery.cause, (recovery.task_token,)))
    blocks.append(input_block(recovery))
    if recovery.status.is_closed:
        blocks.append(SectionBlock(text=mrkdwn(truncate(outcome_text(recovery), SECTION_TEXT_LIMIT))))
    elif recovery.status == "OPEN":
        blocks.append(actions_block(recovery.recovery_id, recovery.owner))
    blocks.append(HeaderBlock(text=PlainTextObject(text="History")))
    for entry in recovery.audit[-HISTORY_SHOWN:]:
        line = (
            f"*{one_line(entry.at)}* · {who(entry.actor)} · {one_line(entry.action)} → "
            f"*{one_line(entry.result)}*"
        )
        detail = without_tokens(entry.detail, (recovery.task_token,))
        details = "; ".join(f"{k}: {v}" for k, v in detail.items() if k != "diff")
        if details:
            line += f"\n{escape(details)}"
        if detail.get("diff"):
            line += "\n" + code_block(detail["diff"], 2500)
        blocks.append(SectionBlock(text=mrkdwn(truncate(line, SECTION_TEXT_LIMIT))))
    blocks.append(ContextBlock(elements=[mrkdwn(f"recovery {code(recovery.recovery_id)}")]))
    return blocks[:MAX_BLOCKS]
