"""Channel flood: one channel at volume, on the embedded stack, judged by the Slack stand-in.

First a burst of ``--recoveries`` failures with distinct errors arrives within ``--arrival-seconds``
on the recovery queue, all routed to one channel; the real collector takes them in the batches
Lambda's SQS event source makes (as ``burst`` does). Then, two hours later on the recoveries'
clock, one run of the reminders function's work (reminders, then the routing rule's escalation
ladder, whose first level posts in the recoveries' threads) over those open recoveries, with the
functions' own pace on the stack's table.

Every post goes to the stand-in, which answers 429 with ``Retry-After`` when a channel is posted to
faster than Slack allows. For each phase: the posts the channel accepted, the peak in any one
second and the sustained rate (posts a second over the phase's span, after its first burst), the
429s, and the phase's Slack calls. Time is the pace's clock, which the embedded stack runs 100
times faster than real time (as it does the workflow's waits): rates are per second of that clock.

Every unit of work is accounted for: each failure must end as one recovery, OPEN, posted, its
message in the channel; each must be reminded (``reminded_at`` set) and have its first escalation
level recorded as posted. Last, ``--invocations`` processes post ``--posts`` messages each to another
channel at once, each with its own client and pace on the stack's table, as concurrent Lambda
invocations would, with the pace clock at ``--pace-scale`` (10 times real time: at the stack's 100,
a few milliseconds of thread scheduling between a turn and its post read as a second, and the
stand-in rightly answers 429): every post must be accepted. Otherwise the benchmark exits
non-zero. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import Unit, Work, WorkLedger, all_recoveries, queue_depth, send_copies  # noqa: E402

from recovery_ops.service import composition  # noqa: E402
from recovery_ops.service.config import ReminderConfig, load_config  # noqa: E402
from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour  # noqa: E402
from recovery_ops.service.local.engine.collector_poller import poll_collector  # noqa: E402
from recovery_ops.service.local.engine.interpreter_clock import accelerated_pace_clock  # noqa: E402
from recovery_ops.service.local.engine.recovery_requests import next_recovery_request  # noqa: E402
from recovery_ops.service.local.engine.stack import EmbeddedStack, embedded_stack, quiet_interpreter_logs  # noqa: E402
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi  # noqa: E402
from recovery_ops.service.local.programs.order_stock import stock_local_catalogue  # noqa: E402
from recovery_ops.service.local.programs.vendor_server import serve_dummy_vendor  # noqa: E402
from recovery_ops.service.local.standin.server import LOCAL_BOT_TOKEN, SlackStandIn, serve_slack_standin  # noqa: E402
from recovery_ops.service.recovery.model.recovery import Recovery  # noqa: E402

TOKEN_SECRET = "recovery-ops/slack-bot-token"
CHANNEL = "C-OPS"
CONCURRENT_CHANNEL = "C-BUSY"
LEADS = "S0LEADS"
PREFIX = "ord-flood-"


def _name(index: int) -> str:
    return f"{PREFIX}{index:04d}"


def _write_rules(stack: EmbeddedStack) -> None:
    """Every recovery to one channel; a ladder whose first level mentions the leads in the thread."""
    document = {
        "rules": [
            {
                "name": "everything",
                "match": {"state_machine": "*"},
                "channel": CHANNEL,
                "escalation": [{"after_minutes": 30, "mention_user_group": LEADS}],
            }
        ]
    }
    stack.client("ssm").put_parameter(
        Name=stack.physical("RoutingRules"), Value=json.dumps(document), Type="String", Overwrite=True
    )


def pace_figures(
    slack: SlackStandIn, since_call: int, channel: str = CHANNEL
) -> dict[str, float | int | None]:
    """The channel's posts after call number ``since_call``: count, peak in one second, sustained
    rate after the first burst, 429s, and all Slack calls."""
    calls = slack.calls[since_call:]
    posted = sorted(
        c.at
        for c in calls
        if c.method == "chat.postMessage" and c.status == 200 and c.body.get("channel") == channel
    )
    refused = sum(1 for c in calls if c.status == 429 and c.body.get("channel") == channel)
    peak = 0
    start = 0
    for end, at in enumerate(posted):
        while at - posted[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    tail = posted[5:]  # after a quiet channel's first burst
    sustained = (len(tail) - 1) / (tail[-1] - tail[0]) if len(tail) > 1 and tail[-1] > tail[0] else None
    return {
        "posts": len(posted),
        "peak_posts_per_second": peak,
        "sustained_posts_per_second": None if sustained is None else round(sustained, 3),  # too few posts
        "span_s": round(posted[-1] - posted[0], 1) if posted else 0.0,
        "refused_429": refused,
        "slack_calls": len(calls),
    }


def burst_phase(stack: EmbeddedStack, count: int, arrival_s: float) -> float:
    model = next_recovery_request(stack.client("sqs"), stack.physical("RecoveryQueue"))
    began = time.perf_counter()
    sender = threading.Thread(
        target=send_copies,
        args=(stack, model, count, arrival_s, _name, lambda i: {"error": f"Vendor.Refused{i:04d}"}),
    )
    sender.start()
    while sender.is_alive() or queue_depth(stack, "RecoveryQueue"):
        if not poll_collector(stack, batch_size=100, batching_window_s=5, retry_after_s=10).received:
            time.sleep(0.2)
        if time.perf_counter() - began > 1200:
            break
    sender.join()
    return time.perf_counter() - began


def reminders_phase(stack: EmbeddedStack, moment: datetime) -> tuple[dict, float]:
    """One run of the reminders function's work at ``moment``: reminders, then escalation."""
    config = load_config(ReminderConfig)
    reminders, escalations = composition.build_reminders(
        config, stack.client, composition.slack_bot(config, stack.client)
    )
    reminders.clock = escalations.clock = lambda: moment
    began = time.perf_counter()
    reminded = reminders.run()
    escalated = escalations.run()
    return {
        "reminded": len(reminded.reminded),
        "escalated": len(escalated.escalated),
        "given_back": len(escalated.given_back),
    }, time.perf_counter() - began


