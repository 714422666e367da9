"""The App Home tab: one person's overview of the open recoveries, the circuits and the DLQs.

Rebuilt each time the tab is opened (``views.publish``), from plain data: the ``Overview`` of
what they may see (``recovery_ops.service.recovery.lifecycle.overview``), the circuit breakers' readings and
the DLQs'
depths. It shows the count by state machine and error (each with a **Show these** button that
filters the Home to them), the recoveries they own, then a page of the oldest waiting with the
list's row menu (Run again, Edit input & run again, Reject) on those they may act on, and
**Previous** / **Next** buttons. The recoveries in flight (claimed, outcome not stored yet) are
counted in the summary with a *Show in flight* button (the Home listing those instead), and the
longest in flight are shown in a section of their own with how long and who claimed them, never
with actions. Where a button leads (a filter and a page) travels in its value,
and the view's ``private_metadata`` keeps where the Home is, as inert JSON (``home_location``).
At most ``HOME_MAX_BLOCKS`` blocks, whatever the number of recoveries.

A person who may see nothing gets a Home that says so and why, and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

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
from slack_sdk.models.views import View

from recovery_ops.service.breaker.circuit_board import CircuitReading
from recovery_ops.service.breaker.circuit_breaker import CircuitState
from recovery_ops.service.recovery.dead_letters.queues import DeadLetterReport
from recovery_ops.service.recovery.lifecycle.in_flight import IN_FLIGHT, in_flight
from recovery_ops.service.recovery.lifecycle.overview import Overview, Role
from recovery_ops.service.recovery.lifecycle.query import QueryError, RecoveryQuery, inert_json
from recovery_ops.service.recovery.model.approval import ApprovalRequest
from recovery_ops.slack_app.ids import HOME_FILTER, HOME_PAGE_NEXT, HOME_PAGE_PREVIOUS
from recovery_ops.slack_app.views.approvals import waiting_blocks
from recovery_ops.slack_app.views.escaping import code, escape, mrkdwn, one_line, plain, truncate
from recovery_ops.slack_app.views.limits import (
    BUTTON_VALUE_LIMIT,
    HEADER_TEXT_LIMIT,
    HOME_MAX_BLOCKS,
    SECTION_TEXT_LIMIT,
)
from recovery_ops.slack_app.views.listing import (
    IN_FLIGHT_MARK,
    IN_FLIGHT_MEANS,
    NOTHING_IN_FLIGHT,
    in_flight_row,
    recovery_row,
)

COUNTS_SHOWN = 10
HOME_REQUESTS_SHOWN = 5  # of each approvals section: at most 24 blocks of the Home's 100
MAX_PAGE_NUMBER = 10_000
NO_BREAKER_TABLE = "No circuit breaker table in this deployment (CIRCUIT_BREAKER_TABLE_NAME is not set)."
NO_DEAD_LETTER_QUEUE = "No dead-letter queue is configured for this deployment."
DEAD_LETTERS_NOT_YOURS = "The dead-letter queues are shown to the deployment's admins and viewers."
_ROLE_TEXT = {
    Role.ADMIN: "You are an admin of recovery-ops: you may act on every recovery.",
    Role.TEAM: "You may act on the recoveries of your team's routing rules; other teams' are not shown.",
    Role.VIEWER: "You may see these recoveries but not act on them.",
}
_CIRCUIT_MARK = {CircuitState.CLOSED: "🟢", CircuitState.OPEN: "🔴", CircuitState.HALF_OPEN: "🟡"}
_CIRCUIT_WORD = {
    CircuitState.CLOSED: "closed",
    CircuitState.OPEN: "open",
    CircuitState.HALF_OPEN: "half-open (one probe)",
}


# ---------------------------------------------------------------------- where a button leads
def home_location(query: RecoveryQuery, page: int = 1) -> str:
    """A filter and a page as inert JSON (a button's value, the view's private_metadata)."""
    filters = json.loads(query.to_json())
    filters.pop("before", None)
    return inert_json({**filters, "page": str(page)})


def parse_home_location(value: str | None) -> tuple[RecoveryQuery, int]:
    """What ``home_location`` wrote; nothing (a Home just opened) is the first page of everything.
    A malformed value (forged, or from an older version) is a ``QueryError``."""
    if not value:
        return RecoveryQuery(), 1
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise QueryError("this Home button cannot be read: open the Home tab again") from exc
    if not isinstance(data, dict):
        raise QueryError("this Home button cannot be read: open the Home tab again")
    page = str(data.pop("page", "1"))
    if not page.isdigit() or not 1 <= int(page) <= MAX_PAGE_NUMBER:
        raise QueryError("this Home button cannot be read: open the Home tab again")
    data.pop("before", None)
    return RecoveryQuery.from_json(inert_json(data)), int(page)


# ---------------------------------------------------------------------- the views
def home_view(
    overview: Overview,
    circuits: list[CircuitReading] | None,
    dead_letters: list[DeadLetterReport] | None,
    now: datetime,
    dead_letters_shown: bool = True,
    approvals: tuple[Sequence[ApprovalRequest], Sequence[ApprovalRequest]] | None = None,
) -> View:
    """The Home of someone who may see recoveries. ``circuits`` / ``dead_letters`` None: the
    deployment has no breaker table / no DLQ; ``dead_letters_shown`` False: not theirs to see;
    ``approvals``: the requests waiting for their approval and their own pending requests (shown
    first when there are any)."""
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text="Recoveries")),
        ContextBlock(elements=[mrkdwn(_ROLE_TEXT[overview.role])]),
    ]
    if approvals is not None and (approvals[0] or approvals[1]):
        blocks += [*waiting_blocks(*approvals, shown=HOME_REQUESTS_SHOWN), DividerBlock()]
    blocks += [
        *_summary(overview),
        DividerBlock(),
        *_circuits(circuits, now),
        *_dead_letters(dead_letters, dead_letters_shown),
        DividerBlock(),
    ]
    if overview.owned and overview.page_number == 1:
        blocks.append(_header(f"Yours ({overview.owned_total})"))
        blocks += [recovery_row(r, with_actions=overview.may_act_on(r)) for r in overview.owned]
    if overview.in_flight and overview.page_number == 1:
        blocks += _in_flight(overview, now)
    blocks += _page(overview, now)
    return View(
        type="home",
        private_metadata=home_location(overview.query, overview.page_number),
        blocks=_within_limit(blocks),
    )


def no_access_view(why: str) -> View:
    """The Home of someone who may see no recovery: why, and whom to ask; no recovery data."""
    return View(
        type="home",
        blocks=[
            HeaderBlock(text=PlainTextObject(text="Recoveries")),
            SectionBlock(
                text=mrkdwn(
                    truncate(
                        f"🚫 You have no access to the recoveries: {escape(why)}.\n"
                        "Ask an admin of recovery-ops to add you to a routing rule's team or viewers "
                        "(or to the deployment's allowed or viewer users).",
                        SECTION_TEXT_LIMIT,
                    )
                )
            ),
        ],
    )


def notice_view(text: str) -> View:
    """A Home that only says ``text`` (already escaped): the overview could not be built."""
    return View(
        type="home",
        blocks=[
            HeaderBlock(text=PlainTextObject(text="Recoveries")),
            SectionBlock(text=mrkdwn(truncate(text, SECTION_TEXT_LIMIT))),
        ],
    )


# ---------------------------------------------------------------------- the parts
def _summary(overview: Overview) -> list[Block]:
    total = overview.total
    plural = "y" if total == 1 else "ies"
    shown = f"{total}" if overview.counts_complete else f"{total}+"
    title = (
        f"*{shown} recover{plural} in flight*"
        if overview.listing_in_flight
        else f"*{shown} open recover{plural}*"
    )
    filters = overview.query.with_status(None)
    if filters.narrowed:
        title += f" matching {one_line(filters.describe())}"
    if overview.left_out:
        title += f" ({overview.left_out} of other teams not shown)"
    first = SectionBlock(text=mrkdwn(truncate(title, SECTION_TEXT_LIMIT)))
    if overview.query.narrowed:
        everything = home_location(RecoveryQuery())
        first.accessory = ButtonElement(text="Show all", action_id=HOME_FILTER, value=everything)
    blocks: list[Block] = [first]
    if overview.in_flight_total:
        line = f"{IN_FLIGHT_MARK}: {overview.in_flight_total} ({IN_FLIGHT_MEANS})"
        value = home_location(replace(overview.query, status=IN_FLIGHT))
        show = ButtonElement(text="Show in flight", action_id=HOME_FILTER, value=value)
        blocks.append(
            SectionBlock(text=mrkdwn(line), accessory=show if len(value) <= BUTTON_VALUE_LIMIT else None)
        )
    if not total:
        empty = NOTHING_IN_FLIGHT if overview.listing_in_flight else "Nothing is waiting for a person. 🎉"
        blocks.append(SectionBlock(text=mrkdwn(empty)))
        return blocks
    kinds = overview.counts.most_common(COUNTS_SHOWN)
    for (machine, error), count in kinds:
        line = f"• *{one_line(machine)}* · {code(error or 'unknown error')}: {count}"
        text = mrkdwn(truncate(line, SECTION_TEXT_LIMIT))
        blocks.append(SectionBlock(text=text, accessory=_filter(machine, error, overview.query.status)))
    if overview.kinds > COUNTS_SHOWN:
        more = overview.kinds - COUNTS_SHOWN
        blocks.append(ContextBlock(elements=[mrkdwn(f"… and {more} more kinds")]))
    if overview.counted_at:
        when = one_line(overview.counted_at)
        blocks.append(
            ContextBlock(elements=[mrkdwn(f"_Counted at {when} (the breakdown of many kinds, each minute)_")])
        )
    return blocks


def _filter(machine: str, error: str | None, status: str | None = None) -> ButtonElement | None:
    """**Show these**: the Home narrowed to one state machine and error, of the open recoveries or
    those in flight (``status``) as listed (none when they are too long for a button's value: the
    count is still shown)."""
    value = home_location(RecoveryQuery(state_machine=machine, error=error, status=status))
    if len(value) > BUTTON_VALUE_LIMIT:
        return None
    return ButtonElement(text="Show these", action_id=HOME_FILTER, value=value)


def _circuits(circuits: list[CircuitReading] | None, now: datetime) -> list[Block]:
    if circuits is None:
        text = NO_BREAKER_TABLE
    elif not circuits:
        text = "No circuit has recorded a failure yet: every dependency is closed. 🟢"
    else:
        text = "\n".join(_circuit_line(reading, now) for reading in circuits)
    return [_header("Circuit breakers"), SectionBlock(text=mrkdwn(truncate(text, SECTION_TEXT_LIMIT)))]


def _circuit_line(reading: CircuitReading, now: datetime) -> str:
    line = f"{_CIRCUIT_MARK[reading.state]} *{one_line(reading.dependency)}*: {_CIRCUIT_WORD[reading.state]}"
    if reading.since is not None:
        line += f" since {_at(reading.since)}"
    if reading.state is CircuitState.OPEN and reading.open_until is not None:
        probe = "now" if reading.open_until <= now else f"at {_at(reading.open_until)}"
        line += f" · the next call probes {probe}"
    if reading.state is CircuitState.CLOSED and reading.failures:
        line += f" · {reading.failures} recent failure{'' if reading.failures == 1 else 's'}"
    return line


def _dead_letters(reports: list[DeadLetterReport] | None, shown: bool) -> list[Block]:
    if not shown:
        text = DEAD_LETTERS_NOT_YOURS
    elif reports is None:
        text = NO_DEAD_LETTER_QUEUE
    else:
        lines = [_depth_line(report) for report in reports]
        lines.append("`/recoveries dlq` shows the oldest messages and redrives a queue.")
        text = "\n".join(lines)
    return [_header("Dead-letter queues"), SectionBlock(text=mrkdwn(truncate(text, SECTION_TEXT_LIMIT)))]


def _depth_line(report: DeadLetterReport) -> str:
    title = f"*{one_line(report.queue.label)}* {code(report.queue.name)}"
    if report.problem:
        return f"{title}: ⚠️ could not be read ({escape(report.problem)})"
    mark = "🟢" if not report.depth else "🟠"
    line = f"{mark} {title}: {report.depth} message{'' if report.depth == 1 else 's'}"
    if report.in_flight:
        line += f" ({report.in_flight} in flight)"
    return line


def _in_flight(overview: Overview, now: datetime) -> list[Block]:
    """Beside the open ones: the longest in flight, without actions."""
    blocks: list[Block] = [_header(f"In flight ({overview.in_flight_total})")]
    blocks += [in_flight_row(claim, now) for claim in overview.in_flight]
    note = f"{IN_FLIGHT_MEANS}: normally for seconds; one in flight for long may have lost its process"
    if overview.in_flight_total > len(overview.in_flight):
        note += f" · {overview.in_flight_total - len(overview.in_flight)} more: *Show in flight*"
    blocks.append(ContextBlock(elements=[mrkdwn(note)]))
    return blocks


def _page(overview: Overview, now: datetime) -> list[Block]:
    if not overview.page:
        return []
    if overview.listing_in_flight:
        title = "Longest in flight"
    else:
        title = "Oldest waiting"
    if overview.page_number > 1:
        title += f", page {overview.page_number}"
    blocks: list[Block] = [_header(title)]
    for recovery in overview.page:
        claim = in_flight(recovery) if overview.listing_in_flight else None
        if claim is not None:
            blocks.append(in_flight_row(claim, now))
        else:
            blocks.append(recovery_row(recovery, with_actions=overview.may_act_on(recovery)))
    order = "longest in flight first" if overview.listing_in_flight else "oldest first"
    footer = f"Page {overview.page_number} of {overview.pages} · {order}"
    if overview.actionable:
        footer += " · each row's ⋯ menu: Run again, Edit input & run again, Reject"
    blocks.append(ContextBlock(elements=[mrkdwn(footer)]))
    buttons = []
    if overview.page_number > 1:
        buttons.append(_page_button("Previous", HOME_PAGE_PREVIOUS, overview.query, overview.page_number - 1))
    if overview.page_number < overview.pages:
        buttons.append(_page_button("Next", HOME_PAGE_NEXT, overview.query, overview.page_number + 1))
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    return blocks


def _page_button(label: str, action_id: str, query: RecoveryQuery, page: int) -> ButtonElement:
    return ButtonElement(text=label, action_id=action_id, value=home_location(query, page))


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=truncate(plain(text), HEADER_TEXT_LIMIT)))


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _within_limit(blocks: list[Block]) -> list[Block]:
    """At most ``HOME_MAX_BLOCKS``; the page's buttons (the last block) are kept when cutting."""
    if len(blocks) <= HOME_MAX_BLOCKS:
        return blocks
    return [*blocks[: HOME_MAX_BLOCKS - 1], blocks[-1]]
