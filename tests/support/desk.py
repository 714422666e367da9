"""The desk as the Slack app's tests drive it: paused orders, and signed requests sent through the Slack
app's real Lambda function (moto's Lambda → the handler; the lazy half through Bolt's own runner, which
invokes the function asynchronously). The clicks are the one desk's (``service/local/desk.py``), here as
``ALLOWED`` with the tests' signing secret; ``requests_for`` builds any other request a test sends."""

from __future__ import annotations

from typing import Any

from recovery_ops.service.example.orders.order_workflow import execution_arn
from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.desk import MODAL_OF, Desk, send_to_slack_app
from recovery_ops.service.local.desk import edit_submission as edit_submission_of
from recovery_ops.service.local.desk import reject_submission as reject_submission_of
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.requests import SlackRequest, SlackRequests
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.stacks import ALLOWED, SIGNING_SECRET
from tests.support.waiting import wait_until

ORDER = {"customer_id": "customer-1", "product_id": "sku-kettle", "quantity": 2}


def requests_for(slack: SlackStandIn) -> SlackRequests:
    return SlackRequests(SIGNING_SECRET, response_url=slack.response_url)


def desk_at(stack: EmbeddedStack, slack: SlackStandIn, person: str = ALLOWED) -> Desk:
    """``person`` at the stand-in ``slack``, working the recoveries of ``stack``."""
    return Desk(stack, slack, person, SIGNING_SECRET)


def send(stack: EmbeddedStack, request: SlackRequest) -> dict[str, Any]:
    """POST the request to the Slack app's function as API Gateway would; its HTTP answer."""
    return send_to_slack_app(stack, request)


def store(stack: EmbeddedStack) -> RecoveryStore:
    return RecoveryStore(
        stack.physical("RecoveriesTable"), stack.client("dynamodb"), payloads=stack.payloads()
    )


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
    """Click a button that opens a modal (Edit input, Reject; the button a recovery message of the tests'
    channel carries); the view Slack was asked to open."""
    desk = desk_at(stack, slack)
    click = desk.requests.click(ALLOWED, action_id, recovery_id)
    return desk.open_modal(click, MODAL_OF[action_id], recovery_id, f"{action_id} on {recovery_id}")


def edit_submission(slack: SlackStandIn, view: dict, text: str) -> SlackRequest:
    """The edit modal ``view`` submitted with ``text`` as the new input."""
    return edit_submission_of(requests_for(slack), ALLOWED, view["private_metadata"], text)


def reject_submission(slack: SlackStandIn, view: dict, reason: str) -> SlackRequest:
    """The reject modal ``view`` submitted with ``reason``."""
    return reject_submission_of(requests_for(slack), ALLOWED, view["private_metadata"], reason)


def order_execution_of(stack: EmbeddedStack, recovery: Recovery) -> str:
    """The order execution a paused item belongs to (its Map waits for the item's execution)."""
    return execution_arn(stack.arn("OrderStateMachine"), recovery.input["order_id"])
