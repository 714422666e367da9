"""Four eyes on Redrive and DLQ redrive: under a policy each becomes a request, and runs exactly once
when approved; without one, nothing changes. Over plain fakes: one in-memory table holds the
failures, the DLQ's audit item and the requests; Step Functions and SQS record what they were asked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.dead_letters.audit import DeadLetterAudit
from recovery_ops.service.recovery.dead_letters.queues import (
    RECOVERY,
    DeadLetterQueues,
    MoveTask,
    dlq_subject,
    standard_queues,
)
from recovery_ops.service.recovery.failed_executions.failures import (
    FailedExecution,
    FailureStatus,
    FailureStore,
    Redrive,
    failure_id_for,
)
from recovery_ops.service.recovery.lifecycle.actions import RecoveryActions, ThrottleBackoff
from recovery_ops.service.recovery.lifecycle.approvals import Approvals, DecisionOutcome, PolicyGate
from recovery_ops.service.recovery.lifecycle.redrive_approvals import RedriveApprovals, redrive_runner
from recovery_ops.service.recovery.model.approval import ApprovalState, Gated, Held
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.service.recovery.storage.approvals import ApprovalStore
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB, FakeTaskTokens

TABLE = "recoveries"
ADMIN, LEAD_A, LEAD_B = "U0ADMIN", "U0LEADA", "U0LEADB"
PREFIX = "https://sqs.us-east-1.amazonaws.com/123456789012/"
ARN = "arn:aws:sqs:us-east-1:123456789012:"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:"


def rules(*approvals: tuple[str, dict[str, Any]], error: str | None = None) -> str:
    """A rule per ``(state machine, policy)``, then a catch-all rule without a policy."""
    listed: list[dict[str, Any]] = []
    for machine, policy in approvals:
        match: dict[str, Any] = {"state_machine": machine, **({"error": error} if error else {})}
        listed.append({"name": machine, "match": match, "channel": "C-" + machine, "approval": policy})
    listed.append({"name": "everything else", "channel": "C-OTHER"})
    return json.dumps({"rules": listed})


def policy(*actions: str, approvals: int = 2, **more: Any) -> dict[str, Any]:
    return {
        "actions": list(actions),
        "approvals": approvals,
        "approvers": {"user_ids": [LEAD_A, LEAD_B]},
        **more,
    }


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class RedrivingStepFunctions:
    def __init__(self, clock: Clock) -> None:
        self.clock, self.redriven = clock, []

    def redrive_execution(self, executionArn: str) -> dict:  # noqa: N803
        self.redriven.append(executionArn)
        return {"redriveDate": self.clock()}


class MovingSqs:
    """SQS's move tasks: one runs at a time per source queue, once started."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []

    def get_queue_attributes(self, QueueUrl: str, AttributeNames: list[str]) -> dict:  # noqa: N803
        if AttributeNames == ["QueueArn"]:
            return {"Attributes": {"QueueArn": ARN + QueueUrl.rsplit("/", 1)[-1]}}
        return {
            "Attributes": {"ApproximateNumberOfMessages": "7", "ApproximateNumberOfMessagesNotVisible": "0"}
        }

    def list_message_move_tasks(self, SourceArn: str, MaxResults: int) -> dict:  # noqa: N803
        running = [
            {"TaskHandle": f"task-{i}", "Status": "RUNNING"}
            for i, task in enumerate(self.started)
            if task["SourceArn"] == SourceArn
        ]
        return {"Results": running[-1:]}

    def start_message_move_task(self, **task: Any) -> dict:
        self.started.append(task)
        return {"TaskHandle": f"task-{len(self.started) - 1}"}


