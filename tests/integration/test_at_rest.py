"""A paused order is at rest in the embedded stack, as on AWS: the order's execution waits for its
paused item's end (an event), it does not ask for the item's status over and over."""

from __future__ import annotations

import json

from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.engine.execution_history import wait_for_status
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from tests.support.orders import item_execution_arn
from tests.support.waiting import wait_for_recovery_request

ORDER = {"customer_id": "customer-1", "product_id": "sku-kettle", "quantity": 2}


def test_an_order_waits_once_for_its_paused_item_and_ends_when_the_item_is_run_again(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> None:
    # Given an order whose item has paused for a person (the vendor is down)
    vendor.set_behaviour(VendorBehaviour(outage=True))
    placed = order_api.place(ORDER).body
    request = wait_for_recovery_request(stack)
    item = item_execution_arn(stack, placed["order_id"])
    assert request["execution_arn"] == item

    # When the vendor is back and the item is run again
    vendor.set_behaviour(VendorBehaviour())
    sfn = stack.client("stepfunctions")
    sfn.send_task_success(taskToken=request["task_token"], output=json.dumps(request["input"]))

    # Then the order ends; all the while it waited for the item's end once, woken by it
    assert wait_for_status(sfn, placed["execution_arn"])["status"] == "SUCCEEDED"
    assert stack.nested_waits[item] == 1
