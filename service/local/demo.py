"""`recovery-ops demo`: the order flow end to end on the embedded stack, printed as a timeline."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from service.local.execution_history import history, state_steps, wait_for_all
from service.local.http_api_events import http_api_event
from service.local.lambda_dispatch import LambdaContext
from service.local.stack import embedded_stack, quiet_interpreter_logs
from service.local.vendor_server import serve_dummy_vendor
from service.vendor.dummy import DummyVendor, VendorBehaviour

Print = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    orders_by_status: dict[str, int]
    executions_by_status: dict[str, int]
    rejected_requests: int


def _call_orders_api(event: dict) -> tuple[int, dict]:
    from service.handlers import orders_api

    context = LambdaContext("orders-api", "arn:aws:lambda:us-east-1:123456789012:function:orders-api")
    response = orders_api.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def demo_orders(count: int, rng: random.Random) -> list[dict]:
    """A batch of orders: mostly good ones, a few for a product the vendor does not know."""
    orders = []
    for index in range(count):
        product = (
            "sku-unknown!" if index % 7 == 6 else f"sku-{rng.choice(['kettle', 'lamp', 'desk', 'chair'])}"
        )
        orders.append(
            {"customer_id": f"customer-{index % 5 + 1}", "product_id": product, "quantity": rng.randint(1, 4)}
        )
    return orders


def run_demo(
    order_count: int = 12, failure_rate: float = 0.2, seed: int = 7, out: Print = print
) -> DemoResult:
    rng = random.Random(seed)
    vendor = DummyVendor(VendorBehaviour(failure_rate=failure_rate), seed=seed)
    out("recovery-ops demo: the order workflow on an embedded moto stack (no AWS, no Slack)")
    quiet_interpreter_logs()
    with (
        serve_dummy_vendor(vendor) as vendor_url,
        embedded_stack(parameters={"VendorUrl": vendor_url}, quiet=True) as stack,
    ):
        out(f"  stack deployed from template.yaml; dummy vendor at {vendor_url}")
        out(f"  vendor failure rate {failure_rate:.0%} (no retries yet: a vendor error fails the order)")
        out(f"  not emulated locally: {', '.join(stack.skipped)}")
        out("")
        out("placing orders through POST /orders")
        status, body = _call_orders_api(
            http_api_event("POST", "/orders", {"customer_id": "c-1", "quantity": 0})
        )
        rejected = 1 if status == 400 else 0
        out(
            f"  bad request -> {status} {body['message']}: "
            + "; ".join(f"{e['field']} {e['reason']}" for e in body["errors"])
        )
        placed = []
        started = time.time()
        for order in demo_orders(order_count, rng):
            status, body = _call_orders_api(http_api_event("POST", "/orders", order))
            placed.append(body)
            out(f"  {status} {body['order_id']}  {order['product_id']} x{order['quantity']}")
        sfn = stack.client("stepfunctions")
        finished = wait_for_all(sfn, [p["execution_arn"] for p in placed])
        out("")
        out("timeline (seconds since the first order; ✓ state done, ✗ state failed)")
        for order in placed:
            steps = state_steps(history(sfn, order["execution_arn"]))
            path = "  →  ".join(
                f"{step.name} {'✓' if step.exited else '✗ ' + (step.error or '')}".rstrip() for step in steps
            )
            first = steps[0].entered_at - started if steps else 0.0
            out(f"  +{first:5.2f}s {order['order_id'][:16]}…  {path}")
        orders_by_status: Counter[str] = Counter()
        for order in placed:
            status, body = _call_orders_api(
                http_api_event(
                    "GET",
                    f"/orders/{order['order_id']}",
                    route_key="GET /orders/{id}",
                    path_parameters={"id": order["order_id"]},
                )
            )
            orders_by_status[body["status"]] += 1
        executions_by_status = Counter(described["status"] for described in finished.values())
        out("")
        out("summary")
        out(f"  orders by status:     {dict(sorted(orders_by_status.items()))}")
        out(f"  executions by status: {dict(sorted(executions_by_status.items()))}")
        out(f"  vendor calls:         {vendor.calls}")
        out(f"  bad requests refused: {rejected} (no execution started)")
        return DemoResult(dict(orders_by_status), dict(executions_by_status), rejected)
