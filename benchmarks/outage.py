"""Outage: 1,000 orders while the vendor is down, then the vendor comes back.

Run three times on the embedded stack, the same ASL each time: with the shared circuit breaker,
and with it switched off (template parameter ``CircuitBreakerEnabled=false``: every execution calls
the vendor and retries). During the outage every vendor call is counted; after it, every order
that paused for a person is run again (as support would from Slack) and every order must end
FINISHED or in the orders DLQ. The third run is self-healing: the breaker on, the Slack app and the
collector deployed as in production, ``SelfHealingByDefault=true``, and no person acting at all:
the circuit watcher (fed the breaker table's stream) starts the self-healing state machine when the
circuit closes, and its rounds resume the recoveries at ``--resumes-per-second``. Its figures:
``self_healing_resumed`` (recoveries resumed by ``auto:circuit-closed``), ``..._human_actions``
(audit entries by anyone else: 0), ``..._orders_completed`` / ``..._orders_lost``,
``..._double_sent`` (task tokens sent more than once), ``..._resume_s`` (from the circuit closing to
the last recovery resumed), ``..._vendor_calls_during_resume`` and ``..._peak_vendor_calls_per_s``
(the most vendor calls in one second while it resumed), against ``..._pace_per_s``.

Orders arrive at a steady rate over ``--arrival-seconds``; the outage lasts ``--outage-seconds``
of workflow time. Retry/Wait sleeps and the breaker's clock run at ``--sleep-scale`` real seconds
per workflow second (default 1.0: real time; a thousand waiting executions on one machine's moto
need it).
Vendor calls are the dummy vendor's own count. Every order of each run is reported by end state,
and every recovery of the self-healing run: an order counts as lost (``orders_lost``) unless it
FINISHED or is in the orders DLQ, but the benchmark fails (exits non-zero) unless every order
FINISHED and every recovery of the self-healing run ended RESUMED: nothing in it rejects an item,
and no recovery can time out (``RecoveryTimeoutSeconds`` is 7 days). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import (  # noqa: E402
    WorkLedger,
    execution_work,
    record_calls,
    recovery_work,
    slack_app_stack,
)

from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour  # noqa: E402
from recovery_ops.service.local.engine.collector_poller import poll_collector  # noqa: E402
from recovery_ops.service.local.engine.dynamodb_stream import DynamoDBStreamPoller  # noqa: E402
from recovery_ops.service.local.engine.execution_history import TERMINAL  # noqa: E402
from recovery_ops.service.local.engine.recovery_requests import NoRecoveryRequestError, next_recovery_request  # noqa: E402
from recovery_ops.service.local.engine.stack import EmbeddedStack, embedded_stack, quiet_interpreter_logs  # noqa: E402
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi  # noqa: E402
from recovery_ops.service.local.programs.order_stock import stock_local_catalogue  # noqa: E402
from recovery_ops.service.local.programs.vendor_server import serve_dummy_vendor  # noqa: E402
from recovery_ops.service.local.standin.server import serve_slack_standin  # noqa: E402
from recovery_ops.service.recovery.healing.self_healing import AUTO_ACTOR, PROBE_ACTOR  # noqa: E402
from recovery_ops.service.recovery.model.recovery import NOT_PEOPLE, RecoveryStatus  # noqa: E402
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore  # noqa: E402

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
    breaker: bool,
    orders: int,
    outage_seconds: float,
    arrival_seconds: float,
    sleep_scale: float,
    ledger: WorkLedger,
) -> dict:
    vendor = DummyVendor(VendorBehaviour(outage=True), seed=1)
    api = LocalOrderApi()
    parameters = {"CircuitBreakerEnabled": "true" if breaker else "false"}
    with (
        serve_dummy_vendor(vendor) as url,
        embedded_stack(
            parameters={"VendorUrl": url, **parameters},
            sleep_scale=sleep_scale,
            quiet=True,
            prepare=stock_local_catalogue,
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
            except NoRecoveryRequestError:
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
            except NoRecoveryRequestError:
                pass
        wall_s = time.perf_counter() - began
        statuses = _statuses(stack, arns)
        completed = statuses["SUCCEEDED"]
        running = statuses["RUNNING"]
        dead = _dead_letter_count(stack)
        ledger.add(execution_work(stack, f"orders (breaker {'on' if breaker else 'off'})", arns, "SUCCEEDED"))
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


class VendorCallSampler:
    """The vendor's call count, read every second on a thread of its own (the main loop's rounds
    take longer than a second), to count calls in a window and find its busiest second."""

    def __init__(self, vendor: DummyVendor) -> None:
        self._vendor, self.samples = vendor, [(time.time(), vendor.calls)]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stopped.wait(1.0):
            self.samples.append((time.time(), self._vendor.calls))

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def during(self, start: float, end: float) -> tuple[int, float]:
        """Calls between ``start`` and ``end`` (epoch seconds), and the most in one second there."""
        inside = [(t, n) for t, n in self.samples if start - 1 <= t <= end + 1]
        if len(inside) < 2:
            return 0, 0.0
        rates = [(n2 - n1) / (t2 - t1) for (t1, n1), (t2, n2) in zip(inside, inside[1:], strict=False)]
        return inside[-1][1] - inside[0][1], round(max(rates), 1)


class MinuteProbe:
    """The self-healing function's schedule (rate(1 minute)): probe a circuit nobody probes."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self._stack, self._next, self.probed = stack, time.perf_counter() + 60, 0

    def tick(self) -> None:
        if time.perf_counter() < self._next:
            return
        self._next = time.perf_counter() + 60
        answer = self._stack.client("lambda").invoke(
            FunctionName=self._stack.physical("SelfHealingFunction"), Payload=json.dumps({"action": "probe"})
        )
        payload = json.loads(answer["Payload"].read())
        if answer.get("FunctionError"):
            raise RuntimeError(f"the minute's probe failed: {payload}")
        self.probed += len(payload["probed"])


