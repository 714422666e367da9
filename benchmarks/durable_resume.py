"""Durable resume: 300 durable executions paused by a vendor outage, resumed by one "Run again all" in Slack.

The embedded stack is deployed with the Slack app and one watched durable function
(``WatchedDurableFunctions``), without the order example (circuit breaker off, one group window for
the whole run, so every recovery shares one Slack message and one group). The function is the order
item check as a team writes it: a durable step asks the vendor, and while the vendor is down the
step fails and ``wait_for_recovery(..., dependency="vendor")`` hands it to the desk, the execution
waiting on a callback in AWS's local durable-function runner (the stack's durable host). The
collector (polled locally, as Lambda's SQS event source would) stores every recovery and posts the
group message. The vendor comes back, and the whole group is resumed through the real Slack path:
the group's "Run again all" button, then the confirmation modal's submission, both signed and sent
to the Slack app's Lambda function, whose lazy half sends SendDurableExecutionCallbackSuccess to
Lambda's durable-execution API (the host's, over HTTP) for each recovery.

Every SendDurableExecutionCallbackSuccess and ...Failure the product's Lambda client makes is
recorded (by recovery, never by callback id), and each execution's history is read for its
CallbackSucceeded events. ``resumed``: executions SUCCEEDED; ``lost``: executions not SUCCEEDED at
the end (after ``--timeout``); ``callbacks_sent_twice``: callbacks sent more than once (by the
client, or succeeded more than once in a history). ``pause_wall_s``: from the first start until
every recovery is OPEN and posted; ``first_round_s``: from the modal's submission until the Run
again all posted its summary; ``wall_s``: until every durable execution ended. Every durable
execution, recovery and callback is reported by end state: each execution must succeed, each
recovery end RESUMED, each callback be sent once; otherwise the benchmark exits non-zero. Last
line: one JSON object.

``--mixed``: both engines on one desk in one outage. Half the executions are the order example's
orders (a state machine execution each, its item action pausing at the dummy vendor), half durable
item checks; recoveries are grouped by workflow, step and error, so there are two group messages,
and support clicks Run again all on each (``first_round_s`` until both summaries are posted). An
order's item run again can fail at the local vendor again and pause again; it is run again in a
later round (``later_rounds``, ``paused_again``), as in ``bulk_resume``. ``tokens_sent_twice``: task
tokens sent more than once; ``wall_s`` until every order and durable execution ended.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from _support import (
    MISSING,
    POLL_SECONDS,
    Unit,
    Work,
    WorkLedger,
    bulk_finished_posts,
    record_calls,
    recovery_work,
    run_again_all,
    run_again_until_done,
    running,
    slack_app_stack,
    statuses,
    wait,
)
from _support import execution_work as order_work
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import StepConfig
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from recovery_ops.service import aws_clients
from recovery_ops.service.durable import wait_for_recovery
from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.durable_host import DurableHost
from recovery_ops.service.local.engine.stack import EmbeddedStack, quiet_interpreter_logs
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.programs.vendor_server import serve_dummy_vendor
from recovery_ops.service.local.standin.server import SlackStandIn, serve_slack_standin
from recovery_ops.service.recovery.model.contract import WorkflowKind
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore

#: the watched durable function: the order item check
FUNCTION = "order-item-check"
CHECK = "Check availability"
#: the end expected of every callback a recovery waits on
SENT_ONCE = "sent once"

# ------------------------------------------------------------------ the team's durable function
VENDOR = {"down": True}
_ASKED = Counter[str]()
_LOCK = threading.Lock()
ONE_TRY = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))


class VendorUnavailable(Exception):
    """The vendor does not answer."""


@durable_step
def ask_vendor(_: StepContext, item: dict[str, Any]) -> dict[str, Any]:
    with _LOCK:
        _ASKED[item["order_id"]] += 1
    if VENDOR["down"]:
        raise VendorUnavailable(f"the vendor does not answer for {item['product_id']}")
    return {**item, "available": True}


@durable_execution
def item_check(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """The order item check: a failed vendor step goes to the desk; Run again checks again with the
    input the person chose."""
    item = event
    while True:
        try:
            return context.step(ask_vendor(item), name=CHECK, config=ONE_TRY)
        except StepError as failed:
            item = wait_for_recovery(context, name=CHECK, error=failed, input=item, dependency="vendor").input


# ------------------------------------------------------------------ the run
def collect_until_posted(stack: EmbeddedStack, count: int, timeout: float) -> list[Recovery]:
    """Poll the collector until ``count`` recoveries are OPEN and posted; those recoveries."""
    store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
    deadline = time.monotonic() + timeout
    while True:
        received = poll_collector(stack, batch_size=100).received
        opened = store.list_by_status(RecoveryStatus.OPEN, limit=count + 10)
        if len(opened) >= count and all(r.posted for r in opened):
            return opened
        if time.monotonic() > deadline:
            posted = sum(1 for r in opened if r.posted)
            raise TimeoutError(f"{len(opened)}/{count} recoveries open, {posted} posted after {timeout:.0f}s")
        if not received:
            time.sleep(POLL_SECONDS)


def record_callbacks(stack: EmbeddedStack, operation: str) -> list[str]:
    """The callback id of every ``operation`` call (SendDurableExecutionCallbackSuccess) the
    product's Lambda client of the durable-execution API makes from now on (the client the stack's
    handlers share: ``aws_clients`` at the durable host's endpoint)."""
    host = durable_of(stack)
    calls: list[str] = []
    client = aws_clients.client("lambda", endpoint_url=host.endpoint_url)
    client.meta.events.register(
        f"provide-client-params.lambda.{operation}", lambda params, **_: calls.append(params["CallbackId"])
    )
    return calls


