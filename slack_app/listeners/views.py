"""Modal submissions. The edit modal is validated in the acknowledgement, so Slack shows an invalid
JSON, an oversized input or a schema violation in the modal itself; nothing is sent until it is valid.

The lazy halves import ``slack_app.listeners.work`` when they run, after the acknowledgement."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_bolt import Ack, App

from slack_app.ids import BULK_SUBMIT, EDIT_SUBMIT, REJECT_SUBMIT

if TYPE_CHECKING:  # only for the type checker: the desk's module loads the recovery core
    from slack_sdk import WebClient

    from service.composition import Services

ERROR_TEXT_LIMIT = 1900


def acknowledge(ack: Ack) -> None:
    ack()


def register(app: App, desk: Callable[[], Services]) -> None:
    def check_edit(ack: Ack, view: dict) -> None:
        from service.recovery.model.input_edit import InputProblem
        from slack_app.listeners import work
        from slack_app.views.modals import INPUT_ACTION, INPUT_BLOCK, submitted_value

        text = submitted_value(view, INPUT_BLOCK, INPUT_ACTION) or ""
        try:
            work.validate_edit(desk(), json.loads(view["private_metadata"]), text)
        except InputProblem as problem:
            ack(response_action="errors", errors={INPUT_BLOCK: str(problem)[:ERROR_TEXT_LIMIT]})
            return
        ack()

    def edit_submitted(body: dict, client: WebClient, view: dict) -> None:
        from slack_app.listeners import work

        work.edit_submitted(desk(), client, body["user"]["id"], view)
        home_again_if_opened_there(body, client, view)

    def reject_submitted(body: dict, client: WebClient, view: dict) -> None:
        from slack_app.listeners import work

        work.reject_submitted(desk(), client, body["user"]["id"], view)
        home_again_if_opened_there(body, client, view)

    def home_again_if_opened_there(body: dict, client: WebClient, view: dict) -> None:
        """A modal opened from the Home tab has no channel to answer in: the Home is published again."""
        if json.loads(view["private_metadata"]).get("channel") is None:
            from slack_app.listeners import home

            home.publish_home(desk(), client, body["user"]["id"])

    def bulk_submitted(body: dict, client: WebClient, view: dict) -> None:
        from slack_app.listeners import work

        work.bulk_submitted(desk(), client, body["user"]["id"], view)

    app.view(EDIT_SUBMIT)(ack=check_edit, lazy=[edit_submitted])
    app.view(REJECT_SUBMIT)(ack=acknowledge, lazy=[reject_submitted])
    app.view(BULK_SUBMIT)(ack=acknowledge, lazy=[bulk_submitted])
