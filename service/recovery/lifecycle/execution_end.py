"""The outermost catch: what happens when an execution ends FAILED, TIMED_OUT or ABORTED.

Fed by Step Functions' "Execution Status Change" events (EventBridge) for the watched state
machines, and by Lambda's "Durable Execution Status Change" events for the watched durable functions:
- every recovery of that execution still OPEN is closed (ABORTED when the execution was stopped,
  EXPIRED when it failed, timed out or ended otherwise: its task token or callback is dead) and its
  Slack message loses its buttons, so nobody clicks on a dead execution;
- every recovery still in flight (RESUMING: a claim not yet settled) is settled by the reconciler
  from the execution's record, final now that it has ended (a call that landed is RESUMED or
  REJECTED, one that did not is closed as above);
- a state machine's execution that ended without any of its steps asking for a person (no
  recovery at all) is recorded once and posted as "workflow failed" with a Redrive button. A durable
  execution's is not: there is no Redrive for durable executions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from recovery_ops.service.recovery.failed_executions.failures import (
    FailedExecution,
    FailureDisplay,
    FailureStore,
    failure_id_for,
)
from recovery_ops.service.recovery.lifecycle.actions import OutcomeDisplay, show_stored_outcome
from recovery_ops.service.recovery.lifecycle.reconciler import Reconciler
from recovery_ops.service.recovery.model.contract import (
    WorkflowKind,
    durable_execution_name,
    unqualified_function_arn,
)
from recovery_ops.service.recovery.model.recovery import AuditEntry, RecoveryStatus, workflow_kind
from recovery_ops.service.recovery.storage.recoveries import DISPLAY_GRACE, RecoveryStore

WATCHER = "execution-watcher"
STEP_FUNCTIONS_STATUS_CHANGE = "Step Functions Execution Status Change"
DURABLE_STATUS_CHANGE = "Durable Execution Status Change"
#: the statuses that mean the execution was stopped by someone (its recoveries are ABORTED)
_STOPPED = frozenset({"ABORTED", "STOPPED"})


@dataclass(frozen=True)
class ExecutionEnded:
    execution_arn: str
    execution_name: str
    state_machine_arn: str  # a durable execution's: its function's ARN, without the version
    status: str  # FAILED, TIMED_OUT, ABORTED; a durable execution's SUCCEEDED, FAILED, TIMED_OUT, STOPPED
    error: str | None
    cause: str | None
    stopped_at: datetime

    @classmethod
    def from_event_detail(cls, detail: dict[str, Any]) -> ExecutionEnded:
        """The ``detail`` of a "Step Functions Execution Status Change" event (dates in epoch ms)."""
        stop = detail.get("stopDate")
        return cls(
            execution_arn=detail["executionArn"],
            execution_name=detail.get("name") or detail["executionArn"].rsplit(":", 1)[-1],
            state_machine_arn=detail["stateMachineArn"],
            status=detail["status"],
            error=detail.get("error"),
            cause=detail.get("cause"),
            stopped_at=datetime.fromtimestamp(stop / 1000, UTC) if stop else datetime.now(UTC),
        )

    @classmethod
    def from_durable_event_detail(cls, detail: dict[str, Any]) -> ExecutionEnded:
        """The ``detail`` of a "Durable Execution Status Change" event: its ``functionArn`` names the
        version that ran, the desk keeps a function by its unqualified ARN (as the contract does)."""
        arn = detail["durableExecutionArn"]
        end = detail.get("endTimestamp")
        return cls(
            execution_arn=arn,
            execution_name=detail.get("durableExecutionName") or durable_execution_name(arn),
            state_machine_arn=unqualified_function_arn(detail["functionArn"]),
            status=detail["status"],
            error=None,
            cause=None,
            stopped_at=_moment(end) if end else datetime.now(UTC),
        )

    @classmethod
    def from_event(cls, detail_type: str, detail: dict[str, Any]) -> ExecutionEnded:
        """Either kind of execution-ended event, told by its detail-type."""
        if detail_type == DURABLE_STATUS_CHANGE:
            return cls.from_durable_event_detail(detail)
        return cls.from_event_detail(detail)

    @property
    def kind(self) -> WorkflowKind:
        return workflow_kind(self.state_machine_arn)

    @property
    def function_name(self) -> str:
        """The workflow's name: a durable execution's function, a state machine."""
        return self.state_machine_arn.rsplit(":", 1)[-1]

    def is_watched(self, durable_functions: frozenset[str]) -> bool:
        """Whether the desk keeps this end. A state machine's rule names the watched ones; the
        durable rule hears every durable execution of the account, so its function must be named."""
        return self.kind is not WorkflowKind.DURABLE or self.function_name in durable_functions


def _moment(value: Any) -> datetime:
    """An event's time: epoch milliseconds or ISO text."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass
