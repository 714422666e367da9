"""Button and menu clicks. Each acknowledges at once; the work runs in a lazy listener.

Only the action ids are imported at the top: the acknowledgement path of a click loads nothing
but Bolt. Each lazy listener below is a named function that imports the module doing its work
(``slack_app.listeners.work`` or ``.ownership``) when it runs, after the
acknowledgement, and calls one function of it: from the registration at the bottom, a click reads
straight to its code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_bolt import Ack, App

from slack_app.ids import (
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
from slack_app.listeners import home, modals, ownership, work
from slack_app.listeners.replies import DirectMessageRespond
from slack_app.views.listing import parse_row_menu_value

if TYPE_CHECKING:  # only for the type checker: the desk's module loads the recovery core
    from slack_bolt import Respond
    from slack_sdk import WebClient

    from service.composition import Services

DeskFactory = Callable[[], "Services"]


def acknowledge(ack: Ack) -> None:
    ack()


def _user(body: dict) -> str:
    return body["user"]["id"]


def _value(body: dict) -> str:
    """The value of the button that was clicked."""
    return body["actions"][0]["value"]


def row_menu_from_home(services: Services, client: WebClient, body: dict) -> None:
    """A choice in a Home row's menu: the list's action, answered by direct message; after a Run
    again the Home is published again, where it was (an edit or a reject goes on in its modal)."""
    user = body["user"]["id"]
    action_id, recovery_id = parse_row_menu_value(body["actions"][0]["selected_option"]["value"])
    respond = DirectMessageRespond(client, user)
    if action_id == RUN_AGAIN:
        work.run_again(services, user, recovery_id, respond, from_list=True)
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


def register(app: App, desk: DeskFactory) -> None:
    def run_again_clicked(body: dict, respond: Respond) -> None:
        from slack_app.listeners import work

        work.run_again(desk(), _user(body), _value(body), respond, from_list=False)

    def edit_clicked(body: dict, respond: Respond, client: WebClient) -> None:

        modals.open_edit(desk(), client, _user(body), _value(body), body, respond)

    def reject_clicked(body: dict, respond: Respond, client: WebClient) -> None:

        modals.open_reject(desk(), client, _user(body), _value(body), body, respond)

    def row_menu_chosen(body: dict, respond: Respond, client: WebClient) -> None:
        from slack_app.listeners import work
        from slack_app.views.listing import parse_row_menu_value

        if (body.get("view") or {}).get("type") == "home":  # no response_url: the Home answers
            row_menu_from_home(desk(), client, body)
            return
        action_id, recovery_id = parse_row_menu_value(body["actions"][0]["selected_option"]["value"])
        if action_id == RUN_AGAIN:
            work.run_again(desk(), _user(body), recovery_id, respond, from_list=True)
        elif action_id == EDIT_AND_RUN_AGAIN:
            modals.open_edit(desk(), client, _user(body), recovery_id, body, respond)
        elif action_id == REJECT:
            modals.open_reject(desk(), client, _user(body), recovery_id, body, respond)
        elif action_id == TAKE:
            from slack_app.listeners import ownership

            ownership.take(desk(), client, _user(body), recovery_id, respond)
        elif action_id == RELEASE:
            from slack_app.listeners import ownership

            ownership.release(desk(), client, _user(body), recovery_id, respond)

    def group_run_again_clicked(body: dict, respond: Respond, client: WebClient) -> None:

        modals.open_group_bulk(desk(), client, _user(body), "run_again", _value(body), body, respond)

    def group_reject_clicked(body: dict, respond: Respond, client: WebClient) -> None:

        modals.open_group_bulk(desk(), client, _user(body), "reject", _value(body), body, respond)

    def reconcile_clicked(body: dict, respond: Respond) -> None:
        from slack_app.listeners import reconcile

        reconcile.reconcile_now(desk(), _user(body), _value(body), respond)

    def redrive_clicked(body: dict, respond: Respond) -> None:
        from slack_app.listeners import work

        work.redrive(desk(), _user(body), _value(body), respond)

    app.action(REDRIVE)(ack=acknowledge, lazy=[redrive_clicked])
    app.action(RUN_AGAIN)(ack=acknowledge, lazy=[run_again_clicked])
    app.action(EDIT_AND_RUN_AGAIN)(ack=acknowledge, lazy=[edit_clicked])
    app.action(REJECT)(ack=acknowledge, lazy=[reject_clicked])
    app.action(ROW_MENU)(ack=acknowledge, lazy=[row_menu_chosen])
    app.action(RUN_AGAIN_ALL)(ack=acknowledge, lazy=[group_run_again_clicked])
    app.action(REJECT_ALL)(ack=acknowledge, lazy=[group_reject_clicked])
    app.action(RECONCILE_NOW)(ack=acknowledge, lazy=[reconcile_clicked])
