"""`recovery-ops approve | deny | withdraw | approvals`, and retry / reject under an approval
policy, over plain fakes: the command line's operators, known by their AWS principal and acting as
the Slack user a policy's ``cli_approvers`` maps it to, under the same rules as Slack's people; an
action a policy covers made a request and never run; and the exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recovery_ops.service import operator as operator_module
from recovery_ops.service.cli.operate import WAITS_FOR_APPROVAL, operate_command
from recovery_ops.service.cli.parser import build_parser
from recovery_ops.service.config import OperatorSettings
from recovery_ops.service.operator import Operator
from recovery_ops.service.recovery.access.routing_rules import RulesRefusedError, parse_rules
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome
from recovery_ops.service.recovery.lifecycle.bulk import BulkAction
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.model.approval import ApprovalState, Gated
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from tests.support.fakes import TokenCall
from tests.unit.test_approvals import LEAD_A, Desk, rules

ALICE, BOB = "U0ALICE", "U0BOB"
ACCOUNT = "arn:aws:sts::123456789012:assumed-role/Support"
PRINCIPALS = {name: f"{ACCOUNT}/{name}@example.com" for name in ("alice", "bob", "carol")}
#: run again, edit and reject need one approval: from a lead, alice or bob (in Slack, or alice and
#: bob at a terminal under their AWS principals); carol's principal is named nowhere
CLI_POLICY = {
    "actions": ["run_again", "edit", "reject"],
    "approvals": 1,
    "approvers": {"user_ids": [LEAD_A, ALICE, BOB]},
    "cli_approvers": {PRINCIPALS["alice"]: ALICE, PRINCIPALS["bob"]: BOB},
}


class Terminal:
    """The operators at their terminals over one desk, each printing into their own lines."""

    def __init__(self, policy: dict | None = CLI_POLICY) -> None:
        self.desk = Desk(policy)
        self.lines: dict[str, list[str]] = {}

    def operator(self, user: str, terminal_user: str | None = None) -> Operator:
        """``user`` at a terminal: their AWS principal, whatever the terminal's user name says."""
        desk = self.desk
        printed = self.lines.setdefault(user, [])
        bulk = BulkAction(desk.actions, rate_per_second=0, approvals=desk.approvals)
        return Operator(
            desk.store,
            desk.actions,
            bulk,
            f"cli:{terminal_user or user}",
            printed.append,
            approvals=desk.approvals,
            principal=lambda: PRINCIPALS[user],
        )

    def said(self, user: str) -> str:
        return "\n".join(self.lines.get(user, []))


def test_retry_under_a_policy_makes_a_request_says_how_to_approve_it_and_sends_nothing() -> None:
    # Given an open recovery whose rule puts Run again under approval
    terminal = Terminal()
    recovery = terminal.desk.open()
    alice = terminal.operator("alice")

    # When alice runs it again from her terminal
    result = alice.retry(recovery.recovery_id, reason="vendor is back")

    # Then nothing was sent: a request waits on the recovery, and she is told how to have it approved
    assert result.outcome is ActionOutcome.NEEDS_APPROVAL and terminal.desk.tokens.calls == []
    (request,) = alice.requested
    assert (request.action, request.requested_by, request.reason) == (
        Gated.RUN_AGAIN,
        ALICE,
        "vendor is back",
    )
    assert terminal.desk.store.get(recovery.recovery_id).approval.request_id == request.request_id
    said = terminal.said("alice")
    assert "needs approval" in said and "nothing was sent" in said
    assert f"recovery-ops approve {request.request_id}" in said
    assert "waits for 1 more approval" in said


def test_the_requesters_own_approval_and_a_non_approvers_are_refused_another_approvers_runs_it() -> None:
    # Given alice's retry, waiting for approval
    terminal = Terminal()
    recovery = terminal.desk.open()
    alice, bob, carol = (terminal.operator(u) for u in ("alice", "bob", "carol"))
    alice.retry(recovery.recovery_id)
    request_id = alice.requested[0].request_id

    # When alice approves it herself, carol (no approver) tries, and then bob approves
    own, stranger = alice.approve(request_id), carol.approve(request_id)
    sent_before_bob = list(terminal.desk.tokens.calls)
    approved = bob.approve(request_id)

    # Then the first two are refused (exit 1) and audited, and bob's runs it once (exit 0)
    assert (own, stranger, approved) == (1, 1, 0)
    assert "refused: nobody approves or denies their own request" in terminal.said("alice")
    assert "refused: not an approver of rule 'orders'" in terminal.said("carol")
    assert sent_before_bob == []
    assert terminal.desk.tokens.calls == [
        TokenCall("success", "token-0", output=json.dumps({"amount": 100, "account": "DE01"}))
    ]
    stored = terminal.desk.store.get(recovery.recovery_id)
    assert stored.status is RecoveryStatus.RESUMED
    refusals = [(e.actor, e.action) for e in stored.audit if e.result == "DENIED"]
    assert refusals == [(ALICE, "approve"), (f"iam:{PRINCIPALS['carol']}", "approve")]
    assert "resumed" in terminal.said("bob")


