"""What an admin is told after Reconcile now, and the button on an in-flight recovery's `show`."""

from __future__ import annotations

from slack_sdk.models.blocks import ActionsBlock, ButtonElement

from recovery_ops.service.recovery.lifecycle.reconciler import HELD, REOPENED, UNSETTLED, Settlement
from recovery_ops.slack_app.ids import RECONCILE_NOW
from recovery_ops.slack_app.views.confirmation import confirm_dialog
from recovery_ops.slack_app.views.escaping import code, escape


def reconcile_button(recovery_id: str) -> ActionsBlock:
    """Settle now from Step Functions' record (admins; behind a confirmation)."""
    return ActionsBlock(
        elements=[
            ButtonElement(
                text="Reconcile now",
                action_id=RECONCILE_NOW,
                value=recovery_id,
                confirm=confirm_dialog(
                    "Reconcile this recovery?",
                    "Its outcome is read from Step Functions' record of the execution. Nothing is sent.",
                    "Reconcile",
                ),
            )
        ]
    )


def reconcile_result_text(settled: Settlement) -> str:
    name = code(settled.recovery.execution_name) if settled.recovery else code(settled.recovery_id)
    why = f": {escape(settled.why)}" if settled.why else ""
    if settled.result == REOPENED:
        return f"↩️ {name} is open again{why}. Nothing was resumed; it can be acted on."
    if settled.result == HELD:
        return f"⏳ {name} is still held by its claim{why}. It is settled once the claim's lease runs out."
    if settled.result == UNSETTLED:
        return f"❔ Step Functions' record could not tell yet what became of {name}{why}. Try again shortly."
    return f"✅ {name} is {escape(settled.result.lower())}{why} (from Step Functions' record)."
