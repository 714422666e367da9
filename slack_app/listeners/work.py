"""The lazy halves of the listeners: everything that reads the table or calls Step Functions.

Run after the acknowledgement (on Lambda: an asynchronous invocation of the same function).
Each tells the person what happened, including failures; nothing here raises into Bolt.
"""

from __future__ import annotations

from slack_bolt import Respond

from service.composition import Services
from slack_app.listeners.replies import (
    denied,
    reporting_failures,
    tell,
    via_respond,
)
from slack_app.views.escaping import code, escape


# ---------------------------------------------------------------------- one recovery
def run_again(desk: Services, user: str, recovery_id: str, respond: Respond, from_list: bool) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Run again"):
        if denied(desk, user, recovery_id, "run again", say):
            return
        tell(desk.actions.run_again(recovery_id, user), say, always=from_list)


def redrive(desk: Services, user: str, failure_id: str, respond: Respond) -> None:
    """Redrive a workflow that failed outside the recovery pattern (exactly once, audited)."""
    say = via_respond(respond)
    with reporting_failures(say, "Redrive"):
        if denied(desk, user, failure_id, "redrive", say):
            return
        result = desk.redrive.redrive(failure_id, user)
        if not result.done:
            name = code(result.failure.execution_name) if result.failure else "This execution"
            say(f"⚠️ {name}: {escape(result.detail)}. Nothing was redriven.")
