"""Burst: 1,000 recoveries arriving within a minute, collected and posted to the Slack stand-in.

One real order execution is paused by a vendor outage; its contract message is the model for the
burst (each copy gets its own task token and execution, as a thousand paused executions would
send). Messages arrive at a steady rate over ``--arrival-seconds`` on the recovery queue of the
embedded stack; a local poller hands them to the real collector function the way Lambda's SQS
event source does (batches of up to 100, 5-second batching window, failed records visible again
after ``--retry-after`` seconds). Run twice: Slack healthy, then Slack answering 429 for the first
30 seconds (keys prefixed ``throttled_``). Every message of each burst is reported by end state:
each must end as one recovery, OPEN (nobody acts) and posted to Slack; the model order stays
RUNNING, paused (its message is only copied). Otherwise the benchmark exits non-zero. Last line:
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import (  # noqa: E402  (beside this script)
    Unit,
    Work,
    WorkLedger,
    all_recoveries,
    execution_work,
    queue_depth,
    recovery_unit,
    send_copies,
)

from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour  # noqa: E402
from recovery_ops.service.local.engine.collector_poller import poll_collector  # noqa: E402
from recovery_ops.service.local.engine.recovery_requests import next_recovery_request  # noqa: E402
from recovery_ops.service.local.engine.stack import EmbeddedStack, embedded_stack, quiet_interpreter_logs  # noqa: E402
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi  # noqa: E402
from recovery_ops.service.local.programs.order_stock import stock_local_catalogue  # noqa: E402
from recovery_ops.service.local.programs.vendor_server import serve_dummy_vendor  # noqa: E402
from recovery_ops.service.local.standin.server import LOCAL_BOT_TOKEN, serve_slack_standin  # noqa: E402
from recovery_ops.service.recovery.model.recovery import RecoveryStatus  # noqa: E402
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore  # noqa: E402

TOKEN_SECRET = "recovery-ops/slack-bot-token"
#: The end expected of every message of the burst: one recovery, OPEN (nobody acts), posted.
STORED_AND_POSTED = "OPEN, posted"


def _burst_name(index: int) -> str:
    return f"ord-burst-{index:04d}"


def _dead_lettered_names(stack: EmbeddedStack) -> set[str]:
    """The execution names of the messages in the recovery DLQ (read at the end: nothing else reads it)."""
    sqs, names = stack.client("sqs"), set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=stack.physical("RecoveryDeadLetterQueue"), MaxNumberOfMessages=10, VisibilityTimeout=600
        ).get("Messages", [])
        if not messages:
            return names
        for message in messages:
            try:
                names.add(json.loads(message["Body"]).get("execution_name"))
            except (ValueError, AttributeError):
                names.add(message["Body"][:80])


def burst_work(stack: EmbeddedStack, what: str, count: int) -> Work:
    """Every message of the burst by what became of it: its recovery's status and whether it was posted,
    ``DEAD_LETTERED`` or ``NOT_STORED``; more than one recovery for it shows as ``xn``."""
    recoveries = defaultdict(list)
    for recovery in all_recoveries(stack):
        recoveries[recovery.execution_name].append(recovery)
    dead = _dead_lettered_names(stack)
    expected = frozenset({STORED_AND_POSTED})
    units = []
    for index in range(count):
        name = _burst_name(index)
        found = recoveries.get(name, [])
        if not found:
            state = "DEAD_LETTERED" if name in dead else "NOT_STORED"
            units.append(
                Unit(name, state, "its message is in the recovery DLQ" if name in dead else "no recovery")
            )
            continue
        recovery = found[-1]
        state = f"{recovery.status.value}, {'posted' if recovery.posted else 'not posted'}"
        state += f" x{len(found)}" if len(found) > 1 else ""
        units.append(recovery_unit(recovery, expected, state))
    return Work(what, count, tuple(units), expected)


def run(
    count: int, arrival_s: float, throttle_s: float, retry_after: int, ledger: WorkLedger, label: str
) -> dict:
    vendor = DummyVendor(VendorBehaviour(outage=True), seed=1)
    with (
        serve_slack_standin() as slack,
        serve_dummy_vendor(vendor) as vendor_url,
        embedded_stack(
            parameters={"VendorUrl": vendor_url, "SlackDefaultChannel": "C-OPS"},
            secrets={TOKEN_SECRET: LOCAL_BOT_TOKEN},
            environment={"SLACK_API_URL": slack.base_url},
            quiet=True,
            prepare=stock_local_catalogue,
        ) as stack,
    ):
        model_order = LocalOrderApi().place({"customer_id": "c-1", "product_id": "sku-lamp", "quantity": 1})
        model = next_recovery_request(stack.client("sqs"), stack.physical("RecoveryQueue"))
        began = time.perf_counter()
        if throttle_s:
            slack.rate_limit_for(throttle_s, retry_after=1)
        sender = threading.Thread(target=send_copies, args=(stack, model, count, arrival_s, _burst_name))
        sender.start()
        invocations = 0
        while sender.is_alive() or queue_depth(stack, "RecoveryQueue"):
            if poll_collector(stack, batch_size=100, batching_window_s=5, retry_after_s=retry_after).received:
                invocations += 1
            else:
                time.sleep(0.2)
            if time.perf_counter() - began > 900:
                break
        sender.join()
        wall_s = time.perf_counter() - began
        recoveries = RecoveryStore(
            stack.physical("RecoveriesTable"), stack.client("dynamodb")
        ).list_by_status(RecoveryStatus.OPEN, limit=count + 10)
        burst = [r for r in recoveries if r.execution_name.startswith("ord-burst-")]
        stored = len({r.execution_name for r in burst})
        unposted = sum(1 for r in recoveries if not r.posted)
        dead = queue_depth(stack, "RecoveryDeadLetterQueue")
        slack_calls = len(slack.calls)
        ledger.add(burst_work(stack, f"burst messages ({label})", count))
        model_arn = model_order.body["execution_arn"]
        ledger.add(
            execution_work(stack, f"model order ({label}, paused, never resumed)", [model_arn], "RUNNING")
        )
        return {
            "stored": stored,
            "duplicates": len(burst) - stored,  # more than one item for one paused execution
            "lost": count - stored,
            "not_posted": unposted,
            "dead_lettered": dead,
            "slack_calls": slack_calls,
            "slack_calls_ok": len([c for c in slack.calls if c.status == 200]),
            "slack_calls_per_recovery": round(slack_calls / count, 4),
            "collector_invocations": invocations,
            "wall_s": round(wall_s, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recoveries", type=int, default=1000)
    parser.add_argument("--arrival-seconds", type=float, default=60)
    parser.add_argument("--throttle-seconds", type=float, default=30)
    parser.add_argument("--retry-after", type=int, default=10, help="visibility timeout of a failed record")
    args = parser.parse_args()
    quiet_interpreter_logs()
    print(
        f"burst: {args.recoveries} recoveries within {args.arrival_seconds:.0f}s; then again with Slack "
        f"answering 429 for the first {args.throttle_seconds:.0f}s"
    )
    ledger = WorkLedger("burst")
    healthy = run(args.recoveries, args.arrival_seconds, 0, args.retry_after, ledger, "slack healthy")
    print(f"  slack healthy:   {json.dumps(healthy)}", flush=True)
    throttled = run(
        args.recoveries,
        args.arrival_seconds,
        args.throttle_seconds,
        args.retry_after,
        ledger,
        "slack throttled",
    )
    print(f"  slack throttled: {json.dumps(throttled)}", flush=True)
    keys = ("stored", "duplicates", "lost", "slack_calls", "slack_calls_per_recovery", "wall_s")
    figures = {key: healthy[key] for key in keys}
    figures.update({f"throttled_{key}": throttled[key] for key in keys})
    ledger.finish(figures)


if __name__ == "__main__":
    main()
