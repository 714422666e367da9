"""The buttons of a recovery: Run again, Edit input & run again and Reject on its message, Run
again all and Reject all on a group message, the row menu of the list and of the Home tab,
Reconcile now on an in-flight recovery's `show`, and Redrive on a failed execution's message.

Edit, Reject and the group's buttons open a modal (``modals``); Take it and Release in the row
menu are ownership's (``ownership``). A click in the Home tab has no response_url: what the list
would answer ephemerally goes to the person as a direct message, and the Home is published again.
"""

from __future__ import annotations

from typing import cast

from slack_bolt import App, Respond
from slack_sdk import WebClient

from recovery_ops.service.composition import Services
from recovery_ops.service.recovery.model.approval import Gated
from recovery_ops.service.recovery.storage.recoveries import RecoveryNotFoundError
from recovery_ops.slack_app.ids import (
    EDIT_AND_RUN_AGAIN,
    RECONCILE_NOW,
    REDRIVE,
    REJECT,
    REJECT_ALL,
    RELEASE,
    ROW_MENU,
    RUN_AGAIN,
    RUN_AGAIN_ALL,
    TAKE,
)
from recovery_ops.slack_app.listeners import approvals, home, modals, ownership
from recovery_ops.slack_app.listeners.registration import ServicesFactory, acknowledge, with_services
from recovery_ops.slack_app.listeners.replies import (
    DirectMessageRespond,
    clicked_value,
    clicker,
    denied,
    refuse,
    reporting_failures,
    tell,
    via_respond,
)
from recovery_ops.slack_app.views.escaping import code, escape
from recovery_ops.slack_app.views.listing import parse_row_menu_value
from recovery_ops.slack_app.views.reconcile import reconcile_result_text

RECONCILE = "reconcile now"


# ---------------------------------------------------------------------- the work
def run_again(services: Services, user: str, recovery_id: str, respond: Respond, from_list: bool) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Run again"):
        if denied(services, user, recovery_id, "run again", say):
            return
        result = services.actions.run_again(recovery_id, user)
        if approvals.requested_instead(services, user, result, Gated.RUN_AGAIN, say):
            return  # a policy puts it under approval: a request waits instead
        tell(result, say, always=from_list)


def redrive(services: Services, user: str, failure_id: str, respond: Respond) -> None:
    """Redrive a workflow that failed outside the recovery pattern (exactly once, audited)."""
    say = via_respond(respond)
    with reporting_failures(say, "Redrive"):
        if denied(services, user, failure_id, "redrive", say):
            return
        if services.redrive is None:  # services built without a Slack client: never the Slack app's
            say("Redrive is not available here: nothing was redriven.")
            return
        result = services.redrive.redrive(failure_id, user)
        if result.held:
            name = code(result.failure.execution_name) if result.failure else "This execution"
            say(f"🕒 {name}: {escape(result.detail)}.")  # a policy held it back: a request waits
        elif not result.done:
            name = code(result.failure.execution_name) if result.failure else "This execution"
            say(f"⚠️ {name}: {escape(result.detail)}. Nothing was redriven.")


def reconcile_now(services: Services, user: str, recovery_id: str, respond: Respond) -> None:
    """An admin settles an in-flight recovery at once from Step Functions' record of the execution
    (``recovery_ops.service.recovery.lifecycle.reconciler``), instead of waiting for the minute's run. Anyone
    else is refused and the attempt is audited on the recovery. What the record proves is stored;
    a claim still within its lease is left to its holder and said so."""
    say = via_respond(respond)
    with reporting_failures(say, "Reconcile now"):
        if not recovery_id.startswith("rec-") or services.reconciler is None:
            say("Nothing to reconcile here.")
            return
        decision = services.access.is_admin(user)
        if not decision.allowed:
            services.actions.record_denied(recovery_id, user, RECONCILE, decision.why)
            refuse(user, RECONCILE, decision.why, say, recovery_id)
            return
        try:
            services.store.get(recovery_id)
        except RecoveryNotFoundError:
            say("No such recovery any more.")
            return
        settled = services.reconciler.settle(recovery_id, actor=user)
        say(reconcile_result_text(settled))


