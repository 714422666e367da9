"""The `/recoveries` slash command: acknowledged at once, answered by the lazy half (ephemeral)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from slack_app.ids import COMMAND


def register(app: App, desk: Callable[[], Any]) -> None:
    def acknowledge(ack: Ack) -> None:
        ack()

    def recoveries(body: dict, respond: Any) -> None:
        work = importlib.import_module("slack_app.listeners.work")
        work.recoveries_command(desk(), body["user_id"], body.get("text") or "", respond)

    app.command(COMMAND)(ack=acknowledge, lazy=[recoveries])
