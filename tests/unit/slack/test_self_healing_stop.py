"""Stop on a group message whose paused executions resume by themselves, as a plain function: a
services of mocks over plain values, a ``Mock(spec=WebClient)``; the assertions are on the run's
store calls, the Slack calls and what the person is told."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import ANY, Mock

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from recovery_ops.service.composition import Services
from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.healing.runs import HealingState
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.slack_app.ids import STOP_HEALING
from recovery_ops.slack_app.listeners import self_healing
from tests.support.slack_safety import unsafe_spots
from tests.unit.slack.builders import HEALING_ID, a_group_state, a_healing_run, a_recovery, buttons

ADMIN, ALICE, BOB = "U0ADMIN", "U0ALICE", "U0BOB"


def some_services(team: str = ALICE) -> Services:
    """Services of mocks whose one rule (the orders machine's) has ``team`` as its team; ``ADMIN`` is
    the deployment's admin; the group ``grp-1`` has a message and one open recovery."""
    document = {
        "rules": [
            {
                "name": "orders",
                "match": {"state_machine": "orders"},
                "channel": "C-O",
                "team": {"user_ids": [team]},
            }
        ]
    }
    rules = parse_rules(json.dumps(document), ChannelRouting("C-RECOVERIES"))
    policy = AccessPolicy(allowed_users=frozenset({ADMIN}))
    services = Services(
        store=Mock(),
        groups=Mock(),
        actions=Mock(),
        bulk=Mock(),
        policy=policy,
        schemas=Mock(),
        audit=Mock(),
        access=TeamAccess(policy, lambda: rules),
        owners=Mock(),
        runs=Mock(),
    )
    services.groups.get.return_value = a_group_state()
    services.store.list_by_status.return_value = [a_recovery(1, group_id="grp-1")]
    return services


def a_client() -> Mock:
    client = Mock(spec=WebClient)
    client.chat_postMessage.return_value = Mock(data={"channel": "C-RECOVERIES", "ts": "2.2"})
    client.chat_update.return_value = Mock(data={"ok": True})
    return client


def told(respond: Mock) -> list[str]:
    return [c.kwargs["text"] for c in respond.call_args_list]


def test_a_stop_by_the_groups_team_stops_the_run_shows_the_final_count_and_answers_them() -> None:
    # Given a run resuming the group's recoveries, and a member of their rule's team (no admin)
    services, client, respond = some_services(team=ALICE), a_client(), Mock()
    stopped = a_healing_run(
        HealingState.STOPPED, resumed=2, stopped_by=ALICE, ended_why=f"stopped by {ALICE}"
    )
    services.runs.get.side_effect = [a_healing_run(resumed=2), stopped]
    services.runs.stop.return_value = True

    # When
    self_healing.stop(services, client, ALICE, HEALING_ID, respond)

    # Then the run is stopped by them
    services.runs.stop.assert_called_once_with(HEALING_ID, ALICE, ANY)
    # the group message loses Stop and shows the final count; its thread says so
    update = client.chat_update.call_args.kwargs
    assert (update["channel"], update["ts"]) == ("C-RECOVERIES", "1700000000.000100")
    assert STOP_HEALING not in [action_id for action_id, _ in buttons(update["blocks"])]
    final = f"⏹️ Self-healing stopped by <@{ALICE}>: 2 resumed, 3 left open for people."
    assert final in json.dumps([b.to_dict() for b in update["blocks"]], ensure_ascii=False)
    reply = client.chat_postMessage.call_args.kwargs
    assert (reply["channel"], reply["thread_ts"], reply["text"]) == (
        "C-RECOVERIES",
        "1700000000.000100",
        final,
    )
    # and they are told, privately
    assert told(respond) == ["⏹️ Stopped: 2 resumed, 3 left open for you."]
    assert respond.call_args.kwargs["response_type"] == "ephemeral"


def test_a_stop_by_someone_not_on_the_groups_team_is_denied_audited_on_the_run_and_stops_nothing() -> None:
    # Given a rule whose team is Bob's; Alice is neither on it nor an admin
    services, client, respond = some_services(team=BOB), a_client(), Mock()
    services.runs.get.return_value = a_healing_run()

    # When
    self_healing.stop(services, client, ALICE, HEALING_ID, respond)

    # Then
    services.runs.stop.assert_not_called()
    (healing_id, entry), _ = services.runs.record_denied.call_args
    assert healing_id == HEALING_ID and isinstance(entry, AuditEntry)
    assert (entry.actor, entry.action, entry.result) == (ALICE, "stop self-healing", "DENIED")
    assert entry.detail == {"why": "not on the team of rule 'orders' and not an admin"}
    assert told(respond) == [
        "🚫 You cannot stop self-healing: not on the team of rule 'orders' and not an admin. Nothing was "
        "sent; your attempt is in the audit trail."
    ]
    client.chat_update.assert_not_called()
    client.chat_postMessage.assert_not_called()


def test_a_second_stop_is_told_who_stopped_it_first_and_changes_nothing() -> None:
    # Given a run Bob stopped a moment ago
    services, client, respond = some_services(team=ALICE), a_client(), Mock()
    by_bob = a_healing_run(HealingState.STOPPED, resumed=1, stopped_by=BOB, ended_why=f"stopped by {BOB}")
    services.runs.get.side_effect = [a_healing_run(), by_bob]
    services.runs.stop.return_value = False

    # When
    self_healing.stop(services, client, ALICE, HEALING_ID, respond)

    # Then
    assert told(respond) == [
        f"👋 Self-healing was already stopped by <@{BOB}>: 1 resumed, 4 left open for people. "
        "Nothing changed."
    ]
    client.chat_update.assert_not_called()
    client.chat_postMessage.assert_not_called()


def test_a_stop_of_a_run_that_ended_by_itself_says_how_it_ended() -> None:
    # Given a run that resumed everything it could
    services, client, respond = some_services(team=ALICE), a_client(), Mock()
    finished = a_healing_run(HealingState.FINISHED, resumed=5)
    services.runs.get.side_effect = [a_healing_run(), finished]
    services.runs.stop.return_value = False

    # When
    self_healing.stop(services, client, ALICE, HEALING_ID, respond)

    # Then
    (text,) = told(respond)
    assert text.startswith("👋 Self-healing already ended: ✅ Resumed 5 paused executions automatically")


@pytest.mark.parametrize(
    ("value", "looked_up"),
    [(HEALING_ID, True), ("rec-00000000000000000000000000000001", False), ("heal-closure-<!channel>", False)],
)
def test_an_unknown_or_forged_run_id_is_answered_and_nothing_is_stopped(value: str, looked_up: bool) -> None:
    # Given no such run
    services, client, respond = some_services(team=ALICE), a_client(), Mock()
    services.runs.get.return_value = None

    # When
    self_healing.stop(services, client, ALICE, value, respond)

    # Then a value that is not a run's id is not even looked up
    assert services.runs.get.called is looked_up
    services.runs.stop.assert_not_called()
    (text,) = told(respond)
    assert text.startswith("⚠️ Unknown self-healing run") and unsafe_spots({"text": text}) == []


@pytest.mark.parametrize(("user", "allowed"), [(ADMIN, True), (ALICE, False)])
def test_with_no_recovery_of_the_group_left_only_an_admin_may_stop(user: str, allowed: bool) -> None:
    # Given a group whose recoveries are all gone from the table
    services, client, respond = some_services(team=ALICE), a_client(), Mock()
    services.store.list_by_status.return_value = []
    services.groups.get.return_value = a_group_state(member_ids=frozenset())
    services.runs.get.return_value = a_healing_run()
    services.runs.stop.return_value = False

    # When
    self_healing.stop(services, client, user, HEALING_ID, respond)

    # Then
    assert services.runs.stop.called is allowed
    assert services.runs.record_denied.called is not allowed


def test_a_slack_failure_showing_the_stop_still_answers_the_person() -> None:
    # Given Slack failing to update the message (the run is stopped in the table all the same)
    services, client, respond = some_services(team=ALICE), a_client(), Mock()
    client.chat_update.side_effect = SlackApiError("ratelimited", Mock(status_code=429, get=lambda _: None))
    services.runs.get.side_effect = [a_healing_run(), a_healing_run(HealingState.STOPPED, stopped_by=ALICE)]
    services.runs.stop.return_value = True

    # When
    self_healing.stop(services, client, ALICE, HEALING_ID, respond)

    # Then the thread is still told, and so is the person
    client.chat_postMessage.assert_called_once()
    assert told(respond) == ["⏹️ Stopped: 0 resumed, 5 left open for you."]


class RecordingApp:
    """Stands in for Bolt's App: keeps what each action id was registered with."""

    def __init__(self) -> None:
        self.lazy: dict[str, list[Any]] = {}

    def action(self, action_id: str) -> Any:
        def register(ack: Any, lazy: list[Any]) -> None:
            self.lazy[action_id] = lazy

        return register


def test_a_stop_click_reaches_the_work_that_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given
    services, app, respond, client = some_services(), RecordingApp(), Mock(), a_client()
    stopped = Mock()
    monkeypatch.setattr(self_healing, "stop", stopped)
    self_healing.register(app, lambda: services)  # type: ignore[arg-type]
    click = {"user": {"id": ALICE}, "actions": [{"value": HEALING_ID}]}

    # When
    [listener] = app.lazy[STOP_HEALING]
    listener(body=click, respond=respond, client=client)

    # Then
    assert listener.__name__ == "stop_healing_clicked"
    stopped.assert_called_once_with(services, client, ALICE, HEALING_ID, respond)
