"""The order item check, written as a Lambda durable function.

The same check as the item action's ``Check availability`` (infra/example/order_item.asl.json), in
code: a step asks the vendor, retried when the vendor is down or throttling; when it still fails,
``wait_for_recovery`` hands it to the recovery desk (``dependency="vendor"``: circuit news and
self-healing find it when the vendor's circuit closes) and the function waits, paying nothing. Run
again checks again with the input the person chose; a rejection raises ``RecoveryRejected`` out of
the handler, so the execution fails by that name and its caller compensates. A vendor that refuses
the request, or an item that cannot be checked, is client data and goes to that team.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import cache
from typing import Any

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import Duration, StepConfig
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from recovery_ops.service.config import CheckAvailabilityConfig, load_config
from recovery_ops.service.durable import wait_for_recovery
from recovery_ops.service.example.orders.errors import InvalidOrderData
from recovery_ops.service.example.supplier.client import VendorClient
from recovery_ops.service.example.supplier.errors import VendorThrottled, VendorUnavailable

CHECK = "Check availability"
VENDOR = "vendor"
#: the item action's Catch sends these to the client-data team; everything else is technical
CLIENT_DATA_ERRORS = frozenset({"VendorRejectedRequest", "InvalidOrderData"})
VENDOR_RETRIES = StepConfig(
    retry_strategy=create_retry_strategy(
        RetryStrategyConfig(
            max_attempts=3,
            initial_delay=Duration.from_seconds(2),
            retryable_error_types=[VendorUnavailable, VendorThrottled],
        )
    )
)


@durable_execution
def lambda_handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """The item (``product_id``, ``quantity``) with the vendor's ``availability``."""
    item = event
    while True:
        try:
            return {**item, "availability": context.step(ask_vendor(item), name=CHECK, config=VENDOR_RETRIES)}
        except StepError as failed:
            error = failed.error_type.rsplit(".", 1)[-1]
            routing = "client-data" if error in CLIENT_DATA_ERRORS else "technical"
            decision = wait_for_recovery(
                context, name=CHECK, error=failed, input=item, dependency=VENDOR, routing=routing
            )
            item = decision.input


@durable_step
def ask_vendor(_: StepContext, item: dict[str, Any]) -> dict[str, Any]:
    """The step: the vendor's answer for the item, or its error (``supplier/errors.py``)."""
    try:
        product_id, quantity = str(item["product_id"]), int(item["quantity"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidOrderData(f"cannot check availability of this item: {exc!r}") from exc
    return asdict(_vendor().check_availability(product_id, quantity))


@cache
def _vendor() -> VendorClient:
    config = load_config(CheckAvailabilityConfig)
    return VendorClient(config.vendor_url, config.vendor_timeout_seconds)
