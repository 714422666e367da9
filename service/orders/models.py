"""Order API models."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

#: Execution names allow at most 80 characters; the order id is the execution name.
ORDER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"


def new_order_id() -> str:
    return f"ord-{uuid.uuid4().hex}"


class OrderRequest(BaseModel):
    """The body of POST /orders."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    order_id: str | None = Field(
        default=None,
        pattern=ORDER_ID_PATTERN,
        description="optional client-chosen id; makes the request safe to repeat",
    )
    customer_id: str = Field(min_length=1, max_length=64)
    product_id: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=10_000, strict=True)

    def workflow_input(self, order_id: str) -> dict:
        return {
            "order_id": order_id,
            "customer_id": self.customer_id,
            "product_id": self.product_id,
            "quantity": self.quantity,
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


class OrderView(BaseModel):
    order_id: str
    status: str
    record: dict | None
    execution: ExecutionView | None
