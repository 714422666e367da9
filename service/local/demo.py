"""`recovery-ops demo`: the order flow end to end on the embedded stack, printed as a timeline."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

from service.cli.operator import Operator
from service.config import ServeSettings
from service.local.collector_poller import poll_collector
from service.local.execution_history import (
    POLL_SECONDS,
    TERMINAL,
    history,
    nested_execution_arns,
    state_steps,
    wait_for_all,
)
from service.local.order_api_client import LocalOrderApi
from service.local.slack_requests import SlackRequests
from service.local.slack_standin import LOCAL_BOT_TOKEN, SlackStandIn, serve_slack_standin
from service.local.stack import EmbeddedStack, embedded_stack, quiet_interpreter_logs
from service.local.vendor_server import serve_dummy_vendor
from service.recovery.query import RecoveryQuery
from service.recovery.recovery import Recovery, RecoveryStatus
from service.supplier.dummy import DummyVendor, VendorBehaviour
from slack_app.ids import RUN_AGAIN
from slack_app.terminal import render_message

Print = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    orders_by_status: dict[str, int]
    executions_by_status: dict[str, int]
    rejected_requests: int
    recoveries: int
    dead_letters: int


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


def _path(events: list[dict]) -> tuple[float | None, str]:
    steps = state_steps(events)
    path = "  →  ".join(
        f"{step.name} {'✓' if step.exited else '✗ ' + (step.error or '')}".rstrip() for step in steps
    )
    return (steps[0].entered_at if steps else None), path


def _timeline(sfn: object, placed: list[dict], started: float, out: Print) -> None:
    """Each order's states, then each of its item actions' states, indented."""
    for order in placed:
        events = history(sfn, order["execution_arn"])
        first, path = _path(events)
        out(f"  +{(first or started) - started:5.2f}s {order['order_id'][:16]}…  {path}")
        for item_arn in nested_execution_arns(events):
            first, path = _path(history(sfn, item_arn))
            out(f"      +{(first or started) - started:5.2f}s item {item_arn.rsplit('-', 1)[-1]:>2}  {path}")


TOKEN_SECRET = "recovery-ops/slack-bot-token"
SIGNING_SECRET_NAME = "recovery-ops/slack-signing-secret"
DEMO_SIGNING_SECRET = "demo-signing-secret"
SUPPORT_ENGINEER = "UDEMODESK"


class SupportDesk:
    """The support team of the demo: the collector posts to Slack, the desk reads and acts.

    Acting goes through the recovery core the Slack app and ``recovery-ops retry|reject`` use
    (exactly once, audited, the Slack message updated with the outcome). With the Slack
    stand-in, a click is also sent as Slack sends it: signed, to the Slack app's function.
    """

    def __init__(
        self, stack: EmbeddedStack, slack: SlackStandIn | None, out: Print, token: str = LOCAL_BOT_TOKEN
    ) -> None:
        self._token = token
        self._stack = stack
        self._slack = slack
        self._out = out
        self._shown = 0
        self.handled = 0
        self.operator = self._operator()
        self._store = self.operator.store

    def _operator(self) -> Operator:
        from service.config import DeskConfig
        from slack_app.desk import build_desk
        from slack_app.web import web_client

        client = web_client(self._token, base_url=self._slack.base_url if self._slack else None)
        config = DeskConfig(recoveries_table_name=self._stack.physical("RecoveriesTable"))
        return Operator.at(build_desk(config, self._stack.client, client), "cli:demo-desk", out=self._say)

    def _say(self, line: str) -> None:
        self._out("  recovery-ops: " + line)

    def collect(self) -> None:
        while poll_collector(self._stack).received:
            pass
        self.show_slack()

    def show_slack(self) -> None:
        if self._slack is None:
            return
        calls = [c for c in self._slack.calls if c.status == 200 and c.method.startswith("chat.")]
        for call in calls[self._shown :]:
            verb = {"chat.postMessage": "posts to", "chat.update": "updates its message in"}.get(
                call.method, "replies in"
            )
            if call.body.get("thread_ts"):
                self._out(f"  thread reply in #{call.body['channel']}: {call.body.get('text', '')}")
                continue
            self._out(f"  recovery-ops {verb} #{call.body['channel']}:")
            blocks = call.body.get("blocks") or []
            for line in render_message(
                call.body["channel"], json.loads(blocks) if isinstance(blocks, str) else blocks
            ):
                self._out("    " + line)
        self._shown = len(calls)

    def wait_for_open(self, count: int, timeout: float = 60) -> list[Recovery]:
        deadline = time.monotonic() + timeout
        while True:
            self.collect()
            found = self._store.list_by_status(RecoveryStatus.OPEN)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(POLL_SECONDS)  # a tight loop starves moto's execution threads

    def click_run_again(self, recovery: Recovery) -> bool:
        """A support engineer clicks Run again in Slack: a signed request to the Slack app's function."""
        if self._slack is None:
            return False
        requests = SlackRequests(DEMO_SIGNING_SECRET, response_url=self._slack.response_url)
        request = requests.click(SUPPORT_ENGINEER, RUN_AGAIN, recovery.recovery_id)
        shown = len(self._slack.calls_of("chat.update")) + len(self._slack.calls_of("chat.postMessage"))
        self._stack.client("lambda").invoke(
            FunctionName=self._stack.physical("SlackAppFunction"), Payload=json.dumps(request.lambda_event())
        )
        self._out(
            f"  <@{SUPPORT_ENGINEER}> clicks [ Run again ] on {recovery.execution_name[:16]}…"
            " (a signed request to the Slack app)"
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            self._store.get(recovery.recovery_id).status.is_closed
            # the message (or, for a group message, its thread) shows the outcome
            and len(self._slack.calls_of("chat.update")) + len(self._slack.calls_of("chat.postMessage"))
            > shown
        ):
            time.sleep(POLL_SECONDS)
        self.handled += 1
        return True

    def reject(self, recovery: Recovery, reason: str) -> None:
        self._say(f"reject {recovery.recovery_id} --reason {reason!r}")
        if self.operator.reject(recovery.recovery_id, reason).done:
            self.handled += 1

    def run_again_until_done(self, execution_arns: list[str], timeout: float = 120) -> None:
        """`recovery-ops retry --since 1h --yes` until every execution has finished (a slow machine
        stretches the outage, so more may pause after the first round)."""
        sfn = self._stack.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(sfn.describe_execution(executionArn=arn)["status"] in TERMINAL for arn in execution_arns):
                return
            if self.wait_for_open(1, timeout=0.5):
                self._say("retry --since 1h --yes")
                report = self.operator.retry_matching(RecoveryQuery(since="1h"), confirm=lambda count: True)
                self.handled += report.done if report else 0
            self.show_slack()


