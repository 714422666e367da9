"""The dummy vendor's API (GET /products/{product_id}/availability); behaviour read from SSM."""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.typing import LambdaContext

from recovery_ops.service.config import DummyVendorConfig, load_config
from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.observability import logger

#: Seconds a read of the behaviour parameter is cached, so a scripted outage starts within this time.
BEHAVIOUR_MAX_AGE_SECONDS = 5

app = APIGatewayHttpResolver()


@cache
def _vendor() -> DummyVendor:
    return DummyVendor()


@app.get("/products/<product_id>/availability")
def availability(product_id: str) -> Response:
    config = load_config(DummyVendorConfig)
    raw = parameters.get_parameter(
        config.behaviour_parameter, transform="json", max_age=BEHAVIOUR_MAX_AGE_SECONDS
    )
    vendor = _vendor()
    vendor.set_behaviour(VendorBehaviour.model_validate(raw))
    answer = vendor.availability(product_id, app.current_event.get_query_string_value("quantity"))
    return Response(
        status_code=answer.status,
        content_type=content_types.APPLICATION_JSON,
        body=answer.body,
        headers=answer.headers,
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
