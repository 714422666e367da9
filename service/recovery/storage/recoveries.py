"""The recoveries table behind a small interface: one item per recovery, listed through an index.

Items are keyed by ``recovery_id``. The ``by-status`` index (``status`` + ``created_sort``, the
creation time with the id appended) lists recoveries of one status newest first with a query,
never a scan. A closed recovery gets ``expires_at`` (epoch seconds) and DynamoDB's TTL removes it
after the retention period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recovery_ops.service.conditional_writes import if_condition_holds
from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.items import (
    DUE,
    DUE_AT,
    DUE_INDEX,
    EXECUTION_INDEX,
    LEASE_OWNER,
    LEASE_UNTIL,
    RECOVERY_PREFIX,
    STATUS_INDEX,
    audit_entries,
    expiry,
    item_id,
    key,
    recovery_from_item,
    recovery_item,
)
from recovery_ops.service.recovery.storage.payloads import Payloads, brought_back, kept_apart


class RecoveryNotFoundError(RecoveryOpsError, LookupError):
    pass


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


NO_OWNER = "none"


class RecoveryStore:
    def __init__(
        self, table_name: str, client: Any, retention_days: int = 90, payloads: Payloads | None = None
    ) -> None:
        self._table = table_name
        self._client = client
        self._retention = timedelta(days=retention_days)
        self._payloads = payloads  # where large inputs and causes are kept (None: in the item)

    @property
    def table_name(self) -> str:
        return self._table

    # ------------------------------------------------------------------ writes
    def create_if_absent(self, recovery: Recovery) -> bool:
        """Store a new recovery; False if it exists already (a redelivered message)."""
        created = if_condition_holds(
            self._client.put_item,
            TableName=self._table,
            Item=kept_apart(recovery_item(recovery), self._payloads),
            ConditionExpression="attribute_not_exists(recovery_id)",
        )
        return created is not None

    def mark_posted(self, recovery_id: str, channel: str, ts: str, group_id: str | None = None) -> None:
        """Remember where the Slack message is (posted once: a second post would be a duplicate)."""
        values = {":channel": {"S": channel}, ":ts": {"S": ts}}
        update = "SET slack_channel = :channel, slack_ts = :ts"
        if group_id:
            update += ", group_id = :group"
            values[":group"] = {"S": group_id}
        self._client.update_item(
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(recovery_id)",
            ExpressionAttributeValues=values,
        )

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
    ) -> bool:
        """Move ``expected`` → ``target`` with a conditional write (the first caller wins). Leaving
        RESUMING frees its lease; with ``lease_owner`` only that claim may move it. With ``show_by``
        the same write makes the recovery due for the reconciler's display check at that time: if
        its message is not brought up to date first (``clear_display_stale``), it is then."""
        now = at or datetime.now(UTC)
        values: dict[str, Any] = {
            ":expected": {"S": expected},
            ":target": {"S": target},
            ":now": {"S": now.isoformat(timespec="milliseconds")},
            ":entry": audit_entries(entry),
        }
        update = "SET #status = :target, updated_at = :now, audit = list_append(audit, :entry)"
        if target.is_closed:
            update += ", expires_at = :expires"
            values[":expires"] = expiry(now, self._retention)
        condition = "#status = :expected"
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
        moved = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )
        return moved is not None

    def claim(
        self, recovery_id: str, entry: AuditEntry, owner: str, until: datetime, at: datetime | None = None
    ) -> Recovery | None:
        """OPEN → RESUMING under a lease held by ``owner`` until ``until`` (the first claim wins):
        the claimed recovery, or None when it was not OPEN. The lease puts it in the ``by-due``
        index, so a claim whose process is gone is settled by the reconciler."""
        now = at or datetime.now(UTC)
        lease = until.isoformat(timespec="milliseconds")
        answer = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(recovery_id),
            UpdateExpression="SET #status = :target, updated_at = :now, audit = list_append(audit, :entry), "
            f"{LEASE_OWNER} = :owner, {LEASE_UNTIL} = :until, {DUE} = :due, {DUE_AT} = :until",
            ConditionExpression="#status = :expected",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":expected": {"S": RecoveryStatus.OPEN},
                ":target": {"S": RecoveryStatus.RESUMING},
                ":now": {"S": now.isoformat(timespec="milliseconds")},
                ":entry": audit_entries(entry),
                ":owner": {"S": owner},
                ":until": {"S": lease},
                ":due": {"S": DueKind.LEASE},
            },
            ReturnValues="ALL_NEW",
        )
        whole = brought_back(answer["Attributes"], self._payloads) if answer is not None else None
        return recovery_from_item(whole) if whole is not None else None

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
    def get(self, recovery_id: str) -> Recovery:
        item = self._client.get_item(TableName=self._table, Key=key(recovery_id), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            raise RecoveryNotFoundError(recovery_id)
        return recovery_from_item(brought_back(item, self._payloads))

    def for_execution(self, execution_arn: str) -> list[Recovery]:
        """Every recovery (any status) of one execution."""
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
        return [self.get(i) for i in ids if i.startswith(RECOVERY_PREFIX)]

    def list_by_status(
        self,
        status: RecoveryStatus = RecoveryStatus.OPEN,
        where: ListFilter | None = None,
        limit: int = 50,
        now: datetime | None = None,
        before: str | None = None,
        oldest_first: bool = False,
    ) -> list[Recovery]:
        """Recoveries of one status, newest first (a query on the ``by-status`` index).

        ``before`` is a page cursor: the ``sort_key`` of the last recovery of the previous page.
        """
        kwargs = self._query(status, where or ListFilter(), now or datetime.now(UTC), before)
        kwargs["ScanIndexForward"] = oldest_first
        found: list[Recovery] = []
        while len(found) < limit:
            page = self._client.query(**kwargs)
            found.extend(r for r in map(recovery_from_item, page.get("Items", [])) if r.sort_key != before)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found[:limit]

    def count_by_status(
        self,
        status: RecoveryStatus = RecoveryStatus.OPEN,
        where: ListFilter | None = None,
        now: datetime | None = None,
    ) -> list[tuple[str, str | None]]:
        """(state machine name, error) of every matching recovery: enough to count, nothing more."""
        kwargs = self._query(status, where or ListFilter(), now or datetime.now(UTC), None)
        kwargs["ProjectionExpression"] = "state_machine_name, #error"
        kwargs["ExpressionAttributeNames"]["#error"] = "error"
        pairs: list[tuple[str, str | None]] = []
        while True:
            page = self._client.query(**kwargs)
            for item in page.get("Items", []):
                pairs.append((item["state_machine_name"]["S"], item.get("error", {}).get("S")))
            if "LastEvaluatedKey" not in page:
                return pairs
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _query(
        self, status: RecoveryStatus, where: ListFilter, now: datetime, before: str | None
    ) -> dict[str, Any]:
        names = {"#status": "status"}
        values: dict[str, Any] = {":status": {"S": status}}
        key_condition = "#status = :status"
        upper = (now - where.older_than).isoformat(timespec="milliseconds") if where.older_than else None
        if before and (upper is None or before < upper):
            upper = before
        lower = (now - where.newer_than).isoformat(timespec="milliseconds") if where.newer_than else None
        if upper and lower:
            key_condition += " AND created_sort BETWEEN :from AND :to"
            values[":from"] = {"S": lower}
            values[":to"] = {"S": upper}
        elif upper:
            key_condition += " AND created_sort < :to"
            values[":to"] = {"S": upper}
        elif lower:
            key_condition += " AND created_sort >= :from"
            values[":from"] = {"S": lower}
        filters = []
        if where.state_machine:
            by_arn = where.state_machine.startswith("arn:")
            attribute = "state_machine_arn" if by_arn else "state_machine_name"
            filters.append(f"{attribute} = :machine")
            values[":machine"] = {"S": where.state_machine}
        if where.failed_state:
            filters.append("failed_state = :state")
            values[":state"] = {"S": where.failed_state}
        if where.group_id:
            filters.append("group_id = :group")
            values[":group"] = {"S": where.group_id}
        if where.owner == NO_OWNER:
            filters.append("attribute_not_exists(#owner)")
            names["#owner"] = "owner"
        elif where.owner:
            filters.append("#owner = :owner")
            names["#owner"] = "owner"
            values[":owner"] = {"S": where.owner}
        if where.dependency:
            filters.append("dependency = :dependency")
            values[":dependency"] = {"S": where.dependency}
        if where.error:
            filters.append("#error = :error")
            names["#error"] = "error"
            values[":error"] = {"S": where.error}
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        return kwargs
