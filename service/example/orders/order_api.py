"""The order API's logic: place an order, look one up. No HTTP in here."""

from __future__ import annotations

import json

from pydantic import ValidationError

from recovery_ops.service.example.orders.errors import InvalidOrderRequestError
from recovery_ops.service.example.orders.models import (
    FieldProblem,
    ItemView,
    OrderRequest,
    OrderView,
    PlacedOrder,
    new_order_id,
)
from recovery_ops.service.example.orders.order_store import OrderStore
from recovery_ops.service.example.orders.order_workflow import OrderWorkflow


def parse_order_request(body: str | None) -> OrderRequest:
    if not body:
        raise InvalidOrderRequestError([FieldProblem(field="body", reason="a JSON object is required")])
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise InvalidOrderRequestError([FieldProblem(field="body", reason=f"not valid JSON: {exc}")]) from exc
    if not isinstance(payload, dict):
        raise InvalidOrderRequestError([FieldProblem(field="body", reason="must be a JSON object")])
    try:
        return OrderRequest.model_validate(payload)
    except ValidationError as exc:
        shorthand = "items" not in payload
        raise InvalidOrderRequestError(
            [_problem(error["loc"], error["msg"], shorthand) for error in exc.errors()]
        ) from exc


def _problem(location: tuple, reason: str, shorthand: bool) -> FieldProblem:
    """Name the field as the client wrote it (``quantity``, not ``items.0.quantity``, for the
    single-product form)."""
    if shorthand and location[:2] == ("items", 0) and len(location) > 2:
        location = location[2:]
    return FieldProblem(field=".".join(map(str, location)) or "body", reason=reason)


def place_order(body: str | None, workflow: OrderWorkflow, status_url_base: str) -> PlacedOrder:
    """Validate the request and start its execution; nothing is started for a bad request."""
    request = parse_order_request(body)
    order_id = request.order_id or new_order_id()
    execution_arn = workflow.start(order_id, request.workflow_input(order_id))
    return PlacedOrder(
        order_id=order_id, execution_arn=execution_arn, status_url=f"{status_url_base}/orders/{order_id}"
    )


def get_order(order_id: str, store: OrderStore, workflow: OrderWorkflow) -> OrderView | None:
    """The order record and its execution; None when neither exists."""
    record = store.get(order_id)
    execution = workflow.describe(order_id)
    if record is None and execution is None:
        return None
    # Between StartExecution and the workflow's first step there is no record yet.
    status = record["status"] if record else "ACCEPTED"
    return OrderView(
        order_id=order_id, status=status, items=item_views(record), record=record, execution=execution
    )


def item_views(record: dict | None) -> list[ItemView]:
    """Each item of the order with its status: PENDING until its item action records one."""
    if not record or "items" not in record:
        return []
    statuses = record.get("item_status", {})
    errors = record.get("item_errors", {})
    return [
        ItemView(
            item_number=number,
            product_id=item["product_id"],
            quantity=item["quantity"],
            status=statuses.get(str(number), "PENDING"),
            error=errors.get(str(number)),
        )
        for number, item in enumerate(json.loads(record["items"]), start=1)
    ]
