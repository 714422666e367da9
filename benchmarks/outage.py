"""Outage: 1,000 orders while the vendor is down, then the vendor comes back.

Run twice on the embedded stack, the same ASL both times: with the shared circuit breaker, and
with it switched off (template parameter ``CircuitBreakerEnabled=false``: every execution calls
the vendor and retries). During the outage every vendor call is counted; after it, every order
that paused for a person is run again (as support would from Slack) and every order must end
FINISHED or in the orders DLQ.

Orders arrive at a steady rate over ``--arrival-seconds``; the outage lasts ``--outage-seconds``
of workflow time. Retry/Wait sleeps and the breaker's clock run at ``--sleep-scale`` real seconds
per workflow second (default 1.0: real time; a thousand waiting executions on one machine's moto
need it).
Vendor calls are the dummy vendor's own count. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.local.execution_history import TERMINAL  # noqa: E402
from service.local.order_api_client import LocalOrderApi  # noqa: E402
from service.local.recovery_requests import NoRecoveryRequest, next_recovery_request  # noqa: E402
from service.local.stack import EmbeddedStack, embedded_stack, quiet_interpreter_logs  # noqa: E402
from service.local.vendor_server import serve_dummy_vendor  # noqa: E402
from service.supplier.dummy import DummyVendor, VendorBehaviour  # noqa: E402

RESUMES_PER_ROUND = 20


def _place_orders(api: LocalOrderApi, count: int, spread_over_s: float) -> list[str]:
    """Orders arrive at a steady rate over ``spread_over_s`` seconds of real time, as shoppers do."""
    began = time.perf_counter()
    arns = []
    for index in range(count):
        due = began + spread_over_s * index / count
        time.sleep(max(0.0, due - time.perf_counter()))
        answer = api.place({"customer_id": f"c-{index % 50}", "product_id": "sku-lamp", "quantity": 1})
        if answer.status != 202:
            raise RuntimeError(f"order {index} refused: {answer.status} {answer.body}")
        arns.append(answer.body["execution_arn"])
    return arns


def _dead_letter_count(stack: EmbeddedStack) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.physical("OrdersDeadLetterQueue"), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _statuses(stack: EmbeddedStack, arns: list[str]) -> Counter[str]:
    sfn = stack.client("stepfunctions")
    return Counter(sfn.describe_execution(executionArn=arn)["status"] for arn in arns)


def run(
    breaker: bool, orders: int, outage_seconds: float, arrival_seconds: float, sleep_scale: float
) -> dict:
    vendor = DummyVendor(VendorBehaviour(outage=True), seed=1)
    api = LocalOrderApi()
    parameters = {"CircuitBreakerEnabled": "true" if breaker else "false"}
    with (
        serve_dummy_vendor(vendor) as url,
        embedded_stack(
            parameters={"VendorUrl": url, **parameters}, sleep_scale=sleep_scale, quiet=True
        ) as stack,
    ):
        sfn, sqs = stack.client("stepfunctions"), stack.client("sqs")
        recovery_queue = stack.physical("RecoveryQueue")
        began = time.perf_counter()
        arns = _place_orders(api, orders, arrival_seconds * sleep_scale)
        placed_s = time.perf_counter() - began
        paused: list[dict] = []
        outage_ends = began + outage_seconds * sleep_scale
        while time.perf_counter() < outage_ends:
            try:
                paused.append(next_recovery_request(sqs, recovery_queue, timeout=0.5))
            except NoRecoveryRequest:
                pass
        calls_during_outage = vendor.calls
        print(
            f"  breaker={'on' if breaker else 'off'}: {orders} orders placed in {placed_s:.1f}s; "
            f"{calls_during_outage} vendor calls during the outage; {len(paused)} paused for a person",
            flush=True,
        )

        vendor.set_behaviour(VendorBehaviour())
        resumed = 0
        deadline = time.perf_counter() + 1200
        while time.perf_counter() < deadline:
            # support works through the paused orders at a steady pace, not all in the same second
            for request in paused[:RESUMES_PER_ROUND]:
                sfn.send_task_success(taskToken=request["task_token"], output=json.dumps(request["input"]))
                resumed += 1
            paused = paused[RESUMES_PER_ROUND:]
            if not paused and all(status in TERMINAL for status in _statuses(stack, arns).elements()):
                break
            try:
                paused.append(next_recovery_request(sqs, recovery_queue, timeout=1.0))
            except NoRecoveryRequest:
                pass
        wall_s = time.perf_counter() - began
        statuses = _statuses(stack, arns)
        completed = statuses["SUCCEEDED"]
        running = statuses["RUNNING"]
        dead = _dead_letter_count(stack)
        return {
            "vendor_calls_during_outage": calls_during_outage,
            "vendor_calls_total": vendor.calls,
            "recoveries_run_again": resumed,
            "orders_completed": completed,
            "orders_dead_lettered": dead,
            "orders_still_running": running,
            "orders_lost": orders - completed - dead - running,
            "wall_s": round(wall_s, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--outage-seconds", type=float, default=300, help="workflow time (default 300)")
    parser.add_argument(
        "--arrival-seconds", type=float, default=240, help="orders arrive over this much workflow time"
    )
    parser.add_argument("--sleep-scale", type=float, default=1.0, help="real seconds per workflow second")
    args = parser.parse_args()
    quiet_interpreter_logs()
    print(
        f"outage: {args.orders} orders arriving over {args.arrival_seconds:.0f}s while the vendor is down "
        f"for {args.outage_seconds:.0f}s of workflow time (x{args.sleep_scale} real time), then it comes back"
    )
    started = time.perf_counter()
    timing = (args.outage_seconds, args.arrival_seconds, args.sleep_scale)
    with_breaker = run(True, args.orders, *timing)
    naive = run(False, args.orders, *timing)
    breaker_calls = with_breaker["vendor_calls_during_outage"]
    naive_calls = naive["vendor_calls_during_outage"]
    print(f"  with the breaker: {json.dumps(with_breaker)}")
    print(f"  without it:       {json.dumps(naive)}")
    figures = {
        "orders": args.orders,
        "outage_s": args.outage_seconds,
        "vendor_calls_breaker": breaker_calls,
        "vendor_calls_naive": naive_calls,
        "ratio": round(breaker_calls / naive_calls, 4) if naive_calls else None,
        "orders_completed": with_breaker["orders_completed"],
        "orders_lost": with_breaker["orders_lost"] + naive["orders_lost"],
        "orders_still_running": with_breaker["orders_still_running"] + naive["orders_still_running"],
        "recoveries_breaker": with_breaker["recoveries_run_again"],
        "recoveries_naive": naive["recoveries_run_again"],
        "wall_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
