"""Four eyes in Slack: an action a routing rule's approval policy covers becomes a request, and the
request's buttons (Approve, Deny with its modal, Withdraw) decide it.

Run again, Edit input & run again and Reject go to the resolver, which holds back an action a
policy covers before claiming anything (``NEEDS_APPROVAL``); ``requested_instead`` then makes a
request instead (an edit with exactly the
submitted input and its diff, a rejection with its reason) and the person is told what waits. The
core (``recovery_ops.service.recovery.lifecycle.approvals``) decides who may approve, deny or
withdraw, and runs what was approved; here each click's outcome is told in words, ephemerally (by
direct message for a click in the Home tab, whose Home is then published again).
"""

from __future__ import annotations

import json
from typing import Any, cast

from slack_bolt import App, Respond
from slack_sdk import WebClient

from recovery_ops.service.composition import Services
from recovery_ops.service.recovery.access.routing_rules import ApprovalPolicy, Rule
from recovery_ops.service.recovery.lifecycle.actions import UNCHANGED, ActionOutcome, ActionResult
from recovery_ops.service.recovery.lifecycle.approvals import DecisionOutcome
from recovery_ops.service.recovery.model.approval import Gated
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.storage.recoveries import RecoveryNotFoundError
from recovery_ops.slack_app.ids import APPROVAL_APPROVE, APPROVAL_DENY, APPROVAL_WITHDRAW, DENY_SUBMIT
from recovery_ops.slack_app.listeners import home
from recovery_ops.slack_app.listeners.registration import ServicesFactory, acknowledge, with_services
from recovery_ops.slack_app.listeners.replies import (
    DirectMessageRespond,
    Say,
    clicked_value,
    clicker,
    reporting_failures,
    via_ephemeral,
    via_respond,
)
from recovery_ops.slack_app.views.approvals import (
    DENY_REASON_ACTION,
    DENY_REASON_BLOCK,
    decision_text,
    deny_modal,
)
from recovery_ops.slack_app.views.modals import submitted_value

NOT_AVAILABLE = "Approvals are not available here: nothing was decided."


# ---------------------------------------------------------------------- asking instead of acting
def policy_for(services: Services, recovery: Recovery, gated: Gated) -> tuple[Rule, ApprovalPolicy] | None:
    """The rule and policy that put ``gated`` on ``recovery`` under approval (None: none does)."""
    if services.approvals is None:
        return None
    return services.approvals.gate.policy(recovery, gated)


def requested_instead(
    services: Services,
    user: str,
    result: ActionResult,
    gated: Gated,
    say: Say,
    new_input: Any = UNCHANGED,
    diff: str | None = None,
    reason: str | None = None,
) -> bool:
    """True when the resolver held the action back (``NEEDS_APPROVAL``: its recovery's rule puts it
    under approval, nothing was claimed or sent): a request was made instead (or refused) and
    ``user`` told which; False when ``result`` is the action's own outcome. The resolver reads the
    recovery only when some rule has a policy: a click reads nothing more here."""
    recovery = result.recovery
    if result.outcome is not ActionOutcome.NEEDS_APPROVAL or recovery is None:
        return False
    found = policy_for(services, recovery, gated)
    if found is None or services.approvals is None:
        say(f"Nothing was sent: {result.detail}")  # held by a policy this process cannot ask under
        return True
    decision = services.approvals.request(
        [recovery], gated, user, found[0], new_input=new_input, diff=diff, reason=reason
    )
    say(decision_text(decision))
    return True


def reason_missing(services: Services, recovery_id: str, gated: Gated, reason: str | None) -> str | None:
    """What a modal's acknowledgement shows when the policy wants a reason and none was given
    (nothing is read when no rule has a policy)."""
    if services.approvals is None or not services.approvals.gate.any_policy():
        return None
    try:
        recovery = services.store.get(recovery_id)
    except RecoveryNotFoundError:
        return None
    found = policy_for(services, recovery, gated)
    if found is None or not found[1].reason_required or (reason or "").strip():
        return None
    return f"Rule {found[0].name!r} asks for a reason: its approvers read it."


# ---------------------------------------------------------------------- the request's buttons
def approve(services: Services, user: str, request_id: str, say: Say) -> None:
    with reporting_failures(say, "Approve"):
        if services.approvals is None:
            say(NOT_AVAILABLE)
            return
        decision = services.approvals.approve(request_id, user)
        if decision.outcome is DecisionOutcome.APPROVED:
            _show_finished(services, request_id)
        say(decision_text(decision))


def deny(services: Services, user: str, request_id: str, reason: str | None, say: Say) -> None:
    with reporting_failures(say, "Deny"):
        if services.approvals is None:
            say(NOT_AVAILABLE)
            return
        say(decision_text(services.approvals.deny(request_id, user, reason)))


def withdraw(services: Services, user: str, request_id: str, say: Say) -> None:
    with reporting_failures(say, "Withdraw"):
        if services.approvals is None:
            say(NOT_AVAILABLE)
            return
        say(decision_text(services.approvals.withdraw(request_id, user)))


def _show_finished(services: Services, request_id: str) -> None:
    """A request with a message of its own (bulk, or in a group's thread) shows that it ran; a
    recovery's own message shows its outcome already (the resolver updated it)."""
    approvals = services.approvals
    if approvals is None or approvals.display is None:
        return
    request = approvals.store.get(request_id)
    if request.channel and request.ts:
        approvals.display.show_request(request, [], new=False)


# ---------------------------------------------------------------------- registration
def _answer(body: dict, respond: Respond, client: WebClient) -> Say:
    """Ephemeral through the response_url; by direct message for a click in the Home tab."""
    if _from_home(body):
        return via_respond(cast(Respond, DirectMessageRespond(client, clicker(body))))
    return via_respond(respond)


def _from_home(body: dict) -> bool:
    return (body.get("view") or {}).get("type") == "home"


def _home_again(services: Services, body: dict, client: WebClient) -> None:
    if _from_home(body):
        home.publish_home(services, client, clicker(body), (body.get("view") or {}).get("private_metadata"))


def approve_clicked(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    approve(services(), clicker(body), clicked_value(body), _answer(body, respond, client))
    _home_again(services(), body, client)


def withdraw_clicked(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    withdraw(services(), clicker(body), clicked_value(body), _answer(body, respond, client))
    _home_again(services(), body, client)


def deny_clicked(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    """Deny opens a small modal for an optional reason."""
    say = _answer(body, respond, client)
    with reporting_failures(say, "Deny"):
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        client.views_open(trigger_id=body["trigger_id"], view=deny_modal(clicked_value(body), channel))


def deny_submitted(services: ServicesFactory, body: dict, client: WebClient, view: dict) -> None:
    meta = json.loads(view["private_metadata"])
    user = body["user"]["id"]
    reason = (submitted_value(view, DENY_REASON_BLOCK, DENY_REASON_ACTION) or "").strip() or None
    deny(services(), user, meta["request_id"], reason, via_ephemeral(client, meta.get("channel"), user))
    if meta.get("channel") is None:  # opened from the Home tab
        home.publish_home(services(), client, user)


def register(app: App, services: ServicesFactory) -> None:
    app.action(APPROVAL_APPROVE)(ack=acknowledge, lazy=[with_services(approve_clicked, services)])
    app.action(APPROVAL_DENY)(ack=acknowledge, lazy=[with_services(deny_clicked, services)])
    app.action(APPROVAL_WITHDRAW)(ack=acknowledge, lazy=[with_services(withdraw_clicked, services)])
    app.view(DENY_SUBMIT)(ack=acknowledge, lazy=[with_services(deny_submitted, services)])
