"""Multi-item orders: a Map of nested item actions, each item paused, resumed or rejected on its own."""

from __future__ import annotations

import json

from recovery_ops.service.example.orders.stock import StockStore
from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.slack_app.ids import EDIT_AND_RUN_AGAIN, REJECT, RUN_AGAIN
from tests.support.desk import (
    edit_submission,
    execution_status,
    open_modal,
    reject_submission,
    requests_for,
    send,
    store,
    wait_for_status,
)
from tests.support.orders import dead_letters
from tests.support.stacks import ALLOWED
from tests.support.waiting import wait_until

THREE_ITEMS = [
    {"product_id": "sku-lamp", "quantity": 1},
    {"product_id": "sku-vase", "quantity": 2},
    {"product_id": "sku-kettle", "quantity": 3},
]


def place(api: LocalOrderApi, order_id: str, items: list[dict]) -> str:
    answer = api.place({"order_id": order_id, "customer_id": "customer-9", "items": items})
    assert answer.status == 202, answer.body
    return answer.body["execution_arn"]


def paused_items(stack: EmbeddedStack, count: int) -> list[Recovery]:
    """Wait until ``count`` items are paused and collected; their recoveries, oldest first."""

    def collected() -> list[Recovery]:
        poll_collector(stack)
        return store(stack).list_by_status(RecoveryStatus.OPEN, limit=100, oldest_first=True)

    wait_until(lambda: len(collected()) >= count, timeout=60)
    return collected()


def item_statuses(api: LocalOrderApi, order_id: str) -> list[str]:
    return [item["status"] for item in api.get(order_id).body["items"]]


def stock(stack: EmbeddedStack, product_id: str):
    return StockStore(stack.physical("StockTable"), stack.client("dynamodb")).get(product_id)


def test_an_order_waits_for_its_one_paused_item_and_finishes_after_run_again(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    vendor.set_behaviour(VendorBehaviour(failing_products=["sku-vase"]))
    order_execution = place(order_api, "ord-three", THREE_ITEMS)

    (recovery,) = paused_items(stack, 1)

    assert recovery.execution_name == "ord-three-item-2"
    assert recovery.input == {
        "order_id": "ord-three",
        "customer_id": "customer-9",
        "item_number": 2,
        "product_id": "sku-vase",
        "quantity": 2,
    }
    wait_until(lambda: item_statuses(order_api, "ord-three") == ["RESERVED", "PENDING", "RESERVED"])
    assert execution_status(stack, order_execution) == "RUNNING"
    assert order_api.get("ord-three").body["status"] == "CREATED"

    vendor.set_behaviour(VendorBehaviour())
    send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))

    wait_until(lambda: execution_status(stack, order_execution) == "SUCCEEDED")
    order = order_api.get("ord-three").body
    assert order["status"] == "FINISHED"
    assert [item["status"] for item in order["items"]] == ["RESERVED"] * 3
    for number, item in enumerate(THREE_ITEMS, start=1):
        assert stock(stack, item["product_id"]).reservations[f"ord-three-item-{number}"] == item["quantity"]
    output = json.loads(
        stack.client("stepfunctions").describe_execution(executionArn=order_execution)["output"]
    )
    assert output["status"] == "FINISHED" and [i["item_number"] for i in output["items"]] == [1, 2, 3]


def test_a_rejected_item_leaves_the_order_partially_finished_in_the_dlq_with_its_reservation_released(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    vase_before = stock(stack, "sku-vase").available
    vendor.set_behaviour(VendorBehaviour(failing_products=["sku-vase"]))
    order_execution = place(order_api, "ord-partial", THREE_ITEMS)
    (recovery,) = paused_items(stack, 1)
    assert stock(stack, "sku-vase").reservations == {"ord-partial-item-2": 2}  # reserved while it waits

    modal = open_modal(stack, slack, REJECT, recovery.recovery_id)
    send(stack, reject_submission(slack, modal, "discontinued"))

    wait_until(lambda: execution_status(stack, order_execution) == "SUCCEEDED")
    order = order_api.get("ord-partial").body
    assert order["status"] == "PARTIALLY_FINISHED"
    assert [(i["status"], i["error"]) for i in order["items"]] == [
        ("RESERVED", None),
        ("REJECTED", "RecoveryRejected"),
        ("RESERVED", None),
    ]
    vase = stock(stack, "sku-vase")
    assert (vase.available, vase.reservations) == (vase_before, {})  # rolled back
    (dead,) = dead_letters(stack)
    assert (dead["kind"], dead["order_id"], dead["item_number"], dead["product_id"]) == (
        "order-item",
        "ord-partial",
        2,
        "sku-vase",
    )
    assert dead["error"]["Error"] == "RecoveryRejected"
    assert dead["execution_arn"] == recovery.execution_arn
    assert dead["input"]["quantity"] == 2
    assert execution_status(stack, recovery.execution_arn) == "SUCCEEDED"  # a soft error, not a failure


def test_two_items_paused_at_once_are_two_recoveries_resumed_in_the_opposite_order(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    vendor.set_behaviour(VendorBehaviour(failing_products=["sku-lamp"]))
    items = [{"product_id": "sku-lamp", "quantity": 1}, {"product_id": "sku-unknown!", "quantity": 1}]
    order_execution = place(order_api, "ord-two", items)

    first, second = paused_items(stack, 2)

    assert {first.execution_name, second.execution_name} == {"ord-two-item-1", "ord-two-item-2"}
    assert first.task_token != second.task_token
    assert (first.slack_channel, first.slack_ts) != (second.slack_channel, second.slack_ts)
    by_item = {r.input["item_number"]: r for r in (first, second)}
    assert by_item[2].error == "VendorRejectedRequest" and by_item[1].error == "VendorUnavailable"
    earlier, later = first, second  # oldest first: the later pause is resumed first

    vendor.set_behaviour(VendorBehaviour())
    resume(stack, slack, later)
    wait_for_status(stack, later.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: execution_status(stack, later.execution_arn) == "SUCCEEDED")
    assert store(stack).get(earlier.recovery_id).status is RecoveryStatus.OPEN
    assert execution_status(stack, order_execution) == "RUNNING"
    resume(stack, slack, earlier)

    wait_until(lambda: execution_status(stack, order_execution) == "SUCCEEDED")
    order = order_api.get("ord-two").body
    assert order["status"] == "FINISHED"
    assert item_statuses(order_api, "ord-two") == ["RESERVED", "RESERVED"]
    # the edited item's reservation followed the edit: the unknown product was never stocked
    assert stock(stack, "sku-desk").reservations == {"ord-two-item-2": 1}
    assert stock(stack, "sku-unknown!") is None


def resume(stack: EmbeddedStack, slack: SlackStandIn, recovery: Recovery) -> None:
    """Run again once the vendor is back; a product the vendor does not know is edited first."""
    if recovery.error == "VendorRejectedRequest":
        modal = open_modal(stack, slack, EDIT_AND_RUN_AGAIN, recovery.recovery_id)
        send(stack, edit_submission(slack, modal, json.dumps({**recovery.input, "product_id": "sku-desk"})))
    else:
        send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))