class EndReport:
    closed: list[str] = field(default_factory=list)
    failure_id: str | None = None


@dataclass
class OutermostCatch:
    store: RecoveryStore
    failures: FailureStore
    recovery_display: OutcomeDisplay | None = None
    failure_display: FailureDisplay | None = None
    #: Errors of Fail states where the workflow ended a failure it handled itself (each decision is
    #: already recorded, e.g. every item of an order rejected and in the DLQ): nothing to redrive.
    handled_errors: frozenset[str] = frozenset()
    reconciler: Reconciler | None = None  # settles in-flight recoveries from the ended execution's record

    def handle(self, ended: ExecutionEnded) -> EndReport:
        report = EndReport()
        recoveries = self.store.for_execution(ended.execution_arn)
        closing = RecoveryStatus.ABORTED if ended.status in _STOPPED else RecoveryStatus.EXPIRED
        why = f"the execution ended {ended.status}" + (f" ({ended.error})" if ended.error else "")
        for recovery in recoveries:
            if recovery.status is RecoveryStatus.RESUMING and self.reconciler is not None:
                settled = self.reconciler.settle_ended(recovery)
                if settled.recovery is not None and settled.recovery.status.is_closed:
                    report.closed.append(recovery.recovery_id)
                continue
            if recovery.status is not RecoveryStatus.OPEN:
                continue
            entry = AuditEntry(_iso(datetime.now(UTC)), WATCHER, "execution ended", closing, {"why": why})
            show_by = datetime.now(UTC) + DISPLAY_GRACE if self.recovery_display and recovery.posted else None
            if self.store.transition(
                recovery.recovery_id, RecoveryStatus.OPEN, closing, entry, show_by=show_by, recovery=recovery
            ):
                report.closed.append(recovery.recovery_id)
                self._show(recovery.recovery_id)
        redrivable = ended.kind is WorkflowKind.STEP_FUNCTIONS  # no Redrive for a durable execution
        if not recoveries and redrivable and ended.error not in self.handled_errors:
            report.failure_id = self._record_failure(ended)
        return report

    def _show(self, recovery_id: str) -> None:
        """Its message loses its buttons; when that fails the reconciler carries the update on."""
        if self.recovery_display is not None:
            show_stored_outcome(
                self.recovery_display, self.store, self.store.get(recovery_id), datetime.now(UTC)
            )

    def _record_failure(self, ended: ExecutionEnded) -> str | None:
        failure = FailedExecution(
            failure_id=failure_id_for(ended.execution_arn),
            execution_arn=ended.execution_arn,
            execution_name=ended.execution_name,
            state_machine_arn=ended.state_machine_arn,
            execution_status=ended.status,
            error=ended.error,
            cause=ended.cause,
            stopped_at=_iso(ended.stopped_at),
            audit=[AuditEntry(_iso(datetime.now(UTC)), WATCHER, "execution ended", ended.status)],
        )
        if self.failures.create_if_absent(failure):
            if self.failure_display is not None:
                channel, ts = self.failure_display.post_failure(failure)
                self.failures.mark_posted(failure.failure_id, channel, ts)
            return failure.failure_id
        stored = self.failures.get(failure.failure_id)
        if stored.slack_ts is None and self.failure_display is not None:  # an earlier post failed
            channel, ts = self.failure_display.post_failure(stored)
            self.failures.mark_posted(stored.failure_id, channel, ts)
        return stored.failure_id


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
