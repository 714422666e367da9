"""A failed execution that no recovery covered: the outermost catch's record, and its statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from recovery_ops.service.recovery.model.recovery import AuditEntry, OfOneExecution

REDRIVE_WINDOW = timedelta(days=14)


class FailureStatus(StrEnum):
    UNHANDLED = "FAILED_EXECUTION"  # posted, Redrive offered
    REDRIVING = "REDRIVING"
    REDRIVEN = "REDRIVEN"
    NOT_REDRIVABLE = "NOT_REDRIVABLE"


@dataclass
class FailedExecution(OfOneExecution):
    failure_id: str
    execution_arn: str
    execution_name: str
    state_machine_arn: str
    execution_status: str  # FAILED, TIMED_OUT, ABORTED
    error: str | None
    cause: str | None
    stopped_at: str
    status: FailureStatus = FailureStatus.UNHANDLED
    slack_channel: str | None = None
    slack_ts: str | None = None
    audit: list[AuditEntry] = field(default_factory=list)

    def redrivable(self, now: datetime) -> bool:
        return now - datetime.fromisoformat(self.stopped_at) <= REDRIVE_WINDOW

    @property
    def last_actor(self) -> str | None:
        people = [e.actor for e in self.audit if e.actor != "execution-watcher" and e.result != "DENIED"]
        return people[-1] if people else None
