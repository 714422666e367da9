"""Run again and Reject: the only code that hands a task token back to its workflow.

Exactly once: a recovery moves OPEN → RESUMING with a conditional write before any call is
made, so of two clicks (two people, a double click, Slack retrying the request, the CLI and
Slack at once) only the first reaches Step Functions; the others are told who is handling it.
Then the call, through the task-token port (``task_tokens.py``): success with the step's input
(or the edited one), or failure with ``RecoveryRejected``; a throttled call is tried again after
a jittered pause. A dead token (the step timed out, the execution was stopped or
redriven elsewhere) closes the recovery as EXPIRED. A call Step Functions refuses for another
reason gives the recovery back (RESUMING → OPEN) so someone can try again; nothing is lost.

The Slack app, the CLI and bulk actions all go through here; every attempt lands in the audit.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from service import observability
from service.recovery.recovery import AuditEntry, Recovery, RecoveryStatus
from service.recovery.store import RecoveryNotFound, RecoveryStore
from service.recovery.task_tokens import TaskTokens, TokenOutcome, TokenResult

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


@dataclass(frozen=True)
class ActionResult:
    outcome: ActionOutcome
    recovery: Recovery | None
    detail: str = ""
    handled_by: str | None = None

    @property
    def done(self) -> bool:
        return self.outcome in (ActionOutcome.RESUMED, ActionOutcome.REJECTED)


class OutcomeDisplay(Protocol):
    """Where a closed recovery's outcome is shown (its Slack message); failures there are not fatal."""

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


