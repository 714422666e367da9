"""Ownership buttons: Take it, Take over, Release (one recovery) and Take all (a group message).

Ownership is for the people who may act on the recovery (its rule's team, or an admin); anyone
else is denied and audited as for any action. A second person's Take it is told who owns it and
offered Take over, which Slack confirms before it is sent; the owner they were shown travels in
the button, so a takeover never lands on someone they were not shown. Release is for the owner,
or an admin. Each change is shown where the recovery is: its own message (owner and buttons), or
a line in its group message's thread.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from slack_bolt import App, Respond
from slack_sdk import WebClient

from recovery_ops.service.composition import Services
from recovery_ops.service.recovery.lifecycle.ownership import (
    RELEASE,
    TAKE,
    TAKE_OVER,
    Ownership,
    OwnershipResult,
)
from recovery_ops.service.recovery.ports.notifier import MessageRef, NotifierUnavailableError
from recovery_ops.service.recovery.storage.recoveries import ListFilter
from recovery_ops.slack_app import (
    ids,  # the buttons' action ids (``TAKE`` and its kin here are the audit's words)
)
from recovery_ops.slack_app.listeners.registration import ServicesFactory, acknowledge, with_services
from recovery_ops.slack_app.listeners.replies import (
    actable,
    clicked_value,
    clicker,
    denied,
    reporting_failures,
    via_respond,
)
from recovery_ops.slack_app.notifier import SlackNotifier, SlackOutcomeDisplay
from recovery_ops.slack_app.views.ephemeral import ownership_text, take_over_prompt_blocks, took_all_text
from recovery_ops.slack_app.views.thread_replies import ownership_change_text


def take(services: Services, client: WebClient, user: str, recovery_id: str, respond: Respond) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Take it"):
        if denied(services, user, recovery_id, TAKE, say):
            return
        result = services.owners.take(recovery_id, user)
        if result.outcome is Ownership.OWNED_BY_OTHER:
            _offer_take_over(respond, result, replace=False)
            return
        _show(services, client, result, user, TAKE)
        say(ownership_text(result))


def take_over(services: Services, client: WebClient, user: str, value: str, respond: Respond) -> None:
    """The confirmed Take over: ``value`` names the recovery and the owner the person was shown."""
    say = via_respond(respond)
    with reporting_failures(say, "Take over"):
        try:
            wanted = json.loads(value)
            recovery_id, shown_owner = str(wanted["recovery_id"]), str(wanted["from"])
        except (ValueError, KeyError, TypeError):
            say("This Take over button cannot be read: click Take it on the recovery again.")
            return
        if denied(services, user, recovery_id, TAKE_OVER, say):
            return
        result = services.owners.take_over(recovery_id, user, shown_owner)
        if result.outcome is Ownership.OWNED_BY_OTHER:  # it changed hands since: show the new owner
            _offer_take_over(respond, result, replace=True)
            return
        _show(services, client, result, user, TAKE_OVER)
        respond(text=ownership_text(result), response_type="ephemeral", replace_original=True)


def release(services: Services, client: WebClient, user: str, recovery_id: str, respond: Respond) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Release"):
        if denied(services, user, recovery_id, RELEASE, say):
            return
        result = services.owners.release(recovery_id, user, is_admin=services.access.is_admin(user).allowed)
        _show(services, client, result, user, RELEASE)
        say(ownership_text(result))


def take_all(services: Services, client: WebClient, user: str, group_id: str, respond: Respond) -> None:
    """Take every open recovery of a group message that the person may act on and nobody owns."""
    say = via_respond(respond)
    with reporting_failures(say, "Take all"):
        if denied(services, user, group_id, "take all", say):
            return
        selection = actable(services, user, ListFilter(group_id=group_id))
        results = [services.owners.take(r.recovery_id, user) for r in selection.allowed if r.owner != user]
        taken = sum(1 for r in results if r.outcome is Ownership.TAKEN)
        others = sum(1 for r in results if r.outcome is Ownership.OWNED_BY_OTHER)
        group = services.groups.get(group_id)
        if taken and group is not None and group.channel and group.ts:
            SlackNotifier(client).post_progress(
                MessageRef(group.channel, group.ts), ownership_change_text(user, TAKE, taken)
            )
        say(took_all_text(taken, others, selection.left_out))


def _offer_take_over(respond: Respond, result: OwnershipResult, replace: bool) -> None:
    """Who owns it, and a Take over button (``replace``: instead of the offer that went stale)."""
    respond(
        response_type="ephemeral",
        replace_original=replace,
        text=ownership_text(result),
        blocks=take_over_prompt_blocks(result),
    )


def _show(services: Services, client: WebClient, result: OwnershipResult, user: str, action: str) -> None:
    if not result.changed or result.recovery is None:
        return
    display = SlackOutcomeDisplay(client, grouped=services.groups.shares_message)
    try:
        display.show_open(result.recovery, ownership_change_text(user, action, 1, result.previous))
    except NotifierUnavailableError:  # the owner is stored; the reconciler brings the message up to date
        services.store.mark_display_stale(result.recovery.recovery_id, datetime.now(UTC))


# ---------------------------------------------------------------------- registration
def take_clicked(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    take(services(), client, clicker(body), clicked_value(body), respond)


def take_over_confirmed(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    take_over(services(), client, clicker(body), clicked_value(body), respond)


def release_clicked(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    release(services(), client, clicker(body), clicked_value(body), respond)


def group_take_clicked(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    take_all(services(), client, clicker(body), clicked_value(body), respond)


def register(app: App, services: ServicesFactory) -> None:
    app.action(ids.TAKE)(ack=acknowledge, lazy=[with_services(take_clicked, services)])
    app.action(ids.TAKE_OVER)(ack=acknowledge, lazy=[with_services(take_over_confirmed, services)])
    app.action(ids.RELEASE)(ack=acknowledge, lazy=[with_services(release_clicked, services)])
    app.action(ids.TAKE_ALL)(ack=acknowledge, lazy=[with_services(group_take_clicked, services)])
