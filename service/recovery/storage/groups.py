"""Recovery groups: recoveries sharing state machine, state and error within one time window.

A burst (a vendor outage pausing hundreds of executions) becomes one Slack message per group and
window instead of hundreds. The group item lives in the recoveries table (id ``grp-…``, no
``status`` so it stays out of the listing index). It counts its members (``member_count``) and
keeps the latest few: each member's item is marked as in the group (``member_of``, for a burst
``burst_member_of``) in the transaction that counts it, so a redelivered message never counts
twice, and the group's item stays the same small size however many it counts. Groups written
before kept every member id in a string set (``member_ids``): they count those too.

A conditional claim decides which collector posts the message, and it is a lease: it says who
holds it (``posting_by``) and until when (``posting_until``). A claim whose lease ran out (its
collector crashed, or is stuck) can be taken over by another collector; a claim written before
leases existed (no ``posting_until``) counts as run out. The first claim's time
(``posting_since``) and channel (``posting_channel``) outlive takeovers and releases until the
message is recorded: whoever claims after an earlier claim is told since when a message of the
group may already be in that channel, and looks there before posting
(``recovery_ops.service.recovery.intake.collect``).

Distinct failures fold sooner. Each channel counts, per window, the groups that chose a message of
their own (``count_new_message``: an atomic ADD on a counter item, so concurrent collectors share
one count). Once a channel has had ``NEW_MESSAGES_BEFORE_FOLDING`` in a window, each further
group is placed (``place``, once, by a conditional write) in that channel's burst group for the
window (``burst_id_for``): one message showing every folded group's recoveries. A count taken by
a collector that then crashed, or lost the race to place the group, is never given back: the
channel folds sooner, never posts more.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from recovery_ops.service.conditional_writes import ANSWER_LOST, if_condition_holds
from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.model.group_state import GroupState
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.storage.items import (
    BURST_KIND,
    BURST_MEMBER_OF,
    FOLDED,
    FOLDED_COUNT_PREFIX,
    GROUP_KIND,
    GROUP_PREFIX,
    KEY,
    MEMBER_COUNT,
    MEMBER_OF,
    NEW_POSTS,
    NEW_POSTS_PREFIX,
    OWN_MESSAGE,
    PLACEMENT,
    POSTING_BY,
    POSTING_CHANNEL,
    POSTING_SINCE,
    POSTING_UNTIL,
    SLACK_TS,
    group_from_item,
    instant,
    key,
    number,
    string,
)
from recovery_ops.service.recovery.storage.transactions import TransactionConditionFailedError, write_all

__all__ = [
    "LATEST_KEPT",
    "NEW_MESSAGES_BEFORE_FOLDING",
    "OWN_MESSAGE",
    "GroupState",
    "GroupStore",
    "PostingClaim",
    "burst_id_for",
    "group_id_for",
    "window_start",
]

LATEST_KEPT = 5
MEMBERS_PER_TRANSACTION = 99  # with the group's own write: DynamoDB's 100 writes a transaction
# new group messages a channel gets per window before further distinct failures fold into its
# burst message: a few stand alone (each with its own buttons), a flood never floods
NEW_MESSAGES_BEFORE_FOLDING = 3


def group_id_for(recovery: Recovery, window_seconds: int, at: datetime) -> str:
    window = int(at.timestamp()) // max(1, window_seconds)
    key = f"{recovery.state_machine_arn}|{recovery.failed_state}|{recovery.error}|{window}"
    return GROUP_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]


def burst_id_for(channel: str, window_seconds: int, at: datetime) -> str:
    """The burst group of ``channel`` in the window ``at`` falls in (a group id like any other)."""
    window = int(at.timestamp()) // max(1, window_seconds)
    return GROUP_PREFIX + hashlib.sha256(f"burst|{channel}|{window}".encode()).hexdigest()[:32]


def window_start(window_seconds: int, at: datetime) -> datetime:
    """The start of the window ``at`` falls in: no member of its groups arrived, and no claim on
    their messages was made, before it."""
    size = max(1, window_seconds)
    return datetime.fromtimestamp(int(at.timestamp()) // size * size, UTC)


class GroupWriteLostError(RecoveryOpsError):
    """A group's write was not applied and its answer was lost: the delivery is tried again."""


