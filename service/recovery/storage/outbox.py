"""The outbox: audit events the bus did not take, parked until the reconciler carries them on.

One item per event, ``outbox#<event id>``, in the ``by-due`` index (``due`` = ``outbox``, due at
once): the reconciler reads them a page at a time, publishes each and deletes it (conditionally:
two runs carrying the same event publish it twice at worst, which the event id dedupes, and delete
it once). Parking the same event again overwrites it with the same content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from recovery_ops.service.conditional_writes import if_condition_holds
from recovery_ops.service.recovery.storage.items import (
    DUE,
    DUE_AT,
    DUE_INDEX,
    EXPIRES_AT,
    KEY,
    OUTBOX_PREFIX,
    expiry,
    instant,
    item_id,
    key,
    string,
)
from recovery_ops.service.recovery.storage.recoveries import DueKind

EVENT_ID = "event_id"
DETAIL_TYPE = "detail_type"
DETAIL = "detail"


def outbox_id(event_id: str) -> str:
    return OUTBOX_PREFIX + event_id


@dataclass(frozen=True)
class ParkedEvent:
    event_id: str
    detail_type: str
    detail: str  # the event's detail, a JSON text, as it was to be published


class OutboxItems:
    def __init__(self, table_name: str, dynamodb: Any, retention_days: int = 90) -> None:
        self._table = table_name
        self._client = dynamodb
        self._retention = timedelta(days=retention_days)

    def park(self, event: ParkedEvent, now: datetime) -> None:
        """Keep ``event`` until it is published (due at once)."""
        self._client.put_item(
            TableName=self._table,
            Item={
                KEY: string(outbox_id(event.event_id)),
                EVENT_ID: string(event.event_id),
                DETAIL_TYPE: string(event.detail_type),
                DETAIL: string(event.detail),
                DUE: string(DueKind.OUTBOX),
                DUE_AT: string(instant(now)),
                EXPIRES_AT: expiry(now, self._retention),
            },
        )

    def due(
        self, before: datetime, limit: int, start: dict[str, Any] | None = None
    ) -> tuple[list[str], dict[str, Any] | None]:
        """A page of the parked events' item ids, oldest first, and where the next page starts."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": f"{DUE} = :kind AND {DUE_AT} <= :before",
            "ExpressionAttributeValues": {
                ":kind": string(DueKind.OUTBOX),
                ":before": string(instant(before)),
            },
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self._client.query(**kwargs)
        return [item_id(item) for item in page.get("Items", [])], page.get("LastEvaluatedKey")

    def get(self, parked_id: str) -> ParkedEvent | None:
        item = self._client.get_item(TableName=self._table, Key=key(parked_id), ConsistentRead=True).get(
            "Item"
        )
        if not item or DETAIL not in item:
            return None
        return ParkedEvent(item[EVENT_ID]["S"], item[DETAIL_TYPE]["S"], item[DETAIL]["S"])

    def remove(self, event_id: str) -> bool:
        """Published: the item goes (False when another run removed it first)."""
        answer = if_condition_holds(
            self._client.delete_item,
            TableName=self._table,
            Key=key(outbox_id(event_id)),
            ConditionExpression=f"attribute_exists({KEY})",
        )
        return answer is not None
