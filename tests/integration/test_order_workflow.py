"""The order workflow end to end: the order API's handler, the real ASL on moto, the vendor over HTTP."""

from __future__ import annotations

import json

from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.engine.execution_history import (
    failed_error_names,
    history,
    state_steps,
    wait_for_status,
)
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from tests.support.orders import item_execution_arn
from tests.support.waiting import wait_for_recovery_request

GOOD_ORDER = {"customer_id": "customer-1", "product_id": "sku-kettle", "quantity": 2}


def executions(stack: EmbeddedStack) -> list[dict]:
    sfn = stack.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=stack.arn("OrderStateMachine"))["executions"]


def test_a_placed_order_runs_to_succeeded_and_its_record_says_finished(
    stack: EmbeddedStack, order_api: LocalOrderApi
) -> None:
    # Given a working vendor
    # When an order is placed through POST /orders
    placed = order_api.place(GOOD_ORDER)

    # Then it is accepted with its id, execution and status URL
    assert placed.status == 202
    order_id = placed.body["order_id"]
    assert placed.body["status_url"] == f"https://api.example.com/dev/orders/{order_id}"
    assert placed.headers["Location"] == placed.body["status_url"]
    # and the execution, named after the order, succeeds: one item action, then the outcome
    sfn = stack.client("stepfunctions")
    described = wait_for_status(sfn, placed.body["execution_arn"])
    assert described["status"] == "SUCCEEDED"
    assert described["name"] == order_id
    steps = state_steps(history(sfn, placed.body["execution_arn"]))
    assert [s.name for s in steps] == [
        "Create order record",
        "Process items",
        "Run item action",
        "Count items",
        "Order outcome?",
        "Order FINISHED",
        "Record order outcome",
        "Order failed?",
        "Order result",
    ]
    # and the item action checked availability while it reserved the stock
    item_steps = {s.name for s in state_steps(history(sfn, item_execution_arn(stack, order_id)))}
    assert {"Check circuit", "Check availability", "Reserve stock", "Record item RESERVED"} <= item_steps
    # and GET /orders/{id} shows the record FINISHED, the item RESERVED, and the execution's status
    looked_up = order_api.get(order_id)
    assert looked_up.status == 200
    assert looked_up.body["status"] == "FINISHED"
    assert looked_up.body["items"] == [
        {"item_number": 1, "product_id": "sku-kettle", "quantity": 2, "status": "RESERVED", "error": None}
    ]
    assert looked_up.body["execution"]["status"] == "SUCCEEDED"


def test_the_workflow_output_is_the_order_and_each_items_outcome(
    stack: EmbeddedStack, order_api: LocalOrderApi
) -> None:
    placed = order_api.place(GOOD_ORDER)

    described = wait_for_status(stack.client("stepfunctions"), placed.body["execution_arn"])

    assert json.loads(described["output"]) == {
        "order_id": placed.body["order_id"],
        "status": "FINISHED",
        "items": [{"item_number": 1, "product_id": "sku-kettle", "quantity": 2, "status": "RESERVED"}],
        "not_reserved": [],
    }


def test_a_bad_request_gets_400_and_starts_nothing(stack: EmbeddedStack, order_api: LocalOrderApi) -> None:
    answer = order_api.place({"customer_id": "customer-1", "product_id": "sku-kettle", "quantity": -1})

    assert answer.status == 400
    assert answer.body["errors"][0]["field"] == "quantity"
    assert executions(stack) == []


def test_an_unknown_order_is_404(stack: EmbeddedStack, order_api: LocalOrderApi) -> None:
    assert order_api.get("ord-does-not-exist").status == 404
    assert order_api.get("not a valid id!").status == 404


def test_a_client_chosen_order_id_cannot_start_a_second_execution(
    stack: EmbeddedStack, order_api: LocalOrderApi
) -> None:
    first = order_api.place({**GOOD_ORDER, "order_id": "order-42"})
    wait_for_status(stack.client("stepfunctions"), first.body["execution_arn"])

    second = order_api.place({**GOOD_ORDER, "order_id": "order-42"})

    assert first.status == 202
    assert second.status == 409
    assert len(executions(stack)) == 1


def test_a_vendor_error_surfaces_as_its_named_error_in_the_history(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> None:
    # Given the vendor fails every call
    vendor.set_behaviour(VendorBehaviour(outage=True))

    # When an order is placed
    placed = order_api.place(GOOD_ORDER)
    wait_for_recovery_request(stack)

    # Then the item's availability check failed with the vendor error's class name
    events = history(stack.client("stepfunctions"), item_execution_arn(stack, placed.body["order_id"]))
    assert "VendorUnavailable" in failed_error_names(events)


def test_an_unknown_product_surfaces_as_a_rejected_request(
    stack: EmbeddedStack, order_api: LocalOrderApi
) -> None:
    placed = order_api.place({**GOOD_ORDER, "product_id": "sku-no-such-thing!"})
    wait_for_recovery_request(stack)

    events = history(stack.client("stepfunctions"), item_execution_arn(stack, placed.body["order_id"]))
    assert "VendorRejectedRequest" in failed_error_names(events)
