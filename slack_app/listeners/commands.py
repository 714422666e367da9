"""The `/recoveries` slash command: acknowledged at once, answered by the lazy half (ephemeral).

The lazy half imports ``slack_app.listeners.work`` when it runs, after the acknowledgement."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_bolt import Ack, App

from slack_app.ids import COMMAND

if TYPE_CHECKING:  # only for the type checker: the desk's module loads the recovery core
    from slack_bolt import Respond

    from service.composition import Services


def acknowledge(ack: Ack) -> None:
    ack()


def register(app: App, desk: Callable[[], Services]) -> None:
    def recoveries(body: dict, respond: Respond) -> None:
        from slack_app.listeners import work

        work.recoveries_command(desk(), body["user_id"], body.get("text") or "", respond)

    app.command(COMMAND)(ack=acknowledge, lazy=[recoveries])
