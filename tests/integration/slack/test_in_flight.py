"""Recoveries in flight on the embedded stack: a recovery claimed by a process that stopped before
storing its outcome stays RESUMING, and `/recoveries`, the Home tab, the reminders, the scheduled
function's metrics and `recovery-ops list / show` all show it, through the real functions and the
Slack stand-in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from recovery_ops.service.cli import main
from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn, block_kit_problem
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.slack_app.ids import HOME_FILTER, ROW_MENU
from tests.integration.slack.test_home_tab import button, open_home, published_after, rows_with_menu, shown
from tests.integration.slack.test_reminders import reminders_at
from tests.support.desk import ORDER, pause, requests_for, send, store
from tests.support.recoveries import claim
from tests.support.slack_safety import unsafe_spots
from tests.support.stacks import ALLOWED
from tests.support.waiting import wait_until


def one_waiting_and_one_in_flight(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, claimed_ago: timedelta
) -> tuple[Recovery, Recovery]:
    """Two paused orders; ALLOWED claimed the second ``claimed_ago`` and its process stopped there."""
    first, second = pause(stack, order_api, vendor, [ORDER, {**ORDER, "customer_id": "customer-2"}])
    claimed = claim(store(stack), second.recovery_id, ALLOWED, datetime.now(UTC) - claimed_ago)
    return first, claimed


def answered(stack: EmbeddedStack, slack: SlackStandIn, text: str) -> dict:
    """``/recoveries <text>`` typed by ALLOWED; the ephemeral answer."""
    seen = len(slack.responses)
    send(stack, requests_for(slack).command(ALLOWED, text))
    wait_until(lambda: len(slack.responses) > seen)
    return slack.responses[-1]


def listed_with_menu(answer: dict) -> list[str]:
    return [
        block["accessory"]["options"][0]["value"].split("|", 1)[1]
        for block in answer["blocks"]
        if (block.get("accessory") or {}).get("action_id") == ROW_MENU
    ]


def test_recoveries_lists_shows_and_filters_a_recovery_whose_claim_never_finished(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given one paused order waiting and one claimed 15 minutes ago by a process that stopped
    waiting, claimed = one_waiting_and_one_in_flight(stack, order_api, vendor, timedelta(minutes=15))

    # When ALLOWED types /recoveries, /recoveries in-flight and /recoveries show <id>
    everything = answered(stack, slack, "")
    only_in_flight = answered(stack, slack, "in-flight")
    one = answered(stack, slack, f"show {claimed.recovery_id}")

    # Then the list keeps the waiting one with its menu and shows the other in flight, with its age
    # and claimer; the filter lists it alone; show says it is in flight; all of it as Slack accepts it
    assert everything["blocks"][0]["text"]["text"] == "1 open recovery · 1 in flight"
    assert listed_with_menu(everything) == [waiting.recovery_id]
    rows = json.dumps(everything["blocks"], ensure_ascii=False)
    assert (
        "🛫 *in flight* 15 min" in rows and f"claimed by <@{ALLOWED}>" in rows and claimed.recovery_id in rows
    )
    assert only_in_flight["blocks"][0]["text"]["text"] == "1 recovery in flight"
    assert listed_with_menu(only_in_flight) == [] and claimed.recovery_id in json.dumps(
        only_in_flight["blocks"]
    )
    assert waiting.recovery_id not in json.dumps(only_in_flight["blocks"])
    assert "🛫 *in flight* for 15 min (since " in json.dumps(one["blocks"], ensure_ascii=False)
    for answer in (everything, only_in_flight, one):
        assert answer["response_type"] == "ephemeral"
        assert block_kit_problem(answer["blocks"]) is None
        assert unsafe_spots(answer, users=[ALLOWED]) == []


def test_the_home_shows_a_recovery_in_flight_and_its_button_lists_those_in_flight(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given one paused order waiting and one claimed 3 minutes ago by a process that stopped
    waiting, claimed = one_waiting_and_one_in_flight(stack, order_api, vendor, timedelta(minutes=3))

    # When ALLOWED opens the Home tab, then clicks Show in flight
    home = open_home(stack, slack, ALLOWED)
    value = button(home, HOME_FILTER, "Show in flight")
    filtered = published_after(
        slack, ALLOWED, lambda: send(stack, requests_for(slack).click_in_home(ALLOWED, HOME_FILTER, value))
    )

    # Then the Home counts it and shows it in flight without actions; the filter lists it alone
    assert "In flight (1)" in shown(home) and "🛫 *in flight* 3 min" in shown(home)
    assert rows_with_menu(home) == [waiting.recovery_id]
    assert "*1 recovery in flight*" in shown(filtered) and claimed.recovery_id in shown(filtered)
    assert rows_with_menu(filtered) == [] and waiting.recovery_id not in shown(filtered)
    assert button(filtered, HOME_FILTER, "Show all")
    for view in (home, filtered):
        assert block_kit_problem(view["blocks"], max_blocks=100) is None


def test_a_recovery_in_flight_too_long_is_reminded_and_counted_by_the_scheduled_function(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given one paused order waiting and one claimed 20 minutes ago by a process that stopped
    _, claimed = one_waiting_and_one_in_flight(stack, order_api, vendor, timedelta(minutes=20))

    # When the scheduled function runs now, and the reminders run an hour later
    answer = stack.client("lambda").invoke(FunctionName=stack.physical("ReminderFunction"), Payload=b"{}")
    result = json.loads(answer["Payload"].read())
    later = reminders_at(stack, slack, datetime.now(UTC) + timedelta(hours=1)).run()

    # Then the function counts it in flight with its age, and the later run reminds it in its thread
    assert result["open"] == 1 and result["in_flight"] == 1
    assert 20 * 60 <= result["oldest_in_flight_age_s"] < 30 * 60
    assert claimed.recovery_id in later.reminded
    (reply,) = [
        c.body
        for c in slack.calls_of("chat.postMessage")
        if c.body.get("thread_ts") == claimed.slack_ts and c.body["text"].startswith("🛫")
    ]
    assert reply["text"].startswith(
        f"🛫 Still in flight: `{claimed.execution_name}` was claimed by <@{ALLOWED}> 1 h 20 min ago"
    )
    assert unsafe_spots(reply, users=[ALLOWED]) == []


def test_recovery_ops_lists_and_shows_a_recovery_in_flight(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given one paused order waiting and one claimed 5 minutes ago by a process that stopped
    waiting, claimed = one_waiting_and_one_in_flight(stack, order_api, vendor, timedelta(minutes=5))
    table = ["--table", stack.physical("RecoveriesTable")]

    # When the operator lists, lists those in flight, and shows the one in flight
    assert main(["list", *table]) == 0
    everything = capsys.readouterr().out
    assert main(["list", "--in-flight", *table]) == 0
    only_in_flight = capsys.readouterr().out
    assert main(["show", claimed.recovery_id, *table]) == 0
    one = capsys.readouterr().out

    # Then the list counts the open one as before and adds the one in flight; the filter lists it
    # alone; show says it is in flight, for how long and by whom
    assert "1 open recoveries (all)" in everything and waiting.recovery_id in everything
    assert "1 in flight (claimed, outcome not stored yet), longest first:" in everything
    (row,) = [line for line in everything.splitlines() if line.startswith(claimed.recovery_id)]
    assert "in flight 5 min" in row and f"claimed by {ALLOWED}" in row
    assert "1 recoveries in flight (all)" in only_in_flight and waiting.recovery_id not in only_in_flight
    assert (
        "  in flight:  5 min, since " in one and f"claimed by {ALLOWED}: its outcome is not stored yet" in one
    )
