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

Slack takes about one message a second per channel, so the reminders of one run are posted per
channel: at most ``DIGEST_THRESHOLD`` in a channel go one by one into their threads; more become
one digest at the top of that channel (how many, the longest waiting as rows, and a way to list
them all). A reminder is claimed before it is posted; one whose post (or whose digest's post)
fails is given back, only if the claim is still the one this run wrote, so the next run reminds
it again.

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
from recovery_ops.service.recovery.model.contract import WorkflowKind
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import MessageRef, NotifierUnavailableError
from recovery_ops.service.recovery.storage.items import REMINDED_AT, key
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryStore

SELECTION_LIMIT = 1000
WAIT_FOR_TOKEN = ".waitForTaskToken"
# more reminders (or escalation levels) than this in one channel in one run become one digest
DIGEST_THRESHOLD = 3


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


@dataclass(frozen=True)
class ReminderDigest:
    """The reminders of one run in one channel, when there are more than a few: one message at the
    top of ``channel`` instead of one reply in each thread."""

    channel: str
    reminders: tuple[Reminder, ...]  # the longest waiting first
    now: datetime

    @property
    def in_flight(self) -> int:
        """How many of them are in flight rather than open."""
        return sum(1 for reminder in self.reminders if reminder.in_flight is not None)


class ReminderPoster(Protocol):
    def post_reminder(self, reminder: Reminder) -> None:
        """In the recovery's thread; ``NotifierUnavailableError`` when it was not posted."""
        ...

    def post_reminder_digest(self, digest: ReminderDigest) -> MessageRef:
        """One message in ``digest.channel``; ``NotifierUnavailableError`` when it was not posted."""
        ...


@dataclass
class ReminderReport:
    open_count: int = 0
    oldest_age_seconds: float = 0.0
    reminded: list[str] = field(default_factory=list)
    in_flight_count: int = 0
    oldest_in_flight_age_seconds: float = 0.0  # since its claim
    digests: list[MessageRef] = field(default_factory=list)  # one per channel past the threshold
    given_back: list[str] = field(default_factory=list)  # claimed, not posted: the next run reminds


@dataclass(frozen=True)
class _Claimed:
    """A reminder this run claimed: what it wrote on ``reminded_at`` and what was there before, so
    that a failed post gives back exactly this claim."""

    recovery: Recovery
    stamp: str
    before: str | None
    in_flight: InFlight | None = None


def by_channel(claims: list[_Claimed]) -> dict[str, list[_Claimed]]:
    """The claims per channel of their recovery's message, in the order claimed."""
    channels: dict[str, list[_Claimed]] = {}
    for claimed in claims:
        channels.setdefault(claimed.recovery.slack_channel or "", []).append(claimed)
    return channels


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
        report = ReminderReport(open_count=self.store.counts(RecoveryStatus.OPEN, now=now).total)
        due = self.store.list_by_status(
            RecoveryStatus.OPEN, ListFilter(older_than=self.after), limit=SELECTION_LIMIT, now=now
        )
        oldest = self.store.list_by_status(RecoveryStatus.OPEN, limit=1, now=now, oldest_first=True)
        if oldest:
            report.oldest_age_seconds = (now - datetime.fromisoformat(oldest[0].created_at)).total_seconds()
        claims = [
            claimed
            for recovery in due
            if recovery.slack_channel and recovery.slack_ts
            for claimed in [self._claim(recovery, now)]
            if claimed is not None
        ]
        claims += self._claim_in_flight_due(report, now)
        for channel, claimed in by_channel(claims).items():
            if len(claimed) > DIGEST_THRESHOLD:
                self._post_digest(channel, claimed, now, report)
            else:
                for one in claimed:
                    self._post_one(one, now, report)
        return report

    def _claim_in_flight_due(self, report: ReminderReport, now: datetime) -> list[_Claimed]:
        """Count the recoveries in flight, and claim the reminders of those in flight longer than
        ``after``."""
        report.in_flight_count = self.store.counts(RecoveryStatus.RESUMING, now=now).total
        claimed = longest_first(
            self.store.list_by_status(
                RecoveryStatus.RESUMING, limit=SELECTION_LIMIT, now=now, oldest_first=True
            )
        )
        if claimed:
            report.oldest_in_flight_age_seconds = claimed[0].age(now).total_seconds()
        taken = []
        for claim in claimed:
            recovery = claim.recovery
            if claim.age(now) <= self.after or not (recovery.slack_channel and recovery.slack_ts):
                continue
            held = self._claim_in_flight(claim, now)
            if held is not None:
                taken.append(held)
        return taken

    def _post_one(self, claimed: _Claimed, now: datetime, report: ReminderReport) -> None:
        """One reminder in its thread; given back when it cannot be posted."""
        reminder = self._reminder(claimed, now, with_deadline=True)
        try:
            self.poster.post_reminder(reminder)
        except NotifierUnavailableError:
            self._give_back(claimed, report)
            return
        report.reminded.append(claimed.recovery.recovery_id)

    def _post_digest(
        self, channel: str, claims: list[_Claimed], now: datetime, report: ReminderReport
    ) -> None:
        """The channel's reminders as one digest, the longest waiting first; every claim given back
        when it cannot be posted."""
        reminders = sorted(
            (self._reminder(claimed, now, with_deadline=False) for claimed in claims),
            key=lambda reminder: reminder.waited,
            reverse=True,
        )
        try:
            message = self.poster.post_reminder_digest(ReminderDigest(channel, tuple(reminders), now))
        except NotifierUnavailableError:
            for claimed in claims:
                self._give_back(claimed, report)
            return
        report.digests.append(message)
        report.reminded += [claimed.recovery.recovery_id for claimed in claims]

    def _claim_in_flight(self, claim: InFlight, now: datetime) -> _Claimed | None:
        """The right to remind this claim now: still the same claim (RESUMING, ``updated_at``
        unchanged), not reminded within ``after``."""
        return self._stamp(
            claim.recovery,
            now,
            "#status = :status AND updated_at = :claimed AND "
            "(attribute_not_exists(reminded_at) OR reminded_at < :due)",
            {":status": {"S": RecoveryStatus.RESUMING}, ":claimed": {"S": claim.recovery.updated_at}},
            claim,
        )

    def _claim(self, recovery: Recovery, now: datetime) -> _Claimed | None:
        """The right to remind this open recovery now: not reminded within ``after``."""
        return self._stamp(
            recovery,
            now,
            "#status = :status AND (attribute_not_exists(reminded_at) OR reminded_at < :due)",
            {":status": {"S": RecoveryStatus.OPEN}},
        )

    def _stamp(
        self,
        recovery: Recovery,
        now: datetime,
        condition: str,
        values: dict[str, Any],
        claim: InFlight | None = None,
    ) -> _Claimed | None:
        """``reminded_at`` set to now under ``condition``; the claim (with what it replaced), or None."""
        stamp = now.isoformat(timespec="seconds")
        answer = if_condition_holds(
            self.dynamodb.update_item,
            TableName=self.store.table_name,
            Key=key(recovery.recovery_id),
            UpdateExpression="SET reminded_at = :now",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":now": {"S": stamp},
                ":due": {"S": (now - self.after).isoformat(timespec="seconds")},
                **values,
            },
            ReturnValues="UPDATED_OLD",
        )
        if answer is None:
            return None
        before = (answer.get("Attributes") or {}).get(REMINDED_AT, {}).get("S")
        return _Claimed(recovery, stamp, before, claim)

    def _give_back(self, claimed: _Claimed, report: ReminderReport) -> None:
        """``reminded_at`` as it was before this run's claim, if it still holds this run's stamp
        (a later run's claim is left alone): the next run reminds it again."""
        if claimed.before is None:
            update, values = "REMOVE reminded_at", {":mine": {"S": claimed.stamp}}
        else:
            update = "SET reminded_at = :before"
            values = {":mine": {"S": claimed.stamp}, ":before": {"S": claimed.before}}
        given = if_condition_holds(
            self.dynamodb.update_item,
            TableName=self.store.table_name,
            Key=key(claimed.recovery.recovery_id),
            UpdateExpression=update,
            ConditionExpression="reminded_at = :mine",
            ExpressionAttributeValues=values,
        )
        if given is not None:
            report.given_back.append(claimed.recovery.recovery_id)

    def _reminder(self, claimed: _Claimed, now: datetime, with_deadline: bool) -> Reminder:
        """The reminder of a claim; its token's deadline is read (one history call) only for a
        reminder of its own: a digest does not show it."""
        recovery = claimed.recovery
        waited = now - datetime.fromisoformat(recovery.created_at)
        if claimed.in_flight is not None:
            return Reminder(recovery, waited, None, now, in_flight=claimed.in_flight)
        deadline = None
        # a durable callback's timeout is in its execution's record, not Step Functions': not shown
        if with_deadline and recovery.kind is WorkflowKind.STEP_FUNCTIONS:
            try:
                deadline = token_deadline(self.sfn, recovery.execution_arn)
            except Exception:  # noqa: BLE001 - the reminder still goes out, without the deadline
                deadline = None
        return Reminder(recovery, waited, deadline, now)
