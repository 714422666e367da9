"""Listeners as plain functions: called with a ``Mock(spec=WebClient)`` and services of mocks, no
stack and no server; the assertions are on the Slack calls they make."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from unittest.mock import Mock

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from recovery_ops.service.composition import Services
from recovery_ops.service.recovery.access.authorization import AccessDecision, AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import RoutingRules, parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, ActionResult
from recovery_ops.service.recovery.lifecycle.bulk import BulkReport
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.recovery import AuditEntry, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting, MessageRef
from recovery_ops.slack_app.ids import DIGEST_LIST, REJECT_SUBMIT, RUN_AGAIN
from recovery_ops.slack_app.listeners import (
    dead_letters,
    modals,
    ownership,
    recovery_buttons,
    replies,
    self_healing,
    slash_command,
)
from recovery_ops.slack_app.views.modals import REASON_ACTION, REASON_BLOCK, metadata_json
from tests.unit.slack.builders import a_group_state, a_recovery, buttons

ALICE = "U0ALICE"
ALLOWED = AccessDecision(True, "in the allowed users")
REFUSED = AccessDecision(False, "not in the support group <!channel>")


def some_services(decision: AccessDecision = ALLOWED) -> Services:
    """Services of mocks whose admins' policy answers ``decision``; no routing rules (so the admins
    alone may act, as the stack's allow-list says)."""
    policy = Mock()
    services = Services(
        store=Mock(),
        groups=Mock(),
        actions=Mock(),
        bulk=Mock(),
        policy=policy,
        schemas=Mock(),
        audit=Mock(),
        access=TeamAccess(policy, lambda: RoutingRules((), ChannelRouting(""))),
        owners=Mock(),
        runs=Mock(),
    )
    services.policy.check.return_value = decision
    return services


def a_click(value: str = "rec-1") -> dict:
    return {
        "user": {"id": ALICE},
        "trigger_id": "trigger-1",
        "channel": {"id": "C-RECOVERIES"},
        "message": {"ts": "1700000000.000100"},
        "actions": [{"value": value}],
    }


def test_reject_clicked_opens_the_reject_modal_for_the_message_it_came_from() -> None:
    # Given
    services, client, respond = some_services(), Mock(spec=WebClient), Mock()
    recovery = a_recovery()
    services.store.get.return_value = recovery

    # When
    modals.open_reject(services, client, ALICE, recovery.recovery_id, a_click(recovery.recovery_id), respond)

    # Then
    client.views_open.assert_called_once()
    kwargs = client.views_open.call_args.kwargs
    assert kwargs["trigger_id"] == "trigger-1"
    view = kwargs["view"].to_dict()
    assert view["callback_id"] == REJECT_SUBMIT
    assert json.loads(view["private_metadata"])["message_ts"] == "1700000000.000100"
    respond.assert_not_called()


def test_a_reject_of_a_recovery_already_handled_opens_no_modal_and_says_by_whom() -> None:
    # Given
    services, client, respond = some_services(), Mock(spec=WebClient), Mock()
    recovery = a_recovery(status=RecoveryStatus.RESUMED)
    recovery.audit.append(AuditEntry("2026-12-01T10:02:00", "U0BOB", "run again", "RESUMED"))
    services.store.get.return_value = recovery

    # When
    modals.open_reject(services, client, ALICE, recovery.recovery_id, a_click(), respond)

    # Then
    client.views_open.assert_not_called()
    respond.assert_called_once_with(
        text="👋 `order-1` is resumed (<@U0BOB>).", response_type="ephemeral", replace_original=False
    )


def test_a_refused_reject_submission_is_answered_privately_in_the_channel_and_sends_nothing() -> None:
    # Given
    services, client = some_services(REFUSED), Mock(spec=WebClient)
    services.store.get.return_value = a_recovery(recovery_id="rec-1")
    metadata = metadata_json({"recovery_id": "rec-1", "channel": "C-RECOVERIES", "message_ts": "1.1"})
    typed = {REASON_BLOCK: {REASON_ACTION: {"value": "duplicate"}}}
    view = {"private_metadata": metadata, "state": {"values": typed}}

    # When
    modals.reject_submitted(services, client, ALICE, view)

    # Then
    services.actions.reject.assert_not_called()
    services.actions.record_denied.assert_called_once_with("rec-1", ALICE, "reject", REFUSED.why)
    client.chat_postEphemeral.assert_called_once()
    kwargs = client.chat_postEphemeral.call_args.kwargs
    assert (kwargs["channel"], kwargs["user"]) == ("C-RECOVERIES", ALICE)
    assert kwargs["text"].startswith("🚫 You cannot reject: not in the support group &lt;!channel&gt;.")


