"""Four eyes: an action under its routing rule's approval policy waits for other people's approval.

A person's action that a policy covers (``access/routing_rules.py``, ``approval``) becomes a
*request* (``model/approval.py``) instead of running: it names exactly what would run (an edit's
input, kept with its digest), and waits for ``approvals`` people out of the policy's approvers,
never the requester. Each approval is one conditional write (``storage/approvals.py``), so
concurrent clicks count once each and exactly one completes the request; that approver's process
then runs exactly what was approved through the resolver (``actions.py``) under a lease, and the
reconciler runs it if that process is gone. A denial, a withdrawal or the expiry leaves the
recoveries open. Every step (a refusal too: a self-approval, someone who is not an approver) is
audited on the request and its recovery.

Nothing bypasses a policy: the resolver asks ``PolicyGate`` before any claim and runs an action the
policy covers only with an approved request that names it (a retry, a redelivered click, the
reconciler and self-healing carry none); ``BulkAction`` asks it for the bulk size.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.access.routing_rules import ApprovalPolicy, RoutingRules, Rule
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.lifecycle.actions import (
    UNCHANGED,
    ActionOutcome,
    ActionResult,
    RecoveryActions,
)
from recovery_ops.service.recovery.model.approval import (
    APPROVED,
    DENIED_REQUEST,
    EXPIRED_REQUEST,
    NOT_ON_RECOVERIES,
    REQUESTED,
    WITHDRAWN,
    Approval,
    ApprovalRequest,
    ApprovalState,
    Gated,
    input_digest,
)
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery
from recovery_ops.service.recovery.storage.approvals import (
    ApprovalConflictError,
    ApprovalNotFoundError,
    ApprovalStore,
)
from recovery_ops.service.recovery.storage.items import instant
from recovery_ops.service.recovery.storage.recoveries import (
    STORE_FAULTS,
    RecoveryNotFoundError,
    RecoveryStore,
)

DECIDE_ATTEMPTS = 8  # re-reads of a request another click changed meanwhile
RUN_LEASE_SECONDS = 120  # an approved run's lease, plus a second per subject
REFUSED = "DENIED"  # the audit result of an attempt that was not allowed (as the resolver's)

#: the Gated action of each resolver action
GATED_OF = {"run again": Gated.RUN_AGAIN, "edit and run again": Gated.EDIT, "reject": Gated.REJECT}


class DecisionOutcome(StrEnum):
    REQUESTED = "REQUESTED"  # a request was made; nothing ran
    COUNTED = "COUNTED"  # an approval counted; more are needed
    APPROVED = "APPROVED"  # the last approval: what was approved ran
    DENIED = "DENIED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"
    REFUSED = "REFUSED"  # not allowed (own request, not an approver, a reason missing …): audited
    ALREADY_DECIDED = "ALREADY_DECIDED"
    NOT_FOUND = "NOT_FOUND"


@dataclass
class Decision:
    outcome: DecisionOutcome
    request: ApprovalRequest | None
    detail: str = ""
    results: list[ActionResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome not in (DecisionOutcome.REFUSED, DecisionOutcome.NOT_FOUND)


class ApprovalDisplay(Protocol):
    """Where requests are shown (Slack). Failures raise; the request stands regardless."""

    def show_request(self, request: ApprovalRequest, recoveries: Sequence[Recovery], new: bool) -> None:
        """Show the request (on its recovery's message, or its own message for a bulk request); when
        ``new``, tell its approvers."""
        ...

    def show_decided(self, request: ApprovalRequest, recoveries: Sequence[Recovery]) -> None:
        """A request denied, withdrawn or expired: its recoveries are open, and why."""
        ...


class Runner(Protocol):
    """Runs an approved request's action on one subject (Redrive, DLQ redrive): its outcome."""

    def __call__(self, request: ApprovalRequest, subject: str) -> str: ...


# ---------------------------------------------------------------------- the gate
@dataclass
class PolicyGate:
    """What the resolver asks before any claim: does a policy put this action under approval?"""

    access: TeamAccess

    def policy(
        self, recovery: Recovery, gated: Gated, rules: RoutingRules | None = None
    ) -> tuple[Rule, ApprovalPolicy] | None:
        rule = self.access.rule_for(recovery, rules)
        if rule is None or rule.approval is None or not rule.approval.covers(gated):
            return None
        return rule, rule.approval

    def any_policy(self) -> bool:
        return any(rule.approval is not None for rule in self.access.rules().rules)

    def needs_approval(self, recovery: Recovery, action: str) -> str | None:
        """Why ``action`` on ``recovery`` needs an approved request (None: it does not)."""
        gated = GATED_OF.get(action)
        found = self.policy(recovery, gated) if gated is not None else None
        if found is None:
            return None
        rule, policy = found
        return f"rule {rule.name!r}: {action} needs {policy.approvals} approval(s) from {policy.who()}"

    def bulk_policy(
        self, recoveries: Sequence[Recovery], gated: Gated
    ) -> dict[str, tuple[Rule, list[Recovery]]]:
        """The recoveries of a bulk action a policy holds back, by rule: those whose rule puts the
        action itself under approval, and all of a rule's when the action takes more than its
        ``bulk_over`` of them."""
        rules = self.access.rules()
        by_rule: dict[str, tuple[Rule, list[Recovery]]] = {}
        for recovery in recoveries:
            rule = self.access.rule_for(recovery, rules)
            if rule is not None and rule.approval is not None:
                by_rule.setdefault(rule.name, (rule, []))[1].append(recovery)
        held: dict[str, tuple[Rule, list[Recovery]]] = {}
        for name, (rule, members) in by_rule.items():
            policy = rule.approval
            assert policy is not None
            over = (
                policy.covers(Gated.BULK) and policy.bulk_over is not None and len(members) > policy.bulk_over
            )
            if over or policy.covers(gated):
                held[name] = (rule, members)
        return held


# ---------------------------------------------------------------------- requests and decisions
@dataclass
class Approvals:
    store: ApprovalStore
    recoveries: RecoveryStore
    gate: PolicyGate
    actions: RecoveryActions
    display: ApprovalDisplay | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    runners: dict[Gated, Runner] = field(default_factory=dict)  # Redrive, DLQ redrive

    # ------------------------------------------------------------------ asking
    def request(
        self,
        recoveries: Sequence[Recovery],
        gated: Gated,
        actor: str,
        rule: Rule,
        new_input: Any = UNCHANGED,
        diff: str | None = None,
        reason: str | None = None,
        bulk: bool = False,
    ) -> Decision:
        """Ask for approval of ``gated`` on ``recoveries`` (one, or a bulk action's set under one
        rule). An edit keeps exactly ``new_input``. A request by the same person waiting on the same
        recovery is withdrawn first (an edit changed is approved again from the start)."""
        refused = _reason_missing(rule, reason)
        if refused is not None:
            return refused
        single = not bulk and len(recoveries) == 1
        if single and recoveries[0].approval is not None:
            waiting = recoveries[0].approval
            if waiting.requested_by != actor:
                return Decision(
                    DecisionOutcome.REFUSED,
                    None,
                    f"a request by {waiting.requested_by} ({waiting.action}) waits on it already: "
                    "approve or deny it first",
                )
            self.withdraw(waiting.request_id, actor, why="replaced by a new request")
        edit: dict[str, Any] = {}
        if new_input is not UNCHANGED:
            edit = {
                "has_input": True,
                "new_input": new_input,
                "digest": input_digest(new_input),
                "diff": diff,
            }
        request = self._new_request(
            [r.recovery_id for r in recoveries], gated, actor, rule, reason, bulk=bulk, **edit
        )
        entry = self._entry(actor, "request approval", REQUESTED, request, reason=reason or "")
        if not self.store.create(request, entry, recoveries[0].recovery_id if single else None):
            return Decision(
                DecisionOutcome.REFUSED,
                None,
                "the recovery is no longer open, or another request waits on it",
            )
        if not single:
            self._note_subjects(request, entry)
        logger.info(
            "approval requested", request_id=request.request_id, action=str(gated), subjects=len(recoveries)
        )
        self._show(request, new=True)
        return Decision(DecisionOutcome.REQUESTED, request, f"{request.describe()} {request.status_line()}")

    def request_for(
        self, subjects: Sequence[str], gated: Gated, actor: str, rule: Rule, reason: str | None = None
    ) -> Decision:
        """Ask for approval of ``gated`` on subjects that are not recoveries (a failure id for a
        Redrive, a DLQ's audit item for a DLQ redrive): no recovery is marked; the caller notes the
        request on its subject's own trail, where the later steps land (``ApprovalStore``)."""
        assert gated in NOT_ON_RECOVERIES
        refused = _reason_missing(rule, reason)
        if refused is not None:
            return refused
        request = self._new_request(list(subjects), gated, actor, rule, reason)
        entry = self._entry(actor, "request approval", REQUESTED, request, reason=reason or "")
        if not self.store.create(request, entry, None):
            return Decision(DecisionOutcome.REFUSED, None, "the request could not be stored; try again")
        logger.info(
            "approval requested", request_id=request.request_id, action=str(gated), subjects=len(subjects)
        )
        self._show(request, new=True)
        return Decision(DecisionOutcome.REQUESTED, request, f"{request.describe()} {request.status_line()}")

    def _new_request(
        self, subjects: list[str], gated: Gated, actor: str, rule: Rule, reason: str | None, **details: Any
    ) -> ApprovalRequest:
        """A PENDING request of ``gated`` on ``subjects`` under ``rule``'s policy, from now on
        (``details``: a bulk request's flag, an edit's input, digest and diff)."""
        policy = rule.approval
        assert policy is not None
        now = self.clock()
        return ApprovalRequest(
            request_id=uuid.uuid4().hex[:20],
            action=gated,
            subjects=subjects,
            requested_by=actor,
            requested_at=instant(now),
            expires_at=instant(now + timedelta(minutes=policy.expires_after_minutes)),
            needed=policy.approvals,
            approver_ids=policy.approver_ids(),
            approver_group=policy.approvers.user_group,
            rule=rule.name,
            reason=reason,
            **details,
        )

    # ------------------------------------------------------------------ deciding
    def approve(self, request_id: str, user: str) -> Decision:
        for _ in range(DECIDE_ATTEMPTS):
            request, refused = self._pending(request_id, user, "approve")
            if request is None:
                return refused
            why = self._may_not_decide(request, user)
            if why:
                return self._refuse(request, user, "approve", why)
            if user in request.approved_by:
                return Decision(DecisionOutcome.ALREADY_DECIDED, request, "you approved it already")
            now = self.clock()
            complete = len(request.approvals) + 1 >= request.needed
            owner = uuid.uuid4().hex if complete else None
            until = now + timedelta(seconds=RUN_LEASE_SECONDS + len(request.subjects)) if complete else None
            count = f"{len(request.approvals) + 1}/{request.needed}"
            entry = self._entry(user, "approve", APPROVED, request, approvals=count)
            try:
                counted = self.store.add_approval(request, Approval(user, instant(now)), entry, owner, until)
            except ApprovalConflictError:
                continue  # another click changed it: read it again
            if not complete or owner is None:
                self._show(counted)
                return Decision(DecisionOutcome.COUNTED, counted, f"approval counted ({count})")
            results = self.run_approved(counted, owner)
            return Decision(
                DecisionOutcome.APPROVED, counted, f"approved ({count}): {_summary(results)}", results
            )
        return Decision(DecisionOutcome.REFUSED, None, "the request kept changing; try again")

    def deny(self, request_id: str, user: str, reason: str | None = None) -> Decision:
        return self._decide(request_id, user, "deny", ApprovalState.DENIED, DENIED_REQUEST, reason)

    def withdraw(self, request_id: str, user: str, why: str | None = None) -> Decision:
        return self._decide(request_id, user, "withdraw", ApprovalState.WITHDRAWN, WITHDRAWN, why)

    def _decide(
        self, request_id: str, user: str, verb: str, state: ApprovalState, result: str, reason: str | None
    ) -> Decision:
        for _ in range(DECIDE_ATTEMPTS):
            request, refused = self._pending(request_id, user, verb)
            if request is None:
                return refused
            if state is ApprovalState.WITHDRAWN and user != request.requested_by:
                return self._refuse(request, user, verb, "only the requester withdraws a request")
            if state is ApprovalState.DENIED:
                why = self._may_not_decide(request, user)
                if why:
                    return self._refuse(request, user, verb, why)
            entry = self._entry(user, verb, result, request, reason=reason or "")
            try:
                self.store.decide(request, state, entry, user, reason)
            except ApprovalConflictError:
                continue
            decided = self.store.get(request_id)
            self._show_decided(decided)
            outcome = DecisionOutcome.DENIED if state is ApprovalState.DENIED else DecisionOutcome.WITHDRAWN
            return Decision(outcome, decided, f"{decided.describe()}: {decided.status_line()}; nothing ran")
        return Decision(DecisionOutcome.REFUSED, None, "the request kept changing; try again")

    # ------------------------------------------------------------------ running what was approved
    def run_approved(self, request: ApprovalRequest, owner: str) -> list[ActionResult]:
        """Run exactly what ``request`` approved on each subject still open, through the resolver
        (each claimed exactly once there), then mark it DONE with the outcomes."""
        results: list[ActionResult] = []
        outcomes: dict[str, str] = {}
        for subject in request.subjects:
            try:
                result = self._run_one(request, subject)
            except Exception as exc:  # noqa: BLE001 - one subject's fault never stops the rest
                logger.warning(
                    "approved action failed", request_id=request.request_id, error=type(exc).__name__
                )
                result = ActionResult(ActionOutcome.FAILED, None, type(exc).__name__)
            results.append(result)
            outcomes[subject] = str(result.outcome)
        try:
            self.store.finish(request, owner, outcomes)
        except STORE_FAULTS as exc:  # the run's lease ends; the reconciler finds it done (claims say so)
            logger.warning(
                "approved run not marked done", request_id=request.request_id, error=type(exc).__name__
            )
        return results

    def _run_one(self, request: ApprovalRequest, subject: str) -> ActionResult:
        actor = request.requested_by
        if request.action is Gated.EDIT:
            return self.actions.run_again(
                subject, actor, new_input=request.new_input, diff=request.diff, approved=request
            )
        if request.action is Gated.RUN_AGAIN:
            return self.actions.run_again(subject, actor, approved=request)
        if request.action is Gated.REJECT:
            return self.actions.reject(subject, actor, request.reason, approved=request)
        runner = self.runners.get(request.action)
        if runner is None:
            return ActionResult(ActionOutcome.FAILED, None, f"nothing here runs {request.action}")
        return ActionResult(ActionOutcome(runner(request, subject)), None)

    # ------------------------------------------------------------------ the reconciler's part
    def carry_on(self, request_id: str) -> str:
        """A request due: expire it (PENDING past its time) or run it (APPROVED, its run's lease
        ended: the process that held it is gone). What happened, for the report."""
        try:
            request = self.store.get(request_id)
        except ApprovalNotFoundError:
            return "gone"
        now = self.clock()
        if request.state is ApprovalState.PENDING and now >= datetime.fromisoformat(request.expires_at):
            return "expired" if self._expire(request) else "decided"
        if (
            request.state is ApprovalState.APPROVED
            and request.lease_until
            and now >= datetime.fromisoformat(request.lease_until)
        ):
            owner = uuid.uuid4().hex
            until = now + timedelta(seconds=RUN_LEASE_SECONDS + len(request.subjects))
            if not self.store.take_over(request, owner, until, now):
                return "taken"
            self.run_approved(request, owner)
            return "ran"
        return "not due"

    def _expire(self, request: ApprovalRequest) -> bool:
        entry = self._entry("reconciler", "expire", EXPIRED_REQUEST, request, expired_at=request.expires_at)
        try:
            self.store.decide(request, ApprovalState.EXPIRED, entry, "reconciler", "nobody decided in time")
        except ApprovalConflictError:
            return False
        self._show_decided(self.store.get(request.request_id))
        return True

    # ------------------------------------------------------------------ what waits for a person
    def waiting_for(
        self, user: str, pending: Sequence[ApprovalRequest] | None = None
    ) -> list[ApprovalRequest]:
        """The pending requests ``user`` may approve (not their own, not approved by them yet);
        ``pending``: as already read (``for_person`` reads them once for both lists)."""
        now = self.clock()
        return [
            r
            for r in (self.store.pending() if pending is None else pending)
            if now < datetime.fromisoformat(r.expires_at)
            and r.requested_by != user
            and user not in r.approved_by
            and self._is_approver(r, user)
        ]

    def requested_by(
        self, user: str, pending: Sequence[ApprovalRequest] | None = None
    ) -> list[ApprovalRequest]:
        return [r for r in (self.store.pending() if pending is None else pending) if r.requested_by == user]

    def for_person(self, user: str) -> tuple[list[ApprovalRequest], list[ApprovalRequest]]:
        """What waits for ``user``'s approval, and ``user``'s own waiting requests: one read."""
        pending = self.store.pending()
        return self.waiting_for(user, pending), self.requested_by(user, pending)

    # ------------------------------------------------------------------ steps
    def _pending(self, request_id: str, user: str, verb: str) -> tuple[ApprovalRequest | None, Decision]:
        try:
            request = self.store.get(request_id)
        except ApprovalNotFoundError:
            return None, Decision(DecisionOutcome.NOT_FOUND, None, f"No request {request_id}")
        if request.state is not ApprovalState.PENDING:
            return None, Decision(
                DecisionOutcome.ALREADY_DECIDED, request, f"{request.describe()}: {request.status_line()}"
            )
        if self.clock() >= datetime.fromisoformat(request.expires_at):
            self._expire(request)
            return None, Decision(
                DecisionOutcome.EXPIRED,
                request,
                f"{request.describe()} expired before enough people approved",
            )
        return request, Decision(DecisionOutcome.REFUSED, request)

    def _may_not_decide(self, request: ApprovalRequest, user: str) -> str | None:
        if user == request.requested_by:
            return "nobody approves or denies their own request"
        if not self._is_approver(request, user):
            return f"not an approver of rule {request.rule!r}"
        return None

    def _is_approver(self, request: ApprovalRequest, user: str) -> bool:
        what = f"the approvers of rule {request.rule!r}"
        return self.gate.access.policy.in_audience(
            user, request.approver_ids, request.approver_group, what
        ).allowed

    def _refuse(self, request: ApprovalRequest, user: str, verb: str, why: str) -> Decision:
        entry = self._entry(user, verb, REFUSED, request, why=why)
        try:
            self.store.note(request, entry)
        except STORE_FAULTS as exc:
            logger.warning("refusal not audited", request_id=request.request_id, error=type(exc).__name__)
        return Decision(DecisionOutcome.REFUSED, request, why)

    def _note_subjects(self, request: ApprovalRequest, entry: AuditEntry) -> None:
        """A bulk request's step on each subject's own audit (the request's trail holds it already)."""
        for subject in request.subjects:
            try:
                self.recoveries.append_audit(subject, entry)
            except STORE_FAULTS as exc:
                logger.warning(
                    "bulk request step not audited on a subject", recovery_id=subject, error=str(exc)
                )

    def _entry(
        self, actor: str, action: str, result: str, request: ApprovalRequest, **detail: str
    ) -> AuditEntry:
        base = {"request": request.request_id, "action": request.resolver_action}
        if request.has_input and request.digest:
            base["input_digest"] = request.digest
        if request.diff and action == "request approval":
            base["diff"] = request.diff[:2000]
        return AuditEntry(
            instant(self.clock()), actor, action, result, {**base, **{k: v for k, v in detail.items() if v}}
        )

    def _subjects(self, request: ApprovalRequest) -> list[Recovery]:
        if request.action in NOT_ON_RECOVERIES:
            return []  # a failure, a DLQ: no recovery to read
        found = []
        for subject in request.subjects[:100]:
            try:
                found.append(self.recoveries.get(subject))
            except (RecoveryNotFoundError, ClientError, BotoCoreError):
                continue
        return found

    def _show(self, request: ApprovalRequest, new: bool = False) -> None:
        if self.display is None:
            return
        try:
            self.display.show_request(request, self._subjects(request), new)
        except Exception as exc:  # noqa: BLE001 - the request stands; its message catches up
            logger.warning(
                "approval request not shown", request_id=request.request_id, error=type(exc).__name__
            )
            self._mark_stale(request)

    def _show_decided(self, request: ApprovalRequest) -> None:
        if self.display is None:
            return
        try:
            self.display.show_decided(request, self._subjects(request))
        except Exception as exc:  # noqa: BLE001
            logger.warning(
                "approval decision not shown", request_id=request.request_id, error=type(exc).__name__
            )
            self._mark_stale(request)

    def _mark_stale(self, request: ApprovalRequest) -> None:
        """A recovery message behind its request: the reconciler shows its stored state."""
        if request.bulk or request.action in NOT_ON_RECOVERIES:
            return
        for subject in request.subjects:
            try:
                self.recoveries.mark_display_stale(subject, self.clock())
            except STORE_FAULTS:
                continue


def _reason_missing(rule: Rule, reason: str | None) -> Decision | None:
    """The refusal of a request without the reason ``rule``'s policy requires (None: it may be made)."""
    policy = rule.approval
    assert policy is not None
    if policy.reason_required and not (reason or "").strip():
        return Decision(
            DecisionOutcome.REFUSED, None, f"rule {rule.name!r} requires a reason for this request"
        )
    return None


def _summary(results: list[ActionResult]) -> str:
    if len(results) == 1:
        return str(results[0].outcome).lower().replace("_", " ")
    counts: dict[str, int] = {}
    for result in results:
        counts[str(result.outcome)] = counts.get(str(result.outcome), 0) + 1
    return ", ".join(f"{n} {o.lower()}" for o, n in sorted(counts.items()))
