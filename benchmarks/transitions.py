"""State transitions per order, counted from the execution histories on the embedded stack.

Step Functions (Standard) bills every state transition, retries included: one per state
entered, one per retry of a task, plus the start. An order is its own execution plus one nested
item execution per item; all of them are counted. Paths measured (one-item orders unless said):

- ``happy_path``: the vendor answers at once.
- ``one_recovery``: the vendor is down through every retry, the item pauses for a person, who
  runs it again once the vendor is back.
- ``one_rejection``: the item pauses and support rejects it (reservation released, DLQ).
- ``ten_items``: a ten-item order, the vendor answering at once.
- ``fifty_items_largest_payload_bytes``: the largest input/output/parameters any state of a
  50-item order (order and item executions) carried; Step Functions' limit is 262,144.

Every order and item execution is reported by end state: each must succeed, except the rejected
order's (its only item rejected on purpose, so the order fails); otherwise the benchmark exits
non-zero. Last line: one JSON object.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import WorkLedger, execution_name, execution_work  # noqa: E402  (beside this script)

from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour  # noqa: E402
from recovery_ops.service.local.engine.execution_history import (  # noqa: E402
    ExecutionsStillRunningError,
    history,
    largest_payload_bytes,
    nested_execution_arns,
    wait_for_status,
    workflow_transitions,
)
from recovery_ops.service.local.engine.recovery_requests import next_recovery_request  # noqa: E402
from recovery_ops.service.local.engine.stack import embedded_stack, quiet_interpreter_logs  # noqa: E402
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi  # noqa: E402
from recovery_ops.service.local.programs.order_stock import LOCAL_STOCK, stock_local_catalogue  # noqa: E402
from recovery_ops.service.local.programs.vendor_server import serve_dummy_vendor  # noqa: E402

ORDER = {"customer_id": "c-1", "product_id": "sku-lamp", "quantity": 1}
#: The ends expected of the rejected path: support rejects its only item on purpose (the item's
#: execution succeeds with the item REJECTED, released and in the DLQ), so its order fails.
REJECTED_ORDER_ENDS = "FAILED (OrderFailed)"
REJECTED_ITEM_ENDS = "SUCCEEDED (REJECTED)"


def main() -> None:
    quiet_interpreter_logs()
    print("transitions: state transitions per order (states entered + task retries + start)")
    vendor = DummyVendor(seed=1)
    api = LocalOrderApi()
    ledger = WorkLedger("transitions")
    orders: list[str] = []  # the order executions started, in order
    items_ordered = 0
    with (
        serve_dummy_vendor(vendor) as url,
        embedded_stack(parameters={"VendorUrl": url}, quiet=True, prepare=stock_local_catalogue) as stack,
    ):
        sfn, sqs = stack.client("stepfunctions"), stack.client("sqs")
        recovery_queue = stack.physical("RecoveryQueue")

        def place(order: dict) -> str:
            nonlocal items_ordered
            orders.append(api.place(order).body["execution_arn"])
            items_ordered += len(order.get("items", [order]))
            return orders[-1]

        def transitions_of(execution_arn: str) -> int:
            try:
                wait_for_status(sfn, execution_arn, timeout=240)
            except ExecutionsStillRunningError as exc:  # counted so far; reported below, by end state
                print(f"  {exc}", flush=True)
            return workflow_transitions(sfn, execution_arn)

        def fresh_circuit() -> None:
            """Each path is measured alone: no failures of the previous path left in the breaker."""
            stack.client("dynamodb").delete_item(
                TableName=stack.physical("CircuitBreakerTable"), Key={"dependency": {"S": "vendor"}}
            )

        happy = transitions_of(place(ORDER))

        fresh_circuit()
        vendor.set_behaviour(VendorBehaviour(outage=True))
        paused = place(ORDER)
        request = next_recovery_request(sqs, recovery_queue)
        vendor.set_behaviour(VendorBehaviour())
        sfn.send_task_success(taskToken=request["task_token"], output=json.dumps(request["input"]))
        one_recovery = transitions_of(paused)

        fresh_circuit()
        vendor.set_behaviour(VendorBehaviour(outage=True))
        rejected = place(ORDER)
        request = next_recovery_request(sqs, recovery_queue)
        sfn.send_task_failure(taskToken=request["task_token"], error="RecoveryRejected", cause="benchmark")
        one_rejection = transitions_of(rejected)

        fresh_circuit()
        vendor.set_behaviour(VendorBehaviour())
        ten_items = transitions_of(place(order_of(10)))

        fifty = place(order_of(50))
        try:
            wait_for_status(sfn, fifty, timeout=240)
        except ExecutionsStillRunningError as exc:  # reported below, by end state
            print(f"  {exc}", flush=True)
        executions = [fifty, *nested_execution_arns(history(sfn, fifty))]
        largest = max(largest_payload_bytes(history(sfn, arn)) for arn in executions)

        items = {order: nested_execution_arns(history(sfn, order)) for order in orders}
        ledger.add(
            execution_work(
                stack, "orders", orders, "SUCCEEDED", per_unit={execution_name(rejected): REJECTED_ORDER_ENDS}
            )
        )
        rejected_items = {execution_name(arn): REJECTED_ITEM_ENDS for arn in items[rejected]}
        ledger.add(
            execution_work(
                stack,
                "item executions",
                [arn for order in orders for arn in items[order]],
                "SUCCEEDED",
                per_unit=rejected_items,
                started=items_ordered,
            )
        )

    ledger.finish(
        {
            "happy_path": happy,
            "one_recovery": one_recovery,
            "one_rejection": one_rejection,
            "ten_items": ten_items,
            "fifty_items_largest_payload_bytes": largest,
        }
    )


def order_of(count: int) -> dict:
    products = sorted(LOCAL_STOCK)
    items = [{"product_id": products[n % len(products)], "quantity": 1} for n in range(count)]
    return {"customer_id": "c-1", "items": items}


if __name__ == "__main__":
    main()
