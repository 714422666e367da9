"""The workflow's `Check availability` task: ask the vendor whether the ordered product is available.

Raises the vendor error classes (their names are the ASL error names); returns the availability.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.config import CheckAvailabilityConfig, load_config
from service.observability import logger, metrics, tracer
from service.orders.errors import InvalidOrderData
from service.vendor.client import VendorClient
from service.vendor.errors import VendorError


class AvailabilityRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_id: str | None = None
    product_id: str = Field(min_length=1)
    quantity: int = Field(ge=1)


@cache
def _vendor(base_url: str, timeout_seconds: float) -> VendorClient:
    return VendorClient(base_url, timeout_seconds)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    try:
        request = AvailabilityRequest.model_validate(event)
    except ValidationError as exc:
        raise InvalidOrderData(f"cannot check availability of this order: {exc.errors()}") from exc
    logger.append_keys(order_id=request.order_id)
    config = load_config(CheckAvailabilityConfig)
    try:
        availability = _vendor(config.vendor_url, config.vendor_timeout_seconds).check_availability(
            request.product_id, request.quantity
        )
    except VendorError as exc:
        logger.warning("vendor call failed", error=type(exc).__name__, cause=str(exc))
        metrics.add_metric(name=f"Vendor{type(exc).__name__.removeprefix('Vendor')}", unit="Count", value=1)
        raise
    metrics.add_metric(name="VendorCallSucceeded", unit="Count", value=1)
    return {
        "available": availability.available,
        "in_stock": availability.in_stock,
        "checked_at": datetime.now(UTC).isoformat(),
    }
