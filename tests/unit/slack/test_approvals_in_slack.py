"""Approvals in Slack, over plain fakes: the views of a request (on a recovery's message, its own
message, the thread replies, the answers, what waits for a person) with hostile and maximum-length
values within Slack's rules, and the listeners driving the real approvals core over an in-memory
table, with a mock WebClient for Slack."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import Mock

from slack_sdk import WebClient

from recovery_ops.service.composition import Services
from recovery_ops.service.local.standin.block_kit import blocks_problem, message_text_problem, view_problem
from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.lifecycle.actions import RecoveryActions, ThrottleBackoff
from recovery_ops.service.recovery.lifecycle.approvals import Approvals, Decision, DecisionOutcome, PolicyGate
from recovery_ops.service.recovery.lifecycle.overview import overview_for
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.model.approval import (
    Approval,
    ApprovalRequest,
    ApprovalState,
    Gated,
    PendingApproval,
)
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.service.recovery.storage.approvals import ApprovalStore
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from recovery_ops.slack_app.ids import (
    APPROVAL_APPROVE,
    APPROVAL_DENY,
    APPROVAL_WITHDRAW,
    EDIT_AND_RUN_AGAIN,
    EDIT_SUBMIT,
    REJECT,
    RUN_AGAIN,
)
from recovery_ops.slack_app.listeners import approvals as approval_listeners
from recovery_ops.slack_app.listeners import modals, recovery_buttons
from recovery_ops.slack_app.notifier import SlackApprovalDisplay
from recovery_ops.slack_app.views import home, listing
from recovery_ops.slack_app.views.approvals import (
    DENY_REASON_ACTION,
    DENY_REASON_BLOCK,
    approvers_told_text,
    decided_text,
    decision_text,
    request_message_blocks,
    waiting_blocks,
)
from recovery_ops.slack_app.views.modals import INPUT_ACTION, INPUT_BLOCK, REASON_ACTION, REASON_BLOCK
from recovery_ops.slack_app.views.recovery_message import recovery_blocks
from tests.support.fakes import FakeDynamoDB, FakeTaskTokens
from tests.support.recoveries import opened_recovery
from tests.unit.slack.builders import a_recovery

EDITOR, LEAD_A, LEAD_B = "U0EDITOR", "U0LEADA", "U0LEADB"
HOSTILE = "<!channel> <@U123> *bold* `tick` ```fence``` <https://evil.example|click> &amp; \u202e"
LONG = (HOSTILE + "é😀") * 400  # far past every limit, with characters Slack counts twice


def as_dicts(blocks: list) -> list[dict]:
    return [b.to_dict() for b in blocks]


def buttons_of(blocks: list[dict]) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e.get("value", "")) for b in blocks if b["type"] == "actions" for e in b["elements"]
    ]


def mrkdwn_texts(blocks: list[dict]) -> str:
    return json.dumps([b.get("text") for b in blocks if b["type"] == "section"])


def a_request(**changes: Any) -> ApprovalRequest:
    request = ApprovalRequest(
        request_id="req0123456789abcdef0",
        action=Gated.EDIT,
        subjects=["rec-" + "0" * 32],
        requested_by=EDITOR,
        requested_at="2026-12-07T12:00:00.000+00:00",
        expires_at="2026-12-08T12:00:00.000+00:00",
        needed=2,
        approver_ids=(EDITOR, LEAD_A, LEAD_B),
        approver_group="S0LEADS",
        rule="orders",
        diff="amount: 100 → 90",
    )
    return replace(request, **changes)


# ---------------------------------------------------------------------- the views
def test_a_waiting_request_replaces_the_recovery_buttons_with_approve_deny_withdraw_and_shows_its_diff() -> (
    None
):
    # Given a recovery an edit request waits on, approved once
    pending = PendingApproval(
        "req-1", "edit and run again", EDITOR, 2, (LEAD_A,), "2026-12-08T12:00:00+00:00", "amount: 100 → 90"
    )
    recovery = a_recovery(approval=pending)

    # When its message is built
    blocks = as_dicts(recovery_blocks(recovery))

    # Then it says what waits, on whom, and offers only the request's buttons, each carrying its id
    text = mrkdwn_texts(blocks)
    assert "Edit and run again* by <@U0EDITOR> waits for 1 more approval (approved by <@U0LEADA>)" in text
    assert "2026-12-08 12:00 UTC" in text
    assert buttons_of(blocks) == [
        (APPROVAL_APPROVE, "req-1"),
        (APPROVAL_DENY, "req-1"),
        (APPROVAL_WITHDRAW, "req-1"),
    ]
    assert not {RUN_AGAIN, EDIT_AND_RUN_AGAIN, REJECT} & {a for a, _ in buttons_of(blocks)}
    assert "amount: 100 → 90" in json.dumps(blocks, ensure_ascii=False)


def test_a_request_with_hostile_maximum_length_values_stays_within_slacks_rules_and_mentions_nobody() -> None:
    # Given a request whose requester, diff and expiry are hostile and far too long
    pending = PendingApproval("req-1", LONG, f"cli:{LONG}", 5, (LEAD_A, LONG), LONG, LONG)
    recovery = a_recovery(approval=pending)

    # When its message is built
    blocks = as_dicts(recovery_blocks(recovery))

    # Then Slack accepts it, and nothing in it becomes a mention or a link
    assert blocks_problem(blocks) is None
    assert "<!channel>" not in mrkdwn_texts(blocks) and "<https://evil" not in mrkdwn_texts(blocks)


def test_a_bulk_requests_own_message_names_its_set_within_limits_whatever_its_size() -> None:
    # Given a bulk request over 500 recoveries with a hostile rule name, reason and diff
    request = a_request(
        action=Gated.RUN_AGAIN,
        subjects=[f"rec-{n:032d}" for n in range(500)],
        bulk=True,
        rule=LONG,
        reason=LONG,
        diff=LONG,
    )
    named = [a_recovery(n, execution_name=LONG) for n in range(3)]

    # When its message is built
    blocks = as_dicts(request_message_blocks(request, named))

    # Then it counts the set, names the first few and says how many more, within Slack's rules
    text = mrkdwn_texts(blocks)
    assert "500 recoveries" in text and "and 495 more" in text
    assert blocks_problem(blocks) is None
    assert "<!channel>" not in text
    assert buttons_of(blocks) == [
        (APPROVAL_APPROVE, request.request_id),
        (APPROVAL_DENY, request.request_id),
        (APPROVAL_WITHDRAW, request.request_id),
    ]


def test_a_decided_requests_own_message_loses_its_buttons_and_says_why() -> None:
    request = a_request(state=ApprovalState.DENIED, decided_by=LEAD_A, decision_reason="wrong account")

    blocks = as_dicts(request_message_blocks(request, []))

    assert buttons_of(blocks) == []
    assert "denied by <@U0LEADA>. Nothing ran" in mrkdwn_texts(blocks) and "wrong account" in mrkdwn_texts(
        blocks
    )


def test_approvers_are_mentioned_by_group_and_id_and_told_until_when_never_the_requester() -> None:
    text = approvers_told_text(a_request())

    mentioned = text.split(":", 1)[0]
    assert mentioned == "<!subteam^S0LEADS> <@U0LEADA> <@U0LEADB>"
    assert "2 approvals" in text and "2026-12-08 12:00 UTC" in text
    assert message_text_problem(text) is None


def test_an_approver_group_that_is_not_a_group_id_mentions_nobody() -> None:
    text = approvers_told_text(a_request(approver_group="<!channel>", approver_ids=()))

    assert "<!channel>" not in text and "<!subteam" not in text


def test_a_denied_withdrawn_and_expired_request_each_say_why_and_that_nothing_ran() -> None:
    denied = decided_text(a_request(state=ApprovalState.DENIED, decided_by=LEAD_A, decision_reason=LONG))
    withdrawn = decided_text(a_request(state=ApprovalState.WITHDRAWN, decided_by=EDITOR))
    expired = decided_text(
        a_request(state=ApprovalState.EXPIRED, approvals=[Approval(LEAD_A, "2026-12-07T13:00:00+00:00")])
    )

    assert (
        "denied by <@U0LEADA>. Nothing ran" in denied
        and "*Reason:* &lt;!channel" in denied
        and "<!channel>" not in denied
    )
    assert "withdrawn by <@U0EDITOR>" in withdrawn
    assert "expired at 2026-12-08 12:00 UTC before enough people approved (approved by <@U0LEADA>)" in expired
    for text in (denied, withdrawn, expired):
        assert "Nothing ran; the recovery stays open." in text
        assert message_text_problem(text) is None


def test_every_decision_outcome_is_told_in_words() -> None:
    counted = a_request(approvals=[Approval(LEAD_A, "2026-12-07T13:00:00+00:00")])
    texts = {outcome: decision_text(Decision(outcome, counted, detail=LONG)) for outcome in DecisionOutcome}

    assert texts[DecisionOutcome.COUNTED] == "👍 Your approval counted: 1 more needed."
    assert texts[DecisionOutcome.REQUESTED].startswith(
        "✋ Nothing ran yet: *Edit and run again* by <@U0EDITOR>"
    )
    assert texts[DecisionOutcome.APPROVED].startswith("✅ Approved, and run: ")
    assert texts[DecisionOutcome.REFUSED].startswith("🚫 Not done: ")
    assert texts[DecisionOutcome.ALREADY_DECIDED].startswith("👋 Already decided: ")
    assert texts[DecisionOutcome.EXPIRED].startswith("⌛ Too late: ")
    assert texts[DecisionOutcome.NOT_FOUND].startswith("⚠️ No such request")
    assert all(message_text_problem(t) is None and "<!channel>" not in t for t in texts.values())


def test_what_waits_for_a_person_fits_a_message_and_the_home_however_many_requests_wait() -> None:
    # Given 200 requests waiting for the person and 200 of their own, with hostile values
    waiting = [a_request(request_id=f"req{n:017d}", requested_by=LEAD_A, reason=LONG) for n in range(200)]
    mine = [a_request(request_id=f"own{n:017d}", rule=LONG) for n in range(200)]

    # When listed for /recoveries approvals and in the Home
    message = as_dicts(waiting_blocks(waiting, mine))
    overview = overview_for(
        RecoveryStore("recoveries", FakeDynamoDB()), Workspace().services.access, LEAD_A, RecoveryQuery(), 1
    )
    view = home.home_view(overview, None, None, datetime.now(UTC), False, (waiting, mine)).to_dict()

    # Then both are within Slack's rules: Approve / Deny on theirs to decide, Withdraw on their own
    assert blocks_problem(message) is None
    assert view_problem(view) is None
    actions = [a for a, _ in buttons_of(message)]
    assert actions.count(APPROVAL_APPROVE) == actions.count(APPROVAL_DENY) == actions.count(APPROVAL_WITHDRAW)
    assert "Waiting for your approval (200)" in json.dumps(message) and "Your requests (200)" in json.dumps(
        message
    )


def test_the_default_list_says_how_many_requests_wait_for_the_persons_approval() -> None:
    blocks = as_dicts(
        listing.list_blocks([], listing.Counter(), listing.RecoveryQuery(), None, awaiting_approval=3)
    )

    assert "3 requests wait for your approval (`/recoveries approvals`)" in json.dumps(blocks)


# ---------------------------------------------------------------------- the listeners over the core
TWO_LEADS = {
    "actions": ["edit", "reject", "run_again"],
    "approvals": 2,
    "approvers": {"user_ids": [EDITOR, LEAD_A, LEAD_B]},
}


class Workspace:
    """The approvals core over an in-memory table, the Slack display over a mock WebClient, and the
    services the listeners take (the rest mocks)."""

    def __init__(self, approval: dict | None = None) -> None:
        rule = {
            "name": "orders",
            "match": {"state_machine": "orders"},
            "channel": "C0ORDERS",
            "team": {"user_ids": [EDITOR, LEAD_A, LEAD_B]},
            "approval": approval or TWO_LEADS,
        }
        parsed = parse_rules(json.dumps({"rules": [rule]}), ChannelRouting("C0DEFAULT"))
        self.db = FakeDynamoDB()
        self.store = RecoveryStore("recoveries", self.db)
        self.tokens = FakeTaskTokens()
        access = TeamAccess(AccessPolicy(allowed_users=frozenset({"U0ADMIN"})), lambda: parsed)
        gate = PolicyGate(access)
        actions = RecoveryActions(
            self.store, self.tokens, backoff=ThrottleBackoff(sleep=lambda _: None), gate=gate
        )
        self.client = Mock(WebClient)
        self.client.chat_postMessage.return_value = Mock(data={"channel": "C0ORDERS", "ts": "2.0"})
        self.client.chat_update.return_value = Mock(data={"ok": True})
        approval_store = ApprovalStore("recoveries", self.db)
        display = SlackApprovalDisplay(
            self.client, lambda _: False, lambda _: "C0ORDERS", approval_store.mark_posted
        )
        self.approvals = Approvals(approval_store, self.store, gate, actions, display=display)
        self.services = Services(
            store=self.store,
            groups=Mock(),
            actions=actions,
            bulk=Mock(),
            policy=access.policy,
            schemas=Mock(for_state=Mock(return_value=None)),
            audit=Mock(),
            access=access,
            owners=Mock(),
            runs=Mock(),
            approvals=self.approvals,
        )
        self.said: list[str] = []

    def say(self, text: str) -> None:
        self.said.append(text)

    def open(self) -> str:
        recovery = opened_recovery(self.store, 0, step_input={"amount": 100, "account": "DE01"})
        self.store.mark_posted(recovery.recovery_id, "C0ORDERS", "1.0")
        return recovery.recovery_id

    def updated_blocks(self) -> list[dict]:
        return as_dicts(self.client.chat_update.call_args.kwargs["blocks"])

    def thread_replies(self) -> list[str]:
        return [
            c.kwargs["text"] for c in self.client.chat_postMessage.call_args_list if c.kwargs.get("thread_ts")
        ]

    def submit_edit(self, user: str, recovery_id: str, text: str, reason: str = "") -> None:
        view = edit_view(recovery_id, text, reason)
        modals.edit_submitted(self.services, self.client, user, view)


def edit_view(recovery_id: str, text: str, reason: str = "") -> dict:
    return {
        "callback_id": EDIT_SUBMIT,
        "private_metadata": json.dumps({"recovery_id": recovery_id, "channel": "C0ORDERS"}),
        "state": {
            "values": {
                INPUT_BLOCK: {INPUT_ACTION: {"value": text}},
                REASON_BLOCK: {REASON_ACTION: {"value": reason}},
            }
        },
    }


def test_an_edit_under_a_policy_becomes_a_request_with_exactly_the_submitted_input_and_nothing_is_sent() -> (
    None
):
    # Given an open recovery whose rule puts edits under two approvals
    slack = Workspace()
    recovery_id = slack.open()

    # When the editor submits the edit modal
    slack.submit_edit(EDITOR, recovery_id, '{"amount": 90, "account": "DE01"}', reason="customer asked")

    # Then nothing is sent; a request waits with exactly that input; the message offers its buttons
    assert slack.tokens.calls == []
    (request,) = slack.approvals.requested_by(EDITOR)
    assert request.new_input == {"amount": 90, "account": "DE01"} and request.reason == "customer asked"
    assert "amount" in (request.diff or "")
    assert slack.store.get(recovery_id).status is RecoveryStatus.OPEN
    assert [a for a, _ in buttons_of(slack.updated_blocks())] == [
        APPROVAL_APPROVE,
        APPROVAL_DENY,
        APPROVAL_WITHDRAW,
    ]
    assert any("<@U0LEADA> <@U0LEADB>" in t for t in slack.thread_replies())
    told = slack.client.chat_postEphemeral.call_args.kwargs
    assert told["user"] == EDITOR and told["text"].startswith("✋ Nothing ran yet: *Edit and run again*")


def test_the_editors_own_approval_is_refused_and_two_others_run_exactly_the_edit() -> None:
    # Given an edit waiting for two approvals
    slack = Workspace()
    recovery_id = slack.open()
    slack.submit_edit(EDITOR, recovery_id, '{"amount": 90, "account": "DE01"}')
    (request,) = slack.approvals.requested_by(EDITOR)

    # When the editor approves, then two leads do
    approval_listeners.approve(slack.services, EDITOR, request.request_id, slack.say)
    approval_listeners.approve(slack.services, LEAD_A, request.request_id, slack.say)
    sent_after_one = list(slack.tokens.calls)
    approval_listeners.approve(slack.services, LEAD_B, request.request_id, slack.say)

    # Then the editor is refused, the first lead's counts, the second's runs exactly the edit
    assert slack.said[-3].startswith("🚫 Not done: nobody approves or denies their own request")
    assert slack.said[-2] == "👍 Your approval counted: 1 more needed."
    assert slack.said[-1].startswith("✅ Approved, and run")
    assert sent_after_one == []
    assert [json.loads(c.output or "null") for c in slack.tokens.calls] == [{"amount": 90, "account": "DE01"}]


def test_a_deny_from_its_modal_leaves_the_recovery_open_and_the_message_says_why() -> None:
    # Given an edit waiting for approval
    slack = Workspace()
    recovery_id = slack.open()
    slack.submit_edit(EDITOR, recovery_id, '{"amount": 1, "account": "DE01"}')
    (request,) = slack.approvals.requested_by(EDITOR)

    # When a lead denies it with a reason in the Deny modal
    view = {
        "private_metadata": json.dumps({"request_id": request.request_id, "channel": "C0ORDERS"}),
        "state": {"values": {DENY_REASON_BLOCK: {DENY_REASON_ACTION: {"value": "wrong <!channel> amount"}}}},
    }
    approval_listeners.deny_submitted(lambda: slack.services, {"user": {"id": LEAD_A}}, slack.client, view)

    # Then nothing ran, the recovery is open with its own buttons back, and the thread says why
    assert slack.tokens.calls == []
    assert slack.store.get(recovery_id).status is RecoveryStatus.OPEN
    assert slack.store.get(recovery_id).approval is None
    assert [a for a, _ in buttons_of(slack.updated_blocks())][:3] == [RUN_AGAIN, EDIT_AND_RUN_AGAIN, REJECT]
    assert any(
        "denied by <@U0LEADA>. Nothing ran; the recovery stays open.\n*Reason:* wrong &lt;!channel&gt; amount"
        in t
        for t in slack.thread_replies()
    )


def test_run_again_under_a_policy_asks_instead_and_the_requester_may_withdraw() -> None:
    # Given an open recovery whose rule puts Run again under approval
    slack = Workspace()
    recovery_id = slack.open()
    respond = Mock()

    # When Run again is clicked, and its requester withdraws the request
    recovery_buttons.run_again(slack.services, EDITOR, recovery_id, respond, from_list=False)
    (request,) = slack.approvals.requested_by(EDITOR)
    approval_listeners.withdraw(slack.services, LEAD_A, request.request_id, slack.say)
    approval_listeners.withdraw(slack.services, EDITOR, request.request_id, slack.say)

    # Then nothing was sent; only the requester could withdraw it, and the recovery is open again
    assert slack.tokens.calls == []
    assert respond.call_args.kwargs["text"].startswith("✋ Nothing ran yet: *Run again* by <@U0EDITOR>")
    assert slack.said[0].startswith("🚫 Not done: only the requester withdraws a request")
    assert slack.said[1].startswith("↩️ Withdrawn")
    assert slack.store.get(recovery_id).approval is None


def test_the_edit_modal_asks_for_a_reason_its_policy_requires_before_anything_else() -> None:
    # Given a rule whose policy requires a reason for edits
    slack = Workspace({**TWO_LEADS, "reason_required": True})
    recovery_id = slack.open()
    ack = Mock()

    # When the edit modal is submitted without one
    modals.check_edit(lambda: slack.services, ack, edit_view(recovery_id, '{"amount": 5}', reason="  "))

    # Then the modal shows why, on its reason field, and no request was made
    ack.assert_called_once()
    assert ack.call_args.kwargs["response_action"] == "errors"
    assert "asks for a reason" in ack.call_args.kwargs["errors"][REASON_BLOCK]
    assert slack.approvals.requested_by(EDITOR) == []


def test_the_edit_modal_under_a_policy_carries_a_reason_field_and_asks_for_approval() -> None:
    slack = Workspace()
    recovery = slack.store.get(slack.open())
    policy = slack.approvals.gate.policy(recovery, Gated.EDIT)
    assert policy is not None

    view = modals.edit_modal(recovery, modals.ModalOrigin("C0ORDERS"), reason=policy[1]).to_dict()

    assert view_problem(view) is None
    assert view["submit"]["text"] == "Ask approval"
    assert [b.get("block_id") for b in view["blocks"]][-1] == REASON_BLOCK


def test_the_home_lists_what_waits_for_the_approver_with_approve_and_deny() -> None:
    # Given an edit waiting for approval
    slack = Workspace()
    slack.submit_edit(EDITOR, slack.open(), '{"amount": 2, "account": "DE01"}')

    # When a lead's and the editor's Homes are built from what waits
    lead = waiting_blocks(slack.approvals.waiting_for(LEAD_A), slack.approvals.requested_by(LEAD_A))
    editor = waiting_blocks(slack.approvals.waiting_for(EDITOR), slack.approvals.requested_by(EDITOR))

    # Then the lead may approve or deny it, the editor only withdraw it
    assert [a for a, _ in buttons_of(as_dicts(lead))] == [APPROVAL_APPROVE, APPROVAL_DENY]
    assert [a for a, _ in buttons_of(as_dicts(editor))] == [APPROVAL_WITHDRAW]


def test_an_expired_request_is_told_as_too_late_and_nothing_runs() -> None:
    slack = Workspace()
    slack.submit_edit(EDITOR, slack.open(), '{"amount": 3, "account": "DE01"}')
    (request,) = slack.approvals.requested_by(EDITOR)
    slack.approvals.clock = lambda: datetime.now(UTC) + timedelta(days=3)

    approval_listeners.approve(slack.services, LEAD_A, request.request_id, slack.say)

    assert slack.said[-1].startswith("⌛ Too late")
    assert slack.tokens.calls == []
    assert any("expired at" in t for t in slack.thread_replies())
