"""The digests: one message at the top of a channel instead of a reminder in each thread, or an
escalation level each, when one run has more than a few for that channel.

A digest says how many, shows the longest waiting as the list's own rows (each with its row menu:
Run again, Edit input & run again, Reject, Take it; its link to the execution) with how long each
has waited, and has buttons that list them all, in pages, through `/recoveries` (answered to the
person who clicks, so the digest itself stays as it is). An escalation digest mentions each user
group once. Whatever the number, it keeps within Slack's limits: ``DIGEST_ROWS`` rows, two blocks
each, and a handful of others, far below 50 blocks; every text cut where Slack allows.
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
    PlainTextObject,
    SectionBlock,
)

from recovery_ops.service.recovery.lifecycle.escalation import Escalation, EscalationDigest
from recovery_ops.service.recovery.lifecycle.in_flight import IN_FLIGHT
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.lifecycle.reminders import Reminder, ReminderDigest, describe_duration
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import NO_OWNER
from recovery_ops.slack_app.ids import DIGEST_LIST, DIGEST_LIST_IN_FLIGHT
from recovery_ops.slack_app.views.escaping import code, escape, mrkdwn, plain, user_group, who
from recovery_ops.slack_app.views.limits import (
    BUTTON_VALUE_LIMIT,
    HEADER_TEXT_LIMIT,
    MAX_BLOCKS,
    MESSAGE_TEXT_GUIDANCE,
    SECTION_TEXT_LIMIT,
    cut,
)
from recovery_ops.slack_app.views.listing import in_flight_row, recovery_row

DIGEST_ROWS = 15  # rows shown; the buttons list the rest
KINDS_SHOWN = 10  # an escalation digest's lines of rule and level
CONTEXT_TEXT_LIMIT = 3000  # a context block's mrkdwn element, as a section's text


# ---------------------------------------------------------------------- reminders
def reminder_digest_blocks(digest: ReminderDigest) -> list[Block]:
    """The reminders of one run in one channel: how many, the longest waiting, and how to list all."""
    count, in_flight = len(digest.reminders), digest.in_flight
    title = f"⏰ {count} recoveries here still wait"
    if in_flight:
        title += f" · {in_flight} in flight for long"
    intro = (
        f"*{count - in_flight}* open recoveries of this channel still wait for a person"
        + (
            f", and *{in_flight}* have been in flight for long (claimed, their outcome not stored: "
            "the process resuming them may have stopped)"
            if in_flight
            else ""
        )
        + ". Gathered here rather than in each thread; the longest waiting first."
    )
    rows: list[Block] = []
    for reminder in digest.reminders[:DIGEST_ROWS]:
        rows += _reminder_row(reminder)
    buttons = [_list_button("List all open", DIGEST_LIST, RecoveryQuery())]
    if in_flight:
        in_flight_query = RecoveryQuery(status=IN_FLIGHT)
        buttons.append(_list_button("List those in flight", DIGEST_LIST_IN_FLIGHT, in_flight_query))
    return _digest_blocks(title, [intro], rows, count, buttons)


def reminder_digest_text(digest: ReminderDigest) -> str:
    """The digest's notification text: how many, and the longest waiting."""
    longest = digest.reminders[0]
    text = (
        f"⏰ {len(digest.reminders)} recoveries here still wait (the longest, "
        f"{code(longest.recovery.execution_name)}, for {describe_duration(longest.waited)})."
    )
    return cut(text, MESSAGE_TEXT_GUIDANCE)


def _reminder_row(reminder: Reminder) -> list[Block]:
    if reminder.in_flight is not None:
        return [in_flight_row(reminder.in_flight, reminder.now)]
    waited = f"⏰ waiting {describe_duration(reminder.waited)}"
    if reminder.recovery.owner:
        waited += f" · {who(reminder.recovery.owner)} owns it"
    return [recovery_row(reminder.recovery), _context(waited)]


