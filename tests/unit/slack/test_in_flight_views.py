"""Recoveries in flight in Slack: `/recoveries` (and its in-flight filter), `/recoveries show`, the
Home tab and the reminder in the thread; the listeners over the real ``RecoveryStore`` on
``FakeDynamoDB`` with a ``Mock`` respond and a ``Mock(WebClient)``, the views over plain values."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import Mock

import pytest
from slack_sdk import WebClient

from recovery_ops.service.composition import Services
from recovery_ops.service.local.standin.server import block_kit_problem
from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.lifecycle.in_flight import IN_FLIGHT, in_flight
from recovery_ops.service.recovery.lifecycle.overview import Overview, Role
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.lifecycle.reminders import Reminder
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from recovery_ops.slack_app.ids import HOME_FILTER, ROW_MENU
from recovery_ops.slack_app.listeners import slash_command
from recovery_ops.slack_app.listeners.home import publish_home
from recovery_ops.slack_app.views.home import home_location, home_view, parse_home_location
from recovery_ops.slack_app.views.limits import HOME_MAX_BLOCKS, MAX_BLOCKS
from recovery_ops.slack_app.views.listing import list_blocks, show_blocks
from recovery_ops.slack_app.views.thread_replies import reminder_text
from tests.support.fakes import FakeDynamoDB
from tests.support.recoveries import claim, opened_recovery
from tests.support.slack_safety import hostile, unsafe_spots
from tests.unit.slack.builders import a_recovery, sent, texts

ADMIN = "U0ADMIN"
ALICE = "U0ALICE"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


# ---------------------------------------------------------------------- services over the fake table
def some_services() -> Services:
    policy = AccessPolicy(allowed_users=frozenset({ADMIN}))
    return Services(
        store=RecoveryStore("recoveries", FakeDynamoDB()),
        groups=Mock(),
        actions=Mock(),
        bulk=Mock(),
        policy=policy,
        schemas=Mock(),
        audit=Mock(),
        access=TeamAccess(policy, lambda: parse_rules('{"rules": []}', ChannelRouting(default="C-DEFAULT"))),
        owners=Mock(),
        runs=Mock(),
    )


def one_open_and_one_claimed(services: Services, claimed_ago: timedelta) -> tuple[Recovery, Recovery]:
    """An open recovery, and one Alice claimed ``claimed_ago`` whose outcome was never stored."""
    waiting = opened_recovery(services.store, 1)
    claimed = claim(
        services.store, opened_recovery(services.store, 2).recovery_id, ALICE, datetime.now(UTC) - claimed_ago
    )
    return waiting, claimed


def answer(respond: Mock) -> dict[str, Any]:
    """What the command answered, as Slack receives it."""
    kwargs = respond.call_args.kwargs
    return {**kwargs, "blocks": sent(kwargs.get("blocks") or [])}


def rows_with_menu(blocks: list[dict]) -> list[str]:
    return [
        block["accessory"]["options"][0]["value"].split("|", 1)[1]
        for block in blocks
        if (block.get("accessory") or {}).get("action_id") == ROW_MENU
    ]


# ---------------------------------------------------------------------- /recoveries
def test_recoveries_shows_the_open_ones_and_those_in_flight_with_age_and_claimer() -> None:
    # Given an open recovery and one Alice claimed 25 minutes ago
    services, respond = some_services(), Mock()
    waiting, claimed = one_open_and_one_claimed(services, timedelta(minutes=25))

    # When an admin types /recoveries
    slash_command.recoveries_command(services, ADMIN, "", respond)

    # Then the open one keeps its row and menu, and the one in flight is counted and shown apart
    shown = answer(respond)
    assert shown["text"] == "1 open recoveries, 1 in flight"
    assert shown["blocks"][0]["text"]["text"] == "1 open recovery · 1 in flight"
    assert rows_with_menu(shown["blocks"]) == [waiting.recovery_id]
    (row,) = [b for b in shown["blocks"] if claimed.recovery_id in json.dumps(b) and b["type"] == "section"]
    assert row["text"]["text"].startswith("🛫 *in flight* 25 min · ")
    assert f"claimed by <@{ALICE}> at " in row["text"]["text"] and "accessory" not in row
    assert block_kit_problem(shown["blocks"]) is None
    assert unsafe_spots(shown, users=[ALICE]) == []


@pytest.mark.parametrize("typed", ["in-flight", "status=in-flight", "list status=in-flight"])
def test_the_in_flight_filter_lists_only_those_in_flight_without_actions(typed: str) -> None:
    # Given an open recovery and one in flight for 40 seconds
    services, respond = some_services(), Mock()
    _, claimed = one_open_and_one_claimed(services, timedelta(seconds=40))

    # When an admin asks for those in flight
    slash_command.recoveries_command(services, ADMIN, typed, respond)

    # Then only the one in flight is listed, with its age, and nothing can be clicked on it
    shown = answer(respond)
    assert shown["blocks"][0]["text"]["text"] == "1 recovery in flight"
    assert rows_with_menu(shown["blocks"]) == []
    assert claimed.recovery_id in texts(shown["blocks"]) and "🛫 *in flight* 40 s" in texts(shown["blocks"])
    assert "order-1" not in texts(shown["blocks"]) and "run-1" not in texts(shown["blocks"])


def test_the_in_flight_filter_says_when_nothing_is_in_flight() -> None:
    # Given only an open recovery
    services, respond = some_services(), Mock()
    opened_recovery(services.store, 1)

    # When / Then
    slash_command.recoveries_command(services, ADMIN, "in-flight", respond)
    assert "Nothing is in flight" in texts(answer(respond)["blocks"])


def test_a_bulk_retry_of_those_in_flight_is_refused() -> None:
    # Given one in flight
    services, respond = some_services(), Mock()
    one_open_and_one_claimed(services, timedelta(minutes=1))

    # When an admin asks to run them all again
    slash_command.recoveries_command(services, ADMIN, "retry status=in-flight", respond)

    # Then they are told why not, and nothing is offered
    assert respond.call_args.kwargs["text"] == slash_command.IN_FLIGHT_NOT_RETRIED
    services.bulk.run_again.assert_not_called()


def test_recoveries_show_says_in_flight_since_when_and_by_whom() -> None:
    # Given one Alice claimed 2 hours ago
    services, respond = some_services(), Mock()
    _, claimed = one_open_and_one_claimed(services, timedelta(hours=2))

    # When it is shown in full
    slash_command.recoveries_command(services, ADMIN, f"show {claimed.recovery_id}", respond)

    # Then its status line says it is in flight, for how long, since when and who claimed it
    status = answer(respond)["blocks"][1]["text"]["text"]
    assert "*Status:* RESUMING" in status
    assert "🛫 *in flight* for 2 h 0 min (since " in status
    assert f"claimed by <@{ALICE}>): its outcome is not stored yet" in status


# ---------------------------------------------------------------------- the Home tab
def test_the_home_shows_those_in_flight_and_a_button_that_lists_only_them() -> None:
    # Given an open recovery and one in flight for 12 minutes
    services, client = some_services(), Mock(spec=WebClient)
    waiting, claimed = one_open_and_one_claimed(services, timedelta(minutes=12))

    # When the admin opens the Home
    publish_home(services, client, ADMIN)

    # Then the summary counts them with a Show in flight button, and they have a section of their own
    home = client.views_publish.call_args.kwargs["view"].to_dict()
    shown = texts(home["blocks"])
    assert "🛫 *in flight*: 1 (claimed, outcome not stored yet)" in shown
    assert "In flight (1)" in shown and "🛫 *in flight* 12 min" in shown and claimed.recovery_id in shown
    assert rows_with_menu(home["blocks"]) == [waiting.recovery_id]
    show = [
        b["accessory"]
        for b in home["blocks"]
        if (b.get("accessory") or {}).get("text", {}).get("text") == "Show in flight"
    ]
    assert show[0]["action_id"] == HOME_FILTER

    # When they click Show in flight
    publish_home(services, client, ADMIN, show[0]["value"])

    # Then the Home lists only those in flight, without any action
    filtered = client.views_publish.call_args.kwargs["view"].to_dict()
    assert "*1 recovery in flight*" in texts(filtered["blocks"]) and "Longest in flight" in texts(
        filtered["blocks"]
    )
    assert claimed.recovery_id in texts(filtered["blocks"]) and rows_with_menu(filtered["blocks"]) == []
    assert block_kit_problem(filtered["blocks"], max_blocks=HOME_MAX_BLOCKS) is None


# ---------------------------------------------------------------------- hostile text and limits
def a_claimed_recovery(number: int = 1, claimed_by: str = ALICE, **changes: Any) -> Recovery:
    """Recovery ``number`` claimed by ``claimed_by`` 20 minutes before ``NOW``, in memory."""
    at = (NOW - timedelta(minutes=20)).isoformat(timespec="milliseconds")
    recovery = a_recovery(number, **changes)
    entry = AuditEntry(at, claimed_by, "run again", RecoveryStatus.RESUMING)
    return replace(recovery, status=RecoveryStatus.RESUMING, updated_at=at, audit=[*recovery.audit, entry])


def test_hostile_names_and_claimers_in_flight_come_out_escaped_everywhere() -> None:
    # Given a recovery in flight whose every field, and whose claimer, is hostile
    recovery = a_claimed_recovery(
        claimed_by=hostile("cli:mallory"),
        execution_name=hostile("order"),
        failed_state=hostile("state"),
        error=hostile("Err"),
        state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:" + hostile("machine"),
    )
    claimed = in_flight(recovery)
    assert claimed is not None

    # When it is listed, listed alone, shown, reminded and put in a Home
    overview = Overview(
        ADMIN, Role.ADMIN, RecoveryQuery(), Counter(), [], 1, 1, [], 0, in_flight=[claimed], in_flight_total=1
    )
    payloads = [
        sent(
            list_blocks(
                [], Counter(), RecoveryQuery(), None, longest_in_flight=[claimed], in_flight_total=1, now=NOW
            )
        ),
        sent(
            list_blocks(
                [recovery],
                Counter({("m", hostile("Err")): 1}),
                RecoveryQuery(status=IN_FLIGHT),
                None,
                now=NOW,
            )
        ),
        sent(show_blocks(recovery, NOW)),
        reminder_text(Reminder(recovery, timedelta(hours=2), None, NOW, in_flight=claimed)),
        home_view(overview, [], None, NOW).to_dict(),
    ]

    # Then nothing in them is a mention, a link or a control character
    for payload in payloads:
        assert unsafe_spots(payload) == []


def test_many_in_flight_keep_a_page_within_fifty_blocks_and_a_home_within_a_hundred() -> None:
    # Given 20 open recoveries on a page and 300 in flight
    page = [a_recovery(n) for n in range(1, 21)]
    claims = [in_flight(a_claimed_recovery(n)) for n in range(100, 400)]

    # When the first page and the Home are built
    blocks = sent(
        list_blocks(
            page,
            Counter({("orders", "VendorUnavailable"): 20}),
            RecoveryQuery(),
            page[-1].sort_key,
            longest_in_flight=claims,  # type: ignore[arg-type]
            in_flight_total=300,
            now=NOW,
        )
    )

    # Then the page keeps every open row, five in flight and how to see the rest, within 50 blocks
    assert len(blocks) <= MAX_BLOCKS and block_kit_problem(blocks) is None
    assert len(rows_with_menu(blocks)) == 20
    assert "… and 295 more in flight: `/recoveries in-flight`" in texts(blocks)


# ---------------------------------------------------------------------- the reminder
def test_the_reminder_of_a_recovery_in_flight_says_so_since_when_and_mentions_who_claimed_it() -> None:
    # Given a recovery Alice claimed 20 minutes before now
    recovery = a_claimed_recovery()
    claimed = in_flight(recovery)

    # When its reminder is worded
    text = reminder_text(Reminder(recovery, timedelta(hours=3), None, NOW, in_flight=claimed))

    # Then it says it is in flight, since when, and who claimed it
    assert text.startswith(
        f"🛫 Still in flight: `order-1` was claimed by <@{ALICE}> 20 min ago (at 2026-12-01T11:40:00"
    )
    assert "its outcome is not stored yet" in text
    assert "`/recoveries show rec-00000000000000000000000000000001`" in text
    assert unsafe_spots({"text": text}, users=[ALICE]) == []


def test_a_home_location_for_those_in_flight_reads_back() -> None:
    # Given / When / Then
    assert parse_home_location(home_location(RecoveryQuery(status=IN_FLIGHT), 2)) == (
        RecoveryQuery(status=IN_FLIGHT),
        2,
    )