@dataclass(frozen=True)
class PostingClaim:
    """The right to post a group's message, held until ``until``."""

    channel: str  # where the message goes: the channel the group's first claim chose
    since: datetime | None  # an earlier claim's time: its message may be in ``channel`` already
    until: datetime

    @property
    def after_another(self) -> bool:
        """Whether an earlier claim may have posted the message (look before posting)."""
        return self.since is not None


class GroupStore:
    def __init__(self, table_name: str, client: Any, retention_seconds: int = 90 * 86400) -> None:
        self._table = table_name
        self._client = client
        self._retention = retention_seconds
        self._sleep: Callable[[float], None] = time.sleep  # between attempts of a busy transaction

    def add_members(self, group_id: str, members: list[Recovery], at: datetime) -> GroupState:
        """Count ``members`` in the group, each once however often its message is delivered, and
        the group as it is now."""
        first = members[0]

        def counted(joining: list[Recovery], batch: list[Recovery]) -> dict[str, Any]:
            ids = [m.recovery_id for m in batch]
            return {
                "TableName": self._table,
                "Key": key(group_id),
                "UpdateExpression": f"ADD {MEMBER_COUNT} :n SET latest_ids = :latest, "
                "state_machine_arn = if_not_exists(state_machine_arn, :machine), "
                "failed_state = if_not_exists(failed_state, :state), "
                "#error = if_not_exists(#error, :error), expires_at = if_not_exists(expires_at, :expires)",
                "ExpressionAttributeNames": {"#error": "error"},
                "ExpressionAttributeValues": {
                    ":n": number(len(joining)),
                    ":latest": {"L": [string(i) for i in ids[-LATEST_KEPT:]]},
                    ":machine": string(first.state_machine_arn),
                    ":state": string(first.failed_state),
                    ":error": string(first.error or ""),
                    ":expires": number(int(at.timestamp()) + self._retention),
                },
            }

        self._join(group_id, members, MEMBER_OF, counted)
        state = self.get(group_id)
        if state is None:  # every member was counted before, by a write of the group's item
            raise GroupWriteLostError(f"the group {group_id} was not found after its members")
        return state

    def _join(
        self,
        group_id: str,
        members: list[Recovery],
        mark: str,
        counted: Callable[[list[Recovery], list[Recovery]], dict[str, Any]],
    ) -> None:
        """In one transaction per ``MEMBERS_PER_TRANSACTION``: mark each member's item as in
        ``group_id`` (``mark``, only if it is not yet) and count the ones marked on the group's item
        (its latest: the batch's). A member marked already (a redelivered message) is left out and
        the rest written again."""
        members = list({m.recovery_id: m for m in members}.values())  # a batch may hold one twice
        for start in range(0, len(members), MEMBERS_PER_TRANSACTION):
            batch = members[start : start + MEMBERS_PER_TRANSACTION]
            joining = batch
            while joining:
                marks = [
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": key(m.recovery_id),
                            "UpdateExpression": f"SET {mark} = :group",
                            "ConditionExpression": f"attribute_exists({KEY}) "
                            f"AND attribute_not_exists({mark})",
                            "ExpressionAttributeValues": {":group": string(group_id)},
                        }
                    }
                    for m in joining
                ]
                try:
                    write_all(self._client, [{"Update": counted(joining, batch)}, *marks], sleep=self._sleep)
                    break
                except TransactionConditionFailedError as failed:
                    already = {index - 1 for index in failed.failed}
                    joining = [m for n, m in enumerate(joining) if n not in already]

    def get(self, group_id: str) -> GroupState | None:
        item = self._client.get_item(TableName=self._table, Key=key(group_id), ConsistentRead=True).get(
            "Item"
        )
        return group_from_item(item) if item else None

    def shares_message(self, recovery: Recovery) -> bool:
        """Whether the recovery's Slack message is its group's message (other recoveries share it);
        a burst message is shared whatever its count (it is never one recovery's own)."""
        group = self.get(recovery.group_id) if recovery.group_id else None
        return group is not None and (group.count > 1 or group.burst)

    def claim_posting(
        self,
        group_id: str,
        claimant: str,
        channel: str,
        at: datetime,
        lease: timedelta,
        earliest: datetime | None = None,
    ) -> PostingClaim | None:
        """One collector posts the group's message, the others wait for it to exist: the claim,
        for ``lease`` from ``at``, or None while another collector's lease runs (or the message is
        recorded). ``channel`` is where to post unless an earlier claim chose already; ``earliest``
        is when a claim on this group could first have been made (its window's start), the
        ``since`` of a claim written before claims said when they were made.

        When the write's answer is lost, the item is read: if it names ``claimant``, the claim is held.
        """
        now = instant(at)
        try:
            answer = if_condition_holds(
                self._client.update_item,
                TableName=self._table,
                Key=key(group_id),
                UpdateExpression=f"SET {POSTING_BY} = :me, {POSTING_UNTIL} = :until, "
                f"{POSTING_SINCE} = if_not_exists({POSTING_SINCE}, :now), "
                f"{POSTING_CHANNEL} = if_not_exists({POSTING_CHANNEL}, :channel)",
                ConditionExpression=f"attribute_not_exists({SLACK_TS}) AND ("
                f"attribute_not_exists({POSTING_BY}) OR {POSTING_BY} = :me "
                f"OR attribute_not_exists({POSTING_UNTIL}) OR {POSTING_UNTIL} < :now)",
                ExpressionAttributeValues={
                    ":me": string(claimant),
                    ":until": string(instant(at + lease)),
                    ":now": string(now),
                    ":channel": string(channel),
                },
                ReturnValues="ALL_OLD",
            )
        except ANSWER_LOST:
            return self._read_back(group_id, claimant, channel, now)
        if answer is None:
            return None
        before = answer.get("Attributes", {})
        since = _text(before, POSTING_SINCE)
        if since is None and POSTING_BY in before:  # a claim of the time before leases
            since = instant(earliest or at)
        return PostingClaim(
            channel=_text(before, POSTING_CHANNEL) or channel,
            since=datetime.fromisoformat(since) if since else None,
            until=at + lease,
        )

    def _read_back(self, group_id: str, claimant: str, channel: str, now: str) -> PostingClaim | None:
        """The claim as the table has it, if ``claimant`` holds it (None: not held, or unreadable)."""
        try:
            item = self._client.get_item(TableName=self._table, Key=key(group_id), ConsistentRead=True)
        except ANSWER_LOST:
            return None
        held = item.get("Item") or {}
        if _text(held, POSTING_BY) != claimant or SLACK_TS in held:
            return None
        since = _text(held, POSTING_SINCE)
        return PostingClaim(
            channel=_text(held, POSTING_CHANNEL) or channel,
            since=datetime.fromisoformat(since) if since and since != now else None,  # ``now``: ours
            until=datetime.fromisoformat(_text(held, POSTING_UNTIL) or now),
        )

    def release_posting(self, group_id: str, claimant: str) -> None:
        """Give the claim back (the post failed): the next claimant may post at once. When the
        group was first claimed and where, stays: the failed post may have reached Slack anyway."""
        if_condition_holds(  # not ours (or already released): nothing to do
            self._client.update_item,
            TableName=self._table,
            Key=key(group_id),
            UpdateExpression=f"REMOVE {POSTING_BY}, {POSTING_UNTIL}",
            ConditionExpression=f"{POSTING_BY} = :me",
            ExpressionAttributeValues={":me": {"S": claimant}},
        )

    def set_message(self, group_id: str, channel: str, ts: str) -> None:
        """The group's message: recorded, it ends every claim."""
        self._client.update_item(
            TableName=self._table,
            Key=key(group_id),
            UpdateExpression="SET slack_channel = :channel, slack_ts = :ts "
            f"REMOVE {POSTING_BY}, {POSTING_UNTIL}, {POSTING_SINCE}, {POSTING_CHANNEL}",
            ExpressionAttributeValues={":channel": {"S": channel}, ":ts": {"S": ts}},
        )

    # ------------------------------------------------------------------ folding distinct failures
    def count_new_message(self, channel: str, window_seconds: int, at: datetime) -> int:
        """Count one more new group message for ``channel`` in the window ``at`` falls in: the count
        with it (atomic, shared by every collector). Never given back."""
        window = int(at.timestamp()) // max(1, window_seconds)
        counter = NEW_POSTS_PREFIX + hashlib.sha256(f"{channel}|{window}".encode()).hexdigest()[:32]
        answer = self._client.update_item(
            TableName=self._table,
            Key=key(counter),
            UpdateExpression=f"ADD {NEW_POSTS} :one SET expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeValues={
                ":one": number(1),
                ":expires": number(int(at.timestamp()) + 2 * max(1, window_seconds) + 86400),
            },
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"][NEW_POSTS]["N"])

    def place(self, group_id: str, placement: str) -> str:
        """Decide once where the group's recoveries are shown: ``OWN_MESSAGE`` or a burst group's id.
        The placement already decided wins; a group claimed for posting before placements existed
        keeps its own message (it may be in Slack already)."""
        lost: Exception | None = None
        try:
            answer = if_condition_holds(
                self._client.update_item,
                TableName=self._table,
                Key=key(group_id),
                UpdateExpression=f"SET {PLACEMENT} = :placement",
                ConditionExpression=f"attribute_not_exists({PLACEMENT}) AND attribute_not_exists({SLACK_TS}) "
                f"AND attribute_not_exists({POSTING_SINCE})",
                ExpressionAttributeValues={":placement": string(placement)},
            )
        except ANSWER_LOST as exc:
            answer, lost = None, exc  # read back below: the write may have happened
        if answer is not None:
            return placement
        item = self._client.get_item(TableName=self._table, Key=key(group_id), ConsistentRead=True)
        held = item.get("Item") or {}
        decided = _text(held, PLACEMENT)
        if decided is not None:
            return decided
        if SLACK_TS in held or POSTING_SINCE in held:
            return OWN_MESSAGE
        if lost is not None:
            raise lost  # not written: the write's own error, for the delivery to be tried again
        raise GroupWriteLostError(f"the placement of {group_id} was not written")

    def add_to_burst(
        self, burst_id: str, folded: GroupState, members: list[Recovery], at: datetime
    ) -> GroupState:
        """Add ``members`` (of the group ``folded``) to the burst group ``burst_id``: count them once
        each, and record how many recoveries ``folded`` has now (what the burst message breaks
        down)."""

        def counted(joining: list[Recovery], batch: list[Recovery]) -> dict[str, Any]:
            ids = [m.recovery_id for m in batch]
            return {
                "TableName": self._table,
                "Key": key(burst_id),
                "UpdateExpression": f"ADD {MEMBER_COUNT} :n, {FOLDED} :group SET latest_ids = :latest, "
                f"{GROUP_KIND} = :burst, #folded_count = :count, "
                "expires_at = if_not_exists(expires_at, :expires)",
                "ExpressionAttributeNames": {"#folded_count": FOLDED_COUNT_PREFIX + folded.group_id},
                "ExpressionAttributeValues": {
                    ":n": number(len(joining)),
                    ":group": {"SS": [folded.group_id]},
                    ":latest": {"L": [string(i) for i in ids[-LATEST_KEPT:]]},
                    ":burst": string(BURST_KIND),
                    ":count": number(folded.count),
                    ":expires": number(int(at.timestamp()) + self._retention),
                },
            }

        self._join(burst_id, members, BURST_MEMBER_OF, counted)
        state = self.get(burst_id)
        if state is None:
            raise GroupWriteLostError(f"the burst group {burst_id} was not found after its members")
        return state


def _text(item: dict[str, Any], name: str) -> str | None:
    text: str | None = item.get(name, {}).get("S")  # a string attribute, or none
    return text
