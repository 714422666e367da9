"""What is posted in a message's thread: a reminder that a recovery still waits (or is still in
flight), the outcome of a
recovery that shares a group message, and the progress of a bulk action (with the message that
starts its thread when it was typed as `/recoveries retry`).

Every one is a message's plain ``text``: within Slack's 4,000-character guidance (``message_text``),
with any code a person's text opened closed, and, when a long name made it cut, a pointer to the
recovery's `show`, where the whole is."""

from __future__ import annotations

from datetime import UTC

from recovery_ops.service.recovery.lifecycle.bulk import BulkReport
from recovery_ops.service.recovery.lifecycle.in_flight import InFlight
from recovery_ops.service.recovery.lifecycle.reminders import Reminder, describe_duration
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.slack_app.views.escaping import code, link, one_line, who
from recovery_ops.slack_app.views.limits import message_text


def reminder_text(reminder: Reminder) -> str:
    """A reminder in the recovery's thread: how long it has waited and how long its token has left;
    the owner, when someone owns it, is mentioned. One in flight says so instead: since when, and
    who claimed it (mentioned)."""
    if reminder.in_flight is not None:
        return in_flight_reminder_text(reminder, reminder.in_flight)
    return message_text(_waiting_text(reminder), show_pointer(reminder.recovery.recovery_id))


def show_pointer(recovery_id: str) -> str:
    """Where a recovery is in full, for a text cut short."""
    return code(f"/recoveries show {recovery_id}")


def _waiting_text(reminder: Reminder) -> str:
    name, waited = code(reminder.recovery.execution_name), describe_duration(reminder.waited)
    if reminder.recovery.owner:
        text = f"⏰ {who(reminder.recovery.owner)} owns this: {name} still waits, paused {waited} ago."
    else:
        text = f"⏰ Still waiting for a person: {name} paused {waited} ago."
    left = reminder.time_left
    if left is None or reminder.deadline is None:
        return text + " Its paused step has no known timeout."
    if left.total_seconds() <= 0:
        return text + " Its paused step's timeout has passed: the workflow is handling it."
    until = reminder.deadline.astimezone(UTC).isoformat(timespec="minutes")
    return (
        text + f" Its task token has {describe_duration(left)} left (until {until}); then the workflow "
        "gives up on it."
    )


def in_flight_reminder_text(reminder: Reminder, claim: InFlight) -> str:
    """A recovery in flight for long: claimed, its outcome not stored; its process may have died."""
    recovery = reminder.recovery
    since = claim.since.astimezone(UTC).isoformat(timespec="seconds")
    text = (
        f"🛫 Still in flight: {code(recovery.execution_name)} was claimed by {who(claim.claimed_by)} "
        f"{describe_duration(claim.age(reminder.now))} ago (at {one_line(since)}) and its outcome is "
        "not stored yet: the process resuming it may have stopped. Nobody else can act on it until it "
        f"is settled; check {link(recovery.console_url, 'its execution')} and "
        f"{show_pointer(recovery.recovery_id)}."
    )
    return message_text(text, show_pointer(recovery.recovery_id))


def grouped_outcome_text(recovery: Recovery, outcome: str) -> str:
    """A handled recovery of a group message, in that message's thread (``outcome`` from
    ``outcome_text``)."""
    return message_text(f"{code(recovery.execution_name)}: {outcome}", show_pointer(recovery.recovery_id))


def bulk_verb(kind: str) -> str:
    """``kind`` is "run_again" or "reject"."""
    return "Run again" if kind == "run_again" else "Reject"


def bulk_thread_opening(user: str, count: int, described: str) -> str:
    """The channel message a `/recoveries retry` starts, whose thread shows the progress
    (``described`` already escaped)."""
    return message_text(f"{who(user)} runs again {count} recoveries ({described}).")


def bulk_started_text(user: str, kind: str, count: int, description: str, left_out: int = 0) -> str:
    started = (
        f"{who(user)} started *{bulk_verb(kind)} all* on {count} open recoveries ({one_line(description)})."
    )
    if left_out:
        started += f" {left_out} left out: another team's, which {who(user)} may not act on."
    return message_text(started)


def bulk_progress_text(report: BulkReport) -> str:
    return f"… {report.done}/{report.total} handled ({report.wall_s:.0f} s)"


def bulk_finished_text(kind: str, report: BulkReport) -> str:
    return message_text(f"*{bulk_verb(kind)} all* finished: {report.summary()} in {report.wall_s:.1f} s.")


def bulk_summary(user: str, kind: str, report: BulkReport) -> str:
    """What a closed group message says of the bulk action that closed it."""
    return message_text(f"{bulk_verb(kind)} all by {who(user)}: {report.summary()}")


def ownership_change_text(person: str, action: str, count: int, previous: str | None = None) -> str:
    """In the message's thread: who took, took over or released what."""
    return message_text(_ownership_change(person, action, count, previous))


def _ownership_change(person: str, action: str, count: int, previous: str | None) -> str:
    what = "this recovery" if count == 1 else f"{count} recoveries of this message"
    if action == "take over":
        return f"👤 {who(person)} took over {what} from {who(previous)}."
    if action == "release":
        return f"👋 {who(person)} released {what}: nobody owns it now."
    return f"👤 {who(person)} took {what}."
