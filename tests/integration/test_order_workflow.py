"""The order workflow end to end: the order API's handler, the real ASL on moto, the vendor over HTTP."""

from __future__ import annotations

from service.local.execution_history import failed_error_names, history, state_steps, wait_for_status
from service.local.order_api_client import LocalOrderApi
from service.local.stack import EmbeddedStack
from service.vendor.dummy import DummyVendor, VendorBehaviour
from tests.conftest import wait_for_recovery_request

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
    # and the execution, named after the order, succeeds through the three states
    described = wait_for_status(stack.client("stepfunctions"), placed.body["execution_arn"])
    assert described["status"] == "SUCCEEDED"
    assert described["name"] == order_id
    steps = state_steps(history(stack.client("stepfunctions"), placed.body["execution_arn"]))
    assert [s.name for s in steps] == [
        "Create order record",
        "Check circuit",
        "Circuit open?",
        "Check availability",
        "Update order record FINISHED",
    ]
    # and GET /orders/{id} shows the record FINISHED with the execution's status
    looked_up = order_api.get(order_id)
    assert looked_up.status == 200
    assert looked_up.body["status"] == "FINISHED"
    assert looked_up.body["record"]["quantity"] == 2
    assert looked_up.body["execution"]["status"] == "SUCCEEDED"


def test_the_workflow_output_keeps_the_original_input(stack: EmbeddedStack, order_api: LocalOrderApi) -> None:
    placed = order_api.place(GOOD_ORDER)

    described = wait_for_status(stack.client("stepfunctions"), placed.body["execution_arn"])

    import json

    output = json.loads(described["output"])
    assert {k: output[k] for k in GOOD_ORDER} == GOOD_ORDER
    assert output["availability"]["available"] is True


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

    # Then the availability check failed with the vendor error's class name
    events = history(stack.client("stepfunctions"), placed.body["execution_arn"])
    assert "VendorUnavailable" in failed_error_names(events)


def test_an_unknown_product_surfaces_as_a_rejected_request(
    stack: EmbeddedStack, order_api: LocalOrderApi
) -> None:
    placed = order_api.place({**GOOD_ORDER, "product_id": "sku-no-such-thing!"})
    wait_for_recovery_request(stack)

    events = history(stack.client("stepfunctions"), placed.body["execution_arn"])
    assert "VendorRejectedRequest" in failed_error_names(events)