def durable_of(stack: EmbeddedStack) -> DurableHost:
    if stack.durable is None:
        raise RuntimeError("this stack runs no durable functions")
    return stack.durable


def wait_until_ended(host: DurableHost, arns: Iterable[str], timeout: float) -> dict[str, str]:
    """Each execution's status once none is RUNNING, or as it stands after ``timeout`` seconds."""
    ended: dict[str, str] = {}
    left = list(arns)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        for arn in left:
            status = host.describe(arn).status
            if status != "RUNNING":
                ended[arn] = status
        left = [arn for arn in left if arn not in ended]
        if left:
            time.sleep(POLL_SECONDS)
    return {**ended, **{arn: host.describe(arn).status for arn in left}}


def callback_successes(events: list[dict[str, Any]]) -> int:
    """How many times a callback of this execution succeeded, by its history."""
    return sum(1 for event in events if event.get("EventType") == "CallbackSucceeded")


def last_step(events: list[dict[str, Any]]) -> str:
    """An execution's last history event, as a person reads it (type and step name; no ids)."""
    if not events:
        return "no history"
    last = events[-1]
    named = [e["Name"] for e in events if e.get("Name")]
    return f"last event {last.get('EventType', '?')}" + (f" (in {named[-1]!r})" if named else "")


def recovery_id_of(callback_id: str) -> str:
    """The recovery a callback id belongs to (the collector's id for it), to name it without it."""
    return "rec-" + hashlib.sha256(callback_id.encode()).hexdigest()[:32]


def execution_work(host: DurableHost, names: dict[str, str], ended: dict[str, str]) -> Work:
    """The durable executions started, by status; the ones that did not succeed with their last event."""
    units = []
    for arn, name in names.items():
        status = ended.get(arn, MISSING)
        units.append(Unit(name, status, "" if status == "SUCCEEDED" else last_step(host.history(arn))))
    return Work.of("durable executions", len(names), units, "SUCCEEDED")


def callback_work(paused: list[Recovery], sent: Counter[str], succeeded: dict[str, int]) -> Work:
    """Every callback a recovery waited on, by how often it was sent (by the product's client) and
    succeeded (by its execution's history): each must be sent once. Named by recovery."""
    units = []
    for recovery in paused:
        times = sent[recovery.recovery_id]
        in_history = succeeded.get(recovery.execution_arn, 0)
        if times == 1 and in_history == 1:
            state = SENT_ONCE
        else:
            state = f"sent {times}, succeeded {in_history}"
        units.append(Unit(f"{recovery.recovery_id} ({recovery.execution_name})", state))
    return Work.of("callbacks", len(paused), units, SENT_ONCE)


