"""The escalation ladder's writes on a recovery item: a level claimed with a lease, given back,
recorded as posted; and the levels claimed but not recorded, read for the next run to settle.

A level is claimed by one conditional write: ``escalated`` i → i+1 (only while the recovery is
open or resuming and nobody owns it, and no other level is in flight), with its audit entry and
the claim itself: which level (``escalating_level``), which run holds it (``escalating_by``) and
until when (``escalating_until``, the lease), when the level was first claimed
(``escalating_since``) and where it goes (``escalating_channel``, ``escalating_thread``: empty for
a new message). Once posted, the message's ts is appended to ``escalation_posts`` and the claim
removed. A level given back (the post failed) keeps when and where it was first claimed: the failed
post may have reached Slack, so whoever claims it again looks there first. A lease that ran out
can be taken over by another run (``take_over``). Each attempt at posting the level says how it
posts it (``escalating_as``: "" for a message of its own, else the id of the digest it goes in, whose
mark Slack then carries), so that whoever settles the level later knows which marks to look for;
a level taken over and posted again says so first (``aim``). A claim whose answer was lost (an error), or
whose condition failed (what the SDK's retry of a write that was applied meets), is read back: it
is held if the item names its claimant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from recovery_ops.service.conditional_writes import ANSWER_LOST, if_condition_holds
from recovery_ops.service.recovery.model.recovery import AuditEntry, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import MessageRef
from recovery_ops.service.recovery.storage.items import (
    ESCALATED,
    ESCALATING_AS,
    ESCALATING_BY,
    ESCALATING_CHANNEL,
    ESCALATING_LEVEL,
    ESCALATING_SINCE,
    ESCALATING_THREAD,
    ESCALATING_UNTIL,
    ESCALATION_POSTS,
    KEY,
    OWNER,
    STATUS,
    audit_entries,
    instant,
    key,
)

BATCH_KEYS = 100  # BatchGetItem's most keys per call
BATCH_ATTEMPTS = 3  # calls per batch while DynamoDB leaves keys unprocessed
CLAIM_ATTRIBUTES = (
    ESCALATING_LEVEL,
    ESCALATING_BY,
    ESCALATING_UNTIL,
    ESCALATING_SINCE,
    ESCALATING_CHANNEL,
    ESCALATING_THREAD,
    ESCALATING_AS,
)
OWN_MESSAGE = ""  # an attempt that posts the level as a message of its own (not in a digest)


@dataclass(frozen=True)
class PendingLevel:
    """A level claimed and not recorded as posted: in flight, or left by a run that stopped."""

    recovery_id: str
    level: int  # 1-based
    by: str
    until: datetime
    since: datetime
    tried: tuple[str, ...] = ()  # how each attempt so far posts it (``escalating_as``)


@dataclass(frozen=True)
class HeldLevel:
    """A level this run holds the claim on: post it (after looking, when ``since`` says so)."""

    level: int  # 1-based
    channel: str
    thread_ts: str | None
    since: datetime | None  # an earlier attempt's first claim: it may have posted; None: the first
    tried: tuple[str, ...] = ()  # how the earlier attempts posted it ("": its own message; a digest id)


class EscalationClaims:
    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    # ------------------------------------------------------------------ claims
    def claim(
        self,
        recovery_id: str,
        level: int,
        claimant: str,
        channel: str,
        thread_ts: str | None,
        at: datetime,
        lease: timedelta,
        entry: AuditEntry,
        posted_as: str = OWN_MESSAGE,
    ) -> HeldLevel | None:
        """Claim ``level`` (1-based; ``escalated`` level-1 → level) for ``lease``, to be posted as
        ``posted_as`` (a message of its own, or in the digest of that id); None when another run
        fired it, a level is in flight, or the recovery is closed or owned. A level claimed before
        (and given back) keeps its first channel and thread."""
        now = instant(at)
        names = {"#escalated": ESCALATED, "#status": STATUS, "#owner": OWNER}
        values: dict[str, Any] = {
            ":entry": audit_entries(entry),
            ":none": {"L": []},
            ":level": {"N": str(level)},
            ":me": {"S": claimant},
            ":until": {"S": instant(at + lease)},
            ":now": {"S": now},
            ":channel": {"S": channel},
            ":thread": {"S": thread_ts or ""},
            ":as": {"L": [{"S": posted_as}]},
            ":open": {"S": RecoveryStatus.OPEN},
            ":resuming": {"S": RecoveryStatus.RESUMING},
        }
        if level == 1:  # absent until a level fires (and again once level 1 was given back)
            is_expected = "attribute_not_exists(#escalated)"
        else:
            is_expected = "#escalated = :expected"
            values[":expected"] = {"N": str(level - 1)}
        try:
            answer = if_condition_holds(
                self._client.update_item,
                TableName=self._table,
                Key=key(recovery_id),
                UpdateExpression="SET #escalated = :level, "
                "audit = list_append(if_not_exists(audit, :none), :entry), "
                f"{ESCALATING_LEVEL} = :level, {ESCALATING_BY} = :me, {ESCALATING_UNTIL} = :until, "
                f"{ESCALATING_SINCE} = if_not_exists({ESCALATING_SINCE}, :now), "
                f"{ESCALATING_CHANNEL} = if_not_exists({ESCALATING_CHANNEL}, :channel), "
                f"{ESCALATING_THREAD} = if_not_exists({ESCALATING_THREAD}, :thread), "
                f"{ESCALATING_AS} = list_append(if_not_exists({ESCALATING_AS}, :none), :as)",
                ConditionExpression=f"attribute_exists({KEY}) AND {is_expected} AND "
                "(#status = :open OR #status = :resuming) AND attribute_not_exists(#owner) AND "
                f"attribute_not_exists({ESCALATING_LEVEL})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ANSWER_LOST:
            return self._read_back(recovery_id, level, claimant, now, appended=True)
        if answer is None:  # also what an SDK retry of a write that was applied meets: read it
            return self._read_back(recovery_id, level, claimant, now, appended=True)
        return _held(answer["Attributes"], now, appended=True)

    def take_over(
        self, pending: PendingLevel, claimant: str, at: datetime, lease: timedelta
    ) -> HeldLevel | None:
        """Hold ``pending``, whose lease ran out, for ``lease``; None when another run took it
        first, or it was recorded, or the recovery is closed or owned meanwhile."""
        now = instant(at)
        try:
            answer = if_condition_holds(
                self._client.update_item,
                TableName=self._table,
                Key=key(pending.recovery_id),
                UpdateExpression=f"SET {ESCALATING_BY} = :me, {ESCALATING_UNTIL} = :until",
                ConditionExpression=f"{ESCALATING_LEVEL} = :level AND {ESCALATING_UNTIL} < :now AND "
                "(#status = :open OR #status = :resuming) AND attribute_not_exists(#owner)",
                ExpressionAttributeNames={"#status": STATUS, "#owner": OWNER},
                ExpressionAttributeValues={
                    ":level": {"N": str(pending.level)},
                    ":me": {"S": claimant},
                    ":until": {"S": instant(at + lease)},
                    ":now": {"S": now},
                    ":open": {"S": RecoveryStatus.OPEN},
                    ":resuming": {"S": RecoveryStatus.RESUMING},
                },
                ReturnValues="ALL_NEW",
            )
        except ANSWER_LOST:
            return self._read_back(pending.recovery_id, pending.level, claimant, now)
        if answer is None:  # as in ``claim``
            return self._read_back(pending.recovery_id, pending.level, claimant, now)
        return _held(answer["Attributes"], now)

    def aim(self, recovery_id: str, level: int, claimant: str, posted_as: str) -> bool:
        """Say how the level this run holds (taken over, or claimed for a digest it is no longer
        in) is about to be posted, before posting it; False when the claim is no longer this run's."""
        aimed = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression=f"SET {ESCALATING_AS} = list_append(if_not_exists({ESCALATING_AS}, :none), :as)",
            ConditionExpression=f"{ESCALATING_LEVEL} = :level AND {ESCALATING_BY} = :me",
            ExpressionAttributeValues={
                ":as": {"L": [{"S": posted_as}]},
                ":none": {"L": []},
                ":level": {"N": str(level)},
                ":me": {"S": claimant},
            },
        )
        return aimed is not None

    def _read_back(
        self, recovery_id: str, level: int, claimant: str, now: str, appended: bool = False
    ) -> HeldLevel | None:
        """The claim as the table has it, if ``claimant`` holds ``level`` (None: not held, or
        unreadable); ``appended``: the claim added its own attempt, which is not an earlier one."""
        try:
            item = self._client.get_item(
                TableName=self._table, Key=key(recovery_id), ConsistentRead=True
            ).get("Item", {})
        except ANSWER_LOST:
            return None
        if _text(item, ESCALATING_BY) != claimant or _number(item, ESCALATING_LEVEL) != level:
            return None
        return _held(item, now, appended)

    # ------------------------------------------------------------------ settling a claim
    def give_back(self, recovery_id: str, level: int, claimant: str, entry: AuditEntry) -> bool:
        """``escalated`` level → level-1, audited, so that the next run tries the level again; when
        and where it was first claimed stay. False when the claim is no longer this run's."""
        values: dict[str, Any] = {
            ":entry": audit_entries(entry),
            ":none": {"L": []},
            ":level": {"N": str(level)},
            ":me": {"S": claimant},
        }
        audit = "audit = list_append(if_not_exists(audit, :none), :entry)"
        released = f"{ESCALATING_LEVEL}, {ESCALATING_BY}, {ESCALATING_UNTIL}"
        if level == 1:
            update = f"SET {audit} REMOVE #escalated, {released}"
        else:
            update = f"SET #escalated = :below, {audit} REMOVE {released}"
            values[":below"] = {"N": str(level - 1)}
        given = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression=update,
            ConditionExpression=f"#escalated = :level AND {ESCALATING_LEVEL} = :level "
            f"AND {ESCALATING_BY} = :me",
            ExpressionAttributeNames={"#escalated": ESCALATED},
            ExpressionAttributeValues=values,
        )
        return given is not None

    def record_posted(
        self,
        recovery_id: str,
        level: int,
        claimant: str,
        message: MessageRef,
        entry: AuditEntry | None = None,
    ) -> bool:
        """The level's message, recorded (``escalation_posts``, and ``entry`` audited): the claim
        ends. False when the claim is no longer this run's (another run took it over)."""
        post = {"M": {"level": {"N": str(level)}, "channel": {"S": message.channel}, "ts": {"S": message.ts}}}
        values: dict[str, Any] = {":post": {"L": [post]}, ":none": {"L": []}, ":level": {"N": str(level)}}
        values[":me"] = {"S": claimant}
        update = f"SET {ESCALATION_POSTS} = list_append(if_not_exists({ESCALATION_POSTS}, :none), :post)"
        if entry is not None:
            update += ", audit = list_append(if_not_exists(audit, :none), :entry)"
            values[":entry"] = audit_entries(entry)
        recorded = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression=f"{update} REMOVE {', '.join(CLAIM_ATTRIBUTES)}",
            ConditionExpression=f"{ESCALATING_LEVEL} = :level AND {ESCALATING_BY} = :me",
            ExpressionAttributeValues=values,
        )
        return recorded is not None

    # ------------------------------------------------------------------ reads
    def pending(self, recovery_ids: list[str]) -> dict[str, PendingLevel]:
        """The levels claimed and not recorded among ``recovery_ids``, by recovery id. A recovery
        DynamoDB left unread is left out: its next level's claim still waits for it (the claim's
        condition), it is only not settled in this run."""
        found: dict[str, PendingLevel] = {}
        for start in range(0, len(recovery_ids), BATCH_KEYS):
            keys = [key(i) for i in recovery_ids[start : start + BATCH_KEYS]]
            for _ in range(BATCH_ATTEMPTS):
                answer = self._client.batch_get_item(
                    RequestItems={
                        self._table: {
                            "Keys": keys,
                            "ConsistentRead": True,
                            "ProjectionExpression": ", ".join((KEY, *CLAIM_ATTRIBUTES)),
                        }
                    }
                )
                for item in answer.get("Responses", {}).get(self._table, []):
                    if ESCALATING_LEVEL in item:
                        level = _pending(item)
                        found[level.recovery_id] = level
                keys = answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not keys:
                    break
        return found