class Desk:
    """Redrive and the DLQs gated by the approvals, as the services compose them."""

    def __init__(self, document: str) -> None:
        self.db = FakeDynamoDB()
        self.clock = Clock()
        self.runs = 0
        parsed = parse_rules(document, ChannelRouting("C-DEFAULT"))
        access = TeamAccess(AccessPolicy(allowed_users=frozenset({ADMIN})), lambda: parsed)
        store = RecoveryStore(TABLE, self.db)
        actions = RecoveryActions(
            store, FakeTaskTokens(), backoff=ThrottleBackoff(sleep=lambda _: None), clock=self.clock
        )
        self.approvals = Approvals(
            ApprovalStore(TABLE, self.db), store, PolicyGate(access), actions, clock=self.clock
        )
        gate = RedriveApprovals(self.approvals)
        self.failures = FailureStore(TABLE, self.db)
        self.sfn = RedrivingStepFunctions(self.clock)
        self.redrive = Redrive(self.failures, self.sfn, clock=self.clock, gate=gate)
        self.sqs = MovingSqs()
        queues = standard_queues(PREFIX + "orders-dlq", PREFIX + "recovery-dlq", PREFIX + "recovery-q")
        self.dlq = DeadLetterQueues(self.sqs, queues, audit=DeadLetterAudit(TABLE, self.db), clock=self.clock)
        self.dlq.gate = gate
        self.approvals.runners = {
            Gated.REDRIVE: redrive_runner(self.redrive),
            Gated.DLQ_REDRIVE: self.dlq.run_approved,
        }

    def failure(self, machine: str = "payments", error: str = "Boom") -> str:
        self.runs += 1
        arn = f"arn:aws:states:us-east-1:123456789012:execution:{machine}:run-{self.runs}"
        failure = FailedExecution(
            failure_id_for(arn),
            arn,
            f"run-{self.runs}",
            MACHINE + machine,
            "FAILED",
            error,
            None,
            self.clock().isoformat(),
        )
        self.failures.create_if_absent(failure)
        return failure.failure_id

    def trail(self, failure_id: str) -> list[tuple[str, str, str]]:
        return [(e.actor, e.action, e.result) for e in self.failures.get(failure_id).audit]


# ---------------------------------------------------------------------- Redrive of a failed execution
def test_a_redrive_under_a_policy_waits_for_two_approvals_then_redrives_exactly_once() -> None:
    # Given a failure of a state machine whose rule puts Redrive under two approvals
    desk = Desk(rules(("payments", policy("redrive"))))
    failure_id = desk.failure()

    # When an admin clicks Redrive, clicks again, and two leads approve the request
    asked = desk.redrive.redrive(failure_id, ADMIN)
    again = desk.redrive.redrive(failure_id, ADMIN)
    first = desk.approvals.approve(asked.request_id or "", LEAD_A)
    redriven_after_one = list(desk.sfn.redriven)
    second = desk.approvals.approve(asked.request_id or "", LEAD_B)

    # Then nothing was redriven until the second approval, and then once, as the requester
    assert asked.held and not asked.done and asked.request_id and "2 more approvals" in asked.detail
    assert again.held and again.request_id == asked.request_id  # no second request
    assert first.outcome is DecisionOutcome.COUNTED and redriven_after_one == []
    assert second.outcome is DecisionOutcome.APPROVED
    assert desk.sfn.redriven == [desk.failures.get(failure_id).execution_arn]
    assert desk.failures.get(failure_id).status is FailureStatus.REDRIVEN
    request = desk.approvals.store.get(asked.request_id or "")
    assert request.state is ApprovalState.DONE and request.results == {failure_id: "RESUMED"}
    assert desk.trail(failure_id) == [
        (ADMIN, "request approval", "APPROVAL_PENDING"),
        (LEAD_A, "approve", "APPROVED"),
        (LEAD_B, "approve", "APPROVED"),
        (ADMIN, "redrive", "REDRIVING"),
        (ADMIN, "redrive", "REDRIVEN"),
    ]
    claim = desk.failures.get(failure_id).audit[3]
    assert claim.detail == {"approval": asked.request_id, "approved_by": f"{LEAD_A}, {LEAD_B}"}


