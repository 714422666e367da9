"""The answers of `/recoveries`: the open list (paged within Slack's limits) and one recovery in full.

A page has a header, the counts by state machine and error, one section per recovery (its
actions in an overflow menu: Run again, Edit input & run again, Reject) and a "Next page" button
that carries the query and a cursor. 20 rows keep a page far below 50 blocks and Slack's message
size, whatever the errors' length.

The recoveries in flight (claimed, their outcome not stored yet) are never left out: the header
counts them, and the first page shows the longest in flight in a section of their own, each with
how long it has been in flight and who claimed it, and no actions (its call is under way, or
stuck until the reconciler settles it). ``/recoveries in-flight`` lists only those, paged the same.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

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

from recovery_ops.service.recovery.lifecycle.in_flight import InFlight, in_flight
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.lifecycle.reminders import describe_duration
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.model.redaction import without_tokens
from recovery_ops.slack_app.ids import (
    EDIT_AND_RUN_AGAIN,
    NEXT_PAGE,
    REJECT,
    RELEASE,
    ROW_MENU,
    RUN_AGAIN,
    TAKE,
)
from recovery_ops.slack_app.views.approvals import waiting_note
from recovery_ops.slack_app.views.escaping import (
    code,
    code_block,
    escape,
    link,
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
    SECTION_TEXT_LIMIT,
)
from recovery_ops.slack_app.views.reconcile import reconcile_button
from recovery_ops.slack_app.views.recovery_message import (
    actions_block,
    cause_block,
    input_block,
    outcome_text,
    owner_line,
    workflow_and_step,
    workflow_facts,
)

PAGE_SIZE = 20
COUNTS_SHOWN = 10
HISTORY_SHOWN = 30
IN_FLIGHT_SHOWN = 5  # on the first page of the open list: the longest in flight
IN_FLIGHT_MARK = "🛫 *in flight*"
IN_FLIGHT_MEANS = "claimed, outcome not stored yet"
NOTHING_IN_FLIGHT = "Nothing is in flight: every claimed recovery has its outcome stored."
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
    longest_in_flight: list[InFlight] | None = None,
    in_flight_total: int = 0,
    now: datetime | None = None,
    counts_complete: bool = True,
    total: int | None = None,
    kinds: int | None = None,
    counted_at: str | None = None,
    awaiting_approval: int = 0,
) -> list[Block]:
    """A page of the list: the open recoveries, or those in flight for ``query.in_flight``. Beside
    the open ones, ``in_flight_total`` is counted in the header and ``longest_in_flight`` shown in
    a section of their own. ``counts_complete`` False: the counts are of the first ones read only
    (a filter the counters cannot answer), and say so. ``total``, ``kinds`` and ``counted_at``: a
    rollup's (``counts`` then holds its largest kinds only)."""
    now = now or datetime.now(UTC)
    total = sum(counts.values()) if total is None else total
    kinds = len(counts) if kinds is None else kinds
    shown = f"{total}" if counts_complete else f"{total}+"
    if query.in_flight:
        title = f"{shown} recover{'y' if total == 1 else 'ies'} in flight"
    else:
        title = f"{shown} open recover{'y' if total == 1 else 'ies'}"
        if in_flight_total:
            title += f" · {in_flight_total} in flight"
    filters = query.with_status(None)
    if filters.narrowed:
        title += f" ({filters.describe()})"
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=truncate(plain(title), HEADER_TEXT_LIMIT)))]
    if awaiting_approval:
        blocks.append(ContextBlock(elements=[mrkdwn(waiting_note(awaiting_approval))]))
    if total:
        lines = [
            f"• *{one_line(machine)}* · {code(error or 'unknown')}: {count}"
            for (machine, error), count in counts.most_common(COUNTS_SHOWN)
        ]
        if kinds > COUNTS_SHOWN:
            lines.append(f"… and {kinds - COUNTS_SHOWN} more kinds")
        if counted_at:
            lines.append(f"_Counted at {one_line(counted_at)} (the breakdown of many kinds, each minute)_")
        blocks.append(SectionBlock(text=mrkdwn(truncate("\n".join(lines), SECTION_TEXT_LIMIT))))
    elif query.in_flight:
        blocks.append(SectionBlock(text=mrkdwn(NOTHING_IN_FLIGHT)))
    else:
        blocks.append(SectionBlock(text=mrkdwn("Nothing is waiting for a person. 🎉")))
    blocks.append(DividerBlock())
    if longest_in_flight and not query.in_flight:
        blocks += in_flight_section(longest_in_flight, max(in_flight_total, len(longest_in_flight)), now)
    for recovery in page:
        if query.in_flight:
            claim = in_flight(recovery)
            blocks.append(in_flight_row(claim, now) if claim else recovery_row(recovery, with_actions=False))
        else:
            blocks.append(recovery_row(recovery))
    what = "in flight, " if query.in_flight else ""
    footer = f"Page {page_number} · {what}newest first · `/recoveries show {escape('<id>')}` for one in full"
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


