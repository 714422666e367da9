"""The recoveries table behind a small interface: one item per recovery, listed through lanes.

Items are keyed by ``recovery_id``. The ``by-lane`` index (items.py says its lanes) lists
recoveries of one status, or under one filter, a page at a time, with queries on a few partition
keys each, never a scan; counts come from counters kept in the same transaction as each
transition. A closed recovery gets ``expires_at`` (epoch seconds) and DynamoDB's TTL removes it
after the retention period. Recoveries stored before lanes are migrated (``migrate_item``: by the
reconciler a page at a time, by ``recovery-ops migrate`` at once, and by any transition that
meets one).
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recovery_ops.service.conditional_writes import if_condition_holds
from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.items import (
    CELL,
    COUNT_PREFIX,
    COUNT_SHARDS,
    COUNTED,
    CREATED_SORT,
    DUE,
    DUE_AT,
    DUE_INDEX,
    EXECUTION_INDEX,
    KEY,
    LANE,
    LANE_INDEX,
    LANE_SORT,
    LEASE_OWNER,
    LEASE_UNTIL,
    OF,
    PAIR_PREFIX,
    RECOVERY_PREFIX,
    ROLLUP_PREFIX,
    STATUS,
    STATUS_INDEX,
    Dim,
    audit_entries,
    cell_id,
    cell_of,
    count_field,
    counter_id,
    entries_of,
    entry_id,
    entry_item,
    expiry,
    filter_lanes,
    item_id,
    key,
    lane_entry,
    number,
    pair_of,
    recovery_from_item,
    recovery_item,
    shard_of,
    status_lane,
    status_lanes,
)
from recovery_ops.service.recovery.storage.payloads import Payloads, brought_back, kept_apart
from recovery_ops.service.recovery.storage.transactions import (
    CONDITION_FAILED,
    TransactionConditionFailedError,
    write_all,
)


class RecoveryNotFoundError(RecoveryOpsError, LookupError):
    pass


class StoreBusyError(RecoveryOpsError):
    """DynamoDB left part of a read unprocessed, again and again (throttled)."""


BATCH_BACKOFF_S = 0.02  # before asking again for the keys a BatchGetItem left unprocessed
BATCH_GET = 100  # DynamoDB's most keys in one BatchGetItem
BATCH_ATTEMPTS = 6
MIN_LANE_PAGE = 10  # the smallest page read from one lane
MACHINE_LANES_READ = 8  # a listing of more state machines than this reads its status's lanes instead
LIVE_KINDS = 100  # past this many kinds of failure, the unfiltered counts come from the rollup
ROLLUP_TOP = 50  # the kinds a rollup keeps (the lists show ten)
CELL_LANE, PAIR_LANE = "c", "p"  # the counters' lanes: c#<shard>, p#<shard>
AUDIT_APPENDED = "audit = list_append(audit, :entry)"
COUNT_LIMIT = 1_000  # counted by reading (a filter the counters cannot answer): at most this many


#: what a call to the table may raise besides a failed condition: throttled, unreachable, an
#: answer that never came (the write may or may not have landed)
STORE_FAULTS: tuple[type[Exception], ...] = (ClientError, BotoCoreError)


#: a closed recovery is due for the reconciler's display check this long after its closing write, unless
#: its message showed it first (``clear_display_stale``): a process that dies in between is caught up
DISPLAY_GRACE = timedelta(seconds=60)


class DueKind:
    """Why an item is in the ``by-due`` index."""

    LEASE = "lease"  # an in-flight recovery: settle it once its lease has passed
    DISPLAY = "display"  # its Slack message does not show its stored state yet
    OUTBOX = "outbox"  # an audit event the bus did not take yet (``storage/outbox.py``)


@dataclass(frozen=True)
class ListFilter:
    state_machine: str | None = None  # name or ARN
    failed_state: str | None = None
    error: str | None = None
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    group_id: str | None = None
    owner: str | None = None  # a user id, or NO_OWNER: nobody owns it
    dependency: str | None = None  # the circuit the failed step depends on
    #: any of these state machines (names): what a team's member may see, read from their lanes
    state_machines: tuple[str, ...] | None = None


NO_OWNER = "none"


class RecoveryStore:
    def __init__(
        self, table_name: str, client: Any, retention_days: int = 90, payloads: Payloads | None = None
    ) -> None:
        self._table = table_name
        self._client = client
        self._retention = timedelta(days=retention_days)
        self._payloads = payloads  # where large inputs and causes are kept (None: in the item)
        self._sleep: Callable[[float], None] = time.sleep  # between attempts of a busy transaction

    @property
    def table_name(self) -> str:
        return self._table

    # ------------------------------------------------------------------ writes
    def create_if_absent(self, recovery: Recovery) -> bool:
        """Store a new recovery; False if it exists already (a redelivered message). The same
        transaction puts it in its filters' lanes and counts it."""
        item = kept_apart(recovery_item(recovery), self._payloads)  # large values first, then the item
        expires = self._entry_expiry(recovery.created_at)
        writes: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(recovery_id)",
                }
            },
            *self._entry_puts(recovery, expires),
            *self._count(recovery, {str(recovery.status): 1}),
        ]
        return self._transact(writes) is None

    def mark_posted(self, recovery_id: str, channel: str, ts: str, group_id: str | None = None) -> None:
        """Remember where the Slack message is (posted once: a second post would be a duplicate).
        With a group, the recovery joins its group's lane while open."""
        values = {":channel": {"S": channel}, ":ts": {"S": ts}}
        update = "SET slack_channel = :channel, slack_ts = :ts"
        if group_id:
            update += ", group_id = :group"
            values[":group"] = {"S": group_id}
        answer = self._client.update_item(
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(recovery_id)",
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        stored = answer.get("Attributes", {})
        if group_id and LANE_SORT in stored and not RecoveryStatus(stored[STATUS]["S"]).is_closed:
            # after the write: a close that came first deleted no entry of it (a lingering entry
            # is read past, as the listing checks every item, and expires with the recovery)
            self._client.put_item(
                TableName=self._table,
                Item=lane_entry(
                    Dim.GROUP,
                    group_id,
                    recovery_id,
                    stored[LANE_SORT]["S"],
                    self._entry_expiry(stored.get("created_at", {}).get("S")),
                ),
            )

    def change_owner(self, recovery_id: str, change: dict[str, Any], owner: str | None) -> bool:
        """``change`` (an UpdateItem of the owner, conditional) and, in the same transaction, the
        recovery's entry in the lane of ``owner`` (None: nobody owns it, the entry goes); False when
        the condition failed."""
        try:
            recovery = self._unloaded(recovery_id)
        except RecoveryNotFoundError:
            return False
        if owner is None:
            lane: dict[str, Any] = {
                "Delete": {"TableName": self._table, "Key": key(entry_id(Dim.OWNER, recovery_id))}
            }
        else:
            expires = self._entry_expiry(recovery.created_at)
            lane = {
                "Put": {"TableName": self._table, "Item": entry_item(Dim.OWNER, owner, recovery, expires)}
            }
        return self._transact([{"Update": change}, lane]) is None

    def append_audit(self, recovery_id: str, entry: AuditEntry) -> bool:
        """Record an attempt that changes nothing (a denied click, a failed call); False when there
        is no such recovery."""
        appended = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression="SET audit = list_append(if_not_exists(audit, :none), :entry)",
            ConditionExpression="attribute_exists(recovery_id)",
            ExpressionAttributeValues={
                ":entry": audit_entries(entry),
                ":none": {"L": []},
            },
        )
        return appended is not None

    def count_delivery(self, recovery_id: str) -> int:
        answer = self._client.update_item(
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression="ADD deliveries :one",
            ConditionExpression="attribute_exists(recovery_id)",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["deliveries"]["N"])

    def transition(
        self,
        recovery_id: str,
        expected: RecoveryStatus,
        target: RecoveryStatus,
        entry: AuditEntry,
        at: datetime | None = None,
        lease_owner: str | None = None,
        show_by: datetime | None = None,
        recovery: Recovery | None = None,
    ) -> bool:
        """Move ``expected`` → ``target`` with a conditional write (the first caller wins). Leaving
        RESUMING frees its lease; with ``lease_owner`` only that claim may move it. With ``show_by``
        the same write makes the recovery due for the reconciler's display check at that time: if
        its message is not brought up to date first (``clear_display_stale``), it is then.

        The same transaction moves it to its new status lane, moves its count, and (closing it)
        takes it out of its filters' lanes. ``recovery`` (as last read) names its cell and lanes;
        without it the store reads it first."""
        now = at or datetime.now(UTC)
        values: dict[str, Any] = {
            ":expected": {"S": expected},
            ":target": {"S": target},
            ":now": {"S": now.isoformat(timespec="milliseconds")},
            ":entry": audit_entries(entry),
            ":lane": {"S": status_lane(target, shard_of(recovery_id))},
        }
        update = f"SET #status = :target, updated_at = :now, {AUDIT_APPENDED}, {LANE} = :lane"
        if target.is_closed:
            update += ", expires_at = :expires"
            values[":expires"] = expiry(now, self._retention)
        condition = f"#status = :expected AND attribute_exists({LANE})"
        if lease_owner is not None:
            condition += f" AND {LEASE_OWNER} = :owner"
            values[":owner"] = {"S": lease_owner}
        if show_by is not None:
            update += f", {DUE} = :display, {DUE_AT} = :show_by"
            values[":display"] = {"S": DueKind.DISPLAY}
            values[":show_by"] = {"S": show_by.isoformat(timespec="milliseconds")}
            if expected.is_in_flight:
                update += f" REMOVE {LEASE_OWNER}, {LEASE_UNTIL}"
        elif expected.is_in_flight:
            update += f" REMOVE {LEASE_OWNER}, {LEASE_UNTIL}, {DUE}, {DUE_AT}"
        change = {
            "TableName": self._table,
            "Key": key(recovery_id),
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values,
        }
        return self._move(recovery_id, expected, target, change, recovery)

    def claim(
        self,
        recovery_id: str,
        entry: AuditEntry,
        owner: str,
        until: datetime,
        at: datetime | None = None,
        recovery: Recovery | None = None,
    ) -> Recovery | None:
        """OPEN → RESUMING under a lease held by ``owner`` until ``until`` (the first claim wins):
        the claimed recovery, or None when it was not OPEN. The lease puts it in the ``by-due``
        index, so a claim whose process is gone is settled by the reconciler."""
        now = at or datetime.now(UTC)
        lease = until.isoformat(timespec="milliseconds")
        target = RecoveryStatus.RESUMING
        change = {
            "TableName": self._table,
            "Key": key(recovery_id),
            "UpdateExpression": f"SET #status = :target, updated_at = :now, {AUDIT_APPENDED}, "
            f"{LANE} = :lane, {LEASE_OWNER} = :owner, {LEASE_UNTIL} = :until, "
            f"{DUE} = :due, {DUE_AT} = :until",
            "ConditionExpression": f"#status = :expected AND attribute_exists({LANE})",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":expected": {"S": RecoveryStatus.OPEN},
                ":target": {"S": target},
                ":now": {"S": now.isoformat(timespec="milliseconds")},
                ":entry": audit_entries(entry),
                ":owner": {"S": owner},
                ":until": {"S": lease},
                ":due": {"S": DueKind.LEASE},
                ":lane": {"S": status_lane(target, shard_of(recovery_id))},
            },
        }
        moved = self._move(recovery_id, RecoveryStatus.OPEN, target, change, recovery)
        try:  # moved or not, the item says whether this claim holds it (an answer may be lost)
            claimed = self.get(recovery_id)
        except RecoveryNotFoundError:
            return None
        ours = claimed.status is target and claimed.lease_owner == owner
        return claimed if ours and (moved or claimed.lease_until == lease) else None

    def _move(
        self,
        recovery_id: str,
        expected: RecoveryStatus,
        target: RecoveryStatus,
        change: dict[str, Any],
        recovery: Recovery | None,
    ) -> bool:
        """One transition's transaction: ``change`` (conditional on ``expected``), the count moved,
        and, closing, the filters' entries deleted. A recovery stored before lanes is migrated
        first (``migrate_item``), then moved."""
        for _ in range(2):
            known = recovery if recovery is not None and recovery.status is expected else None
            if known is None:
                try:
                    known = self._unloaded(recovery_id)
                except RecoveryNotFoundError:
                    return False
                if known.status is not expected:
                    return False
            writes: list[dict[str, Any]] = [{"Update": change}]
            if target.is_closed:
                writes += [
                    {"Delete": {"TableName": self._table, "Key": key(entry_id(dim, recovery_id))}}
                    for dim, _value in entries_of(known)
                ]
            moved = {str(expected): -1, **({str(target): 1} if not target.is_closed else {})}
            writes += self._count(known, moved)
            failed = self._transact(writes)
            if failed is None:
                return True
            current = self._item(recovery_id)
            if current is None or current.get(STATUS, {}).get("S") != expected or LANE in current:
                return False  # someone else moved it first
            self.migrate_item(current)  # stored before lanes: give it its lanes and count, then move it
            recovery = None
        return False

    def _transact(self, writes: list[dict[str, Any]]) -> str | None:
        """Write ``writes`` all or nothing; None when they were, else why not (a condition failed).
        A transaction that met another one on the same item (a busy counter) is tried again on
        another shard of the counter: it wrote nothing."""
        try:
            write_all(self._client, writes, before_retry=self._rechoose_counter, sleep=self._sleep)
        except TransactionConditionFailedError:
            return CONDITION_FAILED
        return None

    def _rechoose_counter(self, writes: list[dict[str, Any]]) -> None:
        """Another shard of each counter for the next attempt (the busy one may still be busy)."""
        for write in writes:
            update = write.get("Update")
            if update and update["Key"][KEY]["S"].startswith((COUNT_PREFIX, PAIR_PREFIX)):
                base = update["Key"][KEY]["S"].rsplit("#", 1)[0]
                shard = random.randrange(COUNT_SHARDS)
                update["Key"] = key(f"{base}#{shard}")
                values = update["ExpressionAttributeValues"]
                lane = values[":lane"]["S"].split("#")[0]
                values[":lane"] = {"S": _counter_lane(lane, values[":sort"]["S"], shard)}

    def _count(self, recovery: Recovery, moves: dict[str, int]) -> list[dict[str, Any]]:
        """The counter writes of a transaction: ``moves`` (status → +1 or -1) on ``recovery``'s
        cell and on its pair, each on shard 0 (another, if the transaction meets another)."""
        return [
            self._counter(cell_of(recovery), COUNT_PREFIX, CELL_LANE, moves),
            self._counter(pair_of(recovery), PAIR_PREFIX, PAIR_LANE, moves),
        ]

    def _counter(self, cell: dict[str, str], prefix: str, lane: str, moves: dict[str, int]) -> dict[str, Any]:
        names = {f"#n{i}": count_field(status) for i, status in enumerate(moves)}
        values: dict[str, Any] = {f":n{i}": number(delta) for i, delta in enumerate(moves.values())}
        values[":cell"] = {"M": {name: {"S": value} for name, value in cell.items()}}
        values[":lane"] = {"S": _counter_lane(lane, cell_id(cell), 0)}
        values[":sort"] = {"S": cell_id(cell)}
        adds = ", ".join(f"#n{i} :n{i}" for i in range(len(moves)))
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(counter_id(cell, 0, prefix)),
                "UpdateExpression": f"SET {CELL} = :cell, {LANE} = :lane, {LANE_SORT} = :sort ADD {adds}",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _entry_puts(
        self, recovery: Recovery, expires: dict[str, Any], exclude: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        return [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": entry_item(dim, value, recovery, expires),
                }
            }
            for dim, value in entries_of(recovery)
            if dim not in exclude
        ]

    def _entry_expiry(self, created_at: str | None) -> dict[str, Any]:
        """``expires_at`` of a recovery's entries: its retention from when it was stored."""
        at = datetime.fromisoformat(created_at) if created_at else datetime.now(UTC)
        return expiry(at, self._retention)

    def _pause(self, attempt: int) -> None:
        self._sleep(random.uniform(0, BATCH_BACKOFF_S * 2**attempt))

    def migrate_item(self, item: dict[str, Any]) -> bool:
        """Give a recovery stored before lanes its lanes, its filters' entries (while open) and its
        count, in one transaction, and take it out of the ``by-status`` index; False when it was
        migrated already (by another process) or is not a recovery."""
        if not item_id(item).startswith(RECOVERY_PREFIX) or LANE in item or STATUS not in item:
            return False
        recovery = recovery_from_item(item)
        update = {
            "TableName": self._table,
            "Key": key(recovery.recovery_id),
            "UpdateExpression": f"SET {LANE} = :lane, {LANE_SORT} = :sort REMOVE {CREATED_SORT}",
            "ConditionExpression": f"attribute_not_exists({LANE}) AND #status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":lane": {"S": status_lane(recovery.status, shard_of(recovery.recovery_id))},
                ":sort": {"S": recovery.sort_key},
                ":status": {"S": recovery.status},
            },
        }
        writes: list[dict[str, Any]] = [{"Update": update}]
        if not recovery.status.is_closed:
            writes += self._entry_puts(recovery, self._entry_expiry(recovery.created_at))
            writes += self._count(recovery, {str(recovery.status): 1})
        return self._transact(writes) is None

    def legacy_page(
        self, status: RecoveryStatus, limit: int, start: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of recoveries of ``status`` stored before lanes (what is left in the
        ``by-status`` index), whole items; and where the next page starts."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":status": {"S": status}},
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self._client.query(**kwargs)
        return page.get("Items", []), page.get("LastEvaluatedKey")

    def renew_lease(self, recovery_id: str, owner: str, until: datetime) -> bool:
        """Extend ``owner``'s lease; False when it no longer holds it (settled, or taken over)."""
        lease = until.isoformat(timespec="milliseconds")
        renewed = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression=f"SET {LEASE_UNTIL} = :until, {DUE_AT} = :until",
            ConditionExpression=f"#status = :resuming AND {LEASE_OWNER} = :owner",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":resuming": {"S": RecoveryStatus.RESUMING},
                ":owner": {"S": owner},
                ":until": {"S": lease},
            },
        )
        return renewed is not None

    def mark_display_stale(self, recovery_id: str, at: datetime) -> None:
        """Its message could not be brought up to date: the reconciler carries the update on. An
        in-flight recovery keeps its lease (settling it shows it anyway)."""
        if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression=f"SET {DUE} = :due, {DUE_AT} = :at",
            ConditionExpression="attribute_exists(recovery_id) AND #status <> :resuming",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":due": {"S": DueKind.DISPLAY},
                ":at": {"S": at.isoformat(timespec="milliseconds")},
                ":resuming": {"S": RecoveryStatus.RESUMING},
            },
        )

    def clear_display_stale(self, recovery_id: str, status: RecoveryStatus) -> None:
        """Its message shows ``status`` now (unless the recovery moved on meanwhile)."""
        if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression=f"REMOVE {DUE}, {DUE_AT}",
            ConditionExpression=f"{DUE} = :due AND #status = :status",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":due": {"S": DueKind.DISPLAY}, ":status": {"S": status}},
        )

    def due(
        self, kind: str, before: datetime, limit: int, start: dict[str, Any] | None = None
    ) -> tuple[list[str], dict[str, Any] | None]:
        """Ids of items due for ``kind`` at ``before`` or earlier, oldest first (one page of at most
        ``limit``), and where the next page starts (None: no more)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": f"{DUE} = :kind AND {DUE_AT} <= :before",
            "ExpressionAttributeValues": {
                ":kind": {"S": kind},
                ":before": {"S": before.isoformat(timespec="milliseconds")},
            },
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self._client.query(**kwargs)
        return [item_id(item) for item in page.get("Items", [])], page.get("LastEvaluatedKey")

    # ------------------------------------------------------------------ reads
    def _item(self, recovery_id: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self._client.get_item(
            TableName=self._table, Key=key(recovery_id), ConsistentRead=True
        ).get("Item")
        return item

    def _unloaded(self, recovery_id: str) -> Recovery:
        """The recovery as its item holds it, large values left where they are kept (what a
        transition needs: its cell and lanes)."""
        item = self._item(recovery_id)
        if not item:
            raise RecoveryNotFoundError(recovery_id)
        return recovery_from_item(item)

    def get(self, recovery_id: str) -> Recovery:
        item = self._item(recovery_id)
        if not item:
            raise RecoveryNotFoundError(recovery_id)
        return recovery_from_item(brought_back(item, self._payloads))

    def get_many(self, recovery_ids: list[str]) -> list[Recovery]:
        """The recoveries of ``recovery_ids`` that exist (read in batches of DynamoDB's most)."""
        found: list[Recovery] = []
        for start in range(0, len(recovery_ids), BATCH_GET):
            found += self._read_many(recovery_ids[start : start + BATCH_GET])
        return found

    def for_execution(self, execution_arn: str) -> list[Recovery]:
        """Every recovery (any status) of one execution."""
        return [self.get(i) for i in self._execution_ids(execution_arn)]

    def _execution_ids(self, execution_arn: str) -> list[str]:
        """The ids of an execution's recoveries (the ``by-execution`` index, KEYS_ONLY)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": EXECUTION_INDEX,
            "KeyConditionExpression": "execution_arn = :arn",
            "ExpressionAttributeValues": {":arn": {"S": execution_arn}},
        }
        ids: list[str] = []
        while True:
            page = self._client.query(**kwargs)
            ids.extend(item_id(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [i for i in ids if i.startswith(RECOVERY_PREFIX)]

    def list_by_status(
        self,
        status: RecoveryStatus = RecoveryStatus.OPEN,
        where: ListFilter | None = None,
        limit: int = 50,
        now: datetime | None = None,
        before: str | None = None,
        oldest_first: bool = False,
    ) -> list[Recovery]:
        """Recoveries of one status, newest first (or ``oldest_first``), at most ``limit``.

        ``before`` is a page cursor: the ``sort_key`` of the last recovery of the previous page.
        The ids come from the most selective lane the filter has (an owner's, a group's, a state
        machine's, a dependency's, an error's, else the status's), its shards merged in order; the
        items themselves are read in batches and checked against the whole filter, so the reads
        grow with the page asked for, not with the number stored."""
        where = where or ListFilter()
        lanes = self._lanes(status, where)
        found: list[Recovery] = []
        ids = self._merged_ids(lanes, where, now or datetime.now(UTC), before, oldest_first, limit)
        while len(found) < limit:
            chunk = list(itertools.islice(ids, min(BATCH_GET, limit - len(found))))
            if not chunk:
                break
            for recovery in self._read_many(chunk):
                if recovery.status is status and _matches(recovery, where) and recovery.sort_key != before:
                    found.append(recovery)
        return found[:limit]

    def counts(
        self,
        status: RecoveryStatus = RecoveryStatus.OPEN,
        where: ListFilter | None = None,
        now: datetime | None = None,
        visible: Callable[[dict[str, str]], bool] | None = None,
    ) -> Counts:
        """How many recoveries of ``status`` ``where`` selects, by (state machine name, error).

        Open ones under a filter of state machine, failed state, error and dependency are counted
        from the counters (``COUNT_SHARDS`` queries, whatever the number open), only the cells
        ``visible`` keeps; others (an owner, a group, an age, a closed status) by reading at most
        ``COUNT_LIMIT`` of them: past it, the counts say they are incomplete."""
        where = where or ListFilter()
        if str(status) in COUNTED and not (
            where.owner or where.group_id or where.older_than or where.newer_than
        ):
            if visible is None and where == ListFilter():
                rolled = self._rollup(status)
                if rolled is not None and rolled.kinds > LIVE_KINDS:
                    return rolled  # many kinds of failure: the minute's breakdown, its time shown
            counted: Counter[tuple[str, str | None]] = Counter()
            by_pair = visible is None and not (where.failed_state or where.dependency)
            for cell, numbers in self._cells(PAIR_LANE if by_pair else CELL_LANE):
                if (visible is None or visible(cell)) and _cell_matches(cell, where):
                    counted[(cell["state_machine_name"], cell["error"] or None)] += numbers.get(
                        str(status), 0
                    )
            return Counts(+counted, complete=True)
        listed = self.list_by_status(status, where, limit=COUNT_LIMIT + 1, now=now)
        kept = [r for r in listed[:COUNT_LIMIT] if visible is None or visible(cell_of(r))]
        return Counts(
            Counter((r.state_machine_name, r.error) for r in kept), complete=len(listed) <= COUNT_LIMIT
        )

    def roll_up(self, now: datetime) -> dict[str, int]:
        """Write the breakdown of each counted status from the pair counters (the reconciler, every
        run): its total, how many kinds, the ``ROLLUP_TOP`` largest. What the unfiltered counts
        show once there are more than ``LIVE_KINDS`` kinds of failure, so that showing them reads
        one item however many kinds there are. How many kinds each status has."""
        by_status: dict[str, Counter[tuple[str, str]]] = {status: Counter() for status in COUNTED}
        for pair, numbers in self._cells(PAIR_LANE):
            for status in COUNTED:
                if numbers.get(status, 0) > 0:
                    by_status[status][(pair["state_machine_name"], pair["error"])] += numbers[status]
        for status, counted in by_status.items():
            top = [
                {"M": {"name": {"S": name}, "error": {"S": error}, "n": number(n)}}
                for (name, error), n in counted.most_common(ROLLUP_TOP)
            ]
            self._client.put_item(
                TableName=self._table,
                Item={
                    KEY: {"S": ROLLUP_PREFIX + status},
                    "total": number(sum(counted.values())),
                    "kinds": number(len(counted)),
                    "top": {"L": top},
                    "as_of": {"S": now.isoformat(timespec="seconds")},
                },
            )
        return {status: len(counted) for status, counted in by_status.items()}

    def _rollup(self, status: RecoveryStatus) -> Counts | None:
        item = self._client.get_item(TableName=self._table, Key=key(ROLLUP_PREFIX + status)).get("Item")
        if not item:
            return None
        top: Counter[tuple[str, str | None]] = Counter()
        for kind in item.get("top", {}).get("L", []):
            fields = kind["M"]
            top[(fields["name"]["S"], fields["error"]["S"] or None)] = int(fields["n"]["N"])
        return Counts(
            top,
            complete=True,
            all_total=int(item["total"]["N"]),
            all_kinds=int(item["kinds"]["N"]),
            as_of=item["as_of"]["S"],
        )

    def cells(
        self,
        status: RecoveryStatus,
        where: ListFilter | None = None,
        visible: Callable[[dict[str, str]], bool] | None = None,
    ) -> list[dict[str, str]]:
        """The counters' cells with recoveries of ``status`` (an open one) under ``where``, those
        ``visible`` keeps."""
        where = where or ListFilter()
        return [
            cell
            for cell, numbers in self._cells()
            if numbers.get(str(status), 0) > 0
            and _cell_matches(cell, where)
            and (visible is None or visible(cell))
        ]

    def count_by_status(
        self,
        status: RecoveryStatus = RecoveryStatus.OPEN,
        where: ListFilter | None = None,
        now: datetime | None = None,
    ) -> list[tuple[str, str | None]]:
        """(state machine name, error) of every matching recovery, counted live (from the cells,
        never the rollup: every kind, each as many times as it has recoveries)."""
        return list(self.counts(status, where, now, visible=lambda cell: True).by_pair.elements())

    # ------------------------------------------------------------------ lanes
    def _lanes(self, status: RecoveryStatus, where: ListFilter) -> list[str]:
        """The lanes to read for ``status`` under ``where``: a filter's lanes hold only open
        recoveries (OPEN and RESUMING), so a closed status is read from its own lanes; and so are
        those in flight (RESUMING: a few at any time, where a filter's lane may hold thousands
        waiting)."""
        if status is RecoveryStatus.OPEN:
            if where.owner and where.owner != NO_OWNER:
                return filter_lanes(Dim.OWNER, where.owner)
            if where.group_id:
                return filter_lanes(Dim.GROUP, where.group_id)
            if where.state_machine:
                return filter_lanes(Dim.MACHINE, where.state_machine.rsplit(":", 1)[-1])
            if where.state_machines is not None and len(where.state_machines) <= MACHINE_LANES_READ:
                return [lane for name in where.state_machines for lane in filter_lanes(Dim.MACHINE, name)]
            if where.dependency:
                return filter_lanes(Dim.DEPENDENCY, where.dependency)
            if where.error:
                return filter_lanes(Dim.ERROR, where.error)
        return status_lanes(status)

    def _merged_ids(
        self,
        lanes: list[str],
        where: ListFilter,
        now: datetime,
        before: str | None,
        oldest_first: bool,
        limit: int,
    ) -> Iterator[str]:
        """The ids in ``lanes``, merged in ``lane_sort`` order, each lane read a page at a time
        only as far as the merge takes from it."""
        upper = (now - where.older_than).isoformat(timespec="milliseconds") if where.older_than else None
        if before and (upper is None or before < upper):
            upper = before
        lower = (now - where.newer_than).isoformat(timespec="milliseconds") if where.newer_than else None
        page = max(MIN_LANE_PAGE, -(-limit // len(lanes)) + 1)
        streams = [self._lane(lane, lower, upper, oldest_first, page) for lane in lanes]
        merged = heapq.merge(*streams, reverse=not oldest_first)
        seen: set[str] = set()
        for _sort, recovery_id in merged:
            if recovery_id not in seen:
                seen.add(recovery_id)
                yield recovery_id

    def _lane(
        self, lane: str, lower: str | None, upper: str | None, oldest_first: bool, page: int
    ) -> Iterator[tuple[str, str]]:
        values: dict[str, Any] = {":lane": {"S": lane}}
        condition = f"{LANE} = :lane"
        if upper and lower:
            condition += f" AND {LANE_SORT} BETWEEN :from AND :to"
            values[":from"], values[":to"] = {"S": lower}, {"S": upper}
        elif upper:
            condition += f" AND {LANE_SORT} < :to"
            values[":to"] = {"S": upper}
        elif lower:
            condition += f" AND {LANE_SORT} >= :from"
            values[":from"] = {"S": lower}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": LANE_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": oldest_first,
            "Limit": page,
        }
        while True:
            answer = self._client.query(**kwargs)
            for entry in answer.get("Items", []):
                if upper is not None and entry[LANE_SORT]["S"] == upper and upper != lower:
                    continue  # BETWEEN takes its ends; a cursor does not
                yield entry[LANE_SORT]["S"], entry.get(OF, entry[KEY])["S"]
            if "LastEvaluatedKey" not in answer:
                return
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _read_many(self, ids: list[str]) -> list[Recovery]:
        """The recoveries of ``ids`` (eventually consistent, as a listing is), in ``ids``' order;
        keys DynamoDB leaves unprocessed are asked for again."""
        wanted = [key(i) for i in ids]
        got: dict[str, Recovery] = {}
        for attempt in range(BATCH_ATTEMPTS):
            answer = self._client.batch_get_item(RequestItems={self._table: {"Keys": wanted}})
            for item in answer.get("Responses", {}).get(self._table, []):
                if item_id(item).startswith(RECOVERY_PREFIX):
                    got[item_id(item)] = recovery_from_item(item)
            wanted = answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
            if not wanted:
                break
            self._pause(attempt)
        else:
            raise StoreBusyError(f"{len(wanted)} recoveries could not be read")
        return [got[i] for i in ids if i in got]

    def _cells(self, lane: str = CELL_LANE) -> Iterator[tuple[dict[str, str], dict[str, int]]]:
        """Every counter's cell (or pair, with ``PAIR_LANE``) and numbers (status → count; the
        shards of one summed)."""
        cells: dict[str, tuple[dict[str, str], Counter[str]]] = {}
        for shard in range(COUNT_SHARDS):
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": LANE_INDEX,
                "KeyConditionExpression": f"{LANE} = :lane",
                "ExpressionAttributeValues": {":lane": {"S": f"{lane}#{shard}"}},
            }
            while True:
                answer = self._client.query(**kwargs)
                for item in answer.get("Items", []):
                    cell = {name: value["S"] for name, value in item.get(CELL, {}).get("M", {}).items()}
                    _, numbers = cells.setdefault(item[LANE_SORT]["S"], (cell, Counter()))
                    for status in COUNTED:
                        numbers[status] += int(item.get(count_field(status), {}).get("N", "0"))
                if "LastEvaluatedKey" not in answer:
                    break
                kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        for cell, numbers in cells.values():
            yield cell, dict(numbers)

    def others_of_execution(self, execution_arn: str, recovery_id: str) -> list[Recovery]:
        """The other recoveries (any status) of ``recovery_id``'s execution, as their items hold them
        (large inputs and causes left where they are kept): one KEYS_ONLY query, and a read of each
        other only, so an execution with one recovery costs the query alone."""
        others = [i for i in self._execution_ids(execution_arn) if i != recovery_id]
        found = []
        for other in others:
            try:
                found.append(self._unloaded(other))
            except RecoveryNotFoundError:
                continue  # gone since the index answered (it expired)
        return found


@dataclass(frozen=True)
class Counts:
    """Recoveries counted by (state machine name, error); ``complete`` False: at least these.
    From a rollup (``as_of`` set), ``by_pair`` holds its largest kinds only, and ``all_total`` and
    ``all_kinds`` say how many in all."""

    by_pair: Counter[tuple[str, str | None]]
    complete: bool = True
    all_total: int | None = None
    all_kinds: int | None = None
    as_of: str | None = None  # the rollup's time (None: counted now)

    @property
    def total(self) -> int:
        return self.all_total if self.all_total is not None else sum(self.by_pair.values())

    @property
    def kinds(self) -> int:
        return self.all_kinds if self.all_kinds is not None else len(self.by_pair)


def _counter_lane(lane: str, counted: str, shard: int) -> str:
    """The lane of one shard of one counter: spread by what it counts as well as by its shard, so
    that the counters' index writes fall on all ``COUNT_SHARDS`` lanes even when every counter is
    on its shard 0 (the lanes are read whole, all of them, either way)."""
    return f"{lane}#{(int(counted[:8], 16) + shard) % COUNT_SHARDS}"


def _matches(recovery: Recovery, where: ListFilter) -> bool:
    """Whether ``recovery`` meets every part of ``where`` (its age is the lanes' key condition)."""
    if where.state_machines is not None and recovery.state_machine_name not in where.state_machines:
        return False
    if where.state_machine:
        by_arn = where.state_machine.startswith("arn:")
        if (recovery.state_machine_arn if by_arn else recovery.state_machine_name) != where.state_machine:
            return False
    if where.owner == NO_OWNER:
        if recovery.owner is not None:
            return False
    elif where.owner and recovery.owner != where.owner:
        return False
    return all(
        wanted is None or actual == wanted
        for wanted, actual in (
            (where.failed_state, recovery.failed_state),
            (where.group_id, recovery.group_id),
            (where.dependency, recovery.dependency),
            (where.error, recovery.error),
        )
    )


def _cell_matches(cell: dict[str, str], where: ListFilter) -> bool:
    if where.state_machines is not None and cell["state_machine_name"] not in where.state_machines:
        return False
    if where.state_machine:
        by_arn = where.state_machine.startswith("arn:")
        if cell["state_machine_arn" if by_arn else "state_machine_name"] != where.state_machine:
            return False
    return all(
        wanted is None or cell[name] == wanted
        for wanted, name in (
            (where.failed_state, "failed_state"),
            (where.error, "error"),
            (where.dependency, "dependency"),
        )
    )
