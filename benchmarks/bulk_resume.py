"""Bulk resume: 500 paused executions resumed by one "Run again all" from Slack; none lost, none sent twice.

The embedded stack is deployed with the Slack app (circuit breaker off, one group window for the
whole run, so every recovery shares one Slack message and one group). Orders are placed while the
dummy vendor is down; each execution retries, then pauses for a person; the collector (polled
locally, as Lambda's SQS event source would) stores every recovery and posts the group message.
The vendor comes back, and the whole group is resumed through the real Slack path: the group's
"Run again all" button, then the confirmation modal's submission, both signed and sent to the Slack
app's Lambda function (its lazy halves run through moto's asynchronous invoke, as on AWS).

Every SendTaskSuccess the stack's clients make is recorded. ``resumed``: executions SUCCEEDED;
``lost``: executions not SUCCEEDED at the end (after ``--timeout``); ``double_sent``: task tokens
sent more than once. ``wall_s``: from the modal's submission until every execution is terminal.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.local.collector_poller import poll_collector  # noqa: E402
from service.local.order_api_client import LocalOrderApi  # noqa: E402
from service.local.slack_requests import SlackRequest, SlackRequests  # noqa: E402
from service.local.slack_standin import LOCAL_BOT_TOKEN, SlackStandIn, serve_slack_standin  # noqa: E402
from service.local.stack import EmbeddedStack, embedded_stack, quiet_interpreter_logs  # noqa: E402
from service.local.vendor_server import serve_dummy_vendor  # noqa: E402
from service.recovery.recovery import RecoveryStatus  # noqa: E402
from service.recovery.store import RecoveryStore  # noqa: E402
from service.supplier.dummy import DummyVendor, VendorBehaviour  # noqa: E402
from slack_app.ids import BULK_SUBMIT, RUN_AGAIN_ALL  # noqa: E402

BOT_TOKEN = LOCAL_BOT_TOKEN
SIGNING_SECRET = "bulk-benchmark-signing-secret"
ALLOWED = "UALLOWED"
#: Between polls of moto: a tight loop starves its execution threads.
POLL_SECONDS = 1.0


def _send(stack: EmbeddedStack, request: SlackRequest) -> dict[str, Any]:
    """POST the request to the Slack app's function as API Gateway would; its HTTP answer."""
    answer = stack.client("lambda").invoke(
        FunctionName=stack.physical("SlackAppFunction"), Payload=json.dumps(request.lambda_event())
    )
    return json.loads(answer["Payload"].read())


def _record_calls(stack: EmbeddedStack, operation: str) -> list[dict]:
    """Every ``operation`` call (e.g. SendTaskSuccess) the stack's clients make from now on."""
    calls: list[dict] = []
    stack.client("stepfunctions").meta.events.register(
        f"provide-client-params.states.{operation}", lambda params, **_: calls.append(dict(params))
    )
    return calls


