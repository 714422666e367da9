"""Run again and Reject: the only code that hands a task token back to its workflow.

Exactly once, on the product's own account: a recovery moves OPEN → RESUMING with a conditional
write (the claim) before any call is made, so of two clicks (two people, a double click, Slack
retrying the request, the CLI and Slack at once) only the first reaches Step Functions; the others
are told who is handling it. The claim is a lease: it names its holder (one action in one process)
and lasts ``lease_seconds``; the holder renews it before each call that would outlive it and makes
no call once it has lost it. A claim whose process is gone is settled by the reconciler
(``reconciler.py``) from Step Functions' own record, never by sending again.

Then the call, through the task-token port (``task_tokens.py``): success with the step's input (or
the edited one), or failure with ``RecoveryRejected``; a throttled call is tried again after a
jittered pause. The answers:
- accepted: RESUMED or REJECTED, audited;
- a dead token (the step timed out, the execution was stopped or redriven elsewhere): EXPIRED;
- refused for another reason (nothing happened): RESUMING → OPEN, so someone can try again;
- no answer (a timeout, a dropped connection): unknown, never "refused". The execution's record
  is asked at once; what it cannot tell yet stays in flight, under its lease, for the reconciler.

A fault after the call (the outcome write throttled, a read that fails) never turns what Step
Functions accepted into anything else: the recovery stays in flight and is settled from the record.
The Slack app, the CLI and bulk actions all go through here; every attempt lands in the audit.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Any, Protocol

from recovery_ops.service import observability
from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.model.approval import ApprovalRequest, ApprovalState, input_digest
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.task_tokens import (
    TaskTokens,
    TaskTokensByKind,
    TokenOutcome,
    TokenResult,
    tokens_by_kind,
)
from recovery_ops.service.recovery.storage.recoveries import (
    DISPLAY_GRACE,
    STORE_FAULTS,
    RecoveryNotFoundError,
    RecoveryStore,
)

REJECTED_ERROR = "RecoveryRejected"
CAUSE_LIMIT = 32768  # SendTaskFailure's cause limit
DENIED = "DENIED"


class _Unchanged:
    """The input of a plain Run again: the step's own (distinct from an edit to JSON ``null``)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()


class ActionOutcome(StrEnum):
    RESUMED = "RESUMED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"  # the token was dead: nothing to resume any more
    ALREADY_HANDLED = "ALREADY_HANDLED"  # someone else's click won
    NOT_FOUND = "NOT_FOUND"
    FAILED = "FAILED"  # Step Functions refused for another reason; the recovery is open again
    IN_FLIGHT = "IN_FLIGHT"  # not known yet: the recovery stays in flight until settled from the record
    NEEDS_APPROVAL = "NEEDS_APPROVAL"  # a policy puts it under approval: nothing was claimed or sent


@dataclass(frozen=True)
class ActionResult:
    outcome: ActionOutcome
    recovery: Recovery | None
    detail: str = ""
    handled_by: str | None = None

    @property
    def done(self) -> bool:
        return self.outcome in (ActionOutcome.RESUMED, ActionOutcome.REJECTED)


class Settler(Protocol):
    """Settles an in-flight recovery from Step Functions' record (``reconciler.Reconciler``)."""

    def settle_claim(self, recovery: Recovery, owner: str) -> ActionResult | None:
        """The outcome the record proves for ``owner``'s claim, stored and shown; None when the
        record cannot tell yet (the recovery stays in flight)."""
        ...


class ApprovalGate(Protocol):
    """The routing rules' approval policies, as the resolver asks them (``approvals.PolicyGate``)."""

    def any_policy(self) -> bool:
        """Does any rule have a policy (no: nothing to read before a claim)."""
        ...

    def needs_approval(self, recovery: Recovery, action: str) -> str | None:
        """Why ``action`` on ``recovery`` needs an approved request; None when it does not."""
        ...


