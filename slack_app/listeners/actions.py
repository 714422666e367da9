"""Button and menu clicks. Each acknowledges at once; the work runs in a lazy listener.

Only the action ids are imported here: the acknowledgement path of a click loads nothing but
Bolt, and everything else is imported by the lazy half.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from slack_app.ids import (
    BULK_CANCEL,
    BULK_CONFIRM,
    DLQ_REDRIVE,
    DLQ_REDRIVE_CANCEL,
    DLQ_REDRIVE_CONFIRM,
    EDIT_AND_RUN_AGAIN,
    NEXT_PAGE,
    REDRIVE,
    REJECT,
    REJECT_ALL,
    ROW_MENU,
    RUN_AGAIN,
    RUN_AGAIN_ALL,
)

DeskFactory = Callable[[], Any]


def acknowledge(ack: Ack) -> None:
    ack()


def _user(body: dict) -> str:
    return body["user"]["id"]


def _origin(body: dict) -> tuple[str | None, str | None]:
    """The channel and message a click came from (an ephemeral list has no message ts)."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    message = body.get("message") or {}
    return channel, message.get("ts")


def _work() -> Any:
    """The lazy halves' module, imported on the first click that needs it."""
    return importlib.import_module("slack_app.listeners.work")


def register(app: App, desk: DeskFactory) -> None:
    def run_again_clicked(body: dict, respond: Any) -> None:
        _work().run_again(desk(), _user(body), body["actions"][0]["value"], respond, from_list=False)

    def edit_clicked(body: dict, respond: Any, client: Any) -> None:
        _work().open_edit(desk(), client, _user(body), body["actions"][0]["value"], body, respond)

    def reject_clicked(body: dict, respond: Any, client: Any) -> None:
        _work().open_reject(desk(), client, _user(body), body["actions"][0]["value"], body, respond)

    def row_menu_chosen(body: dict, respond: Any, client: Any) -> None:
        from slack_app.listing import parse_row_menu_value

        action_id, recovery_id = parse_row_menu_value(body["actions"][0]["selected_option"]["value"])
        if action_id == RUN_AGAIN:
            _work().run_again(desk(), _user(body), recovery_id, respond, from_list=True)
        elif action_id == EDIT_AND_RUN_AGAIN:
            _work().open_edit(desk(), client, _user(body), recovery_id, body, respond)
        elif action_id == REJECT:
            _work().open_reject(desk(), client, _user(body), recovery_id, body, respond)

    def group_run_again_clicked(body: dict, respond: Any, client: Any) -> None:
        _work().open_group_bulk(
            desk(), client, _user(body), "run_again", body["actions"][0]["value"], body, respond
        )

    def group_reject_clicked(body: dict, respond: Any, client: Any) -> None:
        _work().open_group_bulk(
            desk(), client, _user(body), "reject", body["actions"][0]["value"], body, respond
        )

    def next_page_clicked(body: dict, respond: Any) -> None:
        page, _, query = body["actions"][0]["value"].partition("|")
        _work().list_page(desk(), _user(body), query, page, respond, replace=True)

    def bulk_confirmed(body: dict, respond: Any, client: Any) -> None:
        channel, _ = _origin(body)
        _work().bulk_from_command(desk(), client, _user(body), body["actions"][0]["value"], channel, respond)

    def bulk_cancelled(respond: Any) -> None:
        respond(text="Cancelled: nothing was resumed.", replace_original=True)

    def redrive_clicked(body: dict, respond: Any) -> None:
        _work().redrive(desk(), _user(body), body["actions"][0]["value"], respond)

    app.action(REDRIVE)(ack=acknowledge, lazy=[redrive_clicked])
    app.action(RUN_AGAIN)(ack=acknowledge, lazy=[run_again_clicked])
    app.action(EDIT_AND_RUN_AGAIN)(ack=acknowledge, lazy=[edit_clicked])
    app.action(REJECT)(ack=acknowledge, lazy=[reject_clicked])
    app.action(ROW_MENU)(ack=acknowledge, lazy=[row_menu_chosen])
    app.action(RUN_AGAIN_ALL)(ack=acknowledge, lazy=[group_run_again_clicked])
    app.action(REJECT_ALL)(ack=acknowledge, lazy=[group_reject_clicked])
    app.action(NEXT_PAGE)(ack=acknowledge, lazy=[next_page_clicked])
    app.action(BULK_CONFIRM)(ack=acknowledge, lazy=[bulk_confirmed])
    app.action(BULK_CANCEL)(ack=acknowledge, lazy=[bulk_cancelled])
    _register_dead_letters(app, desk)


def _dlq() -> Any:
    """The dead-letter queues' lazy halves, imported on the first click that needs them."""
    return importlib.import_module("slack_app.listeners.dlq")


def _register_dead_letters(app: App, desk: DeskFactory) -> None:
    def redrive_dlq_clicked(body: dict, respond: Any) -> None:
        _dlq().open_redrive(desk(), _user(body), body["actions"][0]["value"], respond)

    def redrive_dlq_confirmed(body: dict, respond: Any) -> None:
        _dlq().redrive_confirmed(desk(), _user(body), body["actions"][0]["value"], respond)

    def redrive_dlq_cancelled(respond: Any) -> None:
        _dlq().redrive_cancelled(respond)

    app.action(DLQ_REDRIVE)(ack=acknowledge, lazy=[redrive_dlq_clicked])
    app.action(DLQ_REDRIVE_CONFIRM)(ack=acknowledge, lazy=[redrive_dlq_confirmed])
    app.action(DLQ_REDRIVE_CANCEL)(ack=acknowledge, lazy=[redrive_dlq_cancelled])
