"""The stock table: how many units of each product can still be reserved, and by whom.

The item action reserves and releases with conditional updates of its own (see
``infra/example/order_item.asl.json``); this module is how people and tools put stock in and read it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class Stock:
    product_id: str
    available: int
    reservations: dict[str, int]  # item execution name -> quantity


class StockStore:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table_name = table_name
        self._client = client

    def set_available(self, product_id: str, available: int) -> None:
        """Stock a product (or restock it): reservations already taken are kept."""
        if available < 0:
            raise ValueError("available stock cannot be negative")
        self._client.update_item(
            TableName=self._table_name,
            Key={"product_id": {"S": product_id}},
            UpdateExpression="SET available = :available, reservations = if_not_exists(reservations, :none)",
            ExpressionAttributeValues={":available": {"N": str(available)}, ":none": {"M": {}}},
        )

    def get(self, product_id: str) -> Stock | None:
        item = self._client.get_item(
            TableName=self._table_name, Key={"product_id": {"S": product_id}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return Stock(
            product_id=product_id,
            available=int(item["available"]["N"]),
            reservations={
                name: int(value["N"]) for name, value in item.get("reservations", {}).get("M", {}).items()
            },
        )
