"""The recoveries table behind a small interface: one item per recovery, listed through an index.

Items are keyed by ``recovery_id``. The ``by-status`` index (``status`` + ``created_sort``, the
creation time with the id appended) lists recoveries of one status newest first with a query,
never a scan. A closed recovery gets ``expires_at`` (epoch seconds) and DynamoDB's TTL removes it
after the retention period.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from service.conditional_writes import if_condition_holds
from service.recovery.contract import Routing
from service.recovery.recovery import AuditEntry, Recovery, RecoveryStatus

STATUS_INDEX = "by-status"
EXECUTION_INDEX = "by-execution"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class RecoveryNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ListFilter:
    state_machine: str | None = None  # name or ARN
    failed_state: str | None = None
    error: str | None = None
    older_than: timedelta | None = None
    newer_than: timedelta | None = None
    group_id: str | None = None


class RecoveryStore:
    def __init__(self, table_name: str, client: Any, retention_days: int = 90) -> None:
        self._table = table_name
        self._client = client
        self._retention = timedelta(days=retention_days)

    @property
    def table_name(self) -> str:
        return self._table

    # ------------------------------------------------------------------ writes
    def create_if_absent(self, recovery: Recovery) -> bool:
        """Store a new recovery; False if it exists already (a redelivered message)."""
        created = if_condition_holds(
            self._client.put_item,
            TableName=self._table,
            Item=_to_item(recovery),
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
            Key=_key(recovery_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(recovery_id)",
            ExpressionAttributeValues=values,
        )

    def append_audit(self, recovery_id: str, entry: AuditEntry) -> None:
        """Record an attempt that changes nothing (a denied click, a failed call)."""
        self._client.update_item(
            TableName=self._table,
            Key=_key(recovery_id),
            UpdateExpression="SET audit = list_append(if_not_exists(audit, :none), :entry)",
            ConditionExpression="attribute_exists(recovery_id)",
            ExpressionAttributeValues={
                ":entry": {"L": [_serializer.serialize(dynamodb_value(asdict(entry)))]},
                ":none": {"L": []},
            },
        )

    def count_delivery(self, recovery_id: str) -> int:
        answer = self._client.update_item(
            TableName=self._table,
            Key=_key(recovery_id),
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
    ) -> bool:
        """Move ``expected`` → ``target`` with a conditional write (the first caller wins)."""
        now = at or datetime.now(UTC)
        values: dict[str, Any] = {
            ":expected": {"S": expected},
            ":target": {"S": target},
            ":now": {"S": now.isoformat(timespec="milliseconds")},
            ":entry": {"L": [_serializer.serialize(dynamodb_value(asdict(entry)))]},
        }
        update = "SET #status = :target, updated_at = :now, audit = list_append(audit, :entry)"
        if target.is_closed:
            update += ", expires_at = :expires"
            values[":expires"] = {"N": str(int((now + self._retention).timestamp()))}
        moved = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=_key(recovery_id),
            UpdateExpression=update,
            ConditionExpression="#status = :expected",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )
        return moved is not None

    # ------------------------------------------------------------------ reads
    def get(self, recovery_id: str) -> Recovery:
        item = self._client.get_item(TableName=self._table, Key=_key(recovery_id), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            raise RecoveryNotFound(recovery_id)
        return _from_item(item)

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
            ids.extend(item["recovery_id"]["S"] for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [self.get(i) for i in ids if i.startswith("rec-")]

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
            found.extend(r for r in map(_from_item, page.get("Items", [])) if r.sort_key != before)
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


def _key(recovery_id: str) -> dict[str, Any]:
    return {"recovery_id": {"S": recovery_id}}


def dynamodb_value(value: Any) -> Any:
    """JSON values as DynamoDB takes them (floats as Decimal); ``json_value`` is the way back."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: dynamodb_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [dynamodb_value(v) for v in value]
    return value


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def _to_item(recovery: Recovery) -> dict[str, Any]:
    data = asdict(recovery)
    data["audit"] = [asdict(entry) for entry in recovery.audit]
    data["routing"] = str(recovery.routing)
    data["status"] = str(recovery.status)
    data["state_machine_name"] = recovery.state_machine_name
    data["created_sort"] = recovery.sort_key
    item = {k: v for k, v in data.items() if v is not None}
    return {k: _serializer.serialize(dynamodb_value(v)) for k, v in item.items()}


def _from_item(item: dict[str, Any]) -> Recovery:
    data = {k: json_value(_deserializer.deserialize(v)) for k, v in item.items()}
    return Recovery(
        recovery_id=data["recovery_id"],
        task_token=data["task_token"],
        execution_arn=data["execution_arn"],
        execution_name=data["execution_name"],
        state_machine_arn=data["state_machine_arn"],
        failed_state=data["failed_state"],
        input=data.get("input"),
        error=data.get("error"),
        cause=data.get("cause"),
        routing=Routing(data["routing"]),
        requested_at=data["requested_at"],
        created_at=data["created_at"],
        status=RecoveryStatus(data["status"]),
        updated_at=data.get("updated_at", ""),
        slack_channel=data.get("slack_channel"),
        slack_ts=data.get("slack_ts"),
        group_id=data.get("group_id"),
        attempts=int(data.get("attempts", 1)),
        audit=[AuditEntry(**entry) for entry in data.get("audit", [])],
    )
