"""Self-healing under an approval policy, over plain fakes: what a policy covers is never resumed,
probed with or counted on the run; one request per rule asks for it, a later round asks no
duplicate, and an approver's approval resumes exactly what was asked for."""

from __future__ import annotations

from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import RoutingRules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.healing.self_healing import APPROVAL_ACTOR
from recovery_ops.service.recovery.lifecycle.approvals import Approvals, DecisionOutcome, PolicyGate
from recovery_ops.service.recovery.model.approval import ApprovalState, Gated
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.approvals import ApprovalStore
from tests.unit.test_self_healing import (
    NOW,
    OPEN_UNTIL,
    TABLE,
    VENDOR,
    Rig,
    a_rig,
    heal_until_done,
    open_circuit,
    outage_recovery,
    rules,
)

LEAD = "U0LEAD"
BILLING_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:billing"
ORDERS_NEED_APPROVAL = rules(
    {
        "name": "orders",
        "match": {"state_machine": "orders"},
        "channel": "C-O",
        "self_healing": True,
        "approval": {"actions": ["run_again"], "approvers": {"user_ids": [LEAD]}, "reason_required": True},
    },
    {"name": "billing", "match": {"state_machine": "billing"}, "channel": "C-B", "self_healing": True},
)


def under_policy(rig: Rig, in_force: RoutingRules = ORDERS_NEED_APPROVAL) -> Approvals:
    """The rig's resolver asks the rules' policies, and self-healing asks for what they hold back."""
    gate = PolicyGate(TeamAccess(AccessPolicy(), lambda: in_force))
    rig.healing.actions.gate = gate
    approvals = Approvals(
        ApprovalStore(TABLE, rig.dynamodb), rig.store, gate, rig.healing.actions, clock=lambda: NOW
    )
    rig.healing.approvals = approvals
    return approvals


def test_what_a_policy_covers_is_not_resumed_but_asked_for_in_one_request_and_the_rest_resumes() -> None:
    # Given three recoveries of the outage: two whose rule puts Run again under approval, one whose does not
    billing = outage_recovery(3, group="grp-billing", state_machine_arn=BILLING_ARN)
    rig = a_rig(outage_recovery(1), outage_recovery(2), billing, rules_in_force=ORDERS_NEED_APPROVAL)
    approvals = under_policy(rig)

    # When self-healing runs until done
    reports = heal_until_done(rig)

    # Then only the one without a policy resumed; the two wait under one bulk request of self-healing's
    assert rig.tokens.accepted == ["token-3"]
    assert sum(r.resumed for r in reports) == 1
    assert reports[0].awaiting_approval == 2 and reports[-1].done
    (request,) = approvals.store.pending()
    assert request.request_id in reports[0].approval_requests
    assert sorted(request.subjects) == [outage_recovery(n).recovery_id for n in (1, 2)]
    assert (request.action, request.requested_by, request.bulk) == (Gated.RUN_AGAIN, APPROVAL_ACTOR, True)
    assert request.reason and "vendor" in request.reason  # the policy requires a reason: one is given
    # and the held ones are neither failures nor left for people on the run: it resumed all it selected
    assert sum(r.left_for_people for r in reports) == 0
    (run,) = rig.runs.of_closure(VENDOR).values()
    assert (run.resumed, run.left) == (1, 0)


def test_a_second_run_files_no_duplicate_and_the_approval_resumes_exactly_those_asked_for() -> None:
    # Given self-healing asked for two recoveries' resumption
    rig = a_rig(outage_recovery(1), outage_recovery(2), rules_in_force=ORDERS_NEED_APPROVAL)
    approvals = under_policy(rig)
    heal_until_done(rig)

    # When the state machine runs it again (a retried round), and again
    again = [rig.healing.round(VENDOR, 60.0) for _ in range(2)]

    # Then no second request: the one waiting names them; nothing was sent
    (request,) = approvals.store.pending()
    assert all(r.approval_requests == [] and r.awaiting_approval == 2 for r in again)
    assert rig.tokens.accepted == []

    # When an approver approves it
    decided = approvals.approve(request.request_id, LEAD)

    # Then both resume, under the approval
    assert decided.outcome is DecisionOutcome.APPROVED
    assert sorted(rig.tokens.accepted) == ["token-1", "token-2"]
    assert all(s is RecoveryStatus.RESUMED for s in rig.statuses().values())


def test_a_single_recovery_gets_a_request_of_its_own_and_a_denial_is_not_asked_again_this_closing() -> None:
    # Given one recovery held back by the policy
    rig = a_rig(outage_recovery(1), rules_in_force=ORDERS_NEED_APPROVAL)
    approvals = under_policy(rig)
    first = rig.healing.round(VENDOR, 60.0)
    (request,) = approvals.store.pending()
    marked = rig.store.get(outage_recovery(1).recovery_id).approval

    # When a retried round runs while it waits, then an approver denies it and another round runs
    waiting = rig.healing.round(VENDOR, 60.0)
    approvals.deny(request.request_id, LEAD, reason="not during the audit")
    after_denial = rig.healing.round(VENDOR, 60.0)

    # Then one request, on the recovery itself, never replaced, and nothing asked again after the denial
    assert first.approval_requests == [request.request_id] and not request.bulk
    assert marked is not None and marked.request_id == request.request_id
    assert waiting.approval_requests == [] and after_denial.approval_requests == []
    assert approvals.store.get(request.request_id).state is ApprovalState.DENIED
    assert rig.tokens.accepted == []
    assert rig.statuses()[outage_recovery(1).recovery_id] is RecoveryStatus.OPEN


def test_without_approvals_wired_a_held_recovery_is_still_not_resumed() -> None:
    rig = a_rig(outage_recovery(1), rules_in_force=ORDERS_NEED_APPROVAL)
    under_policy(rig)
    rig.healing.approvals = None

    (report,) = heal_until_done(rig)

    assert report.awaiting_approval == 1 and report.approval_requests == []
    assert rig.tokens.accepted == []


def test_the_probe_resumes_the_oldest_recovery_no_policy_holds_back() -> None:
    # Given a circuit nobody probed past its grace: its oldest recovery held back by the policy
    billing = outage_recovery(2, group="grp-billing", state_machine_arn=BILLING_ARN)
    rig = a_rig(outage_recovery(1), billing, rules_in_force=ORDERS_NEED_APPROVAL)
    under_policy(rig)

    # When
    probed = rig.healing.probe([open_circuit()], now=OPEN_UNTIL.timestamp() + 61, grace_seconds=60)

    # Then the next oldest probes it, the held one is left alone
    assert probed == [billing.recovery_id] and rig.tokens.accepted == ["token-2"]
