"""Charge an order's card; a charge that still fails after its retries goes to the recovery desk."""

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import Duration, StepConfig
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from recovery_ops.service.durable import RecoveryRejected, RecoveryTimedOut, wait_for_recovery

RETRIES = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=3)))


def charge_card(order: dict[str, Any]) -> dict[str, Any]:
    """Your payment provider's client: raises when the charge fails."""
    raise NotImplementedError


@durable_step
def charge(_: StepContext, order: dict[str, Any]) -> dict[str, Any]:
    return charge_card(order)


@durable_execution
def lambda_handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    order = event
    while True:
        try:
            receipt = context.step(charge(order), name="Charge card", config=RETRIES)
            return {"order_id": order["order_id"], "status": "CHARGED", "receipt": receipt}
        except StepError as failed:
            try:
                decision = wait_for_recovery(
                    context,
                    name="Charge card",
                    error=failed,
                    input=order,
                    timeout=Duration.from_days(3),
                )
            except (RecoveryRejected, RecoveryTimedOut) as ended:
                return {"order_id": order["order_id"], "status": "NOT_CHARGED", "reason": str(ended)}
            order = decision.input  # Run again: as it was, or as the person edited it
