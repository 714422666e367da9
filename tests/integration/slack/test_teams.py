"""Two teams, one desk, through the Slack app's real function: each routing rule's team may act on
its recoveries (and the admins on all), its viewers may see them; bulk actions leave out another
team's recoveries and say so; ownership (Take it, Take over after a confirmation, Release) is
stored, audited, shown and listed."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities import parameters

from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.slack_app.ids import BULK_CONFIRM, RELEASE, RUN_AGAIN, TAKE, TAKE_OVER
from tests.support.desk import ORDER, count_calls, pause, requests_for, send, store, wait_for_status
from tests.support.stacks import ALLOWED, SECOND, STRANGER
from tests.support.waiting import wait_until

TECH_TEAM, DATA_TEAM, SUPPORT = "UTECHTEAM", "UDATATEAM", "USUPPORT"
UNKNOWN_PRODUCT_ORDER = {"customer_id": "customer-2", "product_id": "sku-unknown!", "quantity": 1}
TWO_TEAMS = {
    "rules": [
        {
            "name": "technical",
            "match": {"state_machine": "*OrderItemStateMachine*", "routing": "technical"},
            "channel": "C-TECH",
            "team": {"user_ids": [TECH_TEAM]},
        },
        {
            "name": "client-data",
            "match": {"routing": "client-data"},
            "channel": "C-DATA",
            "team": {"user_ids": [DATA_TEAM]},
            "viewers": {"user_ids": [SUPPORT]},
        },
    ]
}


@pytest.fixture
def two_teams(stack: EmbeddedStack) -> None:
    write_rules(stack, json.dumps(TWO_TEAMS))


def write_rules(stack: EmbeddedStack, document: str) -> None:
    stack.client("ssm").put_parameter(
        Name=stack.physical("RoutingRules"), Value=document, Type="String", Overwrite=True
    )
    parameters.clear_caches()  # as the cache period passing would


def technical_and_client_data(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> tuple[Recovery, Recovery]:
    """One order paused by a vendor outage (technical), one by its unknown product (client data)."""
    (technical,) = pause(stack, order_api, vendor, [ORDER])
    vendor.set_behaviour(VendorBehaviour())
    order_api.place(UNKNOWN_PRODUCT_ORDER)

    def both() -> bool:
        poll_collector(stack)
        return len(store(stack).list_by_status(RecoveryStatus.OPEN)) == 2

    wait_until(both)
    (client_data,) = [
        r for r in store(stack).list_by_status(RecoveryStatus.OPEN) if r.routing is Routing.CLIENT_DATA
    ]
    return technical, client_data


def response_saying(slack: SlackStandIn, text: str, after: int = 0) -> dict:
    """The first answer (after the ``after`` first ones) whose text holds ``text``."""
    wait_until(lambda: any(text in r.get("text", "") for r in slack.responses[after:]))
    return next(r for r in slack.responses[after:] if text in r.get("text", ""))


def test_a_client_data_team_member_is_denied_on_a_technical_recovery_and_allowed_on_a_client_data_one(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn, two_teams: None
) -> None:
    # Given a technical and a client-data recovery, posted in their rules' channels
    technical, client_data = technical_and_client_data(stack, order_api, vendor)
    assert (technical.slack_channel, client_data.slack_channel) == ("C-TECH", "C-DATA")
    resumes = count_calls(stack, "SendTaskSuccess")

    # When the client-data team's member clicks Run again on the technical one
    send(stack, requests_for(slack).click(DATA_TEAM, RUN_AGAIN, technical.recovery_id, channel="C-TECH"))

    # Then they are told why not, the attempt is audited and nothing reaches Step Functions
    told = response_saying(slack, "not on the team of rule 'technical'")
    assert told["response_type"] == "ephemeral"
    denial = store(stack).get(technical.recovery_id).audit[-1]
    assert (denial.actor, denial.action, denial.result) == (DATA_TEAM, "run again", "DENIED")
    assert resumes == [] and store(stack).get(technical.recovery_id).status is RecoveryStatus.OPEN

    # When they click Run again on the client-data one
    send(stack, requests_for(slack).click(DATA_TEAM, RUN_AGAIN, client_data.recovery_id, channel="C-DATA"))

    # Then it is resumed, by them
    resumed = wait_for_status(stack, client_data.recovery_id, RecoveryStatus.RESUMED)
    assert resumed.last_actor == DATA_TEAM and len(resumes) == 1


def test_each_team_sees_only_its_recoveries_its_viewers_may_look_and_a_stranger_sees_nothing(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn, two_teams: None
) -> None:
    # Given
    technical, client_data = technical_and_client_data(stack, order_api, vendor)

    # When the client-data team lists, their viewer shows each one, and a stranger lists
    send(stack, requests_for(slack).command(DATA_TEAM, ""))
    listed = response_saying(slack, "open recoveries")
    send(stack, requests_for(slack).command(SUPPORT, f"show {client_data.recovery_id}"))
    shown = response_saying(slack, f"Recovery {client_data.recovery_id}")
    send(stack, requests_for(slack).command(SUPPORT, f"show {technical.recovery_id}"))
    refused = response_saying(slack, "not allowed to see this recovery")
    send(stack, requests_for(slack).command(STRANGER, ""))
    stranger = response_saying(slack, "🚫")

    # Then the team's list holds only its recovery
    blocks = json.dumps(listed["blocks"])
    assert listed["text"] == "1 open recoveries"
    assert client_data.recovery_id in blocks and technical.recovery_id not in blocks
    # the viewer sees theirs, not the other team's (audited), and the stranger sees no recovery
    assert client_data.execution_name in json.dumps(shown["blocks"])
    assert technical.execution_name not in json.dumps(refused)
    assert store(stack).get(technical.recovery_id).audit[-1].result == "DENIED"
    assert "rec-" not in json.dumps(stranger)


def test_a_bulk_run_again_leaves_out_another_teams_recoveries_and_says_how_many(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn, two_teams: None
) -> None:
    # Given one recovery of each team
    technical, client_data = technical_and_client_data(stack, order_api, vendor)
    resumes = count_calls(stack, "SendTaskSuccess")

    # When the client-data team's member asks to run again everything of the last day, and confirms
    send(stack, requests_for(slack).command(DATA_TEAM, "retry since=1d"))
    prompt = response_saying(slack, "Run again 1 recoveries?")
    (confirm,) = [
        e
        for b in prompt["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == BULK_CONFIRM
    ]
    send(stack, requests_for(slack).click(DATA_TEAM, BULK_CONFIRM, confirm["value"]))

    # Then the prompt said one was left out, only their recovery was resumed, and the start says so
    assert "1 more matches but it belongs to another team" in json.dumps(prompt["blocks"])
    wait_for_status(stack, client_data.recovery_id, RecoveryStatus.RESUMED)
    assert len(resumes) == 1
    assert store(stack).get(technical.recovery_id).status is RecoveryStatus.OPEN
    response_saying(slack, "Started: run again 1 recoveries")


def test_take_take_over_with_a_confirmation_and_release_are_stored_audited_shown_and_listed(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a recovery with its own message
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    channel, ts = recovery.slack_channel, recovery.slack_ts

    # When one admin takes it
    send(
        stack, requests_for(slack).click(ALLOWED, TAKE, recovery.recovery_id, channel=channel, message_ts=ts)
    )

    # Then it is theirs, and its message shows the owner and offers Release instead of Take it
    response_saying(slack, "You own")
    wait_until(lambda: slack.calls_of("chat.update"))
    update = json.dumps(slack.calls_of("chat.update")[-1].body["blocks"])
    assert f"*Owner:* <@{ALLOWED}>" in update and RELEASE in update and f'"{TAKE}"' not in update

    # When the other admin takes it: they are told who owns it and offered Take over
    send(stack, requests_for(slack).click(SECOND, TAKE, recovery.recovery_id, channel=channel, message_ts=ts))
    offer = response_saying(slack, f"<@{ALLOWED}> owns")
    (take_over,) = [e for b in offer["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert take_over["action_id"] == TAKE_OVER and take_over["confirm"]["title"]["text"] == "Take it over?"
    assert store(stack).get(recovery.recovery_id).owner == ALLOWED

    # When they confirm the takeover
    send(
        stack,
        requests_for(slack).click(SECOND, TAKE_OVER, take_over["value"], channel=channel, message_ts=ts),
    )

    # Then they own it, the takeover names the previous owner, and the lists follow
    wait_until(lambda: store(stack).get(recovery.recovery_id).owner == SECOND)
    entry = store(stack).get(recovery.recovery_id).audit[-1]
    assert (entry.actor, entry.action, entry.detail) == (SECOND, "take over", {"previous_owner": ALLOWED})
    before = len(slack.responses)
    send(stack, requests_for(slack).command(SECOND, "owner=me"))
    mine = response_saying(slack, "open recoveries", after=before)
    assert mine["text"] == "1 open recoveries" and recovery.recovery_id in json.dumps(mine["blocks"])
    before = len(slack.responses)
    send(stack, requests_for(slack).command(ALLOWED, "owner=me"))
    assert response_saying(slack, "open recoveries", after=before)["text"] == "0 open recoveries"

    # When the owner releases it
    send(
        stack,
        requests_for(slack).click(SECOND, RELEASE, recovery.recovery_id, channel=channel, message_ts=ts),
    )

    # Then nobody owns it, and the list of what nobody owns holds it again
    response_saying(slack, "is released")
    assert store(stack).get(recovery.recovery_id).owner is None
    before = len(slack.responses)
    send(stack, requests_for(slack).command(ALLOWED, "owner=none"))
    unowned = response_saying(slack, "open recoveries", after=before)
    assert unowned["text"] == "1 open recoveries" and recovery.recovery_id in json.dumps(unowned["blocks"])
