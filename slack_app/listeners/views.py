"""Modal submissions. The edit modal is validated in the acknowledgement, so Slack shows an invalid
JSON, an oversized input or a schema violation in the modal itself; nothing is sent until it is valid."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from slack_app.ids import BULK_SUBMIT, EDIT_SUBMIT, REJECT_SUBMIT

ERROR_TEXT_LIMIT = 1900


def _work() -> Any:
    return importlib.import_module("slack_app.listeners.work")


def register(app: App, desk: Callable[[], Any]) -> None:
    def acknowledge(ack: Ack) -> None:
        ack()

    def check_edit(ack: Ack, view: dict) -> None:
        from service.recovery.input_edit import InputProblem
        from slack_app.modals import INPUT_ACTION, INPUT_BLOCK, submitted_value

        text = submitted_value(view, INPUT_BLOCK, INPUT_ACTION) or ""
        try:
            _work().validate_edit(desk(), json.loads(view["private_metadata"]), text)
        except InputProblem as problem:
            ack(response_action="errors", errors={INPUT_BLOCK: str(problem)[:ERROR_TEXT_LIMIT]})
            return
        ack()

    def edit_submitted(body: dict, client: Any, view: dict) -> None:
        _work().edit_submitted(desk(), client, body["user"]["id"], view)

    def reject_submitted(body: dict, client: Any, view: dict) -> None:
        _work().reject_submitted(desk(), client, body["user"]["id"], view)

    def bulk_submitted(body: dict, client: Any, view: dict) -> None:
        _work().bulk_submitted(desk(), client, body["user"]["id"], view)

    app.view(EDIT_SUBMIT)(ack=check_edit, lazy=[edit_submitted])
    app.view(REJECT_SUBMIT)(ack=acknowledge, lazy=[reject_submitted])
    app.view(BULK_SUBMIT)(ack=acknowledge, lazy=[bulk_submitted])
