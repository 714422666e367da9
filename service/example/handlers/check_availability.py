"""The workflow's `Check availability` task: ask the vendor whether the ordered product is available.

Raises the vendor error classes (their names are the ASL error names) and reports each outcome to
the shared circuit breaker: a failure counts toward opening it, a probe's answer closes or re-opens
it. A retry that finds the circuit open raises ``CircuitOpen`` instead of calling the vendor.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from recovery_ops.service.breaker.circuit_breaker import CircuitBreaker, CircuitState, Decision
from recovery_ops.service.config import CheckAvailabilityConfig, CircuitBreakerConfig, load_config
from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.example.handlers.check_circuit import breaker_for
from recovery_ops.service.example.orders.errors import InvalidOrderData
from recovery_ops.service.example.supplier.client import VendorClient
from recovery_ops.service.example.supplier.errors import VendorError, VendorThrottled, VendorUnavailable
from recovery_ops.service.observability import logger, metrics, tracer

VENDOR = "vendor"


class CircuitOpen(RecoveryOpsError):
    """The shared circuit is open: this attempt did not call the vendor.

    Its name is an error name of the item action's ``Retry`` and ``Catch`` and of
    ``CircuitOutageErrors``, so it keeps it rather than ending in ``Error``."""


class OrderLine(BaseModel):
    model_config = ConfigDict(extra="ignore")

    order_id: str | None = None
    product_id: str = Field(min_length=1)
    quantity: int = Field(ge=1)


class AvailabilityTask(BaseModel):
    """The task's payload: the order, who is calling, what the breaker said, which attempt this is."""

    order: dict
    caller: str
    circuit: Decision = Decision.CLOSED
    attempt: int = 0


@cache
def _vendor(base_url: str, timeout_seconds: float) -> VendorClient:
    return VendorClient(base_url, timeout_seconds)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    task = AvailabilityTask.model_validate(event)
    try:
        line = OrderLine.model_validate(task.order)
    except ValidationError as exc:
        raise InvalidOrderData(f"cannot check availability of this order: {exc.errors()}") from exc
    logger.append_keys(order_id=line.order_id)
    config = load_config(CheckAvailabilityConfig)
    breaker_config = load_config(CircuitBreakerConfig)
    breaker = breaker_for(VENDOR, breaker_config) if breaker_config.enabled else None
    is_probe = task.circuit is Decision.PROBE
    if breaker and task.attempt > 0:
        # A retry: the circuit may have opened since `Check circuit` (or this probe failed already).
        current = breaker.state()
        is_probe = current["state"] is CircuitState.HALF_OPEN and current["probe_owner"] == task.caller
        if current["state"] is not CircuitState.CLOSED and not is_probe:
            raise CircuitOpen("the circuit opened while this order was retrying; the vendor was not called")
    try:
        availability = _vendor(config.vendor_url, config.vendor_timeout_seconds).check_availability(
            line.product_id, line.quantity
        )
    except VendorError as exc:
        _report(breaker, task.caller, exc, is_probe)
        raise
    _report(breaker, task.caller, None, is_probe)
    return {
        "available": availability.available,
        "in_stock": availability.in_stock,
        "checked_at": datetime.now(UTC).isoformat(),
    }


def _report(breaker: CircuitBreaker | None, caller: str, error: VendorError | None, is_probe: bool) -> None:
    name = type(error).__name__ if error else "VendorCallSucceeded"
    metrics.add_metric(name=name, unit="Count", value=1)
    if error:
        logger.warning("vendor call failed", error=name, cause=str(error), probe=is_probe)
    if breaker is None:
        return
    if isinstance(error, VendorUnavailable):
        breaker.record_failure(caller)
    elif isinstance(error, VendorThrottled):
        if is_probe:
            breaker.release_probe(caller)
    elif is_probe:
        breaker.record_success(caller)  # an answer, even a rejection, means the vendor is back
