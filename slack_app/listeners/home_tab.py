"""The lazy half of the App Home tab: build the person's Home and publish it (``views.publish``).

Rebuilt from the table each time: when the tab is opened, when a filter or page button is
clicked, and after an action taken from the Home's row menu. Someone who may see no recovery
gets a Home that says why, and the refusal is audited like a refused look at the list. Clicks in
the Home have no response_url: what the list would answer ephemerally goes to the person as a
direct message. Imported by the lazy halves only (after the acknowledgement).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from slack_bolt import Respond
from slack_sdk import WebClient

from service.composition import Services
from service.observability import count_by, logger
from service.recovery.lifecycle.overview import overview_for
from service.recovery.lifecycle.query import QueryError
from service.recovery.model.recovery import AuditEntry
from service.recovery.storage.audit import RECOVERIES_LIST
from slack_app.ids import EDIT_AND_RUN_AGAIN, REJECT, RELEASE, RUN_AGAIN, TAKE
from slack_app.listeners import work
from slack_app.listeners.replies import DirectMessageRespond, reporting_failures
from slack_app.views.home import home_view, no_access_view, notice_view, parse_home_location
from slack_app.views.listing import parse_row_menu_value


def publish_home(desk: Services, client: WebClient, user: str, location: str | None = None) -> None:
    """Publish ``user``'s Home at ``location`` (a filter and a page, as a Home button carries them;
    None: the first page of everything). A failure is shown in the Home, with its log reference."""

    def say(text: str) -> None:
        client.views_publish(user_id=user, view=notice_view(text))

    with reporting_failures(say, "Home"):
        decision = desk.access.may_see_some(user)
        if not decision.allowed:
            _record_denied(desk, user, decision.why)
            client.views_publish(user_id=user, view=no_access_view(decision.why))
            return
        try:
            query, page = parse_home_location(location)
        except QueryError:
            query, page = parse_home_location(None)  # a stale button: the Home from the top
        overview = overview_for(desk.store, desk.access, user, query.for_person(user), page)
        circuits = desk.circuits.readings() if desk.circuits is not None else None
        dead_letters_shown = desk.policy.check_view(user).allowed
        reports = None
        if desk.dead_letters is not None and dead_letters_shown:
            reports = desk.dead_letters.reports(preview=0)  # depths only: nothing received
        view = home_view(overview, circuits, reports, datetime.now(UTC), dead_letters_shown)
        client.views_publish(user_id=user, view=view)


def row_menu_from_home(desk: Services, client: WebClient, body: dict) -> None:
    """A choice in a Home row's menu: the list's action, answered by direct message; after a Run
    again the Home is published again, where it was (an edit or a reject goes on in its modal)."""
    user = body["user"]["id"]
    action_id, recovery_id = parse_row_menu_value(body["actions"][0]["selected_option"]["value"])
    # takes what a request's Respond takes and answers by direct message; not a bolt Respond
    respond = cast(Respond, DirectMessageRespond(client, user))
    if action_id == RUN_AGAIN:
        work.run_again(desk, user, recovery_id, respond, from_list=True)
        publish_home(desk, client, user, (body.get("view") or {}).get("private_metadata"))
    elif action_id == EDIT_AND_RUN_AGAIN:
        work.open_edit(desk, client, user, recovery_id, body, respond)
    elif action_id == REJECT:
        work.open_reject(desk, client, user, recovery_id, body, respond)
    elif action_id in (TAKE, RELEASE):
        from slack_app.listeners import ownership

        (ownership.take if action_id == TAKE else ownership.release)(desk, client, user, recovery_id, respond)
        publish_home(desk, client, user, (body.get("view") or {}).get("private_metadata"))


def _record_denied(desk: Services, user: str, why: str) -> None:
    """Audited on ``access#recoveries``, like a refused `/recoveries`."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    desk.audit.record(RECOVERIES_LIST, AuditEntry(now, user, "view home", "DENIED", {"why": why}))
    count_by("DeniedActions", action="view home")
    logger.warning("view denied", user=user, action="view home", why=why)
