"""What only the person who clicked or typed sees: what their action came to, a refusal, a
failure to report, the `/recoveries` usage, and the confirmation a `/recoveries retry` asks for.

Each text is within Slack's 4,000-character guidance for ``text`` (``message_text``: cut safely,
any code it leaves open closed, and pointing to the recovery's `show` when a long name cut it).
"""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, SectionBlock

from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, ActionResult
from recovery_ops.service.recovery.lifecycle.ownership import Ownership, OwnershipResult
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery, inert_json
from recovery_ops.slack_app.ids import BULK_CANCEL, BULK_CONFIRM, TAKE_OVER
from recovery_ops.slack_app.views.confirmation import confirm_dialog, named
from recovery_ops.slack_app.views.escaping import code, escape, mrkdwn, one_line, who
from recovery_ops.slack_app.views.limits import BUTTON_VALUE_LIMIT, message_text
from recovery_ops.slack_app.views.thread_replies import show_pointer

SHOW_ONE = f"`/recoveries show {escape('<id>')}`"

USAGE = (
    "*/recoveries* — open recoveries, newest first, and those in flight (claimed, outcome not stored "
    "yet). Filters: `state=`, `error=`, `machine=`, `since=` "
    "(e.g. `since=2h`), `owner=` (`me`, `none` or a user id); quote values with spaces: "
    '`state="Check availability"`.\n'
    "• `/recoveries [filters]` list (yours: `/recoveries owner=me`)\n"
    "• `/recoveries in-flight [filters]` only those in flight, with how long and who claimed them\n"
    f"• {SHOW_ONE} one in full, with its history\n"
    "• `/recoveries retry error=X [state=Y] [since=2h]` run again every match (asks to confirm)\n"
    "• `/recoveries approvals` what waits for your approval, and your own requests\n"
    "• `/recoveries dlq` the dead-letter queues: depth, oldest messages, Redrive DLQ (asks to confirm)"
)


def failure_report_text(what: str, why: str, reference: str) -> str:
    """An action that did not complete: what failed and where its log line is, never the
    exception's text (it may hold URLs or data)."""
    return message_text(
        f"⚠️ {what} did not complete ({escape(why)}; reference `{reference}` in the "
        f"Slack app's logs). Check {SHOW_ONE} before trying again."
    )


def denied_text(action: str, why: str) -> str:
    return message_text(
        f"🚫 You cannot {action}: {escape(why)}. Nothing was sent; your attempt is in the audit trail."
    )


def view_denied_text(what: str, why: str) -> str:
    return message_text(f"🚫 You cannot see {what}: {escape(why)}. Your attempt is in the audit trail.")


def action_result_text(result: ActionResult, always: bool = False) -> str | None:
    """What an action came to, when the updated message does not already show it (``always``: the
    click came from a list, whose rows are not updated); None when there is nothing to add."""
    text = _action_result(result, always)
    if text is None:
        return None
    return message_text(text, show_pointer(result.recovery.recovery_id) if result.recovery else "")


def _action_result(result: ActionResult, always: bool) -> str | None:
    recovery = result.recovery
    name = code(recovery.execution_name) if recovery else "This recovery"
    detail = escape(result.detail)
    if result.outcome is ActionOutcome.ALREADY_HANDLED:
        by = f" by {who(result.handled_by)}" if result.handled_by else ""
        return f"👋 {name} {detail}{by}. Nothing was sent."
    if result.outcome is ActionOutcome.EXPIRED:
        return f"⌛ {name} can no longer be resumed: {detail}. It is now marked EXPIRED."
    if result.outcome in (ActionOutcome.FAILED, ActionOutcome.NOT_FOUND):
        return f"⚠️ {name}: {detail}"
    if result.outcome is ActionOutcome.NEEDS_APPROVAL:
        return f"✋ {name} needs approval first: {detail}. Nothing was sent."
    if result.outcome is ActionOutcome.IN_FLIGHT:
        return f"⏳ {name}: {detail}. It shows as in flight in `/recoveries in-flight` until then."
    if always or result.detail:  # a list's rows are not updated; a detail says what the message cannot
        done = "✅ Run again" if result.outcome is ActionOutcome.RESUMED else "🛑 Rejected"
        return f"{done}: {name}" + (f" ({detail})." if result.detail else ".")
    return None


