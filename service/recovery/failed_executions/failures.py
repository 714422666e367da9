"""Executions that failed without going through a recovery: the outermost catch's records.

When an execution ends FAILED, TIMED_OUT or ABORTED and none of its steps ever asked for a
person, a ``FailedExecution`` is stored (once per execution: a redelivered event finds it) and
posted with a **Redrive** button. Redrive is claimed like Run again (UNHANDLED → REDRIVING with a
conditional write; the first click wins) and is offered only while Step Functions allows it:
Standard workflows (the only ones that emit status-change events) within 14 days of the stop.

Items live in the recoveries table under ``fail-<hash of the execution ARN>``; their own status
values keep them out of the recoveries listing.

A Redrive claim is a lease (``REDRIVE_LEASE``, in the ``by-due`` index): a RedriveExecution whose
answer never came, or whose process died, is settled from the execution itself by the reconciler
(``settle``): redriven since the claim → REDRIVEN; not → Redrive offered again. Never by redriving
on a guess.

A routing rule's approval policy may put Redrive under approval (``redrive`` in its ``actions``):
Redrive then asks its ``gate`` before any claim, and a covered Redrive becomes a request instead
(``lifecycle/redrive_approvals.py``); once approved, the request's run redrives through the same
claim, with the approved request in hand, so exactly once still holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, ConnectionClosedError, ReadTimeoutError

from recovery_ops.service.conditional_writes import if_condition_holds
from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.model.approval import (
    REQUESTED,
    ApprovalRequest,
    Gated,
    Held,
    not_approved_for,
)
from recovery_ops.service.recovery.model.failed_execution import (
    REDRIVE_WINDOW,
    FailedExecution,
    FailureStatus,
)
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.service.recovery.storage.items import (
    DUE,
    DUE_AT,
    audit_entries,
    failure_from_item,
    failure_id_for,
    failure_item,
    key,
    string,
)

__all__ = [
    "REDRIVE_WINDOW",
    "FailedExecution",
    "FailureDisplay",
    "FailureNotFoundError",
    "FailureStatus",
    "FailureStore",
    "Redrive",
    "RedriveGate",
    "RedriveResult",
    "failure_id_for",
]


class FailureNotFoundError(RecoveryOpsError, LookupError):
    pass


REDRIVE_LEASE = timedelta(seconds=120)
DUE_LEASE = "lease"  # the ``by-due`` kind a Redrive claim is listed under (``store.DueKind.LEASE``)


class FailureStore:
    def __init__(self, table_name: str, client: Any, retention_days: int = 90) -> None:
        self._table = table_name
        self._client = client
        self._retention = timedelta(days=retention_days)

    def create_if_absent(self, failure: FailedExecution) -> bool:
        expires_at = int((datetime.now(UTC) + self._retention).timestamp())
        created = if_condition_holds(
            self._client.put_item,
            TableName=self._table,
            Item=failure_item(failure, expires_at),
            ConditionExpression="attribute_not_exists(recovery_id)",
        )
        return created is not None

    def get(self, failure_id: str) -> FailedExecution:
        item = self._client.get_item(TableName=self._table, Key=key(failure_id), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            raise FailureNotFoundError(failure_id)
        return failure_from_item(item)

    def mark_posted(self, failure_id: str, channel: str, ts: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=key(failure_id),
            UpdateExpression="SET slack_channel = :channel, slack_ts = :ts",
            ExpressionAttributeValues={":channel": string(channel), ":ts": string(ts)},
        )

    def transition(
        self,
        failure_id: str,
        expected: FailureStatus,
        target: FailureStatus,
        entry: AuditEntry,
        lease_until: datetime | None = None,
    ) -> bool:
        """``expected`` → ``target``; a claim (REDRIVING) holds a lease until ``lease_until``, and
        leaving REDRIVING frees it."""
        update = "SET #status = :target, audit = list_append(audit, :entry)"
        values = {":expected": string(expected), ":target": string(target), ":entry": audit_entries(entry)}
        if lease_until is not None:
            update += f", {DUE} = :due, {DUE_AT} = :until"
            values[":due"] = string(DUE_LEASE)
            values[":until"] = string(lease_until.isoformat(timespec="milliseconds"))
        elif expected is FailureStatus.REDRIVING:
            update += f" REMOVE {DUE}, {DUE_AT}"
        moved = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(failure_id),
            UpdateExpression=update,
            ConditionExpression="#status = :expected",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )
        return moved is not None

    def note(self, failure_id: str, entry: AuditEntry) -> None:
        """A step that changes no status (an approval requested) on the failure's own audit."""
        if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(failure_id),
            UpdateExpression="SET audit = list_append(audit, :entry)",
            ConditionExpression="attribute_exists(recovery_id)",
            ExpressionAttributeValues={":entry": audit_entries(entry)},
        )