@contextmanager
def stack_in_an_outage(mixed: bool) -> Iterator[tuple[EmbeddedStack, SlackStandIn, DummyVendor | None]]:
    """The Slack app's stack watching the durable function (breaker off, one group window), the
    vendor down; with the order example and its dummy vendor when ``mixed``, else without them."""
    VENDOR["down"] = True
    with ExitStack() as context:
        slack = context.enter_context(serve_slack_standin())
        parameters = {
            "WatchedDurableFunctions": FUNCTION,
            "CircuitBreakerEnabled": "false",
            "RecoveryGroupWindowSeconds": "86400",
        }
        vendor = None
        if mixed:
            vendor = DummyVendor(VendorBehaviour(outage=True), seed=1)
            parameters["VendorUrl"] = context.enter_context(serve_dummy_vendor(vendor))
        else:
            parameters["DeployOrderExample"] = "false"
        stack = context.enter_context(slack_app_stack(slack, **parameters))
        durable_of(stack).register(FUNCTION, item_check)
        yield stack, slack, vendor


def place_orders(count: int) -> list[str]:
    """Place ``count`` one-item orders through the order API; their execution ARNs."""
    api = LocalOrderApi()
    arns = []
    for index in range(count):
        answer = api.place({"customer_id": f"c-{index:04d}", "product_id": "sku-kettle", "quantity": 1})
        if answer.status != 202:
            raise RuntimeError(f"order {index} refused: {answer.status} {answer.body}")
        arns.append(answer.body["execution_arn"])
    return arns


def start_durable(host: DurableHost, count: int) -> dict[str, str]:
    """Start ``count`` durable item checks; their names by durable execution ARN."""
    names = {}
    for index in range(count):
        name = f"item-{index:04d}"
        item = {"order_id": name, "product_id": "sku-kettle", "quantity": 1}
        names[host.start(FUNCTION, item, execution_name=name)] = name
    return names


def resume_every_group(
    stack: EmbeddedStack, slack: SlackStandIn, groups: Counter[str | None], timeout: float
) -> tuple[float, float, float]:
    """One Run again all on each group's message, largest first, then wait for every summary;
    (seconds until the last modal opened, milliseconds of the slowest submission's acknowledgement,
    seconds from the first submission until the last summary)."""
    modal_s, ack_ms, submitted = 0.0, 0.0, None
    for group_id, _ in groups.most_common():
        if group_id is None:
            continue
        opened_s, acknowledged_ms = run_again_all(stack, slack, group_id)
        submitted = submitted or time.perf_counter()
        modal_s, ack_ms = opened_s, max(ack_ms, acknowledged_ms)
    began = submitted or time.perf_counter()
    want = sum(1 for group_id in groups if group_id is not None)
    try:
        wait(lambda: bulk_finished_posts(slack) >= want, timeout, "the bulk summaries", every=POLL_SECONDS)
    except TimeoutError as exc:
        print(f"  {exc}", flush=True)
    return modal_s, ack_ms, time.perf_counter() - began


