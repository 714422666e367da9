"""The App Home tab: opening it, and its filter and page buttons, build the person's Home and
publish it (``views.publish``).

Rebuilt from the table each time: when the tab is opened, when a filter or page button is
clicked, and after an action taken from the Home's row menu or a modal opened from the Home.
Someone who may see no recovery gets a Home that says why, and the refusal is audited like a
refused look at the list. The row menu of the Home's recoveries is the list's (``ROW_MENU``, in
``recovery_buttons``): clicks in the Home have no response_url, so what the list would answer
ephemerally goes to the person as a direct message.
"""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt import App
from slack_sdk import WebClient

from recovery_ops.service.composition import Services
from recovery_ops.service.observability import count_by, logger
from recovery_ops.service.recovery.lifecycle.overview import overview_for
from recovery_ops.service.recovery.lifecycle.query import QueryError
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.service.recovery.storage.audit import RECOVERIES_LIST
from recovery_ops.slack_app.ids import HOME_FILTER, HOME_PAGE_NEXT, HOME_PAGE_PREVIOUS
from recovery_ops.slack_app.listeners.registration import ServicesFactory, acknowledge, with_services
from recovery_ops.slack_app.listeners.replies import clicked_value, clicker, reporting_failures
from recovery_ops.slack_app.views.home import home_view, no_access_view, notice_view, parse_home_location

HOME_OPENED = "app_home_opened"


def publish_home(services: Services, client: WebClient, user: str, location: str | None = None) -> None:
    """Publish ``user``'s Home at ``location`` (a filter and a page, as a Home button carries them;
    None: the first page of everything). A failure is shown in the Home, with its log reference."""

    def say(text: str) -> None:
        client.views_publish(user_id=user, view=notice_view(text))

    with reporting_failures(say, "Home"):
        decision = services.access.may_see_some(user)
        if not decision.allowed:
            _record_denied(services, user, decision.why)
            client.views_publish(user_id=user, view=no_access_view(decision.why))
            return
        try:
            query, page = parse_home_location(location)
        except QueryError:
            query, page = parse_home_location(None)  # a stale button: the Home from the top
        overview = overview_for(services.store, services.access, user, query.for_person(user), page)
        circuits = services.circuits.readings() if services.circuits is not None else None
        dead_letters_shown = services.policy.check_view(user).allowed
        reports = None
        if services.dead_letters is not None and dead_letters_shown:
            reports = services.dead_letters.reports(preview=0)  # depths only: nothing received
        requests = None
        if services.approvals is not None:
            requests = services.approvals.for_person(user)
        view = home_view(overview, circuits, reports, datetime.now(UTC), dead_letters_shown, requests)
        client.views_publish(user_id=user, view=view)


def _record_denied(services: Services, user: str, why: str) -> None:
    """Audited on ``access#recoveries``, like a refused `/recoveries`."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    services.audit.record(RECOVERIES_LIST, AuditEntry(now, user, "view home", "DENIED", {"why": why}))
    count_by("DeniedActions", action="view home")
    logger.warning("view denied", user=user, action="view home", why=why)


# ---------------------------------------------------------------------- registration
def home_opened(services: ServicesFactory, event: dict, client: WebClient) -> None:
    if event.get("tab") != "home":
        return  # the Messages tab: nothing to publish
    publish_home(services(), client, event["user"])


def moved(services: ServicesFactory, body: dict, client: WebClient) -> None:
    """A filter or a page button: the Home again, where the button leads."""
    publish_home(services(), client, clicker(body), clicked_value(body))


def register(app: App, services: ServicesFactory) -> None:
    app.event(HOME_OPENED)(ack=acknowledge, lazy=[with_services(home_opened, services)])
    app.action(HOME_FILTER)(ack=acknowledge, lazy=[with_services(moved, services)])
    app.action(HOME_PAGE_PREVIOUS)(ack=acknowledge, lazy=[with_services(moved, services)])
    app.action(HOME_PAGE_NEXT)(ack=acknowledge, lazy=[with_services(moved, services)])
