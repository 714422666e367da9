"""`recovery-ops demo`: the order flow end to end on the embedded stack, printed as a timeline."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from service.local.execution_history import TERMINAL, history, state_steps, wait_for_all
from service.local.http_api_events import http_api_event
from service.local.lambda_dispatch import LambdaContext
from service.local.recovery_requests import NoRecoveryRequest, next_recovery_request
from service.local.stack import embedded_stack, quiet_interpreter_logs
from service.local.vendor_server import serve_dummy_vendor
from service.vendor.dummy import DummyVendor, VendorBehaviour

Print = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    orders_by_status: dict[str, int]
    executions_by_status: dict[str, int]
    rejected_requests: int
    recoveries: int
    dead_letters: int


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


def _order_status(order_id: str) -> str:
    _, body = _call_orders_api(
        http_api_event(
            "GET", f"/orders/{order_id}", route_key="GET /orders/{id}", path_parameters={"id": order_id}
        )
    )
    return body["status"]


def _timeline(sfn: object, placed: list[dict], started: float, out: Print) -> None:
    for order in placed:
        steps = state_steps(history(sfn, order["execution_arn"]))
        path = "  →  ".join(
            f"{step.name} {'✓' if step.exited else '✗ ' + (step.error or '')}".rstrip() for step in steps
        )
        first = steps[0].entered_at - started if steps else 0.0
        out(f"  +{first:5.2f}s {order['order_id'][:16]}…  {path}")


def _run_again_until_done(sfn: object, sqs: object, queue_url: str, execution_arns: list[str]) -> int:
    """Run again every order that still pauses (a slow machine stretches the outage): returns how many."""
    resumed = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(sfn.describe_execution(executionArn=arn)["status"] in TERMINAL for arn in execution_arns):
            return resumed
        try:
            request = next_recovery_request(sqs, queue_url, timeout=0.5)
        except NoRecoveryRequest:
            continue
        sfn.send_task_success(taskToken=request["task_token"], output=json.dumps(request["input"]))
        resumed += 1
    return resumed


def run_demo(
    order_count: int = 12, failure_rate: float = 0.2, seed: int = 7, out: Print = print
) -> DemoResult:
    """Place orders against a flaky vendor, then live through an outage; act on every recovery request.

    The local operator stands in for the support team: a client-data problem is rejected (the order
    is compensated and sent to the DLQ), a technical one is run again once the vendor is back.
    """
    rng = random.Random(seed)
    vendor = DummyVendor(VendorBehaviour(failure_rate=failure_rate), seed=seed)
    out("recovery-ops demo: the order workflow on an embedded moto stack (no AWS, no Slack)")
    quiet_interpreter_logs()
    with (
        serve_dummy_vendor(vendor) as vendor_url,
        embedded_stack(parameters={"VendorUrl": vendor_url}, quiet=True) as stack,
    ):
        sfn = stack.client("stepfunctions")
        sqs = stack.client("sqs")
        recovery_queue = stack.physical("RecoveryQueue")
        out(f"  stack deployed from template.yaml; dummy vendor at {vendor_url}")
        out(f"  Retry and Wait sleeps run {1 / stack.sleeps.scale:.0f}x faster than deployed")
        out(f"  not emulated locally: {', '.join(stack.skipped)}")
        out("")
        out(f"1. a flaky vendor ({failure_rate:.0%} of calls fail): retries with backoff and full jitter")
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
        orders = demo_orders(order_count, rng)
        for order in orders:
            status, body = _call_orders_api(http_api_event("POST", "/orders", order))
            placed.append(body)
            out(f"  {status} {body['order_id']}  {order['product_id']} x{order['quantity']}")
        recoveries = 0
        unknown_products = sum(1 for order in orders if "!" in order["product_id"])
        for _ in range(unknown_products):
            request = next_recovery_request(sqs, recovery_queue)
            recoveries += 1
            out(
                f"  recovery requested: {request['execution_name'][:16]}… {request['failed_state']} "
                f"{request['error']} ({request['routing']}) -> operator rejects it"
            )
            sfn.send_task_failure(
                taskToken=request["task_token"], error="RecoveryRejected", cause="unknown product"
            )
        wait_for_all(sfn, [p["execution_arn"] for p in placed])

        out("")
        out("2. the vendor goes down: the shared circuit breaker opens, later orders wait instead of calling")
        vendor.set_behaviour(VendorBehaviour(outage=True))
        calls_before_outage = vendor.calls
        outage_orders = []
        for order in demo_orders(4, rng):
            order["product_id"] = "sku-lamp"
            _, body = _call_orders_api(http_api_event("POST", "/orders", order))
            outage_orders.append(body)
            time.sleep(0.2)
        request = next_recovery_request(sqs, recovery_queue)
        recoveries += 1
        out(
            f"  recovery requested: {request['execution_name'][:16]}… {request['failed_state']} "
            f"{request['error']} ({request['routing']})"
        )
        time.sleep(1.0)
        out(f"  vendor calls during the outage: {vendor.calls - calls_before_outage}")
        out(
            "  the vendor is back -> one half-open probe closes the circuit;"
            " the operator runs the paused orders again"
        )
        vendor.set_behaviour(VendorBehaviour())
        sfn.send_task_success(taskToken=request["task_token"], output=json.dumps(request["input"]))
        placed.extend(outage_orders)
        recoveries += _run_again_until_done(
            sfn, sqs, recovery_queue, [o["execution_arn"] for o in outage_orders]
        )
        finished = wait_for_all(sfn, [p["execution_arn"] for p in placed])

        out("")
        out("timeline (seconds since the first order; ✓ state done, ✗ state failed)")
        _timeline(sfn, placed, started, out)
        orders_by_status = Counter(_order_status(order["order_id"]) for order in placed)
        executions_by_status = Counter(described["status"] for described in finished.values())
        dead = sqs.get_queue_attributes(
            QueueUrl=stack.physical("OrdersDeadLetterQueue"), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        out("")
        out("summary")
        out(f"  orders by status:     {dict(sorted(orders_by_status.items()))}")
        out(f"  executions by status: {dict(sorted(executions_by_status.items()))}")
        out(f"  recoveries handled:   {recoveries}")
        out(f"  orders in the DLQ:    {dead}")
        out(f"  vendor calls:         {vendor.calls}")
        out(f"  bad requests refused: {rejected} (no execution started)")
        return DemoResult(dict(orders_by_status), dict(executions_by_status), rejected, recoveries, int(dead))
