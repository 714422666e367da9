"""The chain items: ``chain#<item id>``, the hash chain of one item's audit trail.

Apart from the item it seals (whose writers know nothing of it), with no index attribute (no GSI
carries it) and the TTL of its subject. ``links`` holds one map per sealed entry (``seq``, ``at``,
``actor``, ``action``, ``result``, ``prev``, ``hash``); ``sealed`` how many. A write replaces the
item on the condition that ``sealed`` is still what the writer read, so two sealers (a redelivered
batch beside the original) never interleave their links.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from recovery_ops.service.conditional_writes import if_condition_holds
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.service.recovery.storage.items import (
    AUDIT,
    CHAIN_PREFIX,
    EXPIRES_AT,
    KEY,
    audit_trail,
    json_value,
    key,
    number,
    string,
)

LINKS = "links"
SEALED = "sealed"
SUBJECT = "subject"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def chain_id(subject_id: str) -> str:
    return CHAIN_PREFIX + subject_id


@dataclass(frozen=True)
class StoredChain:
    subject_id: str
    links: list[dict[str, Any]]
    expires_at: int | None

    @property
    def sealed(self) -> int:
        return len(self.links)


class ChainItems:
    def __init__(self, table_name: str, dynamodb: Any) -> None:
        self._table = table_name
        self._client = dynamodb

    def read(self, subject_id: str) -> StoredChain:
        """The chain of ``subject_id`` (no links when none is sealed yet)."""
        item = self._client.get_item(
            TableName=self._table, Key=key(chain_id(subject_id)), ConsistentRead=True
        ).get("Item")
        return chain_from_item(subject_id, item)

    def trail(self, subject_id: str) -> list[AuditEntry] | None:
        """The subject's audit trail as the table holds it now (None: no such item)."""
        item = self._client.get_item(
            TableName=self._table,
            Key=key(subject_id),
            ConsistentRead=True,
            ProjectionExpression=f"{KEY}, {AUDIT}",
        ).get("Item")
        return None if item is None else audit_trail(item)

    def write(
        self, subject_id: str, links: Sequence[Mapping[str, Any]], sealed_before: int, expires_at: int
    ) -> bool:
        """Store ``links`` (the whole chain) if the chain still has ``sealed_before`` links; False
        when it had changed meanwhile."""
        item = {
            KEY: string(chain_id(subject_id)),
            SUBJECT: string(subject_id),
            LINKS: {"L": [_serializer.serialize(dict(link)) for link in links]},
            SEALED: number(len(links)),
            EXPIRES_AT: number(expires_at),
        }
        condition = f"attribute_not_exists({KEY})" if sealed_before == 0 else f"{SEALED} = :sealed"
        request: dict[str, Any] = {"TableName": self._table, "Item": item, "ConditionExpression": condition}
        if sealed_before:
            request["ExpressionAttributeValues"] = {":sealed": number(sealed_before)}
        return if_condition_holds(self._client.put_item, **request) is not None

    def subjects(self, start: dict[str, Any] | None = None) -> tuple[list[str], dict[str, Any] | None]:
        """A page of the ids of every sealed subject (a Scan filtered on the chain prefix: for the
        offline `audit verify --all`, never for a request path) and where the next page starts."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": f"begins_with({KEY}, :prefix)",
            "ExpressionAttributeValues": {":prefix": string(CHAIN_PREFIX)},
            "ProjectionExpression": SUBJECT,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self._client.scan(**kwargs)
        found = [item[SUBJECT]["S"] for item in page.get("Items", []) if SUBJECT in item]
        return found, page.get("LastEvaluatedKey")


def chain_from_item(subject_id: str, item: Mapping[str, Any] | None) -> StoredChain:
    if not item:
        return StoredChain(subject_id, [], None)
    links = [json_value(_deserializer.deserialize(v)) for v in item.get(LINKS, {}).get("L", [])]
    expires = item.get(EXPIRES_AT, {}).get("N")
    return StoredChain(subject_id, links, int(expires) if expires is not None else None)
