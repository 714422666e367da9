"""Executions that failed without going through a recovery: the outermost catch's records.

When an execution ends FAILED, TIMED_OUT or ABORTED and none of its steps ever asked for a
person, a ``FailedExecution`` is stored (once per execution: a redelivered event finds it) and
posted with a **Redrive** button. Redrive is claimed like Run again (UNHANDLED → REDRIVING with a
conditional write; the first click wins) and is offered only while Step Functions allows it:
Standard workflows (the only ones that emit status-change events) within 14 days of the stop.

Items live in the recoveries table under ``fail-<hash of the execution ARN>``; their own status
values keep them out of the recoveries listing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from service.conditional_writes import if_condition_holds
from service.recovery.recovery import AuditEntry, execution_console_url

REDRIVE_WINDOW = timedelta(days=14)
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class FailureStatus(StrEnum):
    UNHANDLED = "FAILED_EXECUTION"  # posted, Redrive offered
    REDRIVING = "REDRIVING"
    REDRIVEN = "REDRIVEN"
    NOT_REDRIVABLE = "NOT_REDRIVABLE"


def failure_id_for(execution_arn: str) -> str:
    return "fail-" + hashlib.sha256(execution_arn.encode()).hexdigest()[:32]


@dataclass
class FailedExecution:
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

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]

    @property
    def console_url(self) -> str:
        return execution_console_url(self.execution_arn)

    def redrivable(self, now: datetime) -> bool:
        return now - datetime.fromisoformat(self.stopped_at) <= REDRIVE_WINDOW

    @property
    def last_actor(self) -> str | None:
        people = [e.actor for e in self.audit if e.actor != "execution-watcher" and e.result != "DENIED"]
        return people[-1] if people else None


class FailureNotFound(LookupError):
    pass


class FailureStore:
    def __init__(self, table_name: str, client: Any, retention_days: int = 90) -> None:
        self._table = table_name
        self._client = client
        self._retention = timedelta(days=retention_days)

    def create_if_absent(self, failure: FailedExecution) -> bool:
        item = {k: v for k, v in asdict(failure).items() if v is not None}
        item["recovery_id"] = item.pop("failure_id")
        item["status"] = str(failure.status)
        item["audit"] = [asdict(e) for e in failure.audit]
        item["expires_at"] = int((datetime.now(UTC) + self._retention).timestamp())
        created = if_condition_holds(
            self._client.put_item,
            TableName=self._table,
            Item={k: _serializer.serialize(v) for k, v in item.items()},
            ConditionExpression="attribute_not_exists(recovery_id)",
        )
        return created is not None

    def get(self, failure_id: str) -> FailedExecution:
        item = self._client.get_item(
            TableName=self._table, Key={"recovery_id": {"S": failure_id}}, ConsistentRead=True
        ).get("Item")
        if not item:
            raise FailureNotFound(failure_id)
        data = {k: _deserializer.deserialize(v) for k, v in item.items()}
        return FailedExecution(
            failure_id=data["recovery_id"],
            execution_arn=data["execution_arn"],
            execution_name=data["execution_name"],
            state_machine_arn=data["state_machine_arn"],
            execution_status=data["execution_status"],
            error=data.get("error"),
            cause=data.get("cause"),
            stopped_at=data["stopped_at"],
            status=FailureStatus(data["status"]),
            slack_channel=data.get("slack_channel"),
            slack_ts=data.get("slack_ts"),
            audit=[AuditEntry(**{**e, "detail": dict(e.get("detail", {}))}) for e in data.get("audit", [])],
        )

    def mark_posted(self, failure_id: str, channel: str, ts: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key={"recovery_id": {"S": failure_id}},
            UpdateExpression="SET slack_channel = :channel, slack_ts = :ts",
            ExpressionAttributeValues={":channel": {"S": channel}, ":ts": {"S": ts}},
        )

    def transition(
        self, failure_id: str, expected: FailureStatus, target: FailureStatus, entry: AuditEntry
    ) -> bool:
        moved = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key={"recovery_id": {"S": failure_id}},
            UpdateExpression="SET #status = :target, audit = list_append(audit, :entry)",
            ConditionExpression="#status = :expected",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":expected": {"S": expected},
                ":target": {"S": target},
                ":entry": {"L": [_serializer.serialize(asdict(entry))]},
            },
        )
        return moved is not None


class FailureDisplay(Protocol):
    def post_failure(self, failure: FailedExecution) -> tuple[str, str]: ...

    def show_failure(self, failure: FailedExecution) -> None: ...


@dataclass(frozen=True)
class RedriveResult:
    done: bool
    failure: FailedExecution | None
    detail: str


class Redrive:
    """Redrive a failed execution, exactly once, audited (the Slack app's Redrive button)."""

    def __init__(
        self,
        failures: FailureStore,
        sfn: Any,
        display: FailureDisplay | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._failures = failures
        self._sfn = sfn
        self._display = display
        self._clock = clock

    def redrive(self, failure_id: str, actor: str) -> RedriveResult:
        try:
            failure = self._failures.get(failure_id)
        except FailureNotFound:
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
        claim = AuditEntry(at, actor, "redrive", FailureStatus.REDRIVING)
        if not self._failures.transition(failure_id, FailureStatus.UNHANDLED, FailureStatus.REDRIVING, claim):
            current = self._failures.get(failure_id)
            by = f" by {current.last_actor}" if current.last_actor else ""
            return RedriveResult(False, current, f"is already {current.status.lower().replace('_', ' ')}{by}")
        try:
            answer = self._sfn.redrive_execution(executionArn=failure.execution_arn)
        except ClientError as exc:
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

    def _closed(self, failure_id: str, done: bool, detail: str) -> RedriveResult:
        failure = self._failures.get(failure_id)
        if self._display is not None:
            self._display.show_failure(failure)
        return RedriveResult(done, failure, detail)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds")
