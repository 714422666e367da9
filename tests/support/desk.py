"""The desk as Slack drives it: paused orders, signed requests
sent through the Slack app's real Lambda function (moto's Lambda → the handler; the lazy half through Bolt's
own runner, which invokes the function asynchronously)."""

from __future__ import annotations

import json
from typing import Any

from service.example.orders.order_workflow import execution_arn
from service.example.supplier.dummy import DummyVendor, VendorBehaviour
from service.local.engine.collector_poller import poll_collector
from service.local.engine.stack import EmbeddedStack
from service.local.programs.order_api_client import LocalOrderApi
from service.local.standin.requests import SlackRequest, SlackRequests
from service.local.standin.server import SlackStandIn
from service.recovery.model.recovery import Recovery, RecoveryStatus
from service.recovery.storage.recoveries import RecoveryStore
from slack_app.ids import EDIT_SUBMIT
from slack_app.views.modals import INPUT_ACTION, INPUT_BLOCK
from tests.support.stacks import ALLOWED, SIGNING_SECRET
from tests.support.waiting import wait_until

ORDER = {"customer_id": "customer-1", "product_id": "sku-kettle", "quantity": 2}


def requests_for(slack: SlackStandIn) -> SlackRequests:
    return SlackRequests(SIGNING_SECRET, response_url=slack.response_url)


def send(stack: EmbeddedStack, request: SlackRequest) -> dict[str, Any]:
    """POST the request to the Slack app's function as API Gateway would; its HTTP answer."""
    answer = stack.client("lambda").invoke(
        FunctionName=stack.physical("SlackAppFunction"), Payload=json.dumps(request.lambda_event())
    )
    return json.loads(answer["Payload"].read())


def store(stack: EmbeddedStack) -> RecoveryStore:
    return RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))


def pause(
    stack: EmbeddedStack, api: LocalOrderApi, vendor: DummyVendor, orders: list[dict], behaviour=None
) -> list[Recovery]:
    """Place ``orders`` while the vendor fails; collect their recovery requests; the vendor recovers."""
    vendor.set_behaviour(behaviour or VendorBehaviour(outage=True))
    for order in orders:
        api.place(order)
    recoveries_store = store(stack)

    def all_collected() -> bool:
        poll_collector(stack)
        return len(recoveries_store.list_by_status(RecoveryStatus.OPEN, limit=1000)) >= len(orders)

    wait_until(all_collected, timeout=max(120, 6 * len(orders)))  # each order is two executions
    vendor.set_behaviour(VendorBehaviour())
    return recoveries_store.list_by_status(RecoveryStatus.OPEN, limit=1000)


def status_of(stack: EmbeddedStack, recovery_id: str) -> RecoveryStatus:
    return store(stack).get(recovery_id).status


def wait_for_status(stack: EmbeddedStack, recovery_id: str, *statuses: RecoveryStatus) -> Recovery:
    wait_until(lambda: status_of(stack, recovery_id) in statuses)
    return store(stack).get(recovery_id)


def execution_status(stack: EmbeddedStack, execution_arn: str) -> str:
    return stack.client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]


def count_calls(stack: EmbeddedStack, operation: str) -> list[dict]:
    """Record every ``operation`` call (e.g. SendTaskSuccess) the stack's clients make from now on."""
    calls: list[dict] = []
    stack.client("stepfunctions").meta.events.register(
        f"provide-client-params.states.{operation}", lambda params, **_: calls.append(dict(params))
    )
    return calls


def open_modal(stack: EmbeddedStack, slack: SlackStandIn, action_id: str, recovery_id: str) -> dict:
    """Click a button that opens a modal; the view Slack was asked to open."""
    before = len(slack.calls_of("views.open"))
    send(stack, requests_for(slack).click(ALLOWED, action_id, recovery_id))
    wait_until(lambda: len(slack.calls_of("views.open")) > before)
    view = slack.calls_of("views.open")[-1].body["view"]
    return json.loads(view) if isinstance(view, str) else view


def edit_submission(slack: SlackStandIn, view: dict, text: str):
    return requests_for(slack).submit(
        ALLOWED, EDIT_SUBMIT, view["private_metadata"], {INPUT_BLOCK: {INPUT_ACTION: text}}
    )


def order_execution_of(stack: EmbeddedStack, recovery: Recovery) -> str:
    """The order execution a paused item belongs to (its Map waits for the item's execution)."""
    return execution_arn(stack.arn("OrderStateMachine"), recovery.input["order_id"])
