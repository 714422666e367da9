"""The orders table: read access, and the FAILED mark of an order whose execution ended badly
(``handlers/order_failed.py``; the workflow itself writes every other state of a record)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from recovery_ops.service.conditional_writes import if_condition_holds

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_deserializer = TypeDeserializer()


class OrderStore:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table_name = table_name
        self._client = client

    def get(self, order_id: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self._table_name, Key={"order_id": {"S": order_id}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return {key: _plain(_deserializer.deserialize(value)) for key, value in item.items()}

    def mark_failed(self, order_id: str, error: str | None, cause: str | None) -> bool:
        """FAILED, unless the record already ended (the workflow's own outcome wins). Creates the
        record when the execution failed before writing it."""
        marked = if_condition_holds(
            self._client.update_item,
            TableName=self._table_name,
            Key={"order_id": {"S": order_id}},
            UpdateExpression="SET #status = :failed, failure_error = :error, failure = :cause",
            ConditionExpression="attribute_not_exists(order_id) OR "
            "NOT #status IN (:finished, :partially_finished, :rejected, :failed)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":failed": {"S": "FAILED"},
                ":finished": {"S": "FINISHED"},
                ":partially_finished": {"S": "PARTIALLY_FINISHED"},
                ":rejected": {"S": "REJECTED"},
                ":error": {"S": error or "unknown"},
                ":cause": {"S": (cause or "")[:4000]},
            },
        )
        return marked is not None


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; JSON wants int or float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in value]
    return value