class RecoveryActions:
    def __init__(
        self,
        store: RecoveryStore,
        tokens: TaskTokens,
        display: OutcomeDisplay | None = None,
        backoff: ThrottleBackoff | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self._tokens = tokens
        self._display = display
        self._backoff = backoff or ThrottleBackoff()
        self._clock = clock

    # ------------------------------------------------------------------ actions
    def run_again(
        self,
        recovery_id: str,
        actor: str,
        new_input: Any = UNCHANGED,
        diff: str | None = None,
        show: bool = True,
        audit_detail: dict[str, str] | None = None,
    ) -> ActionResult:
        """Resume the paused step with its input, or with ``new_input`` (an edit, whatever JSON it is,
        ``null`` included, whose ``diff`` is audited). ``audit_detail`` joins the claim's audit entry
        (self-healing names the circuit closing it acts for)."""
        edited = new_input is not UNCHANGED
        action = "edit and run again" if edited else "run again"
        detail = {**(audit_detail or {}), **({"diff": diff} if edited and diff else {})}
        claimed = self._claim(recovery_id, actor, action, detail)
        if isinstance(claimed, ActionResult):
            return claimed
        output = json.dumps(new_input if edited else claimed.input, ensure_ascii=False)
        return self._finish(
            claimed,
            actor,
            action,
            lambda: self._tokens.send_success(claimed.task_token, output),
            RecoveryStatus.RESUMED,
            {},
            show,
        )

    def finish_interrupted_run_again(self, recovery: Recovery, actor: str, show: bool = True) -> ActionResult:
        """Carry on a plain Run again whose claim (by ``actor``) was made but whose run was cut off
        (a crash, a time limit) before its outcome was stored: the call is made again. Step Functions
        accepts a token once, so a call that had reached it is answered as a dead token (EXPIRED,
        saying so), never a second resume."""
        if recovery.status is not RecoveryStatus.RESUMING:
            return ActionResult(ActionOutcome.ALREADY_HANDLED, recovery, "is not being resumed")
        output = json.dumps(recovery.input, ensure_ascii=False)
        return self._finish(
            recovery,
            actor,
            "run again",
            lambda: self._tokens.send_success(recovery.task_token, output),
            RecoveryStatus.RESUMED,
            {"carried_on": "after an interruption"},
            show,
            dead_note=" (or the interrupted run had already reached Step Functions, and the execution "
            "went on)",
        )

    def reject(
        self, recovery_id: str, actor: str, reason: str | None = None, show: bool = True
    ) -> ActionResult:
        """Fail the paused step with ``RecoveryRejected``: the workflow compensates."""
        detail = {"reason": reason} if reason else {}
        claimed = self._claim(recovery_id, actor, "reject", detail)
        if isinstance(claimed, ActionResult):
            return claimed
        cause = f"Rejected by {actor}" + (f": {reason}" if reason else " (no reason given)")
        return self._finish(
            claimed,
            actor,
            "reject",
            lambda: self._tokens.send_failure(claimed.task_token, REJECTED_ERROR, cause[:CAUSE_LIMIT]),
            RecoveryStatus.REJECTED,
            detail,
            show,
        )

    def show(self, recovery: Recovery) -> None:
        """Show a closed recovery's outcome where its message is (if there is a display)."""
        if self._display is not None:
            self._display.show_outcome(recovery)

    def record_denied(self, recovery_id: str, actor: str, action: str, why: str) -> None:
        """An attempt by someone not allowed to act: audited, nothing else happens."""
        self.store.append_audit(recovery_id, AuditEntry(self._now(), actor, action, DENIED, {"why": why}))

    # ------------------------------------------------------------------ steps
    def _claim(self, recovery_id: str, actor: str, action: str, detail: dict) -> Recovery | ActionResult:
        """OPEN → RESUMING, or why not (closed, being handled, unknown)."""
        entry = AuditEntry(self._now(), actor, action, RecoveryStatus.RESUMING, detail)
        if self.store.transition(recovery_id, RecoveryStatus.OPEN, RecoveryStatus.RESUMING, entry):
            return self.store.get(recovery_id)
        try:
            current = self.store.get(recovery_id)
        except RecoveryNotFound:
            return ActionResult(
                ActionOutcome.NOT_FOUND, None, f"No recovery {recovery_id} (closed long ago?)"
            )
        by = current.last_actor
        if current.status is RecoveryStatus.RESUMING:
            text = "is already being handled"
        else:
            text = f"is already closed ({current.status.lower()})"
        return ActionResult(ActionOutcome.ALREADY_HANDLED, current, text, handled_by=by)

    def _finish(
        self,
        recovery: Recovery,
        actor: str,
        action: str,
        call: Callable[[], TokenOutcome],
        success: RecoveryStatus,
        detail: dict,
        show: bool,
        dead_note: str = "",
    ) -> ActionResult:
        answer = self._call_with_backoff(call)
        if answer.result is TokenResult.ACCEPTED:
            self._close(recovery, actor, action, success, detail)
            outcome = ActionOutcome.RESUMED if success is RecoveryStatus.RESUMED else ActionOutcome.REJECTED
            return self._result(outcome, recovery.recovery_id, show)
        code, message = answer.code, answer.message
        if answer.result is TokenResult.DEAD:
            why = _dead_token_explanation(code) + dead_note
            self._close(
                recovery, actor, action, RecoveryStatus.EXPIRED, {**detail, "error": code, "why": why}
            )
            return self._result(ActionOutcome.EXPIRED, recovery.recovery_id, show, why)
        entry = AuditEntry(self._now(), actor, action, "FAILED", {"error": code, "message": message[:500]})
        self.store.transition(recovery.recovery_id, RecoveryStatus.RESUMING, RecoveryStatus.OPEN, entry)
        return ActionResult(
            ActionOutcome.FAILED,
            self.store.get(recovery.recovery_id),
            f"Step Functions did not accept the call ({code}: {message[:200]}). "
            "Nothing was resumed; the recovery is open again.",
        )

    def _call_with_backoff(self, call: Callable[[], TokenOutcome]) -> TokenOutcome:
        """The call's answer; a throttled one is tried again after a pause, up to the backoff's
        attempts (the last throttled answer is then the answer: a refusal like any other)."""
        for attempt in range(self._backoff.attempts):
            answer = call()
            if answer.result is not TokenResult.THROTTLED:
                return answer
            if attempt == self._backoff.attempts - 1:
                return TokenOutcome.refused(answer.code, answer.message)
            self._backoff.pause(attempt)
        return TokenOutcome.refused("ThrottlingException", "still throttled")

    def _close(
        self, recovery: Recovery, actor: str, action: str, status: RecoveryStatus, detail: dict
    ) -> None:
        entry = AuditEntry(self._now(), actor, action, status, detail)
        if self.store.transition(recovery.recovery_id, RecoveryStatus.RESUMING, status, entry):
            waited = (self._clock() - datetime.fromisoformat(recovery.created_at)).total_seconds()
            observability.measure("RecoveryResolveSeconds", max(0.0, waited), "Seconds", outcome=str(status))

    def _result(self, outcome: ActionOutcome, recovery_id: str, show: bool, detail: str = "") -> ActionResult:
        closed = self.store.get(recovery_id)
        if show:
            self.show(closed)
        return ActionResult(outcome, closed, detail, handled_by=closed.last_actor)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds")


def _dead_token_explanation(code: str) -> str:
    return {
        "TaskTimedOut": "the paused step timed out before anyone acted, so the workflow already handled it "
        "as a timeout",
        "TaskDoesNotExist": "the execution no longer waits at this step (it was stopped, or redriven and "
        "paused elsewhere)",
        "InvalidToken": "Step Functions no longer knows this step's token (the execution has ended)",
    }.get(code, code)
