"""Four eyes: actions under an approval policy wait for other people's approval, over plain fakes.

The resolver, the approval store and the recoveries store over one in-memory table; routing rules
parsed from a document; Step Functions a fake that records what it was sent."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import RulesRefusedError, parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, RecoveryActions, ThrottleBackoff
from recovery_ops.service.recovery.lifecycle.approvals import Approvals, DecisionOutcome, PolicyGate
from recovery_ops.service.recovery.lifecycle.bulk import BulkAction
from recovery_ops.service.recovery.model.approval import ApprovalState, Gated
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.service.recovery.storage.approvals import ApprovalStore
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB, FakeTaskTokens, TokenCall
from tests.support.recoveries import opened_recovery

TABLE = "recoveries"
EDITOR, LEAD_A, LEAD_B, LEAD_C, STRANGER = "U0EDITOR", "U0LEADA", "U0LEADB", "U0LEADC", "U0STRANGER"


def rules(approval: dict | None = None) -> str:
    rule: dict = {
        "name": "orders",
        "match": {"state_machine": "orders"},
        "channel": "C-ORDERS",
        "team": {"user_ids": [EDITOR, LEAD_A, LEAD_B, LEAD_C]},
    }
    if approval is not None:
        rule["approval"] = approval
    return json.dumps({"rules": [rule]})


TWO_LEADS = {
    "actions": ["edit", "reject"],
    "approvals": 2,
    "approvers": {"user_ids": [EDITOR, LEAD_A, LEAD_B, LEAD_C]},
}


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Desk:
    """The resolver and the approvals over one table, as the services compose them."""

    def __init__(self, approval: dict | None = TWO_LEADS, members: dict[str, set[str]] | None = None) -> None:
        self.db = FakeDynamoDB()
        self.store = RecoveryStore(TABLE, self.db)
        self.tokens = FakeTaskTokens()
        self.clock = Clock()
        parsed = parse_rules(rules(approval), ChannelRouting("C-DEFAULT"))
        groups = members or {}
        self.access = TeamAccess(
            AccessPolicy(allowed_users=frozenset({"U0ADMIN"}), group_members=lambda g: groups[g]),
            lambda: parsed,
        )
        self.gate = PolicyGate(self.access)
        self.actions = RecoveryActions(
            self.store,
            self.tokens,
            backoff=ThrottleBackoff(sleep=lambda _: None),
            clock=self.clock,
            gate=self.gate,
        )
        self.approvals = Approvals(
            ApprovalStore(TABLE, self.db), self.store, self.gate, self.actions, clock=self.clock
        )

    def open(self, n: int = 0) -> Recovery:
        return opened_recovery(self.store, n, step_input={"amount": 100, "account": "DE01"})

    def request_edit(self, recovery: Recovery, new_input: object, actor: str = EDITOR, **kw: object):
        found = self.gate.policy(recovery, Gated.EDIT)
        assert found is not None
        return self.approvals.request(
            [recovery], Gated.EDIT, actor, found[0], new_input=new_input, diff="amount", **kw
        )


def test_an_edit_under_a_two_approval_policy_waits_for_two_others_then_sends_exactly_what_was_approved() -> (
    None
):
    # Given an open recovery whose rule puts edits under two approvals
    desk = Desk()
    recovery = desk.open()

    # When the editor's edit is refused by the resolver, requested instead, and two leads approve
    direct = desk.actions.run_again(recovery.recovery_id, EDITOR, new_input={"amount": 90, "account": "DE01"})
    asked = desk.request_edit(recovery, {"amount": 90, "account": "DE01"})
    first = desk.approvals.approve(asked.request.request_id, LEAD_A)
    sent_after_one = list(desk.tokens.calls)
    second = desk.approvals.approve(asked.request.request_id, LEAD_B)

    # Then nothing was sent until the second approval, and then exactly the approved input, once
    assert direct.outcome is ActionOutcome.NEEDS_APPROVAL and "2 approval" in direct.detail
    assert asked.outcome is DecisionOutcome.REQUESTED
    assert first.outcome is DecisionOutcome.COUNTED and sent_after_one == []
    assert second.outcome is DecisionOutcome.APPROVED
    assert desk.tokens.calls == [
        TokenCall("success", "token-0", output=json.dumps({"amount": 90, "account": "DE01"}))
    ]
    stored = desk.store.get(recovery.recovery_id)
    assert stored.status is RecoveryStatus.RESUMED and stored.approval is None
    steps = [(e.actor, e.action, e.result) for e in stored.audit[1:]]
    assert steps == [
        (EDITOR, "request approval", "APPROVAL_PENDING"),
        (LEAD_A, "approve", "APPROVED"),
        (LEAD_B, "approve", "APPROVED"),
        (EDITOR, "edit and run again", "RESUMING"),
        (EDITOR, "edit and run again", "RESUMED"),
    ]
    claim = stored.audit[4]
    assert claim.detail["approval"] == asked.request.request_id
    assert claim.detail["approved_by"] == f"{LEAD_A}, {LEAD_B}"
    assert desk.approvals.store.get(asked.request.request_id).state is ApprovalState.DONE


def test_the_editors_own_approval_is_refused_and_audited() -> None:
    desk = Desk()
    recovery = desk.open()
    asked = desk.request_edit(recovery, {"amount": 1})

    own = desk.approvals.approve(asked.request.request_id, EDITOR)

    assert own.outcome is DecisionOutcome.REFUSED
    assert own.detail == "nobody approves or denies their own request"
    refused = desk.store.get(recovery.recovery_id).audit[-1]
    assert (refused.actor, refused.action, refused.result) == (EDITOR, "approve", "DENIED")
    assert refused.detail["why"] == "nobody approves or denies their own request"
    assert desk.approvals.store.get(asked.request.request_id).approvals == []
    assert desk.tokens.calls == []


def test_someone_who_is_not_an_approver_is_refused_and_audited() -> None:
    desk = Desk()
    recovery = desk.open()
    asked = desk.request_edit(recovery, {"amount": 1})

    other = desk.approvals.approve(asked.request.request_id, STRANGER)

    assert other.outcome is DecisionOutcome.REFUSED and "not an approver" in other.detail
    assert desk.approvals.store.get(asked.request.request_id).approvals == []


def test_two_approvers_clicking_at_once_count_once_each_and_the_action_runs_once() -> None:
    # Given a request needing two approvals, and two approvers clicking at the same moment (each
    # twice: a double click), the table slowed so their reads and writes interleave
    desk = Desk()
    recovery = desk.open()
    asked = desk.request_edit(recovery, {"amount": 5})
    barrier = threading.Barrier(4)
    outcomes: list[DecisionOutcome] = []

    def click(user: str) -> None:
        barrier.wait()
        outcomes.append(desk.approvals.approve(asked.request.request_id, user).outcome)

    threads = [threading.Thread(target=click, args=(u,)) for u in (LEAD_A, LEAD_B, LEAD_A, LEAD_B)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then each approver counted once, exactly one click completed it, and the step got one call
    request = desk.approvals.store.get(asked.request.request_id)
    assert sorted(request.approved_by) == [LEAD_A, LEAD_B]
    assert outcomes.count(DecisionOutcome.APPROVED) == 1
    assert len(desk.tokens.calls) == 1
    assert request.state is ApprovalState.DONE


def test_a_denied_request_leaves_the_recovery_open_and_says_why() -> None:
    desk = Desk()
    recovery = desk.open()
    asked = desk.request_edit(recovery, {"amount": 1})

    denied = desk.approvals.deny(asked.request.request_id, LEAD_A, reason="wrong account")
    late = desk.approvals.approve(asked.request.request_id, LEAD_B)

    assert denied.outcome is DecisionOutcome.DENIED and "denied by U0LEADA" in denied.detail
    assert late.outcome is DecisionOutcome.ALREADY_DECIDED
    stored = desk.store.get(recovery.recovery_id)
    assert stored.status is RecoveryStatus.OPEN and stored.approval is None
    assert (stored.audit[-1].action, stored.audit[-1].result, stored.audit[-1].detail["reason"]) == (
        "deny",
        "APPROVAL_DENIED",
        "wrong account",
    )
    assert desk.tokens.calls == []


def test_an_expired_request_leaves_the_recovery_open_and_the_reconciler_expires_it() -> None:
    # Given a request nobody decided, past its expiry
    desk = Desk({**TWO_LEADS, "expires_after_minutes": 30})
    recovery = desk.open()
    asked = desk.request_edit(recovery, {"amount": 1})
    desk.clock.now += timedelta(minutes=31)

    # When the reconciler finds it due, and an approver clicks afterwards
    due, _ = desk.store.due("approval", desk.clock.now, 10)
    carried = [desk.approvals.carry_on(item.removeprefix("approval#")) for item in due]
    late = desk.approvals.approve(asked.request.request_id, LEAD_A)

    # Then it expired, nothing ran, and the recovery is open without a waiting request
    assert carried == ["expired"]
    assert late.outcome is DecisionOutcome.ALREADY_DECIDED and "expired" in late.detail
    stored = desk.store.get(recovery.recovery_id)
    assert stored.status is RecoveryStatus.OPEN and stored.approval is None
    assert stored.audit[-1].result == "APPROVAL_EXPIRED"
    assert desk.tokens.calls == []


def test_the_requester_withdraws_and_a_new_edit_starts_from_zero_approvals() -> None:
    desk = Desk()
    recovery = desk.open()
    first = desk.request_edit(recovery, {"amount": 1})
    desk.approvals.approve(first.request.request_id, LEAD_A)

    # When the editor edits again: the first request is withdrawn, the second has no approval
    second = desk.request_edit(desk.store.get(recovery.recovery_id), {"amount": 2})
    desk.approvals.approve(second.request.request_id, LEAD_A)
    desk.approvals.approve(second.request.request_id, LEAD_B)

    assert desk.approvals.store.get(first.request.request_id).state is ApprovalState.WITHDRAWN
    assert desk.tokens.calls == [TokenCall("success", "token-0", output=json.dumps({"amount": 2}))]


def test_only_the_requester_withdraws() -> None:
    desk = Desk()
    asked = desk.request_edit(desk.open(), {"amount": 1})

    refused = desk.approvals.withdraw(asked.request.request_id, LEAD_A)

    assert refused.outcome is DecisionOutcome.REFUSED
    assert desk.approvals.store.get(asked.request.request_id).state is ApprovalState.PENDING


def test_an_approval_does_not_cover_another_input_another_action_or_another_recovery() -> None:
    desk = Desk()
    recovery, other = desk.open(0), desk.open(1)
    asked = desk.request_edit(recovery, {"amount": 1})
    desk.approvals.approve(asked.request.request_id, LEAD_A)
    request = desk.approvals.store.get(asked.request.request_id)
    request.state = ApprovalState.APPROVED  # as if complete: the resolver still checks what it covers

    changed = desk.actions.run_again(
        recovery.recovery_id, EDITOR, new_input={"amount": 999}, approved=request
    )
    rejected = desk.actions.reject(recovery.recovery_id, EDITOR, approved=request)
    elsewhere = desk.actions.run_again(other.recovery_id, EDITOR, new_input={"amount": 1}, approved=request)

    assert changed.outcome is ActionOutcome.NEEDS_APPROVAL and "needs approving again" in changed.detail
    assert rejected.outcome is ActionOutcome.NEEDS_APPROVAL
    assert elsewhere.outcome is ActionOutcome.NEEDS_APPROVAL
    assert desk.tokens.calls == []


def test_an_approved_run_whose_process_died_is_run_by_the_reconciler_once() -> None:
    # Given the last approval counted, but its process gone before running it
    desk = Desk()
    recovery = desk.open()
    asked = desk.request_edit(recovery, {"amount": 7})
    desk.approvals.approve(asked.request.request_id, LEAD_A)
    crashed = desk.approvals.run_approved
    desk.approvals.run_approved = lambda request, owner: []  # type: ignore[method-assign]
    desk.approvals.approve(asked.request.request_id, LEAD_B)
    desk.approvals.run_approved = crashed  # type: ignore[method-assign]

    # When its lease has ended and the reconciler carries it on (twice: two runs)
    before = desk.approvals.carry_on(asked.request.request_id)
    desk.clock.now += timedelta(minutes=5)
    due, _ = desk.store.due("approval", desk.clock.now, 10)
    ran = [desk.approvals.carry_on(i.removeprefix("approval#")) for i in due]
    again = desk.approvals.carry_on(asked.request.request_id)

    # Then it ran exactly the approved input once
    assert (before, ran, again) == ("not due", ["ran"], "not due")
    assert desk.tokens.calls == [TokenCall("success", "token-0", output=json.dumps({"amount": 7}))]
    assert desk.store.get(recovery.recovery_id).status is RecoveryStatus.RESUMED


def test_a_required_reason_is_required() -> None:
    desk = Desk({**TWO_LEADS, "reason_required": True})
    recovery = desk.open()

    without = desk.request_edit(recovery, {"amount": 1})
    with_reason = desk.request_edit(recovery, {"amount": 1}, reason="customer asked")

    assert without.outcome is DecisionOutcome.REFUSED and "requires a reason" in without.detail
    assert with_reason.outcome is DecisionOutcome.REQUESTED


def test_approvers_by_user_group_and_what_waits_for_each_person() -> None:
    desk = Desk(
        {"actions": ["run_again"], "approvals": 1, "approvers": {"user_group": "S0LEADS"}},
        members={"S0LEADS": {LEAD_A, EDITOR}},
    )
    recovery = desk.open()
    found = desk.gate.policy(recovery, Gated.RUN_AGAIN)
    assert found is not None
    asked = desk.approvals.request([recovery], Gated.RUN_AGAIN, EDITOR, found[0])

    assert [r.request_id for r in desk.approvals.waiting_for(LEAD_A)] == [asked.request.request_id]
    assert desk.approvals.waiting_for(EDITOR) == []  # their own
    assert desk.approvals.waiting_for(LEAD_B) == []  # not in the group
    assert desk.approvals.approve(asked.request.request_id, LEAD_A).outcome is DecisionOutcome.APPROVED
    assert desk.tokens.calls == [
        TokenCall("success", "token-0", output=json.dumps({"amount": 100, "account": "DE01"}))
    ]


def test_no_policy_is_todays_behaviour() -> None:
    desk = Desk(approval=None)
    recovery = desk.open()

    result = desk.actions.run_again(recovery.recovery_id, EDITOR, new_input={"amount": 1})

    assert result.outcome is ActionOutcome.RESUMED


def bulk_desk(over: int) -> Desk:
    return Desk({"actions": ["bulk"], "bulk_over": over, "approvals": 1, "approvers": {"user_ids": [LEAD_A]}})


def test_a_bulk_run_over_the_threshold_waits_for_approval_and_then_runs_the_named_set() -> None:
    # Given five open recoveries and a policy: bulk actions over three need one approval
    desk = bulk_desk(3)
    opened = [desk.open(n) for n in range(5)]
    bulk = BulkAction(desk.actions, rate_per_second=0, approvals=desk.approvals)

    # When someone runs all five again, and then one more recovery opens
    report = bulk.run_again([r.recovery_id for r in opened], EDITOR)
    desk.open(9)

    # Then nothing ran: one request names the five
    assert desk.tokens.calls == [] and report.done == 0
    assert len(report.requests) == 1
    request = report.requests[0]
    assert sorted(request.subjects) == sorted(r.recovery_id for r in opened) and request.bulk

    # When the approver approves, exactly those five run
    decided = desk.approvals.approve(request.request_id, LEAD_A)
    assert decided.outcome is DecisionOutcome.APPROVED
    assert sorted(c.token for c in desk.tokens.calls) == sorted(f"token-{n}" for n in range(5))


def test_a_bulk_run_at_the_threshold_runs_at_once() -> None:
    desk = bulk_desk(3)
    opened = [desk.open(n) for n in range(3)]

    report = BulkAction(desk.actions, rate_per_second=0, approvals=desk.approvals).run_again(
        [r.recovery_id for r in opened], EDITOR
    )

    assert report.outcomes[ActionOutcome.RESUMED] == 3 and report.requests == []


@pytest.mark.parametrize(
    ("approval", "problem"),
    [
        ({"actions": ["bulk"], "approvers": {"user_ids": [LEAD_A]}}, "bulk_over: required"),
        (
            {"actions": ["edit"], "approvals": 3, "approvers": {"user_ids": [LEAD_A, LEAD_B]}},
            "can never be given",
        ),
        ({"actions": ["edit"], "approvers": {}}, "names nobody"),
        ({"actions": ["fly"], "approvers": {"user_ids": [LEAD_A]}}, "must be one of run_again, edit"),
        ({"actions": ["edit"], "approvals": 0, "approvers": {"user_ids": [LEAD_A]}}, "approvals"),
    ],
)
def test_a_policy_that_cannot_work_is_refused_with_the_reason(approval: dict, problem: str) -> None:
    with pytest.raises(RulesRefusedError) as refused:
        parse_rules(rules(approval), ChannelRouting("C"))

    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_a_policy_describes_itself_for_routes_show() -> None:
    policy = parse_rules(rules(TWO_LEADS), ChannelRouting("C")).rules[0].approval
    assert policy is not None

    assert policy.describe() == (
        "edit, reject need 2 approvals from U0EDITOR, U0LEADA, U0LEADB, U0LEADC (never the requester's own); "
        "a request expires after 1440 minutes"
    )


def test_a_policy_on_run_again_covers_an_edit_too() -> None:
    desk = Desk({"actions": ["run_again"], "approvals": 1, "approvers": {"user_ids": [LEAD_A]}})
    recovery = desk.open()

    edited = desk.actions.run_again(
        recovery.recovery_id, EDITOR, new_input={"amount": 100, "account": "DE01"}
    )

    assert edited.outcome is ActionOutcome.NEEDS_APPROVAL
    assert desk.tokens.calls == []