def _held(item: dict[str, Any], now: str, appended: bool = False) -> HeldLevel:
    """The claim an item holds, as the claimant who wrote it at ``now`` sees it (``appended``: the
    last attempt listed is its own)."""
    since = _text(item, ESCALATING_SINCE)
    tried = _tried(item)
    return HeldLevel(
        level=_number(item, ESCALATING_LEVEL) or 0,
        channel=_text(item, ESCALATING_CHANNEL) or "",
        thread_ts=_text(item, ESCALATING_THREAD) or None,
        since=datetime.fromisoformat(since) if since and since != now else None,  # ``now``: its own
        tried=tried[:-1] if appended else tried,
    )


def _tried(item: dict[str, Any]) -> tuple[str, ...]:
    """How the attempts at the claimed level post it; a claim written before attempts were listed
    posted a message of its own."""
    if ESCALATING_AS not in item:
        return (OWN_MESSAGE,)
    return tuple(entry.get("S", "") for entry in item[ESCALATING_AS].get("L", []))


def _pending(item: dict[str, Any]) -> PendingLevel:
    since = _text(item, ESCALATING_SINCE) or _text(item, ESCALATING_UNTIL) or ""
    return PendingLevel(
        recovery_id=item[KEY]["S"],
        level=_number(item, ESCALATING_LEVEL) or 0,
        by=_text(item, ESCALATING_BY) or "",
        until=datetime.fromisoformat(_text(item, ESCALATING_UNTIL) or since),
        since=datetime.fromisoformat(since),
        tried=_tried(item),
    )


def _text(item: dict[str, Any], name: str) -> str | None:
    text: str | None = item.get(name, {}).get("S")  # a string attribute, or none
    return text


def _number(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name, {}).get("N")
    return int(value) if value is not None else None