def in_flight_section(claims: list[InFlight], total: int, now: datetime) -> list[Block]:
    """Beside the open list: the longest in flight (at most ``IN_FLIGHT_SHOWN``), and how to see all."""
    intro = (
        f"{IN_FLIGHT_MARK}: {total} ({IN_FLIGHT_MEANS}). Normally for seconds; one in flight for long "
        "may have lost its process and waits for the reconciler. Nobody can act on them meanwhile."
    )
    blocks: list[Block] = [SectionBlock(text=mrkdwn(intro))]
    blocks += [in_flight_row(claim, now) for claim in claims[:IN_FLIGHT_SHOWN]]
    if total > min(len(claims), IN_FLIGHT_SHOWN):
        more = total - min(len(claims), IN_FLIGHT_SHOWN)
        see_all = f"… and {more} more in flight: `/recoveries in-flight`"
        blocks.append(ContextBlock(elements=[mrkdwn(see_all)]))
    blocks.append(DividerBlock())
    return blocks


def in_flight_row(claim: InFlight, now: datetime) -> SectionBlock:
    """One recovery in flight: how long, since when and who claimed it; no actions."""
    recovery = claim.recovery
    since = claim.since.astimezone(UTC).isoformat(timespec="seconds")
    text = (
        f"{IN_FLIGHT_MARK} {describe_duration(claim.age(now))} · "
        f"*{link(recovery.console_url, recovery.execution_name)}*"
        f"  ·  {workflow_and_step(recovery)}\n"
        f"{code(recovery.error or 'unknown')} · claimed by {who(claim.claimed_by)} at {one_line(since)}"
        f" · {code(recovery.recovery_id)}"
    )
    return SectionBlock(text=mrkdwn(truncate(text, SECTION_TEXT_LIMIT)))


def in_flight_line(claim: InFlight, now: datetime) -> str:
    """In one recovery in full: in flight, for how long, since when, claimed by whom."""
    since = claim.since.astimezone(UTC).isoformat(timespec="seconds")
    return (
        f"{IN_FLIGHT_MARK} for {describe_duration(claim.age(now))} (since {one_line(since)}, claimed by "
        f"{who(claim.claimed_by)}): its outcome is not stored yet"
    )


def recovery_row(recovery: Recovery, with_actions: bool = True) -> SectionBlock:
    """One open recovery on one line or two; its actions (Run again, Edit input & run again,
    Reject) in an overflow menu, unless ``with_actions`` is False (someone who may only see it)."""
    text = (
        f"*{link(recovery.console_url, recovery.execution_name)}*"
        f"  ·  {workflow_and_step(recovery)}"
        f"\n{code(recovery.error or 'unknown')} · paused at "
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


def show_blocks(recovery: Recovery, now: datetime | None = None) -> list[Block]:
    """One recovery in full: what failed, the whole cause (as far as Slack allows), the history;
    one in flight says so, since when and who claimed it."""
    claim = in_flight(recovery)
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
                    f"*Status:* {recovery.status}  ·  {workflow_facts(recovery)}\n"
                    f"*Error:* {code(recovery.error or 'unknown')}"
                    f"  ·  *Paused at:* {one_line(recovery.requested_at)}"
                    f"  ·  *Delivered:* {recovery.attempts}×"
                    + (f"\n{in_flight_line(claim, now or datetime.now(UTC))}" if claim else "")
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
    elif claim is not None:
        blocks.append(reconcile_button(recovery.recovery_id))
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