class FailureDisplay(Protocol):
    def post_failure(self, failure: FailedExecution) -> tuple[str, str]: ...

    def show_failure(self, failure: FailedExecution) -> None: ...


class RedriveGate(Protocol):
    """The routing rules' approval policies, as Redrive asks them before any claim
    (``lifecycle.redrive_approvals.RedriveApprovals``)."""

    def hold_redrive(self, failure: FailedExecution, actor: str, reason: str | None) -> Held | None:
        """None: no policy covers this Redrive; else it did not run (a request was made, or none
        could be) and what to tell ``actor``."""
        ...


@dataclass(frozen=True)
class RedriveResult:
    done: bool
    failure: FailedExecution | None
    detail: str
    request_id: str | None = None  # held back by a policy: the request that waits for approval
    held: bool = False  # a policy held it back (a request waits, or none could be made)


class Redrive:
    """Redrive a failed execution, exactly once, audited (the Slack app's Redrive button)."""

    def __init__(
        self,
        failures: FailureStore,
        sfn: Any,
        display: FailureDisplay | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        gate: RedriveGate | None = None,
    ) -> None:
        self._failures = failures
        self._sfn = sfn
        self._display = display
        self._clock = clock
        self.gate = gate  # the approval policies, asked before any claim (None: no policies)

    def redrive(
        self,
        failure_id: str,
        actor: str,
        reason: str | None = None,
        approved: ApprovalRequest | None = None,
    ) -> RedriveResult:
        """Redrive ``failure_id`` once. Under a policy it becomes a request instead (``reason``: the
        requester's); ``approved``: the approved request this run carries out (its requester is
        ``actor``), which must name exactly this Redrive."""
        try:
            failure = self._failures.get(failure_id)
        except FailureNotFoundError:
            return RedriveResult(False, None, f"no failed execution {failure_id}")
        now = self._clock()
        at = now.isoformat(timespec="milliseconds")
        if failure.status is FailureStatus.UNHANDLED and not failure.redrivable(now):
            entry = AuditEntry(
                at, actor, "redrive", FailureStatus.NOT_REDRIVABLE, {"why": "older than 14 days"}
            )
            self._failures.transition(
                failure_id, FailureStatus.UNHANDLED, FailureStatus.NOT_REDRIVABLE, entry
            )
            return self._closed(failure_id, False, "Step Functions redrives only within 14 days of the stop")
        if failure.status is FailureStatus.UNHANDLED:
            held = self._held(failure, actor, reason, approved)
            if held is not None:
                return held
        claim = AuditEntry(at, actor, "redrive", FailureStatus.REDRIVING, _approval_detail(approved))
        claimed = self._failures.transition(
            failure_id,
            FailureStatus.UNHANDLED,
            FailureStatus.REDRIVING,
            claim,
            lease_until=now + REDRIVE_LEASE,
        )
        if not claimed:
            current = self._failures.get(failure_id)
            by = f" by {current.last_actor}" if current.last_actor else ""
            return RedriveResult(False, current, f"is already {current.status.lower().replace('_', ' ')}{by}")
        try:
            answer = self._sfn.redrive_execution(executionArn=failure.execution_arn)
        except (ReadTimeoutError, ConnectionClosedError) as exc:  # it may have landed: ask the execution
            return self._unknown(failure, actor, type(exc).__name__)
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) >= 500:
                return self._unknown(failure, actor, exc.response["Error"]["Code"])
            code = exc.response["Error"]["Code"]
            message = exc.response["Error"].get("Message", "")
            final = (
                FailureStatus.NOT_REDRIVABLE if code == "ExecutionNotRedrivable" else FailureStatus.UNHANDLED
            )
            entry = AuditEntry(
                self._now(), actor, "redrive", final, {"error": code, "message": message[:500]}
            )
            self._failures.transition(failure_id, FailureStatus.REDRIVING, final, entry)
            return self._closed(failure_id, False, f"Step Functions refused: {code}: {message[:200]}")
        entry = AuditEntry(
            self._now(),
            actor,
            "redrive",
            FailureStatus.REDRIVEN,
            {"redrive_date": str(answer.get("redriveDate", ""))},
        )
        self._failures.transition(failure_id, FailureStatus.REDRIVING, FailureStatus.REDRIVEN, entry)
        return self._closed(failure_id, True, "redriven")

    def _held(
        self, failure: FailedExecution, actor: str, reason: str | None, approved: ApprovalRequest | None
    ) -> RedriveResult | None:
        """Why this Redrive may not run now (nothing claimed, nothing sent); None when it may."""
        if approved is not None:
            why = not_approved_for(approved, Gated.REDRIVE, failure.failure_id)
            return None if why is None else RedriveResult(False, failure, why)
        if self.gate is None:
            return None
        held = self.gate.hold_redrive(failure, actor, reason)
        if held is None:
            return None
        if held.new and held.request_id:  # the request's later steps reach this trail by themselves
            entry = AuditEntry(
                self._now(), actor, "request approval", REQUESTED, {"request": held.request_id}
            )
            self._failures.note(failure.failure_id, entry)
        return RedriveResult(False, failure, held.detail, held.request_id, held=True)

    def _unknown(self, failure: FailedExecution, actor: str, code: str) -> RedriveResult:
        settled = self.settle(failure.failure_id, force=True)
        if settled is not None and settled.status is FailureStatus.REDRIVEN:
            return RedriveResult(True, settled, "redriven")
        return RedriveResult(
            False,
            settled or failure,
            f"Step Functions did not answer ({code}); whether it redrove is not known yet. Nothing will "
            "be redriven again: the execution's own record settles it within a few minutes",
        )

    def settle(self, failure_id: str, force: bool = False) -> FailedExecution | None:
        """A REDRIVING claim whose lease ran out (or, ``force``, whose answer was lost): REDRIVEN when
        the execution was redriven since the claim, else Redrive offered again; None while the
        execution cannot be read (asked again next time)."""
        failure = self._failures.get(failure_id)
        if failure.status is not FailureStatus.REDRIVING:
            return failure
        claim = next((e for e in reversed(failure.audit) if e.result == FailureStatus.REDRIVING), None)
        claimed_at = datetime.fromisoformat(claim.at) if claim else datetime.min.replace(tzinfo=UTC)
        if not force and self._clock() < claimed_at + REDRIVE_LEASE:
            return failure  # its claim's process may still be at it
        try:
            execution = self._sfn.describe_execution(executionArn=failure.execution_arn)
        except (ClientError, BotoCoreError):
            return None
        redriven_at = execution.get("redriveDate")
        redriven = redriven_at is not None and redriven_at >= claimed_at
        actor = claim.actor if claim else "reconciler"
        detail = {"settled_by": "reconciler", "from": "Step Functions' record of the execution"}
        if redriven:
            entry = AuditEntry(self._now(), actor, "redrive", FailureStatus.REDRIVEN, detail)
            self._failures.transition(failure_id, FailureStatus.REDRIVING, FailureStatus.REDRIVEN, entry)
        elif not force:
            why = {**detail, "why": "the redrive did not reach Step Functions: Redrive is offered again"}
            entry = AuditEntry(self._now(), "reconciler", "reopen", FailureStatus.UNHANDLED, why)
            self._failures.transition(failure_id, FailureStatus.REDRIVING, FailureStatus.UNHANDLED, entry)
        else:
            return failure
        settled = self._failures.get(failure_id)
        if self._display is not None:
            try:
                self._display.show_failure(settled)
            except Exception:  # noqa: BLE001 - the message is behind; the record is right
                pass
        return settled

    def _closed(self, failure_id: str, done: bool, detail: str) -> RedriveResult:
        failure = self._failures.get(failure_id)
        if self._display is not None:
            self._display.show_failure(failure)
        return RedriveResult(done, failure, detail)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds")


def _approval_detail(approved: ApprovalRequest | None) -> dict[str, str]:
    if approved is None:
        return {}
    return {"approval": approved.request_id, "approved_by": ", ".join(approved.approved_by)}
