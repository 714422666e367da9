"""A recovery: one paused task waiting for a person, with its status and audit trail."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from recovery_ops.service.recovery.model.approval import PendingApproval
from recovery_ops.service.recovery.model.contract import RecoveryRequest, Routing, WorkflowKind


def execution_console_url(execution_arn: str) -> str:
    """The Step Functions console page of an execution."""
    region = execution_arn.split(":")[3]
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{execution_arn}"
    )


def function_console_url(function_arn: str) -> str:
    """The Lambda console page of a function (its durable executions are listed there)."""
    parts = function_arn.split(":")
    region, name = parts[3], parts[6]
    return f"https://{region}.console.aws.amazon.com/lambda/home?region={region}#/functions/{name}"


def workflow_kind(workflow_arn: str) -> WorkflowKind:
    """What paused, told by the workflow's ARN: a Lambda function's (a durable callback) or a
    state machine's (a task token). The contract checks both ARNs' form, so the service part says."""
    parts = workflow_arn.split(":")
    return WorkflowKind.DURABLE if len(parts) > 2 and parts[2] == "lambda" else WorkflowKind.STEP_FUNCTIONS


class OfOneExecution:
    """What a record of one execution (a recovery, a failed execution) shows about it. For a
    durable callback, ``state_machine_arn`` is its function's ARN and ``execution_arn`` its durable
    execution's."""

    execution_arn: str
    state_machine_arn: str

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]

    @property
    def kind(self) -> WorkflowKind:
        return workflow_kind(self.state_machine_arn)

    @property
    def console_url(self) -> str:
        if self.kind is WorkflowKind.DURABLE:
            return function_console_url(self.state_machine_arn)
        return execution_console_url(self.execution_arn)


NOT_PEOPLE = frozenset({"recovery-queue", "escalation"})
OWNERSHIP_ACTIONS = frozenset({"take", "take over", "release"})


class RecoveryStatus(StrEnum):
    OPEN = "OPEN"  # paused, waiting for a person
    RESUMING = "RESUMING"  # someone clicked; the call to Step Functions is under way
    RESUMED = "RESUMED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"  # the task token is dead (timed out, execution stopped)
    ABORTED = "ABORTED"  # the execution ended while the recovery was open

    @property
    def is_closed(self) -> bool:
        return self not in (RecoveryStatus.OPEN, RecoveryStatus.RESUMING)

    @property
    def is_in_flight(self) -> bool:
        """Claimed and not yet settled: held by a lease (``lease_owner`` until ``lease_until``)."""
        return self is RecoveryStatus.RESUMING


@dataclass(frozen=True)
class AuditEntry:
    at: str
    actor: str
    action: str
    result: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recovery(OfOneExecution):
    recovery_id: str
    task_token: str = field(repr=False)
    execution_arn: str
    execution_name: str
    state_machine_arn: str
    failed_state: str
    input: Any
    error: str | None
    cause: str | None
    routing: Routing
    requested_at: str
    created_at: str
    status: RecoveryStatus = RecoveryStatus.OPEN
    updated_at: str = ""
    slack_channel: str | None = None
    slack_ts: str | None = None
    group_id: str | None = None
    attempts: int = 1
    audit: list[AuditEntry] = field(default_factory=list)
    owner: str | None = None  # the person who took it ("I'm on it"); None: nobody
    owned_at: str | None = None
    escalated: int = 0  # how many levels of its rule's escalation ladder have fired
    dependency: str | None = None  # the circuit the failed step depends on (None: not said)
    lease_owner: str | None = None  # RESUMING: the claim's id (one action, one process)
    lease_until: str | None = None  # RESUMING: after this the reconciler settles it from Step Functions
    approval: PendingApproval | None = None  # a request for approval waiting on it (None: none)

    @classmethod
    def from_request(cls, request: RecoveryRequest, received_at: datetime, attempts: int = 1) -> Recovery:
        created = received_at.astimezone(UTC).isoformat(timespec="milliseconds")
        requested = request.requested_at.astimezone(UTC).isoformat() if request.requested_at else created
        return cls(
            recovery_id=request.recovery_id,
            task_token=request.task_token,
            execution_arn=request.execution_arn,
            execution_name=request.execution_name,
            state_machine_arn=request.state_machine_arn,
            failed_state=request.failed_state,
            input=request.input,
            error=request.error,
            cause=request.cause,
            routing=request.routing,
            requested_at=requested,
            created_at=created,
            updated_at=created,
            attempts=attempts,
            audit=[AuditEntry(created, "recovery-queue", "opened", "OPEN")],
            dependency=request.dependency,
        )

    @property
    def input_json(self) -> str:
        return json.dumps(self.input, indent=2, sort_keys=True, ensure_ascii=False)

    @property
    def posted(self) -> bool:
        return self.slack_ts is not None

    @property
    def sort_key(self) -> str:
        """Its place in the newest-first listing (also the listing's page cursor)."""
        return f"{self.created_at}#{self.recovery_id}"

    def lease_expired(self, now: datetime) -> bool:
        """In flight past its lease: the process that claimed it may be gone."""
        if not self.status.is_in_flight:
            return False
        return self.lease_until is None or datetime.fromisoformat(self.lease_until) <= now

    @property
    def claim(self) -> AuditEntry | None:
        """The audit entry of the claim that made it RESUMING (who, which action, when)."""
        return next((e for e in reversed(self.audit) if e.result == RecoveryStatus.RESUMING), None)

    @property
    def last_actor(self) -> str | None:
        """Who handled it last (the person a second clicker is told about); denied attempts aside."""
        people = [
            e.actor
            for e in self.audit
            if e.actor not in NOT_PEOPLE and e.result != "DENIED" and e.action not in OWNERSHIP_ACTIONS
        ]
        return people[-1] if people else None
