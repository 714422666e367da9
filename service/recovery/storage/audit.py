"""Audit trails that belong to no recovery: a DLQ's redrives, denied looks at the recoveries list.

Each subject is one small item of the recoveries table (``dlq#<queue name>``, ``access#recoveries``)
with an ``audit`` list. One UpdateItem per entry, creating the item if needed (no PutItem right
is required). The item has no ``status`` (so it stays out of the listing index) and its
``expires_at`` moves forward with each entry, so an idle one expires after the retention period.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.service.recovery.storage.items import (
    RECOVERIES_LIST,
    audit_entries,
    audit_trail,
    expiry,
    key,
    string,
)

__all__ = ["RECOVERIES_LIST", "AuditItems"]


class AuditItems:
    def __init__(self, table_name: str, dynamodb: Any, retention_days: int = 90) -> None:
        self._table = table_name
        self._client = dynamodb
        self._retention = timedelta(days=retention_days)

    def record(self, item_id: str, entry: AuditEntry, **attributes: str) -> None:
        """Append ``entry`` to ``item_id``'s trail (and set these string ``attributes`` on it)."""
        at = datetime.now(UTC)
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":a{i}": string(value) for i, value in enumerate(attributes.values())}
        extra = "".join(f", #a{i} = :a{i}" for i in range(len(attributes)))
        self._client.update_item(
            TableName=self._table,
            Key=key(item_id),
            UpdateExpression="SET audit = list_append(if_not_exists(audit, :none), :entry), "
            "updated_at = :now, expires_at = :expires" + extra,
            **({"ExpressionAttributeNames": names} if names else {}),
            ExpressionAttributeValues={
                ":entry": audit_entries(entry),
                ":none": {"L": []},
                ":now": string(at.isoformat(timespec="milliseconds")),
                ":expires": expiry(at, self._retention),
                **values,
            },
        )

    def history(self, item_id: str) -> list[AuditEntry]:
        item = self._client.get_item(TableName=self._table, Key=key(item_id), ConsistentRead=True).get("Item")
        return audit_trail(item)