def test_an_approved_redrive_run_again_by_the_reconciler_redrives_nothing_more() -> None:
    # Given a Redrive approved and run
    desk = Desk(rules(("payments", policy("redrive", approvals=1))))
    failure_id = desk.failure()
    asked = desk.redrive.redrive(failure_id, ADMIN)
    desk.approvals.approve(asked.request_id or "", LEAD_A)
    request = desk.approvals.store.get(asked.request_id or "")
    request.state = ApprovalState.APPROVED  # as its run held it, before it was marked done

    # When its run is carried out again (a retry, the reconciler after a lost answer)
    outcome = redrive_runner(desk.redrive)(request, failure_id)

    # Then the claim holds: still one redrive
    assert outcome == "ALREADY_HANDLED" and len(desk.sfn.redriven) == 1


def test_a_request_that_does_not_approve_this_redrive_runs_nothing() -> None:
    desk = Desk(rules(("payments", policy("redrive", approvals=1))))
    failure_id, other_id = desk.failure(), desk.failure("payments-eu")
    asked = desk.redrive.redrive(failure_id, ADMIN)
    desk.approvals.deny(asked.request_id or "", LEAD_A, "not now")
    denied = desk.approvals.store.get(asked.request_id or "")

    on_denied = desk.redrive.redrive(failure_id, ADMIN, approved=denied)
    on_other = desk.redrive.redrive(other_id, ADMIN, approved=denied)

    assert not on_denied.done and "denied" in on_denied.detail
    assert not on_other.done and desk.sfn.redriven == []
    assert desk.failures.get(failure_id).status is FailureStatus.UNHANDLED


def test_the_requesters_own_approval_of_a_redrive_is_refused() -> None:
    desk = Desk(rules(("payments", policy("redrive", approvals=1))))
    failure_id = desk.failure()
    asked = desk.redrive.redrive(failure_id, LEAD_A)

    own = desk.approvals.approve(asked.request_id or "", LEAD_A)

    assert own.outcome is DecisionOutcome.REFUSED and desk.sfn.redriven == []
    assert desk.trail(failure_id)[-1] == (LEAD_A, "approve", "DENIED")


def test_a_redrive_matches_its_rule_by_state_machine_and_error() -> None:
    # Given a policy on the payments state machine's Timeout failures only
    desk = Desk(rules(("payments", policy("redrive")), error="States.Timeout"))

    # When failures of other errors and other state machines are redriven
    boom = desk.redrive.redrive(desk.failure(error="Boom"), ADMIN)
    other = desk.redrive.redrive(desk.failure("orders", error="States.Timeout"), ADMIN)
    timeout = desk.redrive.redrive(desk.failure("payments-x", error="States.Timeout"), ADMIN)
    covered = desk.redrive.redrive(desk.failure(error="States.Timeout"), ADMIN)

    # Then only the failure the rule matches waits
    assert boom.done and other.done and timeout.done
    assert covered.held and not covered.done
    assert len(desk.sfn.redriven) == 3


def test_a_policy_that_does_not_list_redrive_leaves_redrive_as_it_was() -> None:
    desk = Desk(rules(("payments", policy("edit", "reject"))))
    failure_id = desk.failure()

    result = desk.redrive.redrive(failure_id, ADMIN)

    assert result.done and not result.held and len(desk.sfn.redriven) == 1
    assert desk.approvals.store.pending() == []


def test_a_redrive_whose_rule_requires_a_reason_is_not_run_without_one() -> None:
    desk = Desk(rules(("payments", policy("redrive", reason_required=True))))
    failure_id = desk.failure()

    bare = desk.redrive.redrive(failure_id, ADMIN)
    with_reason = desk.redrive.redrive(failure_id, ADMIN, reason="the downstream fix is deployed")

    assert bare.held and bare.request_id is None and "requires a reason" in bare.detail
    assert with_reason.held and with_reason.request_id is not None
    assert desk.sfn.redriven == []


