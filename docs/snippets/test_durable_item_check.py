"""A team's Lambda durable function on the recovery desk: its failed step pauses through
wait_for_recovery, and a Run again click resumes it with the input the person chose."""

import pytest
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import StepConfig
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from recovery_ops.service.durable import wait_for_recovery
from recovery_ops.service.local.testing import Desk, RecoveryStack

STOCK = {"sku-lamp": 0}  # what the warehouse has: nothing yet
ONCE = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))


class OutOfStock(Exception):
    pass


@durable_step
def reserve(_: StepContext, item: dict) -> dict:
    if STOCK.get(item["sku"], 0) < item["quantity"]:
        raise OutOfStock(f"{item['sku']}: not enough in stock")
    return {**item, "reserved": True}


@durable_execution
def reserve_item(event: dict, context: DurableContext) -> dict:
    item = event
    while True:
        try:
            return context.step(reserve(item), name="Reserve item", config=ONCE)
        except StepError as failed:
            item = wait_for_recovery(context, name="Reserve item", error=failed, input=item).input


@pytest.fixture
def recovery_stack_parameters() -> dict[str, str]:
    return {"WatchedDurableFunctions": "reserve-item"}  # as in the deployment


def test_an_item_out_of_stock_waits_for_a_person_and_is_reserved_once_edited(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    function = recovery_stack.deploy_durable_function(reserve_item, name="reserve-item")
    execution = function.start({"sku": "sku-lamp", "quantity": 2})

    recovery = desk.wait_for_recovery(execution)
    assert (recovery.failed_state, recovery.error) == ("Reserve item", "OutOfStock")

    STOCK["sku-desk-lamp"] = 5
    desk.edit_and_run_again(recovery, {"sku": "sku-desk-lamp", "quantity": 2})
    assert desk.wait_for_output(execution) == {"sku": "sku-desk-lamp", "quantity": 2, "reserved": True}
