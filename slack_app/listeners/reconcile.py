"""The lazy half of Reconcile now, on an in-flight recovery's `show`: an admin settles it at once
from Step Functions' record of the execution (``service.recovery.lifecycle.reconciler``), instead of waiting
for the minute's run. Anyone else is refused and the attempt is audited on the recovery. What the
record proves is stored; a claim still within its lease is left to its holder and said so.
"""

from __future__ import annotations

from slack_bolt import Respond

from service.composition import Services
from service.recovery.storage.recoveries import RecoveryNotFoundError
from slack_app.listeners.replies import refuse, reporting_failures, via_respond
from slack_app.views.reconcile import reconcile_result_text

RECONCILE = "reconcile now"


def reconcile_now(desk: Services, user: str, recovery_id: str, respond: Respond) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Reconcile now"):
        if not recovery_id.startswith("rec-") or desk.reconciler is None:
            say("Nothing to reconcile here.")
            return
        decision = desk.access.is_admin(user)
        if not decision.allowed:
            desk.actions.record_denied(recovery_id, user, RECONCILE, decision.why)
            refuse(user, RECONCILE, decision.why, say, recovery_id)
            return
        try:
            desk.store.get(recovery_id)
        except RecoveryNotFoundError:
            say("No such recovery any more.")
            return
        settled = desk.reconciler.settle(recovery_id, actor=user)
        say(reconcile_result_text(settled))
