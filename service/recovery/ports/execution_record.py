"""The source of truth about a paused step: what Step Functions' own record says became of it.

When the product does not know whether a call landed (a crash between claim and outcome, an answer
that never came), it does not guess and does not send again: it asks the execution's record. The
port answers one question, for one execution and one task token: was the token consumed, and how?

- ``SUCCEEDED``: a SendTaskSuccess landed (its ``output`` is what the step resumed with);
- ``FAILED``: a SendTaskFailure landed (``error`` is its name: ``RecoveryRejected`` for a Reject);
- ``TIMED_OUT``: the step's own timeout (or heartbeat) fired first;
- ``WAITING``: the execution still runs and the step still waits for its token;
- ``ENDED``: the execution ended (``execution_status``) without the token being consumed;
- ``GONE``: Step Functions no longer knows the execution (past its retention);
- ``UNKNOWN``: the record could not be read, or did not say (``detail`` tells why): ask again later.

Two adapters, one per kind of pause (``ExecutionRecordsByKind``): ``stepfunctions/history.py``
(DescribeExecution and GetExecutionHistory, a task token) and ``durable/history.py``
(GetDurableExecution and GetDurableExecutionHistory, a durable callback id).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from recovery_ops.service.recovery.model.contract import WorkflowKind


class TaskFate(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    WAITING = "WAITING"
    ENDED = "ENDED"
    GONE = "GONE"
    UNKNOWN = "UNKNOWN"

    @property
    def consumed(self) -> bool:
        """The token was used: nothing may be sent for it any more."""
        return self in (TaskFate.SUCCEEDED, TaskFate.FAILED, TaskFate.TIMED_OUT)


@dataclass(frozen=True)
class TaskTruth:
    fate: TaskFate
    execution_status: str = ""  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED ("" when unread)
    error: str | None = None  # FAILED: the error the step was failed with
    output: str | None = None  # SUCCEEDED: what it resumed with
    detail: str = ""


class ExecutionRecords(Protocol):
    """Reads what Step Functions recorded about a paused step."""

    def task_truth(self, execution_arn: str, task_token: str) -> TaskTruth:
        """The fate of the step that paused with ``task_token`` in ``execution_arn``."""
        ...


class ExecutionRecordsByKind:
    """The port's adapter for each kind of pause. One adapter given for both (a test's fake) serves both."""

    def __init__(self, step_functions: ExecutionRecords, durable: ExecutionRecords | None = None) -> None:
        self._by_kind = {WorkflowKind.STEP_FUNCTIONS: step_functions, WorkflowKind.DURABLE: durable}

    def of(self, kind: WorkflowKind) -> ExecutionRecords:
        adapter = self._by_kind[kind]
        return adapter if adapter is not None else _NotRead(kind)


def records_by_kind(records: ExecutionRecords | ExecutionRecordsByKind) -> ExecutionRecordsByKind:
    """``records`` as adapters by kind (one adapter serves every kind)."""
    return (
        records if isinstance(records, ExecutionRecordsByKind) else ExecutionRecordsByKind(records, records)
    )


class _NotRead:
    """No adapter for this kind in this process: the record is UNKNOWN (asked again later, never guessed)."""

    def __init__(self, kind: WorkflowKind) -> None:
        self._detail = f"this deployment does not read {kind.value} records"

    def task_truth(self, execution_arn: str, task_token: str) -> TaskTruth:
        return TaskTruth(TaskFate.UNKNOWN, detail=self._detail)