def _wait(condition: Any, timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(every)


def _running(stack: EmbeddedStack) -> int:
    paginator = stack.client("stepfunctions").get_paginator("list_executions")
    pages = paginator.paginate(stateMachineArn=stack.arn("OrderStateMachine"), statusFilter="RUNNING")
    return sum(len(page["executions"]) for page in pages)


def _statuses(stack: EmbeddedStack, arns: list[str]) -> Counter[str]:
    sfn = stack.client("stepfunctions")
    return Counter(sfn.describe_execution(executionArn=arn)["status"] for arn in arns)


def _pause(stack: EmbeddedStack, count: int, timeout: float) -> list[str]:
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


def _open_bulk_modal(
    stack: EmbeddedStack, slack: SlackStandIn, requests: SlackRequests, group_id: str
) -> dict:
    """Click the group message's Run again all; the confirmation modal Slack was asked to open."""
    answer = _send(stack, requests.click(ALLOWED, RUN_AGAIN_ALL, group_id))
    if answer.get("statusCode") != 200:
        raise RuntimeError(f"Run again all was not acknowledged: {answer}")
    _wait(lambda: slack.calls_of("views.open"), 120, "views.open after Run again all")
    view = slack.calls_of("views.open")[-1].body["view"]
    return json.loads(view) if isinstance(view, str) else view


def run(count: int, timeout: float) -> dict:
    vendor = DummyVendor(VendorBehaviour(outage=True), seed=1)
    with (
        serve_slack_standin() as slack,
        serve_dummy_vendor(vendor) as vendor_url,
        embedded_stack(
            parameters={
                "VendorUrl": vendor_url,
                "SlackDefaultChannel": "C-RECOVERIES",
                "CircuitBreakerEnabled": "false",
                "RecoveryGroupWindowSeconds": "86400",
                "SlackAllowedUserIds": ALLOWED,
            },
            secrets={
                "recovery-ops/slack-bot-token": BOT_TOKEN,
                "recovery-ops/slack-signing-secret": SIGNING_SECRET,
            },
            environment={"SLACK_API_URL": slack.base_url},
            quiet=True,
        ) as stack,
    ):
        began = time.perf_counter()
        arns = _pause(stack, count, timeout)
        pause_wall_s = time.perf_counter() - began
        store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
        opened = store.list_by_status(RecoveryStatus.OPEN, limit=count + 10)
        groups = Counter(r.group_id for r in opened)
        group_id, _ = groups.most_common(1)[0]
        paused_tokens = {r.task_token for r in opened}
        print(
            f"  {len(opened)} recoveries open in {pause_wall_s:.1f}s, {len(groups)} group(s), "
            f"{_statuses(stack, arns)['RUNNING']} executions waiting",
            flush=True,
        )
        vendor.set_behaviour(VendorBehaviour())
        successes = _record_calls(stack, "SendTaskSuccess")
        failures = _record_calls(stack, "SendTaskFailure")
        requests = SlackRequests(SIGNING_SECRET, response_url=slack.response_url)

        clicked = time.perf_counter()
        modal = _open_bulk_modal(stack, slack, requests, group_id)
        modal_s = time.perf_counter() - clicked
        submitted = time.perf_counter()
        answer = _send(stack, requests.submit(ALLOWED, BULK_SUBMIT, modal["private_metadata"], {}))
        if answer.get("statusCode") != 200:
            raise RuntimeError(f"the bulk modal was not acknowledged: {answer}")
        ack_ms = (time.perf_counter() - submitted) * 1000
        try:
            _wait(lambda: _running(stack) == 0, timeout, "every execution terminal", every=POLL_SECONDS)
        except TimeoutError as exc:
            print(f"  {exc}", flush=True)
        wall_s = time.perf_counter() - submitted

        def finished_posts() -> list[str]:
            return [
                c.body.get("text", "")
                for c in slack.calls_of("chat.postMessage")
                if "finished" in c.body.get("text", "")
            ]

        try:  # the lazy half posts its summary after its last SendTaskSuccess
            _wait(finished_posts, 60, "the bulk summary in the thread")
        except TimeoutError as exc:
            print(f"  {exc}", flush=True)
        statuses = _statuses(stack, arns)
        sent = Counter(call["taskToken"] for call in successes)
        still_open = len(store.count_by_status(RecoveryStatus.OPEN))
        summary = (finished_posts() or [""])[-1]
    succeeded = statuses["SUCCEEDED"]
    return {
        "executions": count,
        "paused": len(opened),
        "groups": len(groups),
        "resumed": succeeded,
        "succeeded": succeeded,
        "lost": count - succeeded,
        "double_sent": sum(1 for n in sent.values() if n > 1),
        "task_successes_sent": len(successes),
        "distinct_tokens_sent": len(sent),
        "tokens_sent_not_paused": len(set(sent) - paused_tokens),
        "task_failures_sent": len(failures),
        "statuses": dict(statuses),
        "recoveries_still_open": still_open,
        "modal_ack_ms": round(ack_ms, 1),
        "modal_open_s": round(modal_s, 2),
        "pause_wall_s": round(pause_wall_s, 1),
        "wall_s": round(wall_s, 1),
        "rate_per_second": round(succeeded / wall_s, 1) if wall_s else None,
        "bulk_summary": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds for the pause, then for the resume (each)"
    )
    args = parser.parse_args()
    quiet_interpreter_logs()
    print(
        f"bulk_resume: {args.executions} executions paused by a vendor outage, then resumed by one "
        "Run again all (button, modal, submission) through the Slack app's Lambda function"
    )
    figures = run(args.executions, args.timeout)
    print(f"  {json.dumps(figures)}", flush=True)
    keys = (
        "executions",
        "paused",
        "resumed",
        "lost",
        "double_sent",
        "succeeded",
        "task_successes_sent",
        "recoveries_still_open",
        "pause_wall_s",
        "wall_s",
        "rate_per_second",
    )
    print(json.dumps({key: figures[key] for key in keys}))


if __name__ == "__main__":
    main()
