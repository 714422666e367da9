"""What self-healing shows: the notice on top of a group message while its paused executions
resume by themselves (with Stop) and once that ended, the replies in the message's thread, and
what the person who pressed Stop is told.

Every value that came from data (the dependency's name, why a run ended) is escaped; the only
mention is the product's own, of the person who pressed Stop (``who``: a Slack user id).
"""

from __future__ import annotations

from slack_sdk.models.blocks import ButtonElement

from recovery_ops.service.recovery.healing.runs import HealingState
from recovery_ops.service.recovery.ports.notifier import CircuitClosedNotice, HealingNotice
from recovery_ops.slack_app.ids import STOP_HEALING
from recovery_ops.slack_app.views.confirmation import confirm_dialog
from recovery_ops.slack_app.views.escaping import code, one_line, truncate, who
from recovery_ops.slack_app.views.limits import BUTTON_VALUE_LIMIT, message_text

WHY_LIMIT = 300  # characters of an interrupted run's reason shown
_STOPPED_BY = "stopped by "  # how a STOPPED run's ``ended_why`` names who stopped it


def _executions(count: int) -> str:
    return f"{count} paused execution{'s' if count != 1 else ''}"


def _expired(healing: HealingNotice) -> str:
    return f", {healing.expired} expired" if healing.expired else ""


def _stopped_by(healing: HealingNotice) -> str:
    """Who pressed Stop, as a mention when it is a Slack user id (else escaped text)."""
    actor = healing.stopped_by
    if actor is None and healing.ended_why.startswith(_STOPPED_BY):
        actor = healing.ended_why[len(_STOPPED_BY) :]
    return who(actor)


def resuming_text(notice: CircuitClosedNotice, healing: HealingNotice) -> str:
    """The group message's notice while its paused executions resume by themselves."""
    pace = f", at most {healing.per_second:g} a second" if healing.per_second > 0 else ""
    text = (
        f"🔄 The circuit for {code(notice.dependency)} closed at {one_line(notice.closed_at)}: resuming "
        f"{_executions(healing.selected)} of this message automatically, oldest first{pace}."
    )
    if healing.resumed:
        text += f" {healing.resumed} resumed so far{_expired(healing)}."
    return text + " Stop leaves the rest for people."


def ended_text(healing: HealingNotice, dependency: str) -> str:
    """How a run ended, with its final count (the notice once it ended, and its last thread reply)."""
    resumed, left = healing.resumed, healing.left
    state = HealingState(healing.state)
    if state is HealingState.FINISHED:
        return (
            f"✅ Resumed {_executions(resumed)} automatically after the circuit for {code(dependency)} "
            f"closed ({healing.expired} expired, {left} left for people)."
        )
    if state is HealingState.STOPPED:
        return (
            f"⏹️ Self-healing stopped by {_stopped_by(healing)}: {resumed} resumed{_expired(healing)}, "
            f"{left} left open for people."
        )
    if state is HealingState.REOPENED:
        return (
            f"⚠️ The circuit for {code(dependency)} opened again: self-healing stopped after {resumed} "
            f"resumed{_expired(healing)}; {left} left open, untouched."
        )
    why = one_line(truncate(healing.ended_why or "unknown", WHY_LIMIT))
    return (
        f"⚠️ Self-healing stopped after an error ({why}): {resumed} resumed{_expired(healing)}, "
        f"{left} left open for people."
    )


def healing_notice_text(notice: CircuitClosedNotice, healing: HealingNotice) -> str:
    """The group message's notice of a run: under way, or how it ended."""
    if HealingState(healing.state) is HealingState.RESUMING:
        return resuming_text(notice, healing)
    return ended_text(healing, notice.dependency)


def healing_progress_text(notice: HealingNotice, dependency: str) -> str:
    """A reply in the group message's thread (within Slack's guidance for ``text``): how far the
    run is, or how it ended."""
    if HealingState(notice.state) is HealingState.RESUMING:
        return (
            f"🔄 Self-healing: {notice.resumed} of {notice.selected} resumed so far "
            f"({notice.expired} expired)."
        )
    return message_text(ended_text(notice, dependency))


def stop_button(healing_id: str) -> ButtonElement:
    """Stop, which Slack confirms first: what is not resumed yet stays open for people."""
    return ButtonElement(
        text="Stop",
        action_id=STOP_HEALING,
        value=truncate(healing_id, BUTTON_VALUE_LIMIT, marker=""),
        style="danger",
        confirm=confirm_dialog(
            "Stop self-healing?",
            "What it has resumed stays resumed. The paused executions it has not resumed yet stay "
            "open for people: run them again, reject or take them from this message.",
            "Stop",
            "Keep resuming",
            style="danger",
        ),
    )


# ---------------------------------------------------------------------- what the clicker is told
def stopped_text(healing: HealingNotice) -> str:
    return message_text(
        f"⏹️ Stopped: {healing.resumed} resumed{_expired(healing)}, {healing.left} left open for you."
    )


def not_resuming_text(healing: HealingNotice, dependency: str) -> str:
    """A Stop that came too late: someone stopped the run already, or it ended by itself."""
    if HealingState(healing.state) is HealingState.STOPPED:
        return message_text(
            f"👋 Self-healing was already stopped by {_stopped_by(healing)}: {healing.resumed} resumed"
            f"{_expired(healing)}, {healing.left} left open for people. Nothing changed."
        )
    return message_text(f"👋 Self-healing already ended: {ended_text(healing, dependency)} Nothing changed.")


def unknown_run_text(healing_id: str) -> str:
    return message_text(
        f"⚠️ Unknown self-healing run {code(healing_id[:80])} (ended long ago?). Nothing changed."
    )
