"""POST /orders and GET /orders/{id} (API Gateway HTTP API, payload format 2.0)."""

from __future__ import annotations

import re
from http import HTTPStatus

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from recovery_ops.service import aws_clients
from recovery_ops.service.config import OrdersApiConfig, load_config
from recovery_ops.service.example.orders import order_api
from recovery_ops.service.example.orders.errors import InvalidOrderRequestError, OrderAlreadyExistsError
from recovery_ops.service.example.orders.models import ORDER_ID_PATTERN
from recovery_ops.service.example.orders.order_store import OrderStore
from recovery_ops.service.example.orders.order_workflow import OrderWorkflow
from recovery_ops.service.observability import logger, metrics, tracer

app = APIGatewayHttpResolver()


def _workflow(config: OrdersApiConfig) -> OrderWorkflow:
    return OrderWorkflow(config.order_state_machine_arn, aws_clients.client("stepfunctions"))


def _status_url_base() -> str:
    context = app.current_event.request_context
    stage = context.stage
    base = f"https://{context.domain_name}" if context.domain_name else ""
    return f"{base}/{stage}" if stage and stage != "$default" else base


@app.post("/orders")
@tracer.capture_method
def place_order() -> Response:
    config = load_config(OrdersApiConfig)
    placed = order_api.place_order(app.current_event.decoded_body, _workflow(config), _status_url_base())
    logger.info("order accepted", order_id=placed.order_id, execution_arn=placed.execution_arn)
    metrics.add_metric(name="OrdersAccepted", unit="Count", value=1)
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body=placed.model_dump(),
        headers={"Location": placed.status_url},
    )


@app.get("/orders/<order_id>")
@tracer.capture_method
def get_order(order_id: str) -> Response:
    if not re.match(ORDER_ID_PATTERN, order_id):
        return _error(HTTPStatus.NOT_FOUND, f"no order {order_id!r}")
    config = load_config(OrdersApiConfig)
    store = OrderStore(config.orders_table_name, aws_clients.client("dynamodb"))
    view = order_api.get_order(order_id, store, _workflow(config))
    if view is None:
        return _error(HTTPStatus.NOT_FOUND, f"no order {order_id!r}")
    return Response(
        status_code=HTTPStatus.OK, content_type=content_types.APPLICATION_JSON, body=view.model_dump()
    )


@app.exception_handler(InvalidOrderRequestError)
def invalid_order(exc: InvalidOrderRequestError) -> Response:
    logger.info("order rejected as invalid", problems=str(exc))
    return Response(
        status_code=HTTPStatus.BAD_REQUEST,
        content_type=content_types.APPLICATION_JSON,
        body={"message": "invalid order", "errors": [p.model_dump() for p in exc.problems]},
    )


@app.exception_handler(OrderAlreadyExistsError)
def order_exists(exc: OrderAlreadyExistsError) -> Response:
    return _error(HTTPStatus.CONFLICT, f"order {exc.order_id} already exists; GET /orders/{exc.order_id}")


def _error(status: HTTPStatus, message: str) -> Response:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body={"message": message}
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