MULTI_ITEM_ORDER = {
    "customer_id": "customer-7",
    "items": [
        {"product_id": "sku-kettle", "quantity": 1},
        {"product_id": "sku-vase", "quantity": 2},
        {"product_id": "sku-unknown!", "quantity": 1},
        {"product_id": "sku-desk", "quantity": 1},
    ],
}


def _multi_item_order(
    api: LocalOrderApi, vendor: DummyVendor, desk: SupportDesk, sfn: object, out: Print
) -> dict:
    """Item 2's product fails at the vendor (run again once it is back); item 3's product is unknown
    (rejected: nothing stays reserved, the item goes to the DLQ). The order ends PARTIALLY_FINISHED."""
    vendor.set_behaviour(VendorBehaviour(failing_products=["sku-vase"]))
    placed = api.place(MULTI_ITEM_ORDER).body
    items = ", ".join(f"{i['product_id']} x{i['quantity']}" for i in MULTI_ITEM_ORDER["items"])
    out(f"  202 {placed['order_id']}  {items}")
    out("  one nested item action per item, named <order id>-item-<n>, checking and reserving in parallel")
    paused = {
        r.input.get("item_number"): r
        for r in desk.wait_for_open(2)
        if r.input.get("order_id") == placed["order_id"]
    }
    for number, recovery in sorted(paused.items()):
        out(f"  item {number} paused: {recovery.execution_name[-7:]} {recovery.error} ({recovery.routing})")
    if 3 in paused:
        desk.reject(paused[3], "unknown product")
    vendor.set_behaviour(VendorBehaviour())
    if 2 in paused and not desk.click_run_again(paused[2]):
        desk.operator.retry(paused[2].recovery_id)
    wait_for_all(sfn, [placed["execution_arn"]])
    desk.show_slack()
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

    The local operator stands in for the support team: a client-data problem is rejected (the order
    is compensated and sent to the DLQ), a technical one is run again once the vendor is back.
    """
    rng = random.Random(seed)
    api = LocalOrderApi()
    vendor = DummyVendor(VendorBehaviour(failure_rate=failure_rate), seed=seed)
    out("recovery-ops demo: the order workflow on an embedded moto stack (no AWS, no Slack)")
    quiet_interpreter_logs()
    settings = settings or ServeSettings()
    real_slack_token = settings.slack_bot_token
    with ExitStack() as resources:
        vendor_url = resources.enter_context(serve_dummy_vendor(vendor))
        slack = None if real_slack_token else resources.enter_context(serve_slack_standin())
        stack = resources.enter_context(
            embedded_stack(
                parameters={
                    "VendorUrl": vendor_url,
                    "SlackDefaultChannel": settings.channel,
                    "SlackAllowedUserIds": SUPPORT_ENGINEER,
                },
                secrets={
                    TOKEN_SECRET: real_slack_token or LOCAL_BOT_TOKEN,
                    SIGNING_SECRET_NAME: DEMO_SIGNING_SECRET,
                },
                environment={} if real_slack_token else {"SLACK_API_URL": slack.base_url},
                quiet=True,
            )
        )
        desk = SupportDesk(stack, slack, out, token=real_slack_token or LOCAL_BOT_TOKEN)
        sfn = stack.client("stepfunctions")
        sqs = stack.client("sqs")
        if real_slack_token:
            out("  SLACK_BOT_TOKEN is set: recovery messages go to your Slack workspace")
        out(f"  stack deployed from template.yaml; dummy vendor at {vendor_url}")
        out(f"  Retry and Wait sleeps run {1 / stack.sleeps.scale:.0f}x faster than deployed")
        out(f"  not emulated locally: {stack.skipped_kinds()}")
        out("")
        out(f"1. a flaky vendor ({failure_rate:.0%} of calls fail): retries with backoff and full jitter")
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
        unknown_products = sum(1 for order in orders if "!" in order["product_id"])
        for recovery in desk.wait_for_open(unknown_products):
            out(
                f"  recovery {recovery.recovery_id[:12]}…: {recovery.execution_name[:16]}… "
                f"{recovery.failed_state} {recovery.error} ({recovery.routing}) -> the desk rejects it"
            )
            desk.reject(recovery, "unknown product")
        wait_for_all(sfn, [p["execution_arn"] for p in placed])

        out("")
        out("2. the vendor goes down: the shared circuit breaker opens, later orders wait instead of calling")
        vendor.set_behaviour(VendorBehaviour(outage=True))
        calls_before_outage = vendor.calls
        outage_orders = []
        for order in demo_orders(4, rng):
            order["product_id"] = "sku-lamp"
            body = api.place(order).body
            outage_orders.append(body)
            time.sleep(0.2)
        paused = desk.wait_for_open(1)
        time.sleep(1.0)
        out(f"  vendor calls during the outage: {vendor.calls - calls_before_outage}")
        out(
            "  the vendor is back -> one half-open probe closes the circuit;"
            " the desk runs the paused orders again (a click in Slack, then recovery-ops retry)"
        )
        vendor.set_behaviour(VendorBehaviour())
        if paused:
            desk.click_run_again(paused[0])
        placed.extend(outage_orders)
        desk.run_again_until_done([o["execution_arn"] for o in outage_orders])
        wait_for_all(sfn, [p["execution_arn"] for p in placed])
        desk.show_slack()

        out("")
        out(
            "3. a multi-item order: one item paused until the vendor is back, one rejected, the rest reserved"
        )
        placed.append(_multi_item_order(api, vendor, desk, sfn, out))
        finished = wait_for_all(sfn, [p["execution_arn"] for p in placed])
        out("")
        desk.operator.list(RecoveryQuery(since="1h"))

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
        out(f"  recoveries handled:   {desk.handled}")
        out(f"  orders in the DLQ:    {dead}")
        out(f"  vendor calls:         {vendor.calls}")
        out(f"  bad requests refused: {rejected} (no execution started)")
        return DemoResult(
            dict(orders_by_status), dict(executions_by_status), rejected, desk.handled, int(dead)
        )
