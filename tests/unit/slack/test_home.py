"""The App Home tab over plain data: a person's overview (built over an in-memory store and real
access rules), the circuits and the DLQ depths rendered; and its listeners over a ``Mock(WebClient)``."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from unittest.mock import Mock

from slack_sdk import WebClient

from recovery_ops.service.breaker.circuit_board import CircuitReading, reading_from_item
from recovery_ops.service.breaker.circuit_breaker import CircuitState
from recovery_ops.service.composition import Services
from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.dead_letters.queues import DeadLetterReport, standard_queues
from recovery_ops.service.recovery.lifecycle.overview import Overview, overview_for
from recovery_ops.service.recovery.lifecycle.query import QueryError, RecoveryQuery
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from recovery_ops.slack_app.ids import HOME_FILTER, HOME_PAGE_NEXT, HOME_PAGE_PREVIOUS, ROW_MENU, RUN_AGAIN
from recovery_ops.slack_app.listeners import recovery_buttons
from recovery_ops.slack_app.listeners.home import publish_home
from recovery_ops.slack_app.views.home import (
    NO_BREAKER_TABLE,
    home_location,
    home_view,
    no_access_view,
    parse_home_location,
)
from recovery_ops.slack_app.views.limits import HOME_MAX_BLOCKS
from recovery_ops.slack_app.views.listing import row_menu_value
from tests.support.fakes import FakeDynamoDB
from tests.support.slack_safety import hostile, unsafe_spots
from tests.unit.slack.builders import texts

ADMIN = "U0ADMIN"
TEAMMATE = "U0TEAM"
VIEWER = "U0VIEWER"
STRANGER = "U0STRANGER"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ORDERS_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:orders"
PAYMENTS_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:payments"
RULES = json.dumps(
    {
        "rules": [
            {
                "name": "orders",
                "match": {"state_machine": "orders"},
                "channel": "C-ORDERS",
                "team": {"user_ids": [TEAMMATE]},
            }
        ]
    }
)


def stored(recoveries: list[Recovery]) -> RecoveryStore:
    """The real store over the plain fake, holding ``recoveries``."""
    store = RecoveryStore("recoveries", FakeDynamoDB())
    for recovery in recoveries:
        assert store.create_if_absent(recovery)
    return store


def an_open_recovery(number: int, machine_arn: str = ORDERS_ARN, **changes: Any) -> Recovery:
    from tests.unit.slack.builders import a_recovery

    created = f"2026-12-01T{number // 3600 % 24:02d}:{number // 60 % 60:02d}:{number % 60:02d}.000+00:00"
    execution = machine_arn.replace(":stateMachine:", ":execution:") + f":order-{number}"
    return a_recovery(
        number, state_machine_arn=machine_arn, execution_arn=execution, created_at=created, **changes
    )


def access() -> TeamAccess:
    policy = AccessPolicy(allowed_users=frozenset({ADMIN}), viewer_users=frozenset({VIEWER}))
    return TeamAccess(policy, lambda: parse_rules(RULES, ChannelRouting(default="C-DEFAULT")))


def overview_of(
    user: str, recoveries: list[Recovery], query: RecoveryQuery | None = None, page: int = 1
) -> Overview:
    return overview_for(stored(recoveries), access(), user, query or RecoveryQuery(), page)


def sent(view: Any) -> dict:
    return view.to_dict()


def row_menus(view: dict) -> list[str]:
    """The recovery ids whose rows carry the row menu (Run again, Edit, Reject)."""
    return [
        json.dumps(block["accessory"]["options"]).split("|")[1].split('"')[0]
        for block in view["blocks"]
        if (block.get("accessory") or {}).get("action_id") == ROW_MENU
    ]


def buttons_of(view: dict, action_id: str) -> list[tuple[str, str]]:
    found = []
    for block in view["blocks"]:
        elements = block.get("elements", []) if block["type"] == "actions" else [block.get("accessory")]
        found += [(e["text"]["text"], e["value"]) for e in elements if e and e.get("action_id") == action_id]
    return found


def a_home(overview: Overview, circuits: list[CircuitReading] | None = None, reports=None) -> dict:
    return sent(home_view(overview, circuits if circuits is not None else [], reports, NOW))


# ---------------------------------------------------------------------- pages and limits
def test_a_home_of_500_recoveries_stays_within_100_blocks_and_has_a_next_page_button() -> None:
    # Given 500 open recoveries, 50 of them the admin's own
    recoveries = [an_open_recovery(n, owner=ADMIN if n % 10 == 0 else None) for n in range(1, 501)]

    # When the admin opens the Home
    home = a_home(overview_of(ADMIN, recoveries))

    # Then it holds at most 100 blocks, the oldest first, and a Next button to page 2 (no Previous)
    assert len(home["blocks"]) <= HOME_MAX_BLOCKS
    assert "500 open recoveries" in texts(home["blocks"])
    assert row_menus(home)[10] == recoveries[0].recovery_id  # after the ten shown as "Yours"
    ((label, value),) = buttons_of(home, HOME_PAGE_NEXT)
    assert label == "Next"
    assert parse_home_location(value) == (RecoveryQuery(), 2)


def test_the_last_page_has_a_previous_button_and_no_next() -> None:
    # Given 500 open recoveries, 25 a page
    recoveries = [an_open_recovery(n) for n in range(1, 501)]

    # When the admin is on page 20
    home = a_home(overview_of(ADMIN, recoveries, page=20))

    # Then it shows the newest 25 and only a Previous button, back to page 19
    assert row_menus(home) == [r.recovery_id for r in recoveries[475:]]
    assert [(label, parse_home_location(value)) for label, value in buttons_of(home, HOME_PAGE_PREVIOUS)] == [
        ("Previous", (RecoveryQuery(), 19))
    ]
    assert "Page 20 of 20" in texts(home["blocks"])


def test_each_count_by_state_machine_and_error_has_a_button_that_filters_the_home_to_it() -> None:
    # Given recoveries of two state machines
    recoveries = [an_open_recovery(1), an_open_recovery(2, PAYMENTS_ARN, error="CardDeclined")]

    # When the admin opens the Home
    home = a_home(overview_of(ADMIN, recoveries))

    # Then each kind has a Show these button carrying its filter, page 1
    assert {parse_home_location(value) for _, value in buttons_of(home, HOME_FILTER)} == {
        (RecoveryQuery(state_machine="orders", error="VendorUnavailable"), 1),
        (RecoveryQuery(state_machine="payments", error="CardDeclined"), 1),
    }


def test_a_filtered_home_shows_only_what_the_filter_selects_and_a_button_back_to_all() -> None:
    # Given recoveries of two state machines
    recoveries = [an_open_recovery(1), an_open_recovery(2, PAYMENTS_ARN, error="CardDeclined")]

    # When the admin filters to the payments
    home = a_home(overview_of(ADMIN, recoveries, RecoveryQuery(state_machine="payments")))

    # Then only the payment is listed, and Show all leads back to everything
    assert row_menus(home) == [recoveries[1].recovery_id]
    assert ("Show all", home_location(RecoveryQuery())) in buttons_of(home, HOME_FILTER)
    assert parse_home_location(home["private_metadata"]) == (RecoveryQuery(state_machine="payments"), 1)


def test_a_forged_home_location_is_refused() -> None:
    forgeries = ("{", "[]", '{"page": "0"}', '{"page": "x"}', '{"owner": "<!channel>"}', '{"since": "99y"}')
    for forged in forgeries:
        try:
            parse_home_location(forged)
        except QueryError:
            continue
        raise AssertionError(f"{forged} was accepted")


# ---------------------------------------------------------------------- who sees what
def test_a_team_member_sees_only_their_rules_recoveries_with_actions() -> None:
    # Given an order recovery (the team's rule) and a payment one (no rule: the admins' alone)
    recoveries = [an_open_recovery(1), an_open_recovery(2, PAYMENTS_ARN)]

    # When the team member opens the Home
    home = a_home(overview_of(TEAMMATE, recoveries))

    # Then only the order recovery is shown, with its menu; the other is counted as not shown
    assert row_menus(home) == [recoveries[0].recovery_id]
    assert "order-2" not in json.dumps(home)
    shown = texts(home["blocks"])
    assert "1 open recovery" in shown and "1 of other teams not shown" in shown
    assert "routing rules" in shown


def test_a_viewer_sees_every_recovery_and_no_action_menu() -> None:
    # Given two recoveries
    recoveries = [an_open_recovery(1), an_open_recovery(2, PAYMENTS_ARN)]

    # When a deployment viewer opens the Home
    home = a_home(overview_of(VIEWER, recoveries))

    # Then both are listed, neither with a menu
    assert "order-1" in json.dumps(home) and "order-2" in json.dumps(home)
    assert row_menus(home) == []
    assert "not act on them" in texts(home["blocks"])


def test_an_admin_sees_every_recovery_with_actions_and_their_own_first() -> None:
    # Given two recoveries, the second owned by the admin
    recoveries = [an_open_recovery(1), an_open_recovery(2, PAYMENTS_ARN, owner=ADMIN)]

    # When the admin opens the Home
    home = a_home(overview_of(ADMIN, recoveries))

    # Then theirs comes first under "Yours", then both oldest first, each with its menu
    assert "Yours (1)" in texts(home["blocks"])
    first, second = recoveries[0].recovery_id, recoveries[1].recovery_id
    assert row_menus(home) == [second, first, second]
    assert "every recovery" in texts(home["blocks"])


def test_a_stranger_home_says_why_and_shows_no_recovery() -> None:
    # When someone without access gets their Home
    home = sent(no_access_view("not on the allow-list of this deployment <!channel>"))

    # Then it says why (escaped) and holds no button, no recovery
    assert "no access" in texts(home["blocks"]) and "&lt;!channel&gt;" in texts(home["blocks"])
    assert {block["type"] for block in home["blocks"]} == {"header", "section"}
    assert not any("accessory" in block for block in home["blocks"])
    assert unsafe_spots(home) == []


# ---------------------------------------------------------------------- circuits and DLQs
def test_the_circuits_say_their_state_and_since_when() -> None:
    # Given an open circuit and a closed one, as the breaker table holds them
    opened = reading_from_item(
        {
            "dependency": {"S": "vendor"},
            "state": {"S": "OPEN"},
            "changed_at": {"N": str(NOW.timestamp() - 600)},
            "opened_until": {"N": str(NOW.timestamp() + 60)},
        }
    )
    closed = reading_from_item(
        {"dependency": {"S": "payments"}, "state": {"S": "CLOSED"}, "failures": {"N": "2"}}
    )

    # When the Home shows them
    shown = texts(a_home(overview_of(ADMIN, []), [opened, closed])["blocks"])

    # Then each says its state, the open one since when and when it probes
    assert "🔴 *vendor*: open since 2026-12-01 11:50 UTC" in shown
    assert "the next call probes at 2026-12-01 12:01 UTC" in shown
    assert "🟢 *payments*: closed · 2 recent failures" in shown


def test_a_deployment_without_a_breaker_table_says_so() -> None:
    shown = texts(sent(home_view(overview_of(ADMIN, []), None, None, NOW))["blocks"])

    assert NO_BREAKER_TABLE in shown


def test_the_dead_letter_queues_show_their_depths() -> None:
    # Given the recovery DLQ with 3 messages and the orders DLQ empty
    orders, recovery = standard_queues(
        "https://sqs/1/orders-dlq", "https://sqs/1/recovery-dlq", "https://sqs/1/q"
    )
    reports = [DeadLetterReport(orders), DeadLetterReport(recovery, visible=3)]

    # When the Home shows them
    shown = texts(a_home(overview_of(ADMIN, []), reports=reports)["blocks"])

    # Then each queue says its depth
    assert "*Orders DLQ* `orders-dlq`: 0 messages" in shown
    assert "*Recovery DLQ* `recovery-dlq`: 3 messages" in shown


# ---------------------------------------------------------------------- escaping
def test_hostile_state_machine_error_and_dependency_names_are_shown_escaped() -> None:
    # Given recoveries whose state machine, error and failed state try every trick, and a circuit too
    machine = ORDERS_ARN.replace(":orders", ":" + hostile("orders").replace(":", ""))
    recoveries = [
        replace(an_open_recovery(n, machine), error=hostile("Err"), failed_state=hostile("State"))
        for n in (1, 2)
    ]
    circuit = CircuitReading(hostile("vendor"), CircuitState.HALF_OPEN, since=NOW)

    # When the admin opens the Home (and filters to them)
    homes = [
        a_home(overview_of(ADMIN, recoveries), [circuit]),
        a_home(overview_of(ADMIN, recoveries, RecoveryQuery(error=hostile("Err"))), [circuit]),
    ]

    # Then nothing in them is a mention, a link or a control character
    for home in homes:
        assert unsafe_spots(home) == []
        assert len(home["blocks"]) <= HOME_MAX_BLOCKS


# ---------------------------------------------------------------------- the listeners
def services_for_home(recoveries: list[Recovery]) -> Services:
    services = Services(
        store=stored(recoveries),
        groups=Mock(),
        actions=Mock(),
        bulk=Mock(),
        policy=access().policy,
        schemas=Mock(),
        audit=Mock(),
        access=access(),
        owners=Mock(),
        runs=Mock(),
    )
    return services


def test_opening_the_home_publishes_the_persons_home() -> None:
    # Given
    services, client = services_for_home([an_open_recovery(1)]), Mock(spec=WebClient)

    # When
    publish_home(services, client, ADMIN)

    # Then
    client.views_publish.assert_called_once()
    kwargs = client.views_publish.call_args.kwargs
    assert kwargs["user_id"] == ADMIN
    assert row_menus(kwargs["view"].to_dict()) == ["rec-00000000000000000000000000000001"]
    services.audit.record.assert_not_called()


def test_a_stranger_opening_the_home_is_told_why_and_the_refusal_is_audited() -> None:
    # Given
    services, client = services_for_home([an_open_recovery(1)]), Mock(spec=WebClient)

    # When
    publish_home(services, client, STRANGER)

    # Then
    view = client.views_publish.call_args.kwargs["view"].to_dict()
    assert "no access" in texts(view["blocks"]) and "order-1" not in json.dumps(view)
    (item, entry), _ = services.audit.record.call_args
    assert item == "access#recoveries"
    assert (entry.actor, entry.action, entry.result) == (STRANGER, "view home", "DENIED")


def test_run_again_from_the_home_answers_by_direct_message_and_publishes_the_home_again() -> None:
    # Given a Home on the payments filter and a recovery the admin may act on
    recovery = an_open_recovery(1)
    services, client = services_for_home([recovery]), Mock(spec=WebClient)
    services.store.get = Mock(return_value=recovery)  # type: ignore[method-assign]
    services.actions.run_again.return_value = Mock(outcome="RESUMED")
    where = home_location(RecoveryQuery(state_machine="orders"), 1)
    body = {
        "user": {"id": ADMIN},
        "view": {"type": "home", "private_metadata": where},
        "actions": [{"selected_option": {"value": row_menu_value(RUN_AGAIN, recovery.recovery_id)}}],
    }

    # When
    recovery_buttons.row_menu_from_home(services, client, body)

    # Then it ran again once, the outcome went by direct message, and the Home was published where it was
    services.actions.run_again.assert_called_once_with(recovery.recovery_id, ADMIN)
    client.views_publish.assert_called_once()
    view = client.views_publish.call_args.kwargs["view"].to_dict()
    assert parse_home_location(view["private_metadata"]) == (RecoveryQuery(state_machine="orders"), 1)
    for call in client.chat_postMessage.call_args_list:
        assert call.kwargs["channel"] == ADMIN
