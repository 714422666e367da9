"""Order API models."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

#: Execution names allow at most 80 characters. The order id names the order's execution and, with
#: "-item-<n>" (at most 8 more), each item's execution.
ORDER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
MAX_ITEMS = 50


def new_order_id() -> str:
    return f"ord-{uuid.uuid4().hex}"


class OrderItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    product_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=10_000, strict=True)


class OrderRequest(BaseModel):
    """The body of POST /orders: ``items`` (1 to 50), or one ``product_id`` + ``quantity``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    order_id: str | None = Field(
        default=None,
        pattern=ORDER_ID_PATTERN,
        description="optional client-chosen id; makes the request safe to repeat",
    )
    customer_id: str = Field(min_length=1, max_length=64)
    items: list[OrderItem] = Field(min_length=1, max_length=MAX_ITEMS)

    @model_validator(mode="before")
    @classmethod
    def single_product_shorthand(cls, body: Any) -> Any:
        """``{"product_id", "quantity"}`` is a one-item order; mixing both forms is refused."""
        if not isinstance(body, dict) or ("product_id" not in body and "quantity" not in body):
            return body
        if "items" in body:
            raise PydanticCustomError("mixed_forms", "give either items or product_id and quantity, not both")
        shorthand = dict(body)
        item = {key: shorthand.pop(key) for key in ("product_id", "quantity") if key in shorthand}
        return {**shorthand, "items": [item]}

    def workflow_input(self, order_id: str) -> dict:
        return {
            "order_id": order_id,
            "customer_id": self.customer_id,
            "items": [item.model_dump() for item in self.items],
        }


class FieldProblem(BaseModel):
    field: str
    reason: str


class PlacedOrder(BaseModel):
    order_id: str
    execution_arn: str
    status_url: str


class ExecutionView(BaseModel):
    arn: str
    status: str
    start_date: str
    stop_date: str | None = None
    error: str | None = None
    cause: str | None = None


class ItemView(BaseModel):
    item_number: int
    product_id: str
    quantity: int
    status: str
    error: str | None = None


class OrderView(BaseModel):
    order_id: str
    status: str
    items: list[ItemView] = Field(default_factory=list)
    record: dict | None
    execution: ExecutionView | None