def test_a_bulk_action_reports_in_its_thread_and_closes_the_group_once_nothing_is_open() -> None:
    # Given
    services, client = some_services(), Mock(spec=WebClient)
    closed = a_recovery(status=RecoveryStatus.RESUMED, group_id="grp-1")
    report = BulkReport(total=1, outcomes=Counter({"RESUMED": 1}), wall_s=0.5)
    report.results.append(ActionResult(ActionOutcome.RESUMED, closed))
    services.bulk.run_again.return_value = report
    services.groups.shares_message.return_value = True
    services.groups.get.return_value = a_group_state()
    services.store.list_by_status.return_value = []  # nothing of the group is open any more
    thread = MessageRef("C-RECOVERIES", "1700000000.000100")

    # When
    replies.run_bulk(services, client, ALICE, "run_again", ["rec-1"], "orders", thread, say=Mock())

    # Then
    posted = [c.kwargs for c in client.chat_postMessage.call_args_list]
    assert all(p["channel"] == "C-RECOVERIES" and p["thread_ts"] == thread.ts for p in posted)
    assert posted[0]["text"] == "<@U0ALICE> started *Run again all* on 1 open recoveries (orders)."
    assert posted[-1]["text"] == "*Run again all* finished: 1/1: 1 resumed in 0.5 s."
    client.chat_update.assert_called_once()
    update = client.chat_update.call_args.kwargs
    assert (update["channel"], update["ts"]) == ("C-RECOVERIES", "1700000000.000100")
    assert update["text"] == "Run again all by <@U0ALICE>: 1/1: 1 resumed"
    assert buttons(update["blocks"]) == []


def test_a_typed_bulk_retry_reports_to_the_person_when_the_bot_cannot_post_in_the_channel() -> None:
    # Given
    services, client, respond = some_services(), Mock(spec=WebClient), Mock()
    client.chat_postMessage.side_effect = SlackApiError("not_in_channel", {"ok": False})
    services.store.list_by_status.return_value = [a_recovery()]
    services.bulk.run_again.return_value = BulkReport(total=1, outcomes=Counter({"RESUMED": 1}))

    # When
    slash_command.bulk_from_command(
        services, client, ALICE, '{"error": "VendorUnavailable"}', "C-RECOVERIES", respond
    )

    # Then
    said = [c.kwargs["text"] for c in respond.call_args_list]
    assert said[0].startswith("Started: run again 1 recoveries")
    assert any("started *Run again all*" in text for text in said[1:])
    client.chat_postMessage.assert_called_once()  # the thread's opening only; progress went to respond


class RecordingApp:
    """Stands in for Bolt's App: keeps what each action id (and each command) was registered with."""

    def __init__(self) -> None:
        self.lazy: dict[str, list[Any]] = {}
        self.commands: dict[str, list[Any]] = {}

    def action(self, action_id: str) -> Any:
        def register(ack: Any, lazy: list[Any]) -> None:
            self.lazy[action_id] = lazy

        return register

    def command(self, command: str) -> Any:
        def register(ack: Any, lazy: list[Any]) -> None:
            self.commands[command] = lazy

        return register


def test_a_run_again_click_reaches_the_work_that_runs_it_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given
    services, app, respond = some_services(), RecordingApp(), Mock()
    ran = Mock()
    monkeypatch.setattr(recovery_buttons, "run_again", ran)
    recovery_buttons.register(app, lambda: services)  # type: ignore[arg-type]

    # When
    [listener] = app.lazy[RUN_AGAIN]
    listener(body=a_click("rec-7"), respond=respond)

    # Then
    ran.assert_called_once_with(services, ALICE, "rec-7", respond, from_list=False)


def test_a_digests_list_button_answers_the_clicker_without_replacing_the_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the slash command's listeners, and the list they answer with recorded
    services, app, respond = some_services(), RecordingApp(), Mock()
    listed = Mock()
    monkeypatch.setattr(slash_command, "list_page", listed)
    slash_command.register(app, lambda: services)  # type: ignore[arg-type]

    # When someone clicks a digest's "List those nobody owns"
    [listener] = app.lazy[DIGEST_LIST]
    listener(body=a_click('1|{"owner":"none"}'), respond=respond)

    # Then its first page answers them alone, and the digest (a channel message) stays as it is
    listed.assert_called_once_with(services, ALICE, '{"owner":"none"}', "1", respond, replace=False)


