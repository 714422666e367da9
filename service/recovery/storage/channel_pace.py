"""The pace of posts per chat channel, kept in the recoveries table so that it holds across every
concurrent Lambda invocation that posts (the collector's, the reminders', the app's, self-healing's).

Slack lets an app post about one message a second to one channel, with short bursts allowed, and
answers 429 with ``Retry-After`` past that. Each channel's pace is one item (``pace#<channel>``)
holding its *theoretical arrival time* (``tat``), the generic cell rate algorithm that token
buckets reduce to, in one number: a post asks for the channel's next turn, which is ``max(now,
tat - tolerance)``, and moves ``tat`` one interval on. The tolerance lets ``burst`` posts through
at once after a quiet while; sustained, the channel gets ``per_second`` posts a second. Turns are
handed out in the order they are asked for, by one conditional write on ``tat`` each (an
invocation that lost the race reads again), so posts of concurrent invocations to one channel
keep to the pace and to their order.

A turn further away than ``max_wait_seconds`` is not taken: ``ChannelBackedUpError`` (a
``NotifierUnavailableError``) tells the caller to try later, as for any time the chat tool cannot
take a message, so nothing waits longer than a Lambda invocation can and nothing is lost (the
collector leaves the record to SQS, the reminders give their claims back). When Slack answers 429
anyway (another app in the workspace, a workspace-wide limit), ``hold`` moves the channel's turns
past ``Retry-After`` for every invocation.

The pace is a courtesy to Slack, not a lock: when the table cannot be read or written the post
goes out unpaced (logged and counted) and Slack's own 429s, retried by slack_sdk and recorded by
``hold``, are the backstop.

``now`` and ``sleep`` are module attributes so that a local stack can run its clock faster, as it
does the circuit breaker's (``recovery_ops.service.local.engine.interpreter_clock``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recovery_ops.service.observability import logger, metrics
from recovery_ops.service.recovery.ports.notifier import NotifierUnavailableError
from recovery_ops.service.recovery.storage.items import EXPIRES_AT, key

PACE_PREFIX = "pace#"
TAT = "tat"  # the channel's theoretical arrival time, epoch seconds
KEEP_SECONDS = 86_400  # an idle channel's pace item expires after a day (DynamoDB's TTL)
ATTEMPTS = 8  # reads and conditional writes before giving up on a contended channel


#: the pace's clock and sleep, replaced by a local stack that runs time faster
def now() -> float:
    return time.time()


def sleep(seconds: float) -> None:
    time.sleep(seconds)


class ChannelBackedUpError(NotifierUnavailableError):
    """The channel's next turn is further away than one invocation may wait: try again later."""

    def __init__(self, channel: str, wait_seconds: float) -> None:
        super().__init__(f"{channel} is paced: its next turn is in {wait_seconds:.1f} s")
        self.channel = channel
        self.wait_seconds = wait_seconds


@dataclass
class DynamoChannelPace:
    """``recovery_ops.service.recovery.ports.notifier.ChannelPace`` on the recoveries table."""

    table_name: str
    client: Any
    per_second: float = 1.0
    burst: int = 3
    max_wait_seconds: float = 10.0

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    @property
    def tolerance(self) -> float:
        """How far ahead of now ``tat`` may be and a post still go at once: ``burst`` posts in a row."""
        return (self.burst - 1) * self.interval

    def turn(self, channel: str) -> float:
        """Wait for ``channel``'s next turn and take it; how long it waited, in seconds.
        ``ChannelBackedUpError`` when the turn is further than ``max_wait_seconds``."""
        for _ in range(ATTEMPTS):
            at = now()
            try:
                stored = self._read(channel)
            except (BotoCoreError, ClientError) as exc:
                return self._unpaced(channel, exc)
            arrival = max(stored if stored is not None else at, at)
            wait = max(0.0, arrival - self.tolerance - at)
            if wait > self.max_wait_seconds:
                metrics.add_metric(name="SlackPostsDeferred", unit="Count", value=1)
                raise ChannelBackedUpError(channel, wait)
            try:
                taken = self._write(channel, stored, arrival + self.interval, at)
            except (BotoCoreError, ClientError) as exc:
                return self._unpaced(channel, exc)
            if taken:
                if wait > 0:
                    sleep(wait)
                return wait
        # every attempt lost the race to other invocations: the channel is busy, come back later
        raise ChannelBackedUpError(channel, self.interval)

    def hold(self, channel: str, seconds: float) -> None:
        """Slack answered 429 with ``Retry-After: seconds``: no turn before then, for anyone."""
        until = now() + seconds + self.tolerance
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=key(PACE_PREFIX + channel),
                UpdateExpression="SET #tat = :until, #expires = :expires",
                ConditionExpression="attribute_not_exists(#tat) OR #tat < :until",
                ExpressionAttributeNames={"#tat": TAT, "#expires": EXPIRES_AT},
                ExpressionAttributeValues={":until": _seconds(until), ":expires": _expiry(until)},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                logger.warning("could not hold the channel's pace", channel=channel, error=str(exc))
        except BotoCoreError as exc:
            logger.warning("could not hold the channel's pace", channel=channel, error=str(exc))

    def _read(self, channel: str) -> float | None:
        answer = self.client.get_item(
            TableName=self.table_name,
            Key=key(PACE_PREFIX + channel),
            ConsistentRead=True,
            ProjectionExpression="#tat",
            ExpressionAttributeNames={"#tat": TAT},
        )
        value = (answer.get("Item") or {}).get(TAT, {}).get("N")
        return float(value) if value is not None else None

    def _write(self, channel: str, stored: float | None, tat: float, at: float) -> bool:
        """Move ``tat`` on, only if nobody moved it since it was read."""
        if stored is None:
            condition = "attribute_not_exists(#tat)"
            values = {":tat": _seconds(tat), ":expires": _expiry(at)}
        else:
            condition = "#tat = :read"
            values = {":tat": _seconds(tat), ":expires": _expiry(at), ":read": _seconds(stored)}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=key(PACE_PREFIX + channel),
                UpdateExpression="SET #tat = :tat, #expires = :expires",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#tat": TAT, "#expires": EXPIRES_AT},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _unpaced(self, channel: str, exc: Exception) -> float:
        metrics.add_metric(name="SlackPostsUnpaced", unit="Count", value=1)
        logger.warning("channel pace unavailable: posting unpaced", channel=channel, error=str(exc))
        return 0.0


def _seconds(value: float) -> dict[str, str]:
    """An instant as the item stores it: epoch seconds with microseconds, so a read compares equal."""
    return {"N": f"{value:.6f}"}


def _expiry(at: float) -> dict[str, str]:
    return {"N": str(int(at) + KEEP_SECONDS)}