# ---------------------------------------------------------------------- escalations
def escalation_digest_blocks(digest: EscalationDigest) -> list[Block]:
    """The levels of one run for one channel: each user group mentioned once, how many and by which
    rule and level, the longest open, and how to list them all."""
    escalations = digest.escalations
    count = len(escalations)
    title = f"🚨 {count} recoveries open with nobody owning them"
    intro = (
        f"{_mentions(digest)} *{count}* recoveries have been open with nobody owning them for longer "
        f"than their rules allow (the longest for {describe_duration(escalations[0].open_for)}). "
        "Taking one stops its escalation."
    )
    kinds = Counter((e.rule, e.level, e.levels) for e in escalations)
    lines = [
        f"• rule {code(rule)}, level {level} of {levels}: {n}"
        for (rule, level, levels), n in kinds.most_common(KINDS_SHOWN)
    ]
    if len(kinds) > KINDS_SHOWN:
        lines.append(f"… and {len(kinds) - KINDS_SHOWN} more rules and levels")
    rows: list[Block] = []
    for escalation in escalations[:DIGEST_ROWS]:
        rows += _escalation_row(escalation)
    buttons = [_list_button("List those nobody owns", DIGEST_LIST, RecoveryQuery(owner=NO_OWNER))]
    if any(e.recovery.status == RecoveryStatus.RESUMING for e in escalations):
        in_flight_query = RecoveryQuery(owner=NO_OWNER, status=IN_FLIGHT)
        buttons.append(_list_button("List those in flight", DIGEST_LIST_IN_FLIGHT, in_flight_query))
    return _digest_blocks(title, [intro, "\n".join(lines)], rows, count, buttons)


def escalation_digest_text(digest: EscalationDigest) -> str:
    """The digest's notification text: the user groups (mentioned once each) and how many."""
    longest = digest.escalations[0]
    text = (
        f"🚨 {_mentions(digest)} {len(digest.escalations)} recoveries open with nobody owning them "
        f"(the longest, {code(longest.recovery.execution_name)}, for "
        f"{describe_duration(longest.open_for)}). Taking one stops its escalation."
    )
    return cut(text, MESSAGE_TEXT_GUIDANCE)


def _mentions(digest: EscalationDigest) -> str:
    """Each user group once (a valid id as a mention, anything else escaped), cut where Slack
    allows: a long list loses groups whole, never half a mention."""
    return cut(" ".join(user_group(group) for group in digest.user_groups), 1000, marker=" …")


def _escalation_row(escalation: Escalation) -> list[Block]:
    recovery = escalation.recovery
    line = (
        f"🚨 open {describe_duration(escalation.open_for)}, nobody owns it · rule {code(escalation.rule)}, "
        f"level {escalation.level} of {escalation.levels}"
    )
    if recovery.status == RecoveryStatus.RESUMING:
        return [recovery_row(recovery, with_actions=False), _context(line + " · 🛫 in flight")]
    return [recovery_row(recovery), _context(line)]


# ---------------------------------------------------------------------- shared
def _digest_blocks(
    title: str, sections: list[str], rows: list[Block], count: int, buttons: list[ButtonElement]
) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=cut(plain(title), HEADER_TEXT_LIMIT)))]
    blocks += [SectionBlock(text=mrkdwn(cut(text, SECTION_TEXT_LIMIT))) for text in sections if text]
    blocks.append(DividerBlock())
    blocks += rows
    shown = min(count, DIGEST_ROWS)
    more = f"… and {count - shown} more. " if count > shown else ""
    blocks.append(
        _context(
            f"{more}`/recoveries show {escape('<id>')}` shows one in full; the buttons list them all, "
            "in pages, to you alone."
        )
    )
    blocks.append(ActionsBlock(elements=buttons))
    return blocks[:MAX_BLOCKS]


def _list_button(label: str, action_id: str, query: RecoveryQuery) -> ButtonElement:
    """A button whose click answers the clicker with the first page of ``query`` (`/recoveries`)."""
    return ButtonElement(
        text=label, action_id=action_id, value=cut(f"1|{query.to_json()}", BUTTON_VALUE_LIMIT, marker="")
    )


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[mrkdwn(cut(text, CONTEXT_TEXT_LIMIT))])