def left_out_note(left_out: int) -> str:
    """What a bulk action leaves out because the person may not act on it ("" when nothing)."""
    if not left_out:
        return ""
    them = "it belongs" if left_out == 1 else "they belong"
    return (
        f" {left_out} more match{'es' if left_out == 1 else ''} but {them} to another team: "
        "you may not act on them, so they are left out."
    )


BULK_QUERY_TOO_LONG = (
    "⚠️ These filters are too long to carry on a button (Slack allows 2,000 characters). "
    "Nothing was run: narrow them with shorter values (a state machine, a state or an error) and try again."
)


def bulk_retry_prompt_text(count: int) -> str:
    return message_text(f"Run again {count} recoveries?")


def bulk_retry_prompt_blocks(count: int, query: RecoveryQuery, left_out: int = 0) -> list[Block]:
    """`/recoveries retry …`: how many open recoveries match, and a button to run them all again
    (its value carries the query, never ids). A query too long for a button's value is not cut (its
    click could not be read back): the person is asked to narrow it instead."""
    value = query.to_json()
    if len(value) > BUTTON_VALUE_LIMIT:
        return [SectionBlock(text=mrkdwn(BULK_QUERY_TOO_LONG))]
    return [
        SectionBlock(
            text=mrkdwn(
                f"*{count}* open recover{'y' if count == 1 else 'ies'} match "
                f"{one_line(query.describe())}.{left_out_note(left_out)} "
                "Run every one again with its original input?"
            )
        ),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text=f"Run again {count}",
                    action_id=BULK_CONFIRM,
                    value=value,
                    style="primary",
                ),
                ButtonElement(text="Cancel", action_id=BULK_CANCEL, value="cancel"),
            ]
        ),
    ]


def ownership_text(result: OwnershipResult) -> str:
    """What the person is told after Take it, Take over or Release."""
    text = _ownership(result)
    return message_text(text, show_pointer(result.recovery.recovery_id) if result.recovery else "")


def _ownership(result: OwnershipResult) -> str:
    name = code(result.recovery.execution_name) if result.recovery else "This recovery"
    since = (
        f" since {one_line(result.recovery.owned_at)}" if result.recovery and result.recovery.owned_at else ""
    )
    return {
        Ownership.TAKEN: f"👤 You own {name} now: reminders mention you and it does not escalate.",
        Ownership.ALREADY_YOURS: f"👤 You own {name} already{since}.",
        Ownership.OWNED_BY_OTHER: f"👤 {who(result.owner)} owns {name}{since}.",
        Ownership.TAKEN_OVER: f"👤 You own {name} now, taken over from {who(result.previous)}.",
        Ownership.RELEASED: f"👋 {name} is released: nobody owns it now.",
        Ownership.NOT_OWNED: f"{name} has no owner: nothing to release.",
        Ownership.NOT_THE_OWNER: f"{who(result.owner)} owns {name}: only they or an admin may release it.",
        Ownership.CLOSED: f"{name} is already closed: there is nothing to own.",
        Ownership.NOT_FOUND: "No such recovery (closed and expired from the table?).",
    }[result.outcome]


def take_over_value(recovery_id: str, owner: str) -> str:
    """What the Take over button carries: the recovery and the owner the person was shown."""
    return inert_json({"recovery_id": recovery_id, "from": owner})


def take_over_prompt_blocks(result: OwnershipResult) -> list[Block]:
    """Someone else owns it: who, since when, and a Take over button that asks to confirm."""
    recovery = result.recovery
    assert recovery is not None and result.owner is not None
    return [
        SectionBlock(text=mrkdwn(ownership_text(result))),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Take over",
                    action_id=TAKE_OVER,
                    value=take_over_value(recovery.recovery_id, result.owner),
                    confirm=confirm_dialog(
                        "Take it over?",
                        f"Someone else owns {named(recovery.execution_name)}. "
                        "They will no longer be its owner.",
                        "Take over",
                    ),
                )
            ]
        ),
    ]


def took_all_text(taken: int, owned_by_others: int, left_out: int) -> str:
    """After Take all on a group message."""
    parts = [f"👤 You own {taken} open recover{'y' if taken == 1 else 'ies'} of this message now."]
    if owned_by_others:
        parts.append(f"{owned_by_others} already had another owner and kept them.")
    return message_text(" ".join(parts) + left_out_note(left_out))
