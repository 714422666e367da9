"""What the benchmarks share: the stack with the Slack app at the Slack stand-in, signed requests to
its function, orders paused by a vendor outage, waits that poll gently. Not a benchmark itself
(``make bench`` runs the scripts whose names do not start with ``_``)."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.local.collector_poller import poll_collector  # noqa: E402
from service.local.order_api_client import LocalOrderApi  # noqa: E402
from service.local.slack_requests import SlackRequest, SlackRequests  # noqa: E402
from service.local.slack_standin import LOCAL_BOT_TOKEN, SlackStandIn, serve_slack_standin  # noqa: E402
from service.local.stack import EmbeddedStack, embedded_stack  # noqa: E402
from service.local.vendor_server import serve_dummy_vendor  # noqa: E402
from service.recovery.recovery import RecoveryStatus  # noqa: E402
from service.recovery.store import RecoveryStore  # noqa: E402
from service.supplier.dummy import DummyVendor, VendorBehaviour  # noqa: E402
from slack_app.ids import BULK_SUBMIT, RUN_AGAIN_ALL  # noqa: E402

BOT_TOKEN = LOCAL_BOT_TOKEN
SIGNING_SECRET = "benchmark-signing-secret"
ALLOWED = "UALLOWED"
#: Between polls of moto: a tight loop starves its execution threads.
POLL_SECONDS = 1.0


@contextmanager
def slack_app_stack(
    slack: SlackStandIn, sleep_scale: float | None = None, **parameters: str
) -> Iterator[EmbeddedStack]:
    """template.yaml in moto with the Slack app at the stand-in; one person may act. ``sleep_scale``:
    the workflow's waits and the breaker's clock (default: the embedded stack's, 100 times real time)."""
    timing = {} if sleep_scale is None else {"sleep_scale": sleep_scale}
    with embedded_stack(
        **timing,
        parameters={"SlackDefaultChannel": "C-RECOVERIES", "SlackAllowedUserIds": ALLOWED, **parameters},
        secrets={
            "recovery-ops/slack-bot-token": BOT_TOKEN,
            "recovery-ops/slack-signing-secret": SIGNING_SECRET,
        },
        environment={"SLACK_API_URL": slack.base_url},
        quiet=True,
    ) as stack:
        yield stack


def send(stack: EmbeddedStack, request: SlackRequest) -> dict[str, Any]:
    """POST the request to the Slack app's function as API Gateway would; its HTTP answer."""
    answer = stack.client("lambda").invoke(
        FunctionName=stack.physical("SlackAppFunction"), Payload=json.dumps(request.lambda_event())
    )
    return json.loads(answer["Payload"].read())


def record_calls(stack: EmbeddedStack, operation: str) -> list[dict]:
    """Every ``operation`` call (e.g. SendTaskSuccess) the stack's clients make from now on."""
    calls: list[dict] = []
    stack.client("stepfunctions").meta.events.register(
        f"provide-client-params.states.{operation}", lambda params, **_: calls.append(dict(params))
    )
    return calls


def wait(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(every)


def running(stack: EmbeddedStack, machine: str = "OrderStateMachine") -> int:
    """How many executions of ``machine`` run. moto's page token names an execution of the list it
    paged; one that ended between two pages makes the token ``InvalidToken``: list again."""
    sfn = stack.client("stepfunctions")
    for _ in range(5):
        paginator = sfn.get_paginator("list_executions")
        pages = paginator.paginate(stateMachineArn=stack.arn(machine), statusFilter="RUNNING")
        try:
            return sum(len(page["executions"]) for page in pages)
        except sfn.exceptions.InvalidToken:
            time.sleep(POLL_SECONDS)
    raise RuntimeError(f"could not list the running executions of {machine}: the list kept changing")


def statuses(stack: EmbeddedStack, arns: list[str]) -> Counter[str]:
    sfn = stack.client("stepfunctions")
    return Counter(sfn.describe_execution(executionArn=arn)["status"] for arn in arns)


def pause_orders(stack: EmbeddedStack, count: int, timeout: float) -> list[str]:
    """Place ``count`` orders (the vendor is down) and collect their recoveries until all are OPEN."""
    api = LocalOrderApi()
    arns = []
    for index in range(count):
        answer = api.place({"customer_id": f"c-{index:04d}", "product_id": "sku-kettle", "quantity": 1})
        if answer.status != 202:
            raise RuntimeError(f"order {index} refused: {answer.status} {answer.body}")
        arns.append(answer.body["execution_arn"])
    store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
    deadline = time.monotonic() + timeout
    while len(store.count_by_status(RecoveryStatus.OPEN)) < count:
        if time.monotonic() > deadline:
            opened = len(store.count_by_status(RecoveryStatus.OPEN))
            raise TimeoutError(f"only {opened}/{count} recoveries open after {timeout:.0f}s")
        if not poll_collector(stack, batch_size=100).received:
            time.sleep(POLL_SECONDS)
    return arns


@contextmanager
def orders_paused_by_an_outage(
    count: int, timeout: float
) -> Iterator[tuple[EmbeddedStack, SlackStandIn, Any, list[str], float]]:
    """The Slack app's stack (breaker off, one group window) with ``count`` orders placed while the
    dummy vendor is down, every recovery collected; (stack, Slack stand-in, vendor, the orders'
    execution ARNs, seconds to place and pause them). The vendor is still down."""
    vendor = DummyVendor(VendorBehaviour(outage=True), seed=1)
    with (
        serve_slack_standin() as slack,
        serve_dummy_vendor(vendor) as vendor_url,
        slack_app_stack(
            slack, VendorUrl=vendor_url, CircuitBreakerEnabled="false", RecoveryGroupWindowSeconds="86400"
        ) as stack,
    ):
        began = time.perf_counter()
        arns = pause_orders(stack, count, timeout)
        yield stack, slack, vendor, arns, time.perf_counter() - began


def run_again_all(stack: EmbeddedStack, slack: SlackStandIn, group_id: str) -> tuple[float, float]:
    """Run again all on the group's message, then confirm in the modal, as a person would in Slack;
    (seconds until the modal opened, milliseconds until the submission was acknowledged)."""
    requests = SlackRequests(SIGNING_SECRET, response_url=slack.response_url)
    clicked = time.perf_counter()
    answer = send(stack, requests.click(ALLOWED, RUN_AGAIN_ALL, group_id))
    if answer.get("statusCode") != 200:
        raise RuntimeError(f"Run again all was not acknowledged: {answer}")
    wait(lambda: slack.calls_of("views.open"), 120, "views.open after Run again all")
    view = slack.calls_of("views.open")[-1].body["view"]
    modal = json.loads(view) if isinstance(view, str) else view
    modal_s = time.perf_counter() - clicked
    submitted = time.perf_counter()
    answer = send(stack, requests.submit(ALLOWED, BULK_SUBMIT, modal["private_metadata"], {}))
    if answer.get("statusCode") != 200:
        raise RuntimeError(f"the bulk modal was not acknowledged: {answer}")
    return modal_s, (time.perf_counter() - submitted) * 1000


def bulk_finished_posts(slack: SlackStandIn) -> int:
    """How many bulk actions have posted their final summary in a thread so far."""
    return sum(1 for c in slack.calls_of("chat.postMessage") if "finished" in c.body.get("text", ""))


def run_again_until_done(stack: EmbeddedStack, slack: SlackStandIn, timeout: float) -> dict[str, int]:
    """Run again all, as support would, until no order execution runs: an item run again can fail
    at the vendor again and pause again (a new recovery, collected here), and is run again in the
    next round. Returns ``rounds`` (Run again all clicks) and ``paused_again`` (recoveries that
    arrived after the first round)."""
    store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
    deadline = time.monotonic() + timeout
    rounds, first_round_ids = 0, None
    seen: set[str] = set()
    while running(stack) and time.monotonic() < deadline:
        poll_collector(stack, batch_size=100)
        opened = store.list_by_status(RecoveryStatus.OPEN, limit=10_000)
        seen.update(r.recovery_id for r in opened)
        if first_round_ids is None:
            first_round_ids = {r.recovery_id for r in opened}
        groups = Counter(r.group_id for r in opened if r.group_id)
        if not groups:
            time.sleep(POLL_SECONDS)
            continue
        finished = bulk_finished_posts(slack)
        run_again_all(stack, slack, groups.most_common(1)[0][0])
        rounds += 1
        left = max(1.0, deadline - time.monotonic())
        wait(lambda before=finished: bulk_finished_posts(slack) > before, left, "the bulk summary")
    return {"rounds": rounds, "paused_again": len(seen - (first_round_ids or set()))}
