"""The App Home tab: opening it, and its filter and page buttons. Each acknowledges at once; the
lazy half imports ``slack_app.listeners.home_tab`` (which builds and publishes the Home) when it
runs, after the acknowledgement. The row menu of the Home's recoveries is the list's
(``ROW_MENU``, registered with the other actions), which hands a click from the Home to
``home_tab`` too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_bolt import Ack, App

from slack_app.ids import HOME_FILTER, HOME_PAGE

if TYPE_CHECKING:  # only for the type checker: the desk's module loads the recovery core
    from slack_sdk import WebClient

    from service.composition import Services

HOME_OPENED = "app_home_opened"


def acknowledge(ack: Ack) -> None:
    ack()


def register(app: App, desk: Callable[[], Services]) -> None:
    def home_opened(event: dict, client: WebClient) -> None:
        if event.get("tab") != "home":
            return  # the Messages tab: nothing to publish
        from slack_app.listeners import home_tab

        home_tab.publish_home(desk(), client, event["user"])

    def moved(body: dict, client: WebClient) -> None:
        """A filter or a page button: the Home again, where the button leads."""
        from slack_app.listeners import home_tab

        home_tab.publish_home(desk(), client, body["user"]["id"], body["actions"][0]["value"])

    app.event(HOME_OPENED)(ack=acknowledge, lazy=[home_opened])
    app.action(HOME_FILTER)(ack=acknowledge, lazy=[moved])
    app.action(HOME_PAGE)(ack=acknowledge, lazy=[moved])
