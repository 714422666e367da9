"""What an escalation level posts: the user group it mentions, how long the recovery has been open
with nobody owning it, which rule and level, and what failed, in the recovery message's thread or
as a new message in the level's own channel (which then names the recovery in full)."""

from __future__ import annotations

from recovery_ops.service.recovery.lifecycle.escalation import Escalation
from recovery_ops.service.recovery.lifecycle.reminders import describe_duration
from recovery_ops.slack_app.views.escaping import code, user_group
from recovery_ops.slack_app.views.limits import message_text
from recovery_ops.slack_app.views.thread_replies import show_pointer


def escalation_text(escalation: Escalation) -> str:
    """The level's message; everything the recovery and the rules carry comes out escaped, and the
    whole within Slack's guidance for ``text`` (cut, it points to the recovery's `show`)."""
    recovery = escalation.recovery
    failed = f"{code(recovery.state_machine_name)} stopped at {code(recovery.failed_state)} " + (
        f"with {code(recovery.error)}" if recovery.error else "with no error name"
    )
    text = (
        f"🚨 {user_group(escalation.user_group)} {code(recovery.execution_name)} has been open for "
        f"{describe_duration(escalation.open_for)} and nobody owns it "
        f"(rule {code(escalation.rule)}, escalation level {escalation.level} of {escalation.levels}). "
        f"{failed}; recovery {code(recovery.recovery_id)}."
    )
    if escalation.thread_ts is None:
        text += f" See it with {show_pointer(recovery.recovery_id)}."
    return message_text(text + " Taking it stops the escalation.", show_pointer(recovery.recovery_id))