def raw_items(stack: EmbeddedStack) -> dict[str, dict]:
    """Every recovery item as stored (the reminder's and the escalation's marks are not in the model)."""
    dynamodb, items = stack.client("dynamodb"), {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=stack.physical("RecoveriesTable")):
        for item in page["Items"]:
            items[item["recovery_id"]["S"]] = item
    return items


def concurrent_phase(stack: EmbeddedStack, slack: SlackStandIn, invocations: int, posts: int) -> Work:
    """``invocations`` processes at once, each with its own client and pace on the stack's table,
    posting ``posts`` messages each to one channel: every one must be accepted, none refused."""
    config = load_config(ReminderConfig)
    outcomes: dict[str, str] = {}

    def invocation(number: int) -> None:
        client = composition.slack_bot(config, stack.client)
        for index in range(posts):
            name = f"post-{number}-{index:04d}"
            try:
                client.chat_postMessage(channel=CONCURRENT_CHANNEL, text=name)
                outcomes[name] = "accepted"
            except Exception as exc:  # noqa: BLE001 - reported as the post's end state
                outcomes[name] = type(exc).__name__

    threads = [threading.Thread(target=invocation, args=(n,)) for n in range(invocations)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = [f"post-{n}-{i:04d}" for n in range(invocations) for i in range(posts)]
    units = tuple(Unit(name, outcomes.get(name, "NOT_SENT")) for name in names)
    return Work("posts from concurrent invocations", len(names), units, frozenset({"accepted"}))


def flood_work(
    recoveries: dict[str, list[Recovery]], items: dict[str, dict], slack: SlackStandIn, count: int
) -> Work:
    expected = frozenset({"OPEN, posted, reminded, escalated"})
    messages = slack.posted_messages()
    units = []
    for index in range(count):
        name = _name(index)
        found = recoveries.get(name, [])
        if not found:
            units.append(Unit(name, "NOT_STORED", "no recovery"))
            continue
        recovery = found[-1]
        parts = [recovery.status.value]
        in_channel = (recovery.slack_channel, recovery.slack_ts) in messages
        parts.append("posted" if recovery.posted and in_channel else "not posted")
        item = items.get(recovery.recovery_id, {})
        parts.append("reminded" if "reminded_at" in item else "not reminded")
        parts.append(
            "escalated" if recovery.escalated >= 1 and "escalation_posts" in item else "not escalated"
        )
        state = ", ".join(parts) + (f" x{len(found)}" if len(found) > 1 else "")
        units.append(Unit(name, state, "" if state in expected else recovery.recovery_id))
    return Work("flooded recoveries", count, tuple(units), expected)


def run(
    count: int, arrival_s: float, invocations: int, posts_each: int, pace_scale: float, ledger: WorkLedger
) -> dict:
    vendor = DummyVendor(VendorBehaviour(outage=True), seed=1)
    with (
        serve_slack_standin() as slack,
        serve_dummy_vendor(vendor) as vendor_url,
        embedded_stack(
            parameters={"VendorUrl": vendor_url, "SlackDefaultChannel": CHANNEL},
            secrets={TOKEN_SECRET: LOCAL_BOT_TOKEN},
            environment={"SLACK_API_URL": slack.base_url},
            quiet=True,
            prepare=stock_local_catalogue,
        ) as stack,
    ):
        slack.usergroups[LEADS] = ["ULEAD"]
        _write_rules(stack)
        LocalOrderApi().place({"customer_id": "c-1", "product_id": "sku-lamp", "quantity": 1})
        first = len(slack.calls)
        burst_s = burst_phase(stack, count, arrival_s)
        burst = pace_figures(slack, first)
        second = len(slack.calls)
        counts, reminders_s = reminders_phase(stack, datetime.now(UTC) + timedelta(hours=2))
        reminded = pace_figures(slack, second)
        recoveries: dict[str, list[Recovery]] = defaultdict(list)
        for recovery in all_recoveries(stack):
            recoveries[recovery.execution_name].append(recovery)
        ledger.add(flood_work(recoveries, raw_items(stack), slack, count))
        third = len(slack.calls)
        began = time.perf_counter()
        with accelerated_pace_clock(pace_scale):
            ledger.add(concurrent_phase(stack, slack, invocations, posts_each))
        concurrent = {
            **pace_figures(slack, third, CONCURRENT_CHANNEL),
            "wall_s": round(time.perf_counter() - began, 1),
        }
        return {
            "concurrent": concurrent,
            "burst": {**burst, "wall_s": round(burst_s, 1)},
            "reminders_and_escalation": {**reminded, **counts, "wall_s": round(reminders_s, 1)},
            "slack_calls": len(slack.calls),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recoveries", type=int, default=1000)
    parser.add_argument("--arrival-seconds", type=float, default=60)
    parser.add_argument("--invocations", type=int, default=4, help="processes posting to one channel at once")
    parser.add_argument("--posts", type=int, default=50, help="posts each of those processes makes")
    parser.add_argument(
        "--pace-scale",
        type=float,
        default=0.1,
        help="the pace clock while they post: 0.1 runs it 10 times faster than real time, coarse enough"
        " that a few milliseconds of thread scheduling are not read as seconds",
    )
    args = parser.parse_args()
    quiet_interpreter_logs()
    print(
        f"channel_flood: {args.recoveries} distinct failures in one channel"
        f" within {args.arrival_seconds:.0f}s"
    )
    ledger = WorkLedger("channel_flood")
    figures = run(
        args.recoveries, args.arrival_seconds, args.invocations, args.posts, args.pace_scale, ledger
    )
    print(f"  burst:                    {json.dumps(figures['burst'])}", flush=True)
    print(f"  reminders and escalation: {json.dumps(figures['reminders_and_escalation'])}", flush=True)
    print(f"  concurrent invocations:   {json.dumps(figures['concurrent'])}", flush=True)
    flat = {f"burst_{k}": v for k, v in figures["burst"].items()}
    flat.update({f"reminders_{k}": v for k, v in figures["reminders_and_escalation"].items()})
    flat.update({f"concurrent_{k}": v for k, v in figures["concurrent"].items()})
    flat["slack_calls"] = figures["slack_calls"]
    ledger.finish(flat)


if __name__ == "__main__":
    main()