def _circuit_closed_at(stack: EmbeddedStack) -> float | None:
    item = (
        stack.client("dynamodb")
        .get_item(TableName=stack.physical("CircuitBreakerTable"), Key={"dependency": {"S": "vendor"}})
        .get("Item", {})
    )
    if item.get("state", {}).get("S") != "CLOSED" or "changed_at" not in item:
        return None
    return float(item["changed_at"]["N"])


def run_self_healing(
    orders: int,
    outage_seconds: float,
    arrival_seconds: float,
    sleep_scale: float,
    settle_seconds: int,
    per_second: int,
    max_wait_seconds: int,
    ledger: WorkLedger,
) -> dict:
    """The outage with the breaker on and self-healing on: nobody acts; every order must finish."""
    vendor = DummyVendor(VendorBehaviour(outage=True), seed=1)
    api = LocalOrderApi()
    with (
        serve_slack_standin() as slack,
        serve_dummy_vendor(vendor) as url,
        slack_app_stack(
            slack,
            sleep_scale=sleep_scale,
            VendorUrl=url,
            CircuitBreakerEnabled="true",
            CircuitBreakerMaxWaitSeconds=str(max_wait_seconds),
            SelfHealingByDefault="true",
            SelfHealingSettleSeconds=str(settle_seconds),
            SelfHealingResumesPerSecond=str(per_second),
        ) as stack,
    ):
        store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
        watcher = DynamoDBStreamPoller(stack, "CircuitBreakerTable", "CircuitWatcherFunction")
        successes = record_calls(stack, "SendTaskSuccess")
        began = time.perf_counter()
        arns = _place_orders(api, orders, arrival_seconds * sleep_scale)
        outage_ends = began + outage_seconds * sleep_scale
        probes = MinuteProbe(stack)
        while time.perf_counter() < outage_ends:  # the collector stores and posts what pauses
            if not poll_collector(stack, batch_size=100).received:
                time.sleep(0.5)
            watcher.poll()
            probes.tick()
        paused = len(store.count_by_status(RecoveryStatus.OPEN))
        print(
            f"  self-healing: {orders} orders, {paused} paused for a person when the vendor came back",
            flush=True,
        )

        vendor.set_behaviour(VendorBehaviour())
        calls = VendorCallSampler(vendor)
        closed_at = None
        deadline = time.perf_counter() + 1500
        next_report = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            poll_collector(stack, batch_size=100)
            watcher.poll()
            probes.tick()
            if closed_at is None:
                closed_at = _circuit_closed_at(stack)
            open_now = len(store.count_by_status(RecoveryStatus.OPEN))
            resuming = len(store.count_by_status(RecoveryStatus.RESUMING))
            if time.perf_counter() >= next_report:
                next_report = time.perf_counter() + 30
                print(f"    {open_now} open, {resuming} resuming, {probes.probed} probed", flush=True)
            if (
                open_now == 0
                and resuming == 0
                and all(s in TERMINAL for s in _statuses(stack, arns).elements())
            ):
                break
            time.sleep(1.0)
        closed = [r for r in store.list_by_status(RecoveryStatus.RESUMED, limit=100_000)]
        closed += store.list_by_status(RecoveryStatus.EXPIRED, limit=100_000)
        by_machine = [r for r in closed if r.last_actor in (AUTO_ACTOR, PROBE_ACTOR)]
        machines = NOT_PEOPLE | {AUTO_ACTOR, PROBE_ACTOR}
        human = [e for r in closed for e in r.audit if e.actor not in machines]
        resume_times = [
            e.at
            for r in by_machine
            for e in r.audit
            if e.actor == AUTO_ACTOR and e.result == RecoveryStatus.RESUMED
        ]
        last_resumed = max((datetime.fromisoformat(t).timestamp() for t in resume_times), default=None)
        sent = Counter(call["taskToken"] for call in successes)
        statuses = _statuses(stack, arns)
        completed, running = statuses["SUCCEEDED"], statuses["RUNNING"]
        dead = _dead_letter_count(stack)
        calls.stop()
        window = (closed_at or 0.0, last_resumed or 0.0)
        calls_during, peak = calls.during(*window)
        ledger.add(execution_work(stack, "orders (self-healing)", arns, "SUCCEEDED"))
        ledger.add(recovery_work(stack, "recoveries (self-healing)", "RESUMED"))
        return {
            "self_healing_paused": paused,
            "self_healing_resumed": sum(1 for r in by_machine if r.status is RecoveryStatus.RESUMED),
            "self_healing_expired": sum(1 for r in by_machine if r.status is RecoveryStatus.EXPIRED),
            "self_healing_human_actions": len(human),
            "self_healing_orders_completed": completed,
            "self_healing_orders_dead_lettered": dead,
            "self_healing_orders_still_running": running,
            "self_healing_orders_lost": orders - completed - dead - running,
            "self_healing_double_sent": sum(1 for count in sent.values() if count > 1),
            "self_healing_resume_s": round(last_resumed - closed_at, 1)
            if last_resumed and closed_at
            else None,
            "self_healing_settle_s": settle_seconds,
            "self_healing_pace_per_s": per_second,
            "self_healing_vendor_calls_during_resume": calls_during,
            "self_healing_peak_vendor_calls_per_s": peak,
            "self_healing_probes": probes.probed,
            "self_healing_wall_s": round(time.perf_counter() - began, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--outage-seconds", type=float, default=300, help="workflow time (default 300)")
    parser.add_argument(
        "--arrival-seconds", type=float, default=240, help="orders arrive over this much workflow time"
    )
    parser.add_argument("--sleep-scale", type=float, default=1.0, help="real seconds per workflow second")
    parser.add_argument("--settle-seconds", type=int, default=60, help="self-healing's settle period")
    parser.add_argument("--resumes-per-second", type=int, default=10, help="self-healing's pace")
    parser.add_argument(
        "--max-wait-seconds",
        type=int,
        default=120,
        help="self-healing run: how long an execution waits for the circuit before it pauses for a person",
    )
    parser.add_argument("--only-self-healing", action="store_true", help="skip the two runs before it")
    args = parser.parse_args()
    quiet_interpreter_logs()
    print(
        f"outage: {args.orders} orders arriving over {args.arrival_seconds:.0f}s while the vendor is down "
        f"for {args.outage_seconds:.0f}s of workflow time (x{args.sleep_scale} real time), then it comes back"
    )
    started = time.perf_counter()
    timing = (args.outage_seconds, args.arrival_seconds, args.sleep_scale)
    ledger = WorkLedger("outage")
    if args.only_self_healing:
        healing = run_self_healing(
            args.orders, *timing, args.settle_seconds, args.resumes_per_second, args.max_wait_seconds, ledger
        )
        ledger.finish(healing)
        return
    with_breaker = run(True, args.orders, *timing, ledger)
    naive = run(False, args.orders, *timing, ledger)
    healing = run_self_healing(
        args.orders, *timing, args.settle_seconds, args.resumes_per_second, args.max_wait_seconds, ledger
    )
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
        **healing,
        "wall_s": round(time.perf_counter() - started, 1),
    }
    ledger.finish(figures)


if __name__ == "__main__":
    main()