# ---------------------------------------------------------------------- DLQ redrive
def test_a_dlq_redrive_waits_when_any_rule_lists_it_then_starts_one_move_task_once_approved() -> None:
    # Given a later rule (of another team) whose policy lists dlq_redrive
    desk = Desk(rules(("payments", policy("edit")), ("orders", policy("dlq_redrive"))))

    # When the recovery DLQ is redriven, asked again, and two of that rule's approvers approve
    asked = desk.dlq.redrive(RECOVERY, ADMIN)
    again = desk.dlq.redrive(RECOVERY, ADMIN)
    assert isinstance(asked, Held) and isinstance(again, Held)
    desk.approvals.approve(asked.request_id or "", LEAD_A)
    started_after_one = list(desk.sqs.started)
    second = desk.approvals.approve(asked.request_id or "", LEAD_B)

    # Then no move task started until the second approval, then one at the deployment's rate
    assert asked.request_id and "rule 'orders'" in asked.detail and again.request_id == asked.request_id
    assert started_after_one == []
    assert second.outcome is DecisionOutcome.APPROVED
    assert desk.sqs.started == [
        {
            "SourceArn": ARN + "recovery-dlq",
            "DestinationArn": ARN + "recovery-q",
            "MaxNumberOfMessagesPerSecond": 10,
        }
    ]
    queue = desk.dlq.queue(RECOVERY)
    request = desk.approvals.store.get(asked.request_id or "")
    assert request.subjects == [dlq_subject(queue)] and request.results == {dlq_subject(queue): "RESUMED"}
    trail = desk.dlq.audit.history(queue) if desk.dlq.audit else []
    assert [(e.actor, e.action, e.result) for e in trail] == [
        (ADMIN, "request approval", "APPROVAL_PENDING"),
        (LEAD_A, "approve", "APPROVED"),
        (LEAD_B, "approve", "APPROVED"),
        (ADMIN, "redrive dlq", "STARTED"),
    ]
    last = desk.dlq.audit.last_redrive(queue) if desk.dlq.audit else None
    assert last is not None and last.detail["approval"] == asked.request_id


def test_an_approved_dlq_redrive_run_twice_starts_no_second_move_task() -> None:
    desk = Desk(rules(("orders", policy("dlq_redrive", approvals=1))))
    asked = desk.dlq.redrive(RECOVERY, ADMIN)
    assert isinstance(asked, Held)
    desk.approvals.approve(asked.request_id or "", LEAD_A)
    request = desk.approvals.store.get(asked.request_id or "")
    request.state = ApprovalState.APPROVED  # as its run held it, before it was marked done

    again = desk.dlq.run_approved(request, request.subjects[0])

    assert again == "ALREADY_HANDLED" and len(desk.sqs.started) == 1


def test_an_expired_dlq_request_moves_nothing() -> None:
    desk = Desk(rules(("orders", policy("dlq_redrive", approvals=1, expires_after_minutes=30))))
    asked = desk.dlq.redrive(RECOVERY, ADMIN)
    assert isinstance(asked, Held)

    desk.clock.now += timedelta(minutes=31)
    late = desk.approvals.approve(asked.request_id or "", LEAD_A)

    assert late.outcome is DecisionOutcome.EXPIRED and desk.sqs.started == []


def test_without_a_dlq_policy_a_dlq_redrive_starts_at_once() -> None:
    desk = Desk(rules(("payments", policy("redrive", "edit"))))

    task = desk.dlq.redrive(RECOVERY, ADMIN, rate_per_second=25)

    assert isinstance(task, MoveTask) and task.started and len(desk.sqs.started) == 1
    assert desk.approvals.store.pending() == []


def test_the_command_lines_dlq_redrive_under_a_policy_makes_a_request_and_moves_nothing() -> None:
    # Given the DLQs gated by a policy, as the command line builds them on a deployment's table
    import argparse

    from recovery_ops.service.cli import dead_letters as cli

    desk = Desk(rules(("orders", policy("dlq_redrive"))))
    said: list[str] = []
    args = argparse.Namespace(rate=None, yes=True, reason="consumer fixed")

    # When `recovery-ops dlq redrive --yes --reason ...` runs
    status = cli._redrive(desk.dlq, args, said.append, lambda _: True)

    # Then a request waits with the reason, and no move task started
    assert status == 0 and desk.sqs.started == []
    assert said[0].startswith("Waiting for approval: rule 'orders' puts it under approval: request ")
    [request] = desk.approvals.store.pending()
    assert request.reason == "consumer fixed" and request.requested_by.startswith("cli:")