class OutcomeDisplay(Protocol):
    """Where a closed recovery's outcome is shown (its Slack message). A failure raises: the
    recovery is marked for the reconciler, which carries the update on."""

    def show_outcome(self, recovery: Recovery) -> None: ...


@dataclass(frozen=True)
class ThrottleBackoff:
    """SendTask* calls share a token bucket per account: back off on throttling, with full jitter."""

    attempts: int = 8
    base_seconds: float = 0.2
    max_seconds: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    def pause(self, attempt: int) -> None:
        self.sleep(random.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt)))


#: a call with no answer: how many times the record is asked before the recovery is left in flight
#: for the reconciler (Step Functions' history may show a landed call a moment after it lands)
RECORD_ASKS = 3
RECORD_PAUSE_SECONDS = 0.5  # before the second ask; the third waits twice as long

#: how long a claim holds a recovery before the reconciler may settle it; longer than any one
#: call to Step Functions (botocore's timeouts and retries), far shorter than a person waits
LEASE_SECONDS = 120
#: a call is made only with at least this much of the lease left (else the lease is renewed first)
CALL_BUDGET_SECONDS = 60
OUTCOME_WRITE_ATTEMPTS = 3


class RecoveryActions:
    def __init__(
        self,
        store: RecoveryStore,
        tokens: TaskTokens | TaskTokensByKind,
        display: OutcomeDisplay | None = None,
        backoff: ThrottleBackoff | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        settler: Settler | None = None,
        lease_seconds: int = LEASE_SECONDS,
        gate: ApprovalGate | None = None,
    ) -> None:
        self.store = store
        self._tokens = tokens_by_kind(tokens)  # a recovery's kind picks its adapter
        self._display = display
        self._backoff = backoff or ThrottleBackoff()
        self._clock = clock
        self.settler = settler
        self._lease = timedelta(seconds=lease_seconds)
        self.gate = gate  # the approval policies: asked before any claim (None: no policies)
        #: SendTask* calls Step Functions throttled so far (self-healing's ramp slows down on them);
        #: counted under a lock, as self-healing's workers resume concurrently
        self.throttles = 0
        self._throttles_lock = threading.Lock()

    # ------------------------------------------------------------------ actions
    def run_again(
        self,
        recovery_id: str,
        actor: str,
        new_input: Any = UNCHANGED,
        diff: str | None = None,
        show: bool = True,
        audit_detail: dict[str, str] | None = None,
        show_later: bool = False,
        show_within: timedelta | None = None,
        approved: ApprovalRequest | None = None,
        recovery: Recovery | None = None,
    ) -> ActionResult:
        """Resume the paused step with its input, or with ``new_input`` (an edit, whatever JSON it is,
        ``null`` included, whose ``diff`` is audited). ``audit_detail`` joins the claim's audit entry
        (self-healing names the circuit closing it acts for). ``show_later``: the caller shows the
        outcome itself afterwards (a bulk run's refresh); until it does the recovery is due for the
        reconciler's display check, as with ``show``, once ``show_within`` has passed (default
        ``DISPLAY_GRACE``: a bulk run gives its own length, so that the reconciler steps in only when
        the run died before its refresh)."""
        edited = new_input is not UNCHANGED
        action = "edit and run again" if edited else "run again"
        held = self._held(recovery_id, action, approved, recovery, new_input)
        if held is not None:
            return held
        detail = {
            **(audit_detail or {}),
            **({"diff": diff} if edited and diff else {}),
            **_approval_detail(approved),
        }
        owner = _claim_id()
        claimed = self._claim(recovery_id, actor, action, detail, owner)
        if isinstance(claimed, ActionResult):
            return claimed
        output = json.dumps(new_input if edited else claimed.input, ensure_ascii=False)
        return self._finish(
            claimed,
            owner,
            actor,
            action,
            lambda: self._tokens.of(claimed.kind).send_success(claimed.task_token, output),
            RecoveryStatus.RESUMED,
            {},
            show,
            mark=show or show_later,
            show_within=show_within,
        )

    def reject(
        self,
        recovery_id: str,
        actor: str,
        reason: str | None = None,
        show: bool = True,
        show_later: bool = False,
        show_within: timedelta | None = None,
        approved: ApprovalRequest | None = None,
        recovery: Recovery | None = None,
    ) -> ActionResult:
        """Fail the paused step with ``RecoveryRejected``: the workflow compensates (``show_later``,
        ``show_within``: as for ``run_again``)."""
        held = self._held(recovery_id, "reject", approved, recovery, UNCHANGED)
        if held is not None:
            return held
        detail = {**({"reason": reason} if reason else {}), **_approval_detail(approved)}
        owner = _claim_id()
        claimed = self._claim(recovery_id, actor, "reject", detail, owner)
        if isinstance(claimed, ActionResult):
            return claimed
        cause = f"Rejected by {actor}" + (f": {reason}" if reason else " (no reason given)")
        return self._finish(
            claimed,
            owner,
            actor,
            "reject",
            lambda: self._tokens.of(claimed.kind).send_failure(
                claimed.task_token, REJECTED_ERROR, cause[:CAUSE_LIMIT]
            ),
            RecoveryStatus.REJECTED,
            detail,
            show,
            mark=show or show_later,
            show_within=show_within,
        )

    def show(self, recovery: Recovery) -> None:
        """Show a recovery's stored state where its message is (if there is a display). When that
        fails, the recovery is marked so the reconciler carries the update on."""
        if self._display is not None:
            show_stored_outcome(self._display, self.store, recovery, self._clock())

    def record_denied(self, recovery_id: str, actor: str, action: str, why: str) -> None:
        """An attempt by someone not allowed to act: audited, nothing else happens."""
        self.store.append_audit(recovery_id, AuditEntry(self._now(), actor, action, DENIED, {"why": why}))

    # ------------------------------------------------------------------ steps
    def _held(
        self,
        recovery_id: str,
        action: str,
        approved: ApprovalRequest | None,
        recovery: Recovery | None,
        new_input: Any,
    ) -> ActionResult | None:
        """Why ``action`` may not run now (a policy wants an approved request, or ``approved`` does
        not cover exactly this); None when it may. Asked before any claim: nothing is sent."""
        if approved is not None:
            why = _not_covered(approved, recovery_id, action, new_input)
            return None if why is None else ActionResult(ActionOutcome.NEEDS_APPROVAL, recovery, why)
        if self.gate is None or not self.gate.any_policy():
            return None
        try:
            current = (
                recovery
                if recovery is not None and recovery.recovery_id == recovery_id
                else self.store.get(recovery_id)
            )
        except RecoveryNotFoundError:
            return None  # the claim says so
        why = self.gate.needs_approval(current, action)
        return None if why is None else ActionResult(ActionOutcome.NEEDS_APPROVAL, current, why)

    def _claim(
        self, recovery_id: str, actor: str, action: str, detail: dict[str, Any], owner: str
    ) -> Recovery | ActionResult:
        """OPEN → RESUMING under ``owner``'s lease, or why not (closed, being handled, unknown).
        A claim whose answer was lost is read back: the lease names who holds it."""
        now = self._clock()
        entry = AuditEntry(self._now(), actor, action, RecoveryStatus.RESUMING, detail)
        lost: Exception | None  # the claim's fault, when its answer was lost
        try:
            claimed = self.store.claim(recovery_id, entry, owner, now + self._lease, at=now)
        except STORE_FAULTS as exc:  # the write may have landed: the item says
            logger.warning("claim's answer lost; reading it back", recovery_id=recovery_id, error=str(exc))
            claimed = None
            lost = exc
        else:
            lost = None
            if claimed is not None:
                return claimed
        try:
            current = self.store.get(recovery_id)
        except RecoveryNotFoundError:
            return ActionResult(
                ActionOutcome.NOT_FOUND, None, f"No recovery {recovery_id} (closed long ago?)"
            )
        except STORE_FAULTS as exc:  # neither the claim nor the read answered
            if lost is None:
                raise
            logger.warning("claim unknown: nothing sent", recovery_id=recovery_id, error=str(exc))
            return ActionResult(
                ActionOutcome.IN_FLIGHT,
                None,
                "the recovery store did not answer, so nothing was sent to Step Functions. If the claim "
                "was stored, the recovery shows as in flight and is reopened within a few minutes",
            )
        if current.status is RecoveryStatus.RESUMING and current.lease_owner == owner:
            return current  # ours: the claim landed and its answer was lost
        if lost is not None and current.status is RecoveryStatus.OPEN:
            raise lost  # the claim did not land: nothing was sent, the recovery is open as it was
        by = current.last_actor
        if current.status is RecoveryStatus.RESUMING:
            text = "is already being handled"
        else:
            text = f"is already closed ({current.status.lower()})"
        return ActionResult(ActionOutcome.ALREADY_HANDLED, current, text, handled_by=by)

    def _finish(
        self,
        recovery: Recovery,
        owner: str,
        actor: str,
        action: str,
        call: Callable[[], TokenOutcome],
        success: RecoveryStatus,
        detail: dict[str, Any],
        show: bool,
        mark: bool = True,
        show_within: timedelta | None = None,
    ) -> ActionResult:
        """``show``: show the outcome now; ``mark``: until it is shown, it is due for the reconciler
        (after ``show_within``, default ``DISPLAY_GRACE``)."""
        answer = self._call_with_backoff(recovery, owner, call)
        if answer is None:  # the lease was lost before a call could be made: someone else settles it
            return self._current(recovery, ActionOutcome.IN_FLIGHT, "its claim ran out before the call")
        code, message = answer.code, answer.message
        if answer.result is TokenResult.ACCEPTED:
            outcome = ActionOutcome.RESUMED if success is RecoveryStatus.RESUMED else ActionOutcome.REJECTED
            return self._close(
                recovery,
                owner,
                actor,
                action,
                success,
                detail,
                outcome,
                show,
                mark=mark,
                show_within=show_within,
            )
        if answer.result is TokenResult.DEAD:
            why = dead_token_explanation(code)
            return self._close(
                recovery,
                owner,
                actor,
                action,
                RecoveryStatus.EXPIRED,
                {**detail, "error": code, "why": why},
                ActionOutcome.EXPIRED,
                show,
                why,
                mark=mark,
                show_within=show_within,
            )
        if answer.result is TokenResult.UNKNOWN:
            return self._unknown(recovery, owner, actor, action, code, message)
        entry = AuditEntry(self._now(), actor, action, "FAILED", {"error": code, "message": message[:500]})
        reopened = self._write(
            lambda: self.store.transition(
                recovery.recovery_id,
                RecoveryStatus.RESUMING,
                RecoveryStatus.OPEN,
                entry,
                lease_owner=owner,
                recovery=recovery,
            )
        )
        if not reopened:
            return self._current(recovery, ActionOutcome.IN_FLIGHT, "Step Functions refused the call")
        return ActionResult(
            ActionOutcome.FAILED,
            self._read(recovery),
            f"Step Functions did not accept the call ({code}: {message[:200]}). "
            "Nothing was resumed; the recovery is open again.",
        )

    def _unknown(
        self, recovery: Recovery, owner: str, actor: str, action: str, code: str, message: str
    ) -> ActionResult:
        """No answer came: the call may have landed. Ask the record; never send again on a guess."""
        self._write(
            lambda: self.store.append_audit(
                recovery.recovery_id,
                AuditEntry(self._now(), actor, action, "UNKNOWN", {"error": code, "message": message[:500]}),
            )
        )
        for attempt in range(RECORD_ASKS if self.settler is not None else 0):
            if attempt:  # the record may lag the call by a moment: ask again, a little later
                self._backoff.sleep(RECORD_PAUSE_SECONDS * attempt)
            try:
                settled = self.settler.settle_claim(recovery, owner) if self.settler else None
            except Exception as exc:  # noqa: BLE001 - the reconciler settles it when the lease ends
                logger.warning("could not settle at once", recovery_id=recovery.recovery_id, error=str(exc))
                settled = None
            if settled is not None:
                return settled
        return self._current(
            recovery,
            ActionOutcome.IN_FLIGHT,
            f"Step Functions did not answer ({code}), so it is not known yet whether the call landed. "
            "Nothing will be sent again: the recovery stays in flight and is settled from Step Functions' "
            "record of the execution within a few minutes",
        )

    def _call_with_backoff(
        self, recovery: Recovery, owner: str, call: Callable[[], TokenOutcome]
    ) -> TokenOutcome | None:
        """The call's answer; a throttled one is tried again after a pause, up to the backoff's
        attempts (the last throttled answer is then the answer: a refusal like any other). None
        when the lease was lost before a call: no call is made without it."""
        lease_until = datetime.fromisoformat(recovery.lease_until) if recovery.lease_until else self._clock()
        for attempt in range(self._backoff.attempts):
            if (lease_until - self._clock()).total_seconds() < CALL_BUDGET_SECONDS:
                lease_until = self._clock() + self._lease
                if not self._write(partial(self.store.renew_lease, recovery.recovery_id, owner, lease_until)):
                    return None
            answer = call()
            if answer.result is not TokenResult.THROTTLED:
                return answer
            with self._throttles_lock:
                self.throttles += 1
            if attempt == self._backoff.attempts - 1:
                return TokenOutcome.refused(answer.code, answer.message)
            self._backoff.pause(attempt)
        return TokenOutcome.refused("ThrottlingException", "still throttled")

    def _close(
        self,
        recovery: Recovery,
        owner: str,
        actor: str,
        action: str,
        status: RecoveryStatus,
        detail: dict[str, Any],
        outcome: ActionOutcome,
        show: bool,
        why: str = "",
        mark: bool = True,
        show_within: timedelta | None = None,
    ) -> ActionResult:
        """Store what Step Functions answered. When the write cannot be made the recovery stays in
        flight under the lease and the reconciler stores the same outcome from the record."""
        entry = AuditEntry(self._now(), actor, action, status, detail)
        grace = show_within or DISPLAY_GRACE
        show_by = self._clock() + grace if mark and self._display and recovery.posted else None
        moved = self._write(
            lambda: self.store.transition(
                recovery.recovery_id,
                RecoveryStatus.RESUMING,
                status,
                entry,
                lease_owner=owner,
                show_by=show_by,
                recovery=recovery,
            )
        )
        if moved is None:
            note = "its outcome is being recorded: the recovery shows as in flight until then"
            return ActionResult(outcome, recovery, f"{why}; {note}" if why else note, handled_by=actor)
        if not moved:  # settled meanwhile from the record (the lease had run out), or our own
            # write landed and only its answer was lost: what is stored stands, and is shown
            settled = self._current(recovery, outcome, why)
            if show and settled.recovery is not None and settled.recovery.status.is_closed:
                self.show(settled.recovery)
            return settled
        waited = (self._clock() - datetime.fromisoformat(recovery.created_at)).total_seconds()
        observability.measure("RecoveryResolveSeconds", max(0.0, waited), "Seconds", outcome=str(status))
        closed = self._read(recovery)
        if closed.status is not status:  # the read failed: show what was just stored, not the claim
            closed = replace(
                recovery, status=status, audit=[*recovery.audit, entry], lease_owner=None, lease_until=None
            )
        if show:
            self.show(closed)
        return ActionResult(outcome, closed, why, handled_by=closed.last_actor)

    def _write(self, write: Callable[[], bool]) -> bool | None:
        """A conditional write tried a few times; its answer, or None when none came."""
        for attempt in range(OUTCOME_WRITE_ATTEMPTS):
            try:
                return write()
            except STORE_FAULTS as exc:  # throttled or unreachable: try again, then leave it
                logger.warning("write failed", attempt=attempt + 1, error=type(exc).__name__)
                if attempt < OUTCOME_WRITE_ATTEMPTS - 1:
                    self._backoff.pause(attempt)
        return None

    def _read(self, recovery: Recovery) -> Recovery:
        try:
            return self.store.get(recovery.recovery_id)
        except STORE_FAULTS:  # what was stored stands; the answer shows what we had
            return recovery

    def _current(self, recovery: Recovery, outcome: ActionOutcome, detail: str) -> ActionResult:
        current = self._read(recovery)
        if current.status.is_closed:  # settled meanwhile (the reconciler, the watcher): that is the truth
            settled = SETTLED_OUTCOME.get(current.status, ActionOutcome.ALREADY_HANDLED)
            return ActionResult(settled, current, "", handled_by=current.last_actor)
        if current.status is RecoveryStatus.OPEN:  # reopened from the record: nothing reached it
            return ActionResult(
                ActionOutcome.FAILED,
                current,
                f"{detail}; nothing was resumed and the recovery is open again",
                handled_by=current.last_actor,
            )
        return ActionResult(outcome, current, detail, handled_by=current.last_actor)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds")


