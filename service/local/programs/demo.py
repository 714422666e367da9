"""`recovery-ops demo`: the order flow end to end on the embedded stack, printed as a timeline."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from recovery_ops.service.config import ServeSettings
from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.engine.execution_history import (
    history,
    nested_execution_arns,
    state_path,
    state_steps,
    wait_for_all,
)
from recovery_ops.service.local.engine.stack import embedded_stack, quiet_interpreter_logs
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.programs.order_stock import stock_local_catalogue
from recovery_ops.service.local.programs.support_team import (
    EDIT,
    REJECT,
    RUN_AGAIN,
    SUPPORT_ENGINEER,
    SupportTeam,
    TeamAction,
)
from recovery_ops.service.local.programs.vendor_server import serve_dummy_vendor
from recovery_ops.service.local.standin.local_slack import local_slack
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery

Print = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    orders_by_status: dict[str, int]
    executions_by_status: dict[str, int]
    rejected_requests: int
    recoveries: int
    dead_letters: int
    actions: tuple[TeamAction, ...] = field(default=())  # what the support team did, recovery by recovery


DEMO_SIGNING_SECRET = "demo-signing-secret"
#: what the vendor has of every product (``VendorBehaviour.stock``); an order for more is bad data
VENDOR_STOCK = VendorBehaviour().stock


def demo_orders(count: int, rng: random.Random) -> list[dict]:
    """A batch of orders: mostly good ones, a few for a product the vendor does not know (the 7th of
    every 7) and a few for more than the vendor has (the 4th of every 7)."""
    orders = []
    for index in range(count):
        product = (
            "sku-unknown!" if index % 7 == 6 else f"sku-{rng.choice(['kettle', 'lamp', 'desk', 'chair'])}"
        )
        quantity = rng.randint(1, 4) if index % 7 != 3 else VENDOR_STOCK * 2 + rng.randint(1, 4) * 100
        orders.append(
            {"customer_id": f"customer-{index % 5 + 1}", "product_id": product, "quantity": quantity}
        )
    return orders


def outage_orders(count: int, rng: random.Random) -> list[dict]:
    """Good orders of one product, placed while the vendor is down."""
    return [
        {"customer_id": f"customer-{index % 5 + 1}", "product_id": "sku-lamp", "quantity": rng.randint(1, 4)}
        for index in range(count)
    ]


def _path(events: list[dict]) -> tuple[float | None, str]:
    steps = state_steps(events)
    return (steps[0].entered_at if steps else None), state_path(events)


def _timeline(sfn: object, placed: list[dict], started: float, out: Print) -> None:
    """Each order's states, then each of its item actions' states, indented."""
    for order in placed:
        events = history(sfn, order["execution_arn"])
        first, path = _path(events)
        out(f"  +{(first or started) - started:5.2f}s {order['order_id'][:16]}…  {path}")
        for item_arn in nested_execution_arns(events):
            first, path = _path(history(sfn, item_arn))
            out(f"      +{(first or started) - started:5.2f}s item {item_arn.rsplit('-', 1)[-1]:>2}  {path}")


MULTI_ITEM_ORDER: dict[str, Any] = {
    "customer_id": "customer-7",
    "items": [
        {"product_id": "sku-kettle", "quantity": 1},
        {"product_id": "sku-vase", "quantity": 2},
        {"product_id": "sku-unknown!", "quantity": 1},
        {"product_id": "sku-desk", "quantity": 1},
    ],
}


def _multi_item_order(
    api: LocalOrderApi, vendor: DummyVendor, team: SupportTeam, sfn: object, out: Print
) -> dict:
    """Item 2's product fails at the vendor (the desk waits, then runs it again once the vendor answers);
    item 3's product is unknown (rejected: nothing stays reserved, the item goes to the DLQ). The order
    ends PARTIALLY_FINISHED."""
    vendor.set_behaviour(VendorBehaviour(failing_products=["sku-vase"]))
    placed = api.place(MULTI_ITEM_ORDER).body
    items = ", ".join(f"{i['product_id']} x{i['quantity']}" for i in MULTI_ITEM_ORDER["items"])
    out(f"  202 {placed['order_id']}  {items}")
    out("  one nested item action per item, named <order id>-item-<n>, checking and reserving in parallel")
    paused = {
        r.input.get("item_number"): r
        for r in team.wait_for_open(2)
        if r.input.get("order_id") == placed["order_id"]
    }
    for number, recovery in sorted(paused.items()):
        out(f"  item {number} paused: {recovery.execution_name[-7:]} {recovery.error} ({recovery.routing})")
    for _, recovery in sorted(paused.items()):
        team.handle(recovery, vendor_answers=False)
    out("  the vendor answers for sku-vase again")
    vendor.set_behaviour(VendorBehaviour())
    team.work_until_done([placed["execution_arn"]], vendor_answers=lambda: True)
    wait_for_all(sfn, [placed["execution_arn"]])
    team.show_slack()
    order = api.get(placed["order_id"]).body
    for item in order["items"]:
        out(
            f"  item {item['item_number']} {item['product_id']}: {item['status']}"
            + (f" ({item['error']})" if item["error"] else "")
        )
    out(f"  order {order['order_id'][:16]}…: {order['status']}")
    return placed


def run_demo(
    order_count: int = 12,
    failure_rate: float = 0.2,
    seed: int = 7,
    out: Print = print,
    settings: ServeSettings | None = None,
) -> DemoResult:
    """Place orders against a flaky vendor, then live through an outage; act on every recovery request.

    With ``settings.slack_bot_token`` the messages go to that workspace (channel ``settings.channel``);
    without, to a local Slack stand-in whose calls are shown in the terminal.

    The demo's support team (``recovery_ops.service.local.programs.support_team``) decides each
    recovery from what it says: an outage is run again once the vendor answers, an order for more
    than the vendor has is edited to what is available, an unknown product is rejected as one (the
    order is compensated and sent to the DLQ).
    """
    rng = random.Random(seed)
    api = LocalOrderApi()
    vendor = DummyVendor(VendorBehaviour(failure_rate=failure_rate), seed=seed)
    out("recovery-ops demo: the order workflow on an embedded moto stack (no AWS, no Slack)")
    quiet_interpreter_logs()
    settings = settings or ServeSettings()
    with ExitStack() as resources:
        vendor_url = resources.enter_context(serve_dummy_vendor(vendor))
        slack = resources.enter_context(local_slack(settings, signing_secret=DEMO_SIGNING_SECRET))
        stack = resources.enter_context(
            embedded_stack(
                parameters={
                    "VendorUrl": vendor_url,
                    "SlackDefaultChannel": slack.channel,
                    "SlackAllowedUserIds": SUPPORT_ENGINEER,
                },
                secrets=slack.secrets(),
                environment=slack.environment(),
                quiet=True,
                prepare=stock_local_catalogue,
            )
        )
        team = SupportTeam(stack, slack, out)
        sfn = stack.client("stepfunctions")
        sqs = stack.client("sqs")
        if slack.in_workspace:
            out("  SLACK_BOT_TOKEN is set: recovery messages go to your Slack workspace")
        out(f"  stack deployed from template.yaml; dummy vendor at {vendor_url}")
        out(f"  Retry and Wait sleeps run {1 / stack.sleeps.scale:.0f}x faster than deployed")
        out(f"  not emulated locally: {stack.skipped_kinds()}")
        out("")
        out(f"1. a flaky vendor ({failure_rate:.0%} of calls fail): retries with backoff and full jitter;")
        out("   the desk decides each paused order from what its recovery says")
        refused = api.place({"customer_id": "c-1", "quantity": 0})
        status, body = refused.status, refused.body
        rejected = 1 if status == 400 else 0
        out(
            f"  bad request -> {status} {body['message']}: "
            + "; ".join(f"{e['field']} {e['reason']}" for e in body["errors"])
        )
        placed = []
        started = time.time()
        orders = demo_orders(order_count, rng)
        for order in orders:
            answer = api.place(order)
            status, body = answer.status, answer.body
            placed.append(body)
            out(f"  {status} {body['order_id']}  {order['product_id']} x{order['quantity']}")
        team.work_until_done([p["execution_arn"] for p in placed], vendor_answers=lambda: True)
        wait_for_all(sfn, [p["execution_arn"] for p in placed])

        out("")
        out("2. the vendor goes down: the shared circuit breaker opens, later orders wait instead of calling")
        vendor.set_behaviour(VendorBehaviour(outage=True))
        calls_before_outage = vendor.calls
        waiting = []
        for order in outage_orders(4, rng):
            body = api.place(order).body
            waiting.append(body)
            time.sleep(0.2)
        paused = team.wait_for_open(1)
        for recovery in paused:
            team.handle(recovery, vendor_answers=False)
        time.sleep(1.0)
        out(f"  vendor calls during the outage: {vendor.calls - calls_before_outage}")
        out(
            "  the vendor is back -> one half-open probe closes the circuit;"
            " the desk runs the paused orders again (a click in Slack, then recovery-ops retry --error)"
        )
        vendor.set_behaviour(VendorBehaviour())
        if paused:
            team.handle(paused[0], vendor_answers=True)
        placed.extend(waiting)
        team.run_outage_again_until_done([o["execution_arn"] for o in waiting])
        wait_for_all(sfn, [p["execution_arn"] for p in placed])
        team.show_slack()

        out("")
        out(
            "3. a multi-item order: one item paused until the vendor is back, one rejected, the rest reserved"
        )
        placed.append(_multi_item_order(api, vendor, team, sfn, out))
        finished = wait_for_all(sfn, [p["execution_arn"] for p in placed])
        out("")
        team.operator.list(RecoveryQuery(since="1h"))

        out("")
        out("timeline (seconds since the first order; ✓ state done, ✗ state failed)")
        _timeline(sfn, placed, started, out)
        orders_by_status = Counter(api.get(order["order_id"]).body["status"] for order in placed)
        executions_by_status = Counter(described["status"] for described in finished.values())
        dead = sqs.get_queue_attributes(
            QueueUrl=stack.physical("OrdersDeadLetterQueue"), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        out("")
        out("summary")
        out(f"  orders by status:     {dict(sorted(orders_by_status.items()))}")
        out(f"  executions by status: {dict(sorted(executions_by_status.items()))}")
        done = Counter(action.action for action in team.actions)
        out(
            f"  recoveries handled:   {team.handled} (run again {done[RUN_AGAIN]}, edited {done[EDIT]},"
            f" rejected {done[REJECT]})"
        )
        out(f"  orders in the DLQ:    {dead}")
        out(f"  vendor calls:         {vendor.calls}")
        out(f"  bad requests refused: {rejected} (no execution started)")
        return DemoResult(
            dict(orders_by_status),
            dict(executions_by_status),
            rejected,
            team.handled,
            int(dead),
            tuple(team.actions),
        )
