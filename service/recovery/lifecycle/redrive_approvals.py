"""Four eyes on the two actions that are not a recovery's: a failed execution's Redrive and a DLQ
redrive. What Redrive (``failed_executions``) and the DLQs (``dead_letters``) ask before acting
(their ``gate``), and the runner of an approved Redrive (``Approvals.runners``).

Which policy applies:

- **Redrive** of a failed execution: the routing rule the failure matches, as a recovery would,
  on what its record knows: its state machine (name or ARN), its error, ``failed_state`` empty (a
  failure that went through no recovery names no paused step, so a rule that names a
  ``failed_state`` matches it only when its pattern matches the empty name, e.g. ``*``) and
  routing ``technical`` (where the execution watcher posts failures).
- **DLQ redrive**: no rule matches a queue, so the strictest reading applies: it needs approval
  when **any** rule's policy lists ``dlq_redrive``, under the first such rule's approvers, count,
  reason and expiry.

A covered action becomes a request (``Approvals.request_for``) instead of running; a request for
the same action on the same subject already waiting is named instead of making a second one.
Once approved, the action runs through its own claim (Redrive's lease, SQS's one move task per
queue) with the approved request in hand, so a retry, a second click or the reconciler never runs
it twice, and never without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from recovery_ops.service.recovery.access.routing_rules import Rule
from recovery_ops.service.recovery.failed_executions.failures import FailedExecution, FailureStatus, Redrive
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome
from recovery_ops.service.recovery.lifecycle.approvals import Approvals, Runner
from recovery_ops.service.recovery.model.approval import ApprovalRequest, Gated, Held
from recovery_ops.service.recovery.model.contract import Routing

FAILED_STATE = ""  # a failure's record names no paused step
FAILURE_ROUTING = Routing.TECHNICAL  # failures are posted to the technical channel


@dataclass
class RedriveApprovals:
    """The gate of Redrive and of the DLQ redrive, over the approvals and the rules they read."""

    approvals: Approvals

    # ------------------------------------------------------------------ which policy applies
    def redrive_rule(self, failure: FailedExecution) -> Rule | None:
        """The rule whose policy puts ``failure``'s Redrive under approval (None: none does)."""
        rules = self.approvals.gate.access.rules()
        rule = rules.route(failure.state_machine_arn, FAILED_STATE, failure.error, FAILURE_ROUTING).rule
        return rule if _covers(rule, Gated.REDRIVE) else None

    def dlq_rule(self) -> Rule | None:
        """The first rule whose policy lists ``dlq_redrive`` (None: a DLQ redrive needs none)."""
        rules = self.approvals.gate.access.rules()
        return next((rule for rule in rules.rules if _covers(rule, Gated.DLQ_REDRIVE)), None)

    # ------------------------------------------------------------------ the gates
    def hold_redrive(self, failure: FailedExecution, actor: str, reason: str | None) -> Held | None:
        rule = self.redrive_rule(failure)
        return None if rule is None else self._hold(failure.failure_id, Gated.REDRIVE, rule, actor, reason)

    def hold_dlq_redrive(self, subject: str, actor: str, reason: str | None) -> Held | None:
        rule = self.dlq_rule()
        return None if rule is None else self._hold(subject, Gated.DLQ_REDRIVE, rule, actor, reason)

    def _hold(self, subject: str, gated: Gated, rule: Rule, actor: str, reason: str | None) -> Held:
        waiting = self._waiting(subject, gated)
        if waiting is not None:
            return Held(
                f"request {waiting.request_id} ({waiting.describe()}) {waiting.status_line()} already: "
                "nothing more was asked, nothing ran",
                waiting.request_id,
            )
        decision = self.approvals.request_for([subject], gated, actor, rule, reason)
        request = decision.request
        if request is None:
            return Held(f"it needs approval under rule {rule.name!r}, but {decision.detail}: nothing ran")
        assert rule.approval is not None
        return Held(
            f"rule {rule.name!r} puts it under approval: request {request.request_id} "
            f"{request.status_line()} from {rule.approval.approvers.describe()} (never your own); "
            "nothing ran yet",
            request.request_id,
            new=True,
        )

    def _waiting(self, subject: str, gated: Gated) -> ApprovalRequest | None:
        now = self.approvals.clock()
        return next(
            (
                r
                for r in self.approvals.store.pending()
                if r.action is gated and subject in r.subjects and datetime.fromisoformat(r.expires_at) > now
            ),
            None,
        )


def _covers(rule: Rule | None, gated: Gated) -> bool:
    return rule is not None and rule.approval is not None and rule.approval.covers(gated)


def redrive_runner(redrive: Redrive) -> Runner:
    """An approved Redrive's run (``Approvals.runners[Gated.REDRIVE]``): Redrive's own claim, with
    the approved request in hand, as its requester; its outcome as an ``ActionOutcome``."""

    def run(request: ApprovalRequest, subject: str) -> str:
        result = redrive.redrive(subject, request.requested_by, approved=request)
        if result.done:
            return ActionOutcome.RESUMED  # the execution runs again from where it failed
        if result.failure is None:
            return ActionOutcome.NOT_FOUND
        return {
            FailureStatus.REDRIVEN: ActionOutcome.ALREADY_HANDLED,
            FailureStatus.REDRIVING: ActionOutcome.IN_FLIGHT,
        }.get(result.failure.status, ActionOutcome.FAILED)

    return run
