"""The reconciler: settles every in-flight recovery whose lease has run out, from Step Functions'
own record of the execution, never by guessing and never by sending a token again.

A recovery is in flight (RESUMING) from its claim until its outcome is stored. The claim is a
lease (``actions.py``): when its process is gone (a crash, a time limit, a lost answer), the lease
runs out and the recovery lands in the ``by-due`` index. Each run (every minute, and on demand)
reads that index a page at a time, at most ``budget`` recoveries, and asks the record what became
of each paused step (``execution_record.ExecutionRecords``):

- its token was consumed → the outcome Step Functions recorded: RESUMED (a success landed),
  REJECTED (``RecoveryRejected`` landed), EXPIRED (the step timed out, or was failed elsewhere);
  the audit is completed under the claim's actor, saying it was settled from the record;
- the step still waits → OPEN again, said on its message, for a person to act on once more;
- the execution ended without it → closed as the execution watcher closes it (EXPIRED, or ABORTED
  when it was stopped);
- the record cannot tell (unreadable, throttled) → left in flight, counted, asked again next run.

Only a recovery whose lease has run out is reopened: a live claim may still have a call in flight.
What the record proves consumed is settled at once, lease or not (the execution watcher and a
caller whose answer was lost use that). Every settlement is a conditional write on the lease it
observed, so two reconcilers, or a reconciler and a slow claimant, settle a recovery once.

The same run carries on message updates that failed: a recovery marked ``display`` in the index is
shown again until its message shows its stored state; and, given an ``outbox``, the audit events
the bus did not take (``chronicle/publisher.py``) are published again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from recovery_ops.service import observability
from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.lifecycle.actions import (
    REJECTED_ERROR,
    SETTLED_OUTCOME,
    ActionResult,
    dead_token_explanation,
    show_stored_outcome,
)
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.execution_record import (
    ExecutionRecords,
    ExecutionRecordsByKind,
    TaskFate,
    TaskTruth,
    records_by_kind,
)
from recovery_ops.service.recovery.storage.approvals import APPROVAL_PREFIX, DUE_APPROVAL
from recovery_ops.service.recovery.storage.items import FAILURE_PREFIX
from recovery_ops.service.recovery.storage.migration import migrate
from recovery_ops.service.recovery.storage.recoveries import (
    DISPLAY_GRACE,
    DueKind,
    RecoveryNotFoundError,
    RecoveryStore,
)

RECONCILER = "reconciler"
REOPENED = "OPEN"  # a report key: the step still waited, the recovery is open again
UNSETTLED = "UNKNOWN"  # a report key: the record could not tell; asked again next run
HELD = "HELD"  # a report key: its lease is still live (an on-demand reconcile)
DISPLAY_RETRY = timedelta(minutes=5)  # a message that cannot be updated is tried again this much later


class RedriveSettler(Protocol):
    """Settles a Redrive claim from the execution (``failures.Redrive.settle``)."""

    def settle(self, failure_id: str, force: bool = False) -> object | None: ...


class OutboxCarrier(Protocol):
    """Publishes parked audit events (``chronicle.publisher.Publisher.carry``): how many went out."""

    def carry(self, limit: int) -> int: ...


class SettledDisplay(Protocol):
    """Where a recovery's message is: shows a closed outcome, or an open recovery again. Raises when
    the message could not be brought up to date."""

    def show_outcome(self, recovery: Recovery) -> None: ...

    def show_open(self, recovery: Recovery, change: str) -> None: ...


@dataclass(frozen=True)
class Settlement:
    recovery_id: str
    result: str  # the status it was settled to, or REOPENED, UNSETTLED, HELD, or its unchanged status
    why: str = ""
    recovery: Recovery | None = None


@dataclass
class ReconcileReport:
    settled: Counter[str] = field(default_factory=Counter)
    messages_updated: int = 0
    messages_behind: int = 0
    complete: bool = True  # False: the budget or the time ran out with more to do (the next run goes on)
    migrated: int = 0  # recoveries stored before lanes moved into them this run
    approvals: Counter[str] = field(default_factory=Counter)  # approval requests due: what became of them
    events_carried: int = 0  # parked audit events published this run

    def summary(self) -> str:
        parts = [f"{count} {result.lower()}" for result, count in sorted(self.settled.items())]
        parts.append(f"{self.messages_updated} messages brought up to date")
        if self.messages_behind:
            parts.append(f"{self.messages_behind} still behind")
        parts += [f"{count} approval request(s) {what}" for what, count in sorted(self.approvals.items())]
        return ", ".join(parts) + ("" if self.complete else " (more next run)")


class ApprovalCarrier(Protocol):
    """Approval requests due (``approvals.Approvals``): expired, or an approved run whose process is gone."""

    def carry_on(self, request_id: str) -> str: ...


@dataclass
class Reconciler:
    store: RecoveryStore
    records: ExecutionRecords | ExecutionRecordsByKind  # a recovery's kind picks the adapter
    display: SettledDisplay | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    page_size: int = 25
    budget: int = 200  # recoveries asked about per run: bounded work, the rest next run
    redrives: RedriveSettler | None = None  # Redrive claims of failed executions, in the same index
    migrate_budget: int = 500  # recoveries stored before lanes moved into them per run
    approvals: ApprovalCarrier | None = None  # approval requests due: expired, or approved and not run
    outbox: OutboxCarrier | None = None  # parked audit events, carried on each run
    outbox_budget: int = 100  # parked audit events published per run

    # ------------------------------------------------------------------ the scheduled run
    def run(
        self, seconds_left: Callable[[], float] | None = None, reserve_seconds: float = 10.0
    ) -> ReconcileReport:
        """Settle every expired lease and carry on every stale message, a page at a time, within
        ``budget`` and the time left."""
        report = ReconcileReport()
        now = self.clock()
        asked = 0
        report.migrated = self._migrate()
        self._roll_up(now)

        def out_of_room() -> bool:
            return asked >= self.budget or (seconds_left is not None and seconds_left() < reserve_seconds)

        for kind in (DueKind.LEASE, DueKind.DISPLAY):
            start = None
            while True:
                if out_of_room():
                    report.complete = False
                    break
                ids, start = self.store.due(kind, now, self.page_size, start)
                for recovery_id in ids:
                    if out_of_room():
                        report.complete = False
                        break
                    asked += 1
                    if kind == DueKind.LEASE and recovery_id.startswith(FAILURE_PREFIX):
                        report.settled[self._settle_redrive(recovery_id)] += 1
                    elif kind == DueKind.LEASE:
                        report.settled[self._settle_safely(recovery_id)] += 1
                    elif self.refresh(recovery_id):
                        report.messages_updated += 1
                    else:
                        report.messages_behind += 1
                if not start or not report.complete:
                    break
        if self.approvals is not None and not out_of_room():
            for request_key in self.store.due(DUE_APPROVAL, now, self.page_size)[0]:
                asked += 1
                report.approvals[self._carry_on(request_key.removeprefix(APPROVAL_PREFIX))] += 1
        if not out_of_room():
            for recovery in self._claims_without_lease():
                asked += 1
                report.settled[self._settle_safely(recovery.recovery_id)] += 1
        report.events_carried = self._carry_outbox()
        for result, count in report.settled.items():
            observability.count_by("ReconcilerSettlements", count, result=result)
        settled: dict[str, Any] = {k.lower(): v for k, v in report.settled.items()}  # a log key each
        logger.info(
            "reconciled",
            **settled,
            messages_updated=report.messages_updated,
            complete=report.complete,
        )
        return report

    def _migrate(self) -> int:
        """A page of recoveries stored before lanes moved into them (a deployment updated from an
        earlier release converges within a few runs; nothing is left to do after that)."""
        try:
            migrated = migrate(self.store, budget=self.migrate_budget).migrated
        except Exception as exc:  # noqa: BLE001 - the migration never stops the run's settling
            logger.exception("could not migrate recoveries into lanes", error=type(exc).__name__)
            return 0
        if migrated:
            observability.count_by("RecoveriesMigrated", migrated)
        return migrated

    def _carry_outbox(self) -> int:
        """Parked audit events published (the rest next run)."""
        if self.outbox is None:
            return 0
        try:
            return self.outbox.carry(self.outbox_budget)
        except Exception as exc:  # noqa: BLE001 - the events stay parked; the run goes on
            logger.exception("could not carry parked audit events", error=type(exc).__name__)
            return 0

    def _roll_up(self, now: datetime) -> None:
        """The counts' breakdown for the minute (what the lists show once the kinds are many)."""
        try:
            self.store.roll_up(now)
        except Exception as exc:  # noqa: BLE001 - the breakdown never stops the run's settling
            logger.exception("could not roll the counts up", error=type(exc).__name__)

    def _claims_without_lease(self) -> list[Recovery]:
        """RESUMING recoveries claimed before claims had leases: settled like an expired lease."""
        in_flight = self.store.list_by_status(
            RecoveryStatus.RESUMING, limit=self.page_size, oldest_first=True
        )
        return [r for r in in_flight if r.lease_until is None]

    def _settle_redrive(self, failure_id: str) -> str:
        if self.redrives is None:
            return UNSETTLED
        try:
            settled = self.redrives.settle(failure_id)
        except Exception as exc:  # noqa: BLE001 - one item's fault never stops the run
            logger.exception("could not settle a redrive", failure_id=failure_id, error=type(exc).__name__)
            return UNSETTLED
        return str(getattr(settled, "status", UNSETTLED))

    def _carry_on(self, request_id: str) -> str:
        assert self.approvals is not None
        try:
            return self.approvals.carry_on(request_id)
        except Exception as exc:  # noqa: BLE001 - one request's fault never stops the run; it stays due
            logger.warning("approval request not carried on", request_id=request_id, error=type(exc).__name__)
            return "failed"

    def _settle_safely(self, recovery_id: str) -> str:
        try:
            return self.settle(recovery_id).result
        except Exception as exc:  # noqa: BLE001 - one recovery's fault never stops the run
            logger.exception("could not settle", recovery_id=recovery_id, error=type(exc).__name__)
            return UNSETTLED

    # ------------------------------------------------------------------ one recovery
    def settle(self, recovery_id: str, actor: str = RECONCILER, holder_gone: bool = False) -> Settlement:
        """Settle one recovery now (the scheduled run, or an admin's "reconcile now"): whatever the
        record proves, and OPEN again only when the step still waits and its lease has run out (or
        ``holder_gone``: the caller knows the claim's process has ended, e.g. the self-healing round
        whose retry this is)."""
        try:
            recovery = self.store.get(recovery_id)
        except RecoveryNotFoundError:
            return Settlement(recovery_id, "NOT_FOUND", "no such recovery")
        if not recovery.status.is_in_flight:
            if self.refresh(recovery_id, recovery):
                return Settlement(recovery_id, str(recovery.status), "not in flight", recovery)
            return Settlement(
                recovery_id, str(recovery.status), "not in flight; its message is behind", recovery
            )
        truth = (
            records_by_kind(self.records)
            .of(recovery.kind)
            .task_truth(recovery.execution_arn, recovery.task_token)
        )
        lease_over = holder_gone or recovery.lease_expired(self.clock())
        return self._apply(recovery, truth, actor, reopen=lease_over)

    def settle_claim(self, recovery: Recovery, owner: str) -> ActionResult | None:
        """For a claimant whose call got no answer: what the record proves, stored and shown; None
        while the step still waits (its call may yet land: it stays in flight under the lease)."""
        truth = (
            records_by_kind(self.records)
            .of(recovery.kind)
            .task_truth(recovery.execution_arn, recovery.task_token)
        )
        if truth.fate in (TaskFate.WAITING, TaskFate.UNKNOWN):
            return None
        if recovery.lease_owner != owner:
            return None
        settled = self._apply(recovery, truth, RECONCILER, reopen=False)
        current = settled.recovery or recovery
        outcome = SETTLED_OUTCOME.get(current.status)
        if outcome is None:
            return None
        return ActionResult(outcome, current, settled.why, handled_by=current.last_actor)

    def settle_ended(self, recovery: Recovery) -> Settlement:
        """The execution ended (the watcher heard it): its record is final, so any claim is settled."""
        truth = (
            records_by_kind(self.records)
            .of(recovery.kind)
            .task_truth(recovery.execution_arn, recovery.task_token)
        )
        return self._apply(recovery, truth, RECONCILER, reopen=False)

    # ------------------------------------------------------------------ settling
    def _apply(self, recovery: Recovery, truth: TaskTruth, actor: str, reopen: bool) -> Settlement:
        claim = recovery.claim
        claimed_by = claim.actor if claim else "unknown"
        claimed_action = claim.action if claim else "run again"
        base = {
            "settled_by": actor,
            "from": "Step Functions' record of the execution",
            "claimed_by": claimed_by,
        }
        target, why = _settled_status(truth)
        if target is None:
            if truth.fate is TaskFate.WAITING and reopen:
                return self._reopen(recovery, claimed_by, claimed_action, actor)
            if truth.fate is TaskFate.WAITING:
                return Settlement(
                    recovery.recovery_id,
                    HELD,
                    f"claimed by {claimed_by} until {recovery.lease_until}",
                    recovery,
                )
            observability.count_by("ReconcilerUnknown")
            logger.warning("record cannot tell yet", recovery_id=recovery.recovery_id, detail=truth.detail)
            return Settlement(recovery.recovery_id, UNSETTLED, truth.detail, recovery)
        detail = {**base, **({"why": why} if why else {})}
        entry = AuditEntry(self._now(), claimed_by, claimed_action, target, detail)
        moved = self.store.transition(
            recovery.recovery_id,
            RecoveryStatus.RESUMING,
            target,
            entry,
            lease_owner=recovery.lease_owner,
            show_by=self._show_by(recovery),
            recovery=recovery,
        )
        current = self.store.get(recovery.recovery_id)
        if moved:
            logger.info("settled from the record", recovery_id=recovery.recovery_id, status=str(target))
            self._show(current)
        return Settlement(recovery.recovery_id, str(current.status), why, current)

    def _reopen(self, recovery: Recovery, claimed_by: str, claimed_action: str, actor: str) -> Settlement:
        why = (
            f"the {claimed_action} by {claimed_by} did not reach Step Functions (its process ended before "
            "the call, or the call never landed); the step still waits"
        )
        entry = AuditEntry(
            self._now(), actor, "reopen", RecoveryStatus.OPEN, {"why": why, "claimed_by": claimed_by}
        )
        moved = self.store.transition(
            recovery.recovery_id,
            RecoveryStatus.RESUMING,
            RecoveryStatus.OPEN,
            entry,
            lease_owner=recovery.lease_owner,
            show_by=self._show_by(recovery),
            recovery=recovery,
        )
        current = self.store.get(recovery.recovery_id)
        if moved and self.display is not None:
            try:
                self.display.show_open(current, f"↩️ Open again: {why}. Nothing was resumed.")
                if current.posted:
                    self.store.clear_display_stale(recovery.recovery_id, current.status)
            except Exception as exc:  # noqa: BLE001 - stored; the message is carried on later
                logger.warning("reopened, message behind", recovery_id=recovery.recovery_id, error=str(exc))
                self.store.mark_display_stale(recovery.recovery_id, self.clock())
        return Settlement(recovery.recovery_id, REOPENED if moved else str(current.status), why, current)

    # ------------------------------------------------------------------ messages
    def refresh(self, recovery_id: str, recovery: Recovery | None = None) -> bool:
        """Show ``recovery_id``'s stored state on its message; False when that failed (tried again
        ``DISPLAY_RETRY`` later)."""
        if self.display is None:
            return True
        current = recovery or self.store.get(recovery_id)
        try:
            if current.status.is_closed:
                self.display.show_outcome(current)
            elif current.status is RecoveryStatus.OPEN:
                self.display.show_open(current, "This recovery is open.")
        except Exception as exc:  # noqa: BLE001 - tried again later
            logger.warning("message still behind", recovery_id=recovery_id, error=str(exc))
            self.store.mark_display_stale(recovery_id, self.clock() + DISPLAY_RETRY)
            return False
        self.store.clear_display_stale(recovery_id, current.status)
        return True

    def _show(self, recovery: Recovery) -> None:
        if self.display is not None:
            show_stored_outcome(self.display, self.store, recovery, self.clock())

    def _show_by(self, recovery: Recovery) -> datetime | None:
        """When its message must show what this write stores (None: no message to show it on)."""
        return self.clock() + DISPLAY_GRACE if self.display is not None and recovery.posted else None

    def _now(self) -> str:
        return self.clock().isoformat(timespec="milliseconds")


def _settled_status(truth: TaskTruth) -> tuple[RecoveryStatus | None, str]:
    """What the record proves, as a closed status and why; (None, "") when it does not close it."""
    if truth.fate is TaskFate.SUCCEEDED:
        return RecoveryStatus.RESUMED, ""
    if truth.fate is TaskFate.FAILED:
        if truth.error == REJECTED_ERROR:
            return RecoveryStatus.REJECTED, ""
        return RecoveryStatus.EXPIRED, f"the step was failed with {truth.error} outside recovery-ops"
    if truth.fate is TaskFate.TIMED_OUT:
        return RecoveryStatus.EXPIRED, dead_token_explanation("TaskTimedOut")
    if truth.fate is TaskFate.ENDED:
        status = RecoveryStatus.ABORTED if truth.execution_status == "ABORTED" else RecoveryStatus.EXPIRED
        return status, f"the execution ended {truth.execution_status} without this step being resumed"
    if truth.fate is TaskFate.GONE:
        return RecoveryStatus.EXPIRED, dead_token_explanation("InvalidToken")
    return None, ""
