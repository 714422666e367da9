"""Reminders: recoveries open too long, or in flight too long, are brought up again in their thread.

A scheduled run looks at open recoveries older than ``after``. Each is reminded at most once per
``after`` (a conditional write on ``reminded_at``, so overlapping runs remind once), with how
long it has waited and how long its task token has left: the waiting step's ``TimeoutSeconds``,
read from the execution's history (the TaskScheduled event of the ``.waitForTaskToken`` call).

A recovery in flight (claimed, its outcome not stored: ``recovery_ops.service.recovery.lifecycle.in_flight``)
for longer
than ``after`` is reminded too, once per ``after`` and once per claim (the write also checks that
the claim is the one read), saying that it is in flight, since when and who claimed it: its
process may have died, and until the reconciler settles it nobody else can act on it.

The run also reports what the dashboard and the alarms watch: how many are open and the oldest,
how many are in flight and the longest in flight.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from recovery_ops.service.conditional_writes import if_condition_holds
from recovery_ops.service.recovery.lifecycle.in_flight import InFlight, longest_first
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.items import key
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryStore

SELECTION_LIMIT = 1000
WAIT_FOR_TOKEN = ".waitForTaskToken"


@dataclass(frozen=True)
class Reminder:
    """One reminder, as data: the chat tool words it (and escapes what the recovery carries)."""

    recovery: Recovery
    waited: timedelta
    deadline: datetime | None  # when the paused step times out (None: no known timeout)
    now: datetime
    in_flight: InFlight | None = None  # its claim, when it is in flight rather than open

    @property
    def time_left(self) -> timedelta | None:
        return None if self.deadline is None else self.deadline - self.now

    @property
    def in_flight_for(self) -> timedelta | None:
        """How long it has been in flight (None: it is open)."""
        return None if self.in_flight is None else self.in_flight.age(self.now)


class ReminderPoster(Protocol):
    def post_reminder(self, reminder: Reminder) -> None: ...


@dataclass
class ReminderReport:
    open_count: int = 0
    oldest_age_seconds: float = 0.0
    reminded: list[str] = field(default_factory=list)
    in_flight_count: int = 0
    oldest_in_flight_age_seconds: float = 0.0  # since its claim


def describe_duration(delta: timedelta) -> str:
    """``2 d 3 h``, ``1 h 5 min``, ``12 min``; under a minute, ``40 s``."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d"] if days else []
    if hours or days:
        parts.append(f"{hours} h")
    if not days:
        parts.append(f"{minutes} min")
    return " ".join(parts)


def token_deadline(sfn: Any, execution_arn: str) -> datetime | None:
    """When the step waiting for a person times out (None: no timeout, or not found)."""
    history = sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True, maxResults=200)
    for event in history.get("events", []):
        details = event.get("taskScheduledEventDetails")
        if details and details.get("resource", "").endswith(WAIT_FOR_TOKEN):
            timeout = details.get("timeoutInSeconds")
            return event["timestamp"] + timedelta(seconds=timeout) if timeout else None
    return None


@dataclass
class Reminders:
    store: RecoveryStore
    dynamodb: Any
    sfn: Any
    poster: ReminderPoster
    after: timedelta
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def run(self) -> ReminderReport:
        now = self.clock()
        report = ReminderReport(open_count=len(self.store.count_by_status(RecoveryStatus.OPEN, now=now)))
        due = self.store.list_by_status(
            RecoveryStatus.OPEN, ListFilter(older_than=self.after), limit=SELECTION_LIMIT, now=now
        )
        oldest = self.store.list_by_status(RecoveryStatus.OPEN, limit=1, now=now, oldest_first=True)
        if oldest:
            report.oldest_age_seconds = (now - datetime.fromisoformat(oldest[0].created_at)).total_seconds()
        for recovery in due:
            if recovery.slack_channel and recovery.slack_ts and self._claim(recovery, now):
                self.poster.post_reminder(self._reminder(recovery, now))
                report.reminded.append(recovery.recovery_id)
        self._remind_in_flight(report, now)
        return report

    def _remind_in_flight(self, report: ReminderReport, now: datetime) -> None:
        """Count the recoveries in flight, and remind those in flight longer than ``after``."""
        report.in_flight_count = len(self.store.count_by_status(RecoveryStatus.RESUMING, now=now))
        claimed = longest_first(
            self.store.list_by_status(
                RecoveryStatus.RESUMING, limit=SELECTION_LIMIT, now=now, oldest_first=True
            )
        )
        if claimed:
            report.oldest_in_flight_age_seconds = claimed[0].age(now).total_seconds()
        for claim in claimed:
            recovery = claim.recovery
            if claim.age(now) <= self.after or not (recovery.slack_channel and recovery.slack_ts):
                continue
            if self._claim_in_flight(claim, now):
                waited = now - datetime.fromisoformat(recovery.created_at)
                self.poster.post_reminder(Reminder(recovery, waited, None, now, in_flight=claim))
                report.reminded.append(recovery.recovery_id)

    def _claim_in_flight(self, claim: InFlight, now: datetime) -> bool:
        """The right to remind this claim now: still the same claim (RESUMING, ``updated_at``
        unchanged), not reminded within ``after``."""
        claimed = if_condition_holds(
            self.dynamodb.update_item,
            TableName=self.store.table_name,
            Key=key(claim.recovery.recovery_id),
            UpdateExpression="SET reminded_at = :now",
            ConditionExpression="#status = :resuming AND updated_at = :claimed AND "
            "(attribute_not_exists(reminded_at) OR reminded_at < :due)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":now": {"S": now.isoformat(timespec="seconds")},
                ":due": {"S": (now - self.after).isoformat(timespec="seconds")},
                ":resuming": {"S": RecoveryStatus.RESUMING},
                ":claimed": {"S": claim.recovery.updated_at},
            },
        )
        return claimed is not None

    def _claim(self, recovery: Recovery, now: datetime) -> bool:
        claimed = if_condition_holds(
            self.dynamodb.update_item,
            TableName=self.store.table_name,
            Key=key(recovery.recovery_id),
            UpdateExpression="SET reminded_at = :now",
            ConditionExpression="#status = :open AND "
            "(attribute_not_exists(reminded_at) OR reminded_at < :due)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":now": {"S": now.isoformat(timespec="seconds")},
                ":due": {"S": (now - self.after).isoformat(timespec="seconds")},
                ":open": {"S": RecoveryStatus.OPEN},
            },
        )
        return claimed is not None

    def _reminder(self, recovery: Recovery, now: datetime) -> Reminder:
        try:
            deadline = token_deadline(self.sfn, recovery.execution_arn)
        except Exception:  # noqa: BLE001 - the reminder still goes out, without the deadline
            deadline = None
        return Reminder(recovery, now - datetime.fromisoformat(recovery.created_at), deadline, now)