#: what a closed status tells the person who acted (ABORTED: the token died with its execution)
SETTLED_OUTCOME = {
    RecoveryStatus.RESUMED: ActionOutcome.RESUMED,
    RecoveryStatus.REJECTED: ActionOutcome.REJECTED,
    RecoveryStatus.EXPIRED: ActionOutcome.EXPIRED,
    RecoveryStatus.ABORTED: ActionOutcome.EXPIRED,
}


def show_stored_outcome(
    display: OutcomeDisplay, store: RecoveryStore, recovery: Recovery, now: datetime
) -> bool:
    """Show ``recovery``'s stored outcome on its message and take its display mark off; when the
    message could not be updated, mark it for the reconciler (due at ``now``). False then."""
    try:
        display.show_outcome(recovery)
        if recovery.status.is_closed and recovery.posted:
            store.clear_display_stale(recovery.recovery_id, recovery.status)
        return True
    except Exception as exc:  # noqa: BLE001 - the outcome is stored; only its message is behind
        logger.warning(
            "recovery message not brought up to date; the reconciler carries it on",
            recovery_id=recovery.recovery_id,
            error=type(exc).__name__,
        )
        observability.count_by("StaleMessages")
    try:
        store.mark_display_stale(recovery.recovery_id, now)
    except Exception as exc:  # noqa: BLE001 - the closing write's own mark, or the next run, shows it
        logger.warning("could not mark the message stale", recovery_id=recovery.recovery_id, error=str(exc))
    return False