def run(count: int, timeout: float, ledger: WorkLedger, mixed: bool) -> dict[str, Any]:
    order_count = count // 2 if mixed else 0
    durable_count = count - order_count
    with stack_in_an_outage(mixed) as (stack, slack, vendor):
        host = durable_of(stack)
        store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
        began = time.perf_counter()
        order_arns = place_orders(order_count)
        names = start_durable(host, durable_count)
        paused = collect_until_posted(stack, count, timeout)
        pause_wall_s = time.perf_counter() - began
        groups = Counter(r.group_id for r in paused)
        waiting = Counter(host.describe(arn).status for arn in names)["RUNNING"]
        print(
            f"  {len(paused)} recoveries open and posted in {pause_wall_s:.1f}s, {len(groups)} group(s), "
            f"{waiting} durable executions" + (f" and {running(stack)} orders" if mixed else "") + " waiting",
            flush=True,
        )
        VENDOR["down"] = False
        if vendor is not None:
            vendor.set_behaviour(VendorBehaviour())
        successes = record_callbacks(stack, "SendDurableExecutionCallbackSuccess")
        failures = record_callbacks(stack, "SendDurableExecutionCallbackFailure")
        task_successes = record_calls(stack, "SendTaskSuccess")
        submitted = time.perf_counter()
        modal_s, ack_ms, first_round_s = resume_every_group(stack, slack, groups, timeout)
        # an order's item run again can fail at the local vendor again and pause again: run again
        later = run_again_until_done(stack, slack, timeout) if mixed else {"rounds": 0, "paused_again": 0}
        ended = wait_until_ended(host, names, max(1.0, timeout - (time.perf_counter() - submitted)))
        wall_s = time.perf_counter() - submitted
        succeeded = {arn: callback_successes(host.history(arn)) for arn in names}
        sent = Counter(recovery_id_of(callback_id) for callback_id in successes)
        durable_paused = [r for r in paused if r.kind is WorkflowKind.DURABLE]
        tokens = Counter(call["taskToken"] for call in task_successes)
        order_statuses = statuses(stack, order_arns) if mixed else Counter[str]()
        still_open = len(store.count_by_status(RecoveryStatus.OPEN))
        ledger.add(execution_work(host, names, ended))
        if mixed:
            ledger.add(order_work(stack, "orders", order_arns, "SUCCEEDED"))
        started = None if mixed else count  # in the mixed run an order paused again is one more
        ledger.add(recovery_work(stack, "recoveries", RecoveryStatus.RESUMED.value, started=started))
        ledger.add(callback_work(durable_paused, sent, succeeded))
    durable_statuses = Counter(ended.values())
    resumed = durable_statuses["SUCCEEDED"] + order_statuses["SUCCEEDED"]
    twice = {r for r, n in sent.items() if n > 1} | {
        r.recovery_id for r in durable_paused if succeeded.get(r.execution_arn, 0) > 1
    }
    figures: dict[str, Any] = {
        "executions": count,
        "durable_executions": durable_count,
        "paused": len(paused),
        "groups": len(groups),
        "resumed": resumed,
        "lost": count - resumed,
        "callbacks_sent_twice": len(twice),
        "callback_successes_sent": len(successes),
        "callbacks_sent": len(sent),
        "callbacks_sent_not_paused": len(set(sent) - {r.recovery_id for r in durable_paused}),
        "callback_failures_sent": len(failures),
        "durable_statuses": dict(durable_statuses),
        "vendor_asks_durable": sum(_ASKED.values()),
        "recoveries_still_open": still_open,
        "modal_ack_ms": round(ack_ms, 1),
        "modal_open_s": round(modal_s, 2),
        "pause_wall_s": round(pause_wall_s, 1),
        "first_round_s": round(first_round_s, 1),
        "wall_s": round(wall_s, 1),
        "rate_per_second": round(resumed / wall_s, 1) if wall_s else None,
    }
    if mixed:
        figures |= {
            "orders": order_count,
            "order_statuses": dict(order_statuses),
            "tokens_sent_twice": sum(1 for n in tokens.values() if n > 1),
            "task_successes_sent": len(task_successes),
            "later_rounds": later["rounds"],
            "paused_again": later["paused_again"],
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=300)
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds for the pause, then for the resume (each)"
    )
    parser.add_argument(
        "--mixed",
        action="store_true",
        help="half the executions are the order example's state machine executions, in the same outage",
    )
    args = parser.parse_args()
    quiet_interpreter_logs()
    # every execution's step fails during the outage, and the durable SDK logs each with its traceback
    logging.getLogger("aws_durable_execution_sdk_python").setLevel(logging.CRITICAL)
    what = "orders and durable executions" if args.mixed else "durable executions"
    print(
        f"durable_resume: {args.executions} {what} paused by a vendor outage, then resumed by Run again "
        "all (button, modal, submission) through the Slack app's Lambda function"
    )
    ledger = WorkLedger("durable_resume")
    figures = run(args.executions, args.timeout, ledger, args.mixed)
    print(f"  {json.dumps(figures)}", flush=True)
    keys = [
        "executions",
        "paused",
        "groups",
        "resumed",
        "lost",
        "callbacks_sent_twice",
        "callback_successes_sent",
        "recoveries_still_open",
        "pause_wall_s",
        "first_round_s",
        "wall_s",
        "rate_per_second",
    ]
    if args.mixed:
        keys += ["orders", "durable_executions", "tokens_sent_twice", "later_rounds", "paused_again"]
    ledger.finish({key: figures[key] for key in keys})


if __name__ == "__main__":
    main()