def test_deny_leaves_the_recovery_open_and_a_late_withdraw_is_refused() -> None:
    terminal = Terminal()
    recovery = terminal.desk.open()
    alice, bob = terminal.operator("alice"), terminal.operator("bob")
    alice.reject(recovery.recovery_id, "customer cancelled")
    request_id = alice.requested[0].request_id

    denied = bob.deny(request_id, "the customer called back")
    withdrawn = alice.withdraw(request_id)

    assert (denied, withdrawn) == (0, 1)
    assert alice.requested[0].action is Gated.REJECT
    assert terminal.desk.approvals.store.get(request_id).state is ApprovalState.DENIED
    assert terminal.desk.store.get(recovery.recovery_id).status is RecoveryStatus.OPEN
    assert terminal.desk.tokens.calls == []
    assert "denied by U0BOB" in terminal.said("bob")


def test_only_the_requester_withdraws_their_request() -> None:
    terminal = Terminal()
    recovery = terminal.desk.open()
    alice, bob = terminal.operator("alice"), terminal.operator("bob")
    alice.retry(recovery.recovery_id)
    request_id = alice.requested[0].request_id

    assert bob.withdraw(request_id) == 1
    assert alice.withdraw(request_id) == 0
    assert terminal.desk.approvals.store.get(request_id).state is ApprovalState.WITHDRAWN


def test_an_edit_under_a_policy_is_approved_as_asked_and_sends_exactly_that_input(tmp_path: Path) -> None:
    terminal = Terminal()
    recovery = terminal.desk.open()
    alice, bob = terminal.operator("alice"), terminal.operator("bob")
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps({"amount": 90, "account": "DE01"}))

    alice.retry(recovery.recovery_id, edited)
    (request,) = alice.requested
    bob.approve(request.request_id)

    assert request.action is Gated.EDIT and request.new_input == {"amount": 90, "account": "DE01"}
    assert terminal.desk.tokens.calls == [
        TokenCall("success", "token-0", output=json.dumps({"amount": 90, "account": "DE01"}))
    ]


def test_a_required_reason_missing_makes_no_request_and_says_why() -> None:
    terminal = Terminal({**CLI_POLICY, "reason_required": True})
    recovery = terminal.desk.open()
    alice = terminal.operator("alice")

    result = alice.retry(recovery.recovery_id)

    assert result.outcome is ActionOutcome.NEEDS_APPROVAL and alice.requested == []
    assert "requires a reason" in terminal.said("alice")
    assert terminal.desk.tokens.calls == []


def test_approvals_lists_what_waits_for_each_person_and_mine_their_own() -> None:
    terminal = Terminal()
    recovery = terminal.desk.open()
    alice, bob, carol = (terminal.operator(u) for u in ("alice", "bob", "carol"))
    alice.retry(recovery.recovery_id)
    request_id = alice.requested[0].request_id

    assert [r.request_id for r in bob.waiting()] == [request_id]
    assert alice.waiting() == [] and carol.waiting() == []
    assert [r.request_id for r in alice.waiting(mine=True)] == [request_id]
    assert f"{request_id}  run again by U0ALICE  waits for 1 more approval" in terminal.said("bob")
    assert recovery.recovery_id in terminal.said("bob")


def test_show_names_the_request_waiting_on_a_recovery() -> None:
    terminal = Terminal()
    recovery = terminal.desk.open()
    alice, bob = terminal.operator("alice"), terminal.operator("bob")
    alice.retry(recovery.recovery_id)
    request_id = alice.requested[0].request_id

    bob.show(recovery.recovery_id)

    assert f"approval:   request {request_id}: run again by U0ALICE waits for 1 more approval" in (
        terminal.said("bob")
    )
    assert f"approve it: recovery-ops approve {request_id}" in terminal.said("bob")