def row_menu_from_home(services: Services, client: WebClient, body: dict) -> None:
    """A choice in a Home row's menu: the list's action, answered by direct message; after a Run
    again the Home is published again, where it was (an edit or a reject goes on in its modal)."""
    user = body["user"]["id"]
    action_id, recovery_id = parse_row_menu_value(body["actions"][0]["selected_option"]["value"])
    # takes what a request's Respond takes and answers by direct message; not a bolt Respond
    respond = cast(Respond, DirectMessageRespond(client, user))
    if action_id == RUN_AGAIN:
        run_again(services, user, recovery_id, respond, from_list=True)
        home.publish_home(services, client, user, (body.get("view") or {}).get("private_metadata"))
    elif action_id == EDIT_AND_RUN_AGAIN:
        modals.open_edit(services, client, user, recovery_id, body, respond)
    elif action_id == REJECT:
        modals.open_reject(services, client, user, recovery_id, body, respond)
    elif action_id in (TAKE, RELEASE):
        (ownership.take if action_id == TAKE else ownership.release)(
            services, client, user, recovery_id, respond
        )
        home.publish_home(services, client, user, (body.get("view") or {}).get("private_metadata"))


# ---------------------------------------------------------------------- registration
def run_again_clicked(services: ServicesFactory, body: dict, respond: Respond) -> None:
    run_again(services(), clicker(body), clicked_value(body), respond, from_list=False)


def edit_clicked(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    modals.open_edit(services(), client, clicker(body), clicked_value(body), body, respond)


def reject_clicked(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    modals.open_reject(services(), client, clicker(body), clicked_value(body), body, respond)


def row_menu_chosen(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    if (body.get("view") or {}).get("type") == "home":  # no response_url: the Home answers
        row_menu_from_home(services(), client, body)
        return
    action_id, recovery_id = parse_row_menu_value(body["actions"][0]["selected_option"]["value"])
    if action_id == RUN_AGAIN:
        run_again(services(), clicker(body), recovery_id, respond, from_list=True)
    elif action_id == EDIT_AND_RUN_AGAIN:
        modals.open_edit(services(), client, clicker(body), recovery_id, body, respond)
    elif action_id == REJECT:
        modals.open_reject(services(), client, clicker(body), recovery_id, body, respond)
    elif action_id == TAKE:
        ownership.take(services(), client, clicker(body), recovery_id, respond)
    elif action_id == RELEASE:
        ownership.release(services(), client, clicker(body), recovery_id, respond)


def group_run_again_clicked(
    services: ServicesFactory, body: dict, respond: Respond, client: WebClient
) -> None:
    modals.open_group_bulk(services(), client, clicker(body), "run_again", clicked_value(body), body, respond)


def group_reject_clicked(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    modals.open_group_bulk(services(), client, clicker(body), "reject", clicked_value(body), body, respond)


def reconcile_clicked(services: ServicesFactory, body: dict, respond: Respond) -> None:
    reconcile_now(services(), clicker(body), clicked_value(body), respond)


def redrive_clicked(services: ServicesFactory, body: dict, respond: Respond) -> None:
    redrive(services(), clicker(body), clicked_value(body), respond)


def register(app: App, services: ServicesFactory) -> None:
    app.action(REDRIVE)(ack=acknowledge, lazy=[with_services(redrive_clicked, services)])
    app.action(RUN_AGAIN)(ack=acknowledge, lazy=[with_services(run_again_clicked, services)])
    app.action(EDIT_AND_RUN_AGAIN)(ack=acknowledge, lazy=[with_services(edit_clicked, services)])
    app.action(REJECT)(ack=acknowledge, lazy=[with_services(reject_clicked, services)])
    app.action(ROW_MENU)(ack=acknowledge, lazy=[with_services(row_menu_chosen, services)])
    app.action(RUN_AGAIN_ALL)(ack=acknowledge, lazy=[with_services(group_run_again_clicked, services)])
    app.action(REJECT_ALL)(ack=acknowledge, lazy=[with_services(group_reject_clicked, services)])
    app.action(RECONCILE_NOW)(ack=acknowledge, lazy=[with_services(reconcile_clicked, services)])
