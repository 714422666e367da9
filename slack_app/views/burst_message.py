"""One message for the distinct failures a channel had in one window beyond the few that got
messages of their own: how many recoveries, the largest failures, the latest recoveries each with
its row menu (Run again, Edit input & run again, Reject, Take it), and "List all" (the
`/recoveries` listing of exactly these, in pages).

No bulk button: the recoveries failed in different ways, and running them all again at once would
act on failures nobody looked at. `/recoveries retry group=<id>` does it with the usual
confirmation, for someone who did look.
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

from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.ports.notifier import FoldedFailure, RecoveryBurst
from recovery_ops.slack_app.ids import BURST_LIST
from recovery_ops.slack_app.views.escaping import code, mrkdwn, one_line, plain, truncate
from recovery_ops.slack_app.views.limits import (
    BUTTON_TEXT_LIMIT,
    BUTTON_VALUE_LIMIT,
    HEADER_TEXT_LIMIT,
    MAX_BLOCKS,
    SECTION_TEXT_LIMIT,
    length,
)
from recovery_ops.slack_app.views.listing import recovery_row

NAME_SHOWN = 80  # of a state machine, state or error on a failure's line: five lines always fit
LATEST_ROWS = 5


def burst_fallback_text(burst: RecoveryBurst) -> str:
    return (
        f"{burst.count} recover{'y' if burst.count == 1 else 'ies'} needed, "
        f"{burst.failures} distinct failure{'' if burst.failures == 1 else 's'}"
    )


def failure_line(failure: FoldedFailure) -> str:
    """One failure on one line, each name cut on its own (never a code span or an entity)."""
    machine = truncate(one_line(failure.state_machine_name), NAME_SHOWN)
    state = truncate(one_line(failure.failed_state), NAME_SHOWN)
    error = code(truncate(failure.error or "unknown", NAME_SHOWN))
    return f"• *{machine}* / {state} · {error}: {failure.count}"


def largest_failures(burst: RecoveryBurst) -> str:
    """The largest failures, whole lines only, as many as a section holds; how many more."""
    text = "*Largest failures*"
    shown = 0
    for failure in burst.top:
        line = "\n" + failure_line(failure)
        if length(text + line) > SECTION_TEXT_LIMIT - 60:  # room for the "more" line
            break
        text += line
        shown += 1
    more = burst.failures - shown
    if more > 0:
        text += f"\n… and {more} more failure{'' if more == 1 else 's'}: *List all* shows every recovery"
    return text


def list_all_value(burst: RecoveryBurst) -> str:
    """What "List all" carries: the listing's query for the burst's recoveries (an id, no names)."""
    return truncate(RecoveryQuery(group=burst.group_id).to_json(), BUTTON_VALUE_LIMIT, marker="")


def burst_blocks(burst: RecoveryBurst) -> list[Block]:
    header = plain(
        f"⚠️ {burst.count} recover{'y' if burst.count == 1 else 'ies'} needed · "
        f"{burst.failures} distinct failure{'' if burst.failures == 1 else 's'}"
    )
    summary = (
        "More distinct failures than this channel shows one by one, gathered in one message. "
        "Each recovery keeps its own actions: the latest below, every one with *List all*."
    )
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=truncate(header, HEADER_TEXT_LIMIT))),
        SectionBlock(text=mrkdwn(summary)),
        SectionBlock(text=mrkdwn(largest_failures(burst))),
    ]
    if burst.latest:
        blocks.append(SectionBlock(text=mrkdwn("*Latest*")))
        blocks += [recovery_row(recovery) for recovery in burst.latest[-LATEST_ROWS:]]
    blocks.append(
        ActionsBlock(
            elements=[
                ButtonElement(
                    text=truncate(plain(f"List all {burst.count}"), BUTTON_TEXT_LIMIT),
                    action_id=BURST_LIST,
                    value=list_all_value(burst),
                )
            ]
        )
    )
    blocks.append(
        ContextBlock(
            elements=[mrkdwn(f"burst {code(burst.group_id)} · `/recoveries group={burst.group_id}`")]
        )
    )
    return blocks[:MAX_BLOCKS]