def _not_covered(approved: ApprovalRequest, recovery_id: str, action: str, new_input: Any) -> str | None:
    """Why an approved request does not allow exactly this action (None: it does)."""
    if approved.state is not ApprovalState.APPROVED:
        return f"the request is {approved.state.lower()}, not approved"
    if recovery_id not in approved.subjects:
        return "the approved request does not name this recovery"
    if approved.resolver_action != action:
        return f"the request approved {approved.resolver_action}, not {action}"
    if new_input is not UNCHANGED and input_digest(new_input) != approved.digest:
        return "the input differs from the one approved: it needs approving again"
    return None


def _approval_detail(approved: ApprovalRequest | None) -> dict[str, str]:
    if approved is None:
        return {}
    return {"approval": approved.request_id, "approved_by": ", ".join(approved.approved_by)}


def _claim_id() -> str:
    return uuid.uuid4().hex


def dead_token_explanation(code: str) -> str:
    return {
        "TaskTimedOut": "the paused step timed out before anyone acted, so the workflow already handled it "
        "as a timeout",
        "TaskDoesNotExist": "the execution no longer waits at this step (it was stopped, or redriven and "
        "paused elsewhere)",
        "InvalidToken": "Step Functions no longer knows this step's token (the execution has ended)",
    }.get(code, code)