def test_a_bulk_retry_under_a_policy_makes_one_request_for_the_set_and_runs_none() -> None:
    terminal = Terminal()
    opened = [terminal.desk.open(n) for n in range(3)]
    alice = terminal.operator("alice")

    report = alice.retry_matching(RecoveryQuery(error="VendorUnavailable"), confirm=lambda n: True)

    assert report is not None and terminal.desk.tokens.calls == []
    (request,) = alice.requested
    assert request.bulk and sorted(request.subjects) == sorted(r.recovery_id for r in opened)
    assert f"recovery-ops approve {request.request_id}" in terminal.said("alice")
    assert "3 wait for approval" in terminal.said("alice")


# ---------------------------------------------------------------------- exit codes
def run_command(argv: list[str], operator: Operator, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(operator_module, "build_operator", lambda settings: operator)
    args = build_parser().parse_args([*argv, "--table", "recoveries"])
    return operate_command(args, OperatorSettings.from_environment({}))


def test_exit_codes_say_requested_refused_done_and_not_found(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = Terminal()
    recovery = terminal.desk.open()
    alice, bob = terminal.operator("alice"), terminal.operator("bob")

    retried = run_command(["retry", recovery.recovery_id], alice, monkeypatch)
    request_id = alice.requested[0].request_id
    own = run_command(["approve", request_id], alice, monkeypatch)
    unknown = run_command(["approve", "nosuchrequest"], bob, monkeypatch)
    approved = run_command(["approve", request_id], bob, monkeypatch)
    listed = run_command(["approvals", "--mine"], alice, monkeypatch)

    assert (retried, own, unknown, approved, listed) == (WAITS_FOR_APPROVAL, 1, 2, 0, 0)
    assert "no request nosuchrequest" in capsys.readouterr().err


# ---------------------------------------------------------------------- who a terminal is
def test_a_terminal_is_its_aws_principal_not_its_user_name() -> None:
    # Given alice's request, and alice at a terminal whose user name says bob
    terminal = Terminal()
    recovery = terminal.desk.open()
    terminal.operator("alice").retry(recovery.recovery_id)
    (request,) = terminal.operator("alice").waiting(mine=True)
    disguised = terminal.operator("alice", terminal_user="bob")

    # When she approves her own request from there
    approved = disguised.approve(request.request_id)

    # Then she is refused as herself: nothing was sent
    assert approved == 1 and terminal.desk.tokens.calls == []
    assert "nobody approves or denies their own request" in terminal.said("alice")


def test_the_same_person_cannot_approve_from_slack_what_they_asked_from_a_terminal() -> None:
    terminal = Terminal()
    recovery = terminal.desk.open()
    alice = terminal.operator("alice")
    alice.retry(recovery.recovery_id)

    in_slack = terminal.desk.approvals.approve(alice.requested[0].request_id, ALICE)

    assert in_slack.outcome.value == "REFUSED" and terminal.desk.tokens.calls == []


def test_a_principal_the_policy_names_nowhere_neither_asks_nor_decides() -> None:
    terminal = Terminal()
    recovery = terminal.desk.open()
    carol = terminal.operator("carol")

    result = carol.retry(recovery.recovery_id)

    assert result.outcome is ActionOutcome.NEEDS_APPROVAL and carol.requested == []
    assert "names no person for this AWS principal" in terminal.said("carol")
    assert terminal.desk.store.get(recovery.recovery_id).approval is None


# ---------------------------------------------------------------------- naming command-line approvers
def test_a_policy_maps_command_line_principals_to_people_and_refuses_a_bad_mapping() -> None:
    policy = parse_rules(rules(CLI_POLICY), ChannelRouting("C")).rules[0].approval
    assert policy is not None
    assert policy.approver_ids() == (LEAD_A, ALICE, BOB)
    assert policy.person_at(PRINCIPALS["alice"]) == ALICE and policy.person_at(PRINCIPALS["carol"]) is None
    assert "2 AWS principals on the command line, as the users they are" in policy.describe()

    not_an_approver = {**CLI_POLICY, "cli_approvers": {PRINCIPALS["carol"]: "U0CAROL"}}
    with pytest.raises(RulesRefusedError) as refused:
        parse_rules(rules(not_an_approver), ChannelRouting("C"))
    assert any("'U0CAROL' is not one of the approvers' user_ids" in p for p in refused.value.problems)
    with pytest.raises(RulesRefusedError) as refused:
        parse_rules(rules({**CLI_POLICY, "cli_approvers": {"alice": ALICE}}), ChannelRouting("C"))
    assert any("must be an AWS principal's ARN" in p for p in refused.value.problems)
