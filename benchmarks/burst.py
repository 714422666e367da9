"""Burst: 1,000 recoveries arriving within a minute, collected and posted to the Slack stand-in.

One real order execution is paused by a vendor outage; its contract message is the model for the
burst (each copy gets its own task token and execution, as a thousand paused executions would
send). Messages arrive at a steady rate over ``--arrival-seconds`` on the recovery queue of the
embedded stack; a local poller hands them to the real collector function the way Lambda's SQS
event source does (batches of up to 100, 5-second batching window, failed records visible again
after ``--retry-after`` seconds). Run twice: Slack healthy, then Slack answering 429 for the first
30 seconds (keys prefixed ``throttled_``). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.local.collector_poller import poll_collector  # noqa: E402
from service.local.order_api_client import LocalOrderApi  # noqa: E402
from service.local.recovery_requests import next_recovery_request  # noqa: E402
from service.local.slack_standin import LOCAL_BOT_TOKEN, serve_slack_standin  # noqa: E402
from service.local.stack import EmbeddedStack, embedded_stack, quiet_interpreter_logs  # noqa: E402
from service.local.vendor_server import serve_dummy_vendor  # noqa: E402
from service.recovery.recovery import RecoveryStatus  # noqa: E402
from service.recovery.store import RecoveryStore  # noqa: E402
from service.supplier.dummy import DummyVendor, VendorBehaviour  # noqa: E402

TOKEN_SECRET = "recovery-ops/slack-bot-token"


def _queue_depth(stack: EmbeddedStack, queue: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.physical(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _send_burst(stack: EmbeddedStack, model: dict, count: int, arrival_s: float) -> None:
    sqs = stack.client("sqs")
    began = time.perf_counter()
    for index in range(count):
        time.sleep(max(0.0, began + arrival_s * index / count - time.perf_counter()))
        name = f"ord-burst-{index:04d}"
        message = {
            **model,
            "task_token": f"{model['task_token']}-{uuid.uuid4().hex}",
            "execution_name": name,
            "execution_arn": model["execution_arn"].rsplit(":", 1)[0] + ":" + name,
            "input": {**model["input"], "order_id": name},
        }
        sqs.send_message(QueueUrl=stack.physical("RecoveryQueue"), MessageBody=json.dumps(message))


def run(count: int, arrival_s: float, throttle_s: float, retry_after: int) -> dict:
    vendor = DummyVendor(VendorBehaviour(outage=True), seed=1)
    with (
        serve_slack_standin() as slack,
        serve_dummy_vendor(vendor) as vendor_url,
        embedded_stack(
            parameters={"VendorUrl": vendor_url, "SlackDefaultChannel": "C-OPS"},
            secrets={TOKEN_SECRET: LOCAL_BOT_TOKEN},
            environment={"SLACK_API_URL": slack.base_url},
            quiet=True,
        ) as stack,
    ):
        LocalOrderApi().place({"customer_id": "c-1", "product_id": "sku-lamp", "quantity": 1})
        model = next_recovery_request(stack.client("sqs"), stack.physical("RecoveryQueue"))
        began = time.perf_counter()
        if throttle_s:
            slack.rate_limit_for(throttle_s, retry_after=1)
        sender = threading.Thread(target=_send_burst, args=(stack, model, count, arrival_s))
        sender.start()
        invocations = 0
        while sender.is_alive() or _queue_depth(stack, "RecoveryQueue"):
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
        dead = _queue_depth(stack, "RecoveryDeadLetterQueue")
        slack_calls = len(slack.calls)
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
    healthy = run(args.recoveries, args.arrival_seconds, 0, args.retry_after)
    print(f"  slack healthy:   {json.dumps(healthy)}", flush=True)
    throttled = run(args.recoveries, args.arrival_seconds, args.throttle_seconds, args.retry_after)
    print(f"  slack throttled: {json.dumps(throttled)}", flush=True)
    keys = ("stored", "duplicates", "lost", "slack_calls", "slack_calls_per_recovery", "wall_s")
    figures = {key: healthy[key] for key in keys}
    figures.update({f"throttled_{key}": throttled[key] for key in keys})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