def test_every_button_and_menu_has_one_lazy_listener_named_for_what_the_person_did() -> None:
    # Given
    app = RecordingApp()

    # When
    for surface in (recovery_buttons, ownership, self_healing, dead_letters, slash_command):
        surface.register(app, some_services)  # type: ignore[arg-type]

    # Then
    assert len(app.lazy) == 22  # BURST_LIST, DIGEST_LIST and DIGEST_LIST_IN_FLIGHT among them
    names = {action_id: [listener.__name__ for listener in lazy] for action_id, lazy in app.lazy.items()}
    assert names[RUN_AGAIN] == ["run_again_clicked"]
    assert all(len(listeners) == 1 for listeners in names.values())
    assert all(name.endswith(("clicked", "chosen", "confirmed", "cancelled")) for [name] in names.values())


def test_run_again_all_confirms_only_the_members_one_may_act_on_and_says_how_many_are_left_out() -> None:
    # Given a group of a technical and a client-data recovery, and rules that put the person on
    # the client-data team only
    data = {"name": "data", "match": {"routing": "client-data"}, "channel": "C-DATA"}
    technical = {"name": "technical", "match": {"routing": "technical"}, "channel": "C-TECH"}
    document = {
        "rules": [{**data, "team": {"user_ids": [ALICE]}}, {**technical, "team": {"user_ids": ["U0BOB"]}}]
    }
    rules = parse_rules(json.dumps(document), ChannelRouting(""))
    services = some_services()
    services.access = TeamAccess(
        AccessPolicy(allowed_users=frozenset({"U0ADMIN"})), lambda: rules
    )  # no admin
    members = [a_recovery(1, group_id="grp-1"), a_recovery(2, group_id="grp-1", routing=Routing.CLIENT_DATA)]
    services.store.list_by_status.return_value = members
    services.groups.get.return_value = a_group_state()
    client = Mock(spec=WebClient)

    # When
    modals.open_group_bulk(services, client, ALICE, "run_again", "grp-1", a_click("grp-1"), Mock())

    # Then the confirmation counts her one recovery and names the one left out
    view = client.views_open.call_args.kwargs["view"].to_dict()
    assert view["title"]["text"] == "Run again 1?"
    assert "1 more matches but it belongs to another team" in json.dumps(view["blocks"])


def test_a_redrive_reaching_services_without_redrive_says_nothing_was_redriven() -> None:
    # Given services built without a Slack client, so without Redrive
    services = some_services()
    respond = Mock()

    # When a redrive of a failed execution reaches them
    recovery_buttons.redrive(services, ALICE, "fail-1", respond)

    # Then the person is told that nothing was redriven, not shown a failure report
    assert respond.call_count == 1
    assert "nothing was redriven" in respond.call_args.kwargs["text"]
    assert "reference" not in respond.call_args.kwargs["text"].lower()


def test_a_redrive_a_policy_holds_back_tells_the_person_the_request_and_what_it_waits_for() -> None:
    # Given Redrive answering that a policy made a request instead
    from recovery_ops.service.recovery.failed_executions.failures import RedriveResult

    services = some_services()
    services.redrive = Mock()
    detail = "rule 'payments' puts it under approval: request r-1 waits for 2 more approvals"
    services.redrive.redrive.return_value = RedriveResult(False, None, detail, "r-1", held=True)
    respond = Mock()

    # When the Redrive button is clicked
    recovery_buttons.redrive(services, ALICE, "fail-1", respond)

    # Then the person reads the request and what it waits for, not a failure
    text = respond.call_args.kwargs["text"]
    assert "request r-1 waits for 2 more approvals" in text and "⚠️" not in text


def test_a_confirmed_dlq_redrive_a_policy_holds_back_answers_with_the_request_and_moves_nothing() -> None:
    # Given the DLQs answering that a policy made a request instead of a move task
    from recovery_ops.service.recovery.dead_letters.model import DeadLetterQueue
    from recovery_ops.service.recovery.model.approval import Held

    services = some_services()
    services.dead_letters = Mock()
    services.dead_letters.queue.return_value = DeadLetterQueue("recovery", "Recovery DLQ", "q/dlq", "q/main")
    services.dead_letters.redrive.return_value = Held(
        "request r-2 waits for 1 more approval", "r-2", new=True
    )
    respond = Mock()

    # When the redrive is confirmed
    dead_letters.redrive_confirmed(services, ALICE, "recovery", respond)

    # Then the person reads the request in place of the prompt
    assert respond.call_args.kwargs["text"] == "🕒 request r-2 waits for 1 more approval."
    assert respond.call_args.kwargs["replace_original"] is True
