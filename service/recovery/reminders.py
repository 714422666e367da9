"""Reminders: recoveries open too long are brought up again, in their message's thread.

A scheduled run looks at open recoveries older than ``after``. Each is reminded at most once per
``after`` (a conditional write on ``reminded_at``, so overlapping runs remind once), with how
long it has waited and how long its task token has left: the waiting step's ``TimeoutSeconds``,
read from the execution's history (the TaskScheduled event of the ``.waitForTaskToken`` call).
The run also reports what the dashboard and the age alarm watch: how many are open, the oldest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from service.conditional_writes import if_condition_holds
from service.recovery.recovery import Recovery, RecoveryStatus
from service.recovery.store import ListFilter, RecoveryStore
from service.recovery.table_items import key

SELECTION_LIMIT = 1000
WAIT_FOR_TOKEN = ".waitForTaskToken"


@dataclass(frozen=True)
class Reminder:
    """One reminder, as data: the chat tool words it (and escapes what the recovery carries)."""

    recovery: Recovery
    waited: timedelta
    deadline: datetime | None  # when the paused step times out (None: no known timeout)
    now: datetime

    @property
    def time_left(self) -> timedelta | None:
        return None if self.deadline is None else self.deadline - self.now


class ReminderPoster(Protocol):
    def post_reminder(self, reminder: Reminder) -> None: ...


@dataclass
class ReminderReport:
    open_count: int = 0
    oldest_age_seconds: float = 0.0
    reminded: list[str] = field(default_factory=list)


def describe_duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
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
        return report

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
