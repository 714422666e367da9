"""Routing rules on the deployed stack: the collector reads the RoutingRules parameter (within its
role), posts each recovery in the channel its rule chooses, follows a changed document once
Powertools' cache has expired, and keeps the last good rules when a bad document is written."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters

from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.iam_check import Call
from recovery_ops.service.local.engine.own_workflows import deploy_state_machine
from recovery_ops.service.local.engine.stack import ACCOUNT_ID, REGION, EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.stacks import ROUTED_CHANNELS
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PROCESS_ORDER = ROOT / "tests" / "fixtures" / "process_order.asl.json"


# ------------------------------------------------------------------ a team's own function (in-process)
class VendorDown(Exception):
    pass


CALLS: list[dict[str, Any]] = []
_LOCK = threading.Lock()


def check_product_availability(event: dict, context: Any) -> dict:
    with _LOCK:
        CALLS.append(event)
    raise VendorDown(f"the vendor does not answer for {event['item']}")


@pytest.fixture
def stack_parameters(vendor_url: str) -> dict[str, str]:
    return {
        "VendorUrl": vendor_url,
        **ROUTED_CHANNELS,
        "CircuitBreakerEnabled": "false",
        "RecoveryGroupWindowSeconds": "86400",
    }


# ------------------------------------------------------------------ helpers
def rules(*entries: dict[str, Any]) -> str:
    return json.dumps({"rules": list(entries)})


def rule(name: str, channel: str, **match: str) -> dict[str, Any]:
    return {"name": name, "match": match, "channel": channel}


def write_rules(stack: EmbeddedStack, document: str) -> None:
    """What an operator does (`aws ssm put-parameter --overwrite`), then the collector's cache expires."""
    stack.client("ssm").put_parameter(
        Name=stack.physical("RoutingRules"), Value=document, Type="String", Overwrite=True
    )
    parameters.clear_caches()  # as five minutes passing would: Powertools reads the parameter again


def open_recoveries(stack: EmbeddedStack) -> list[Recovery]:
    return RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb")).list_by_status(
        RecoveryStatus.OPEN
    )


def collect_until_posted(stack: EmbeddedStack, count: int) -> dict[str, str]:
    """Poll the collector until ``count`` recoveries are posted; each one's failed state → channel."""

    def posted() -> bool:
        poll_collector(stack)
        return sum(1 for r in open_recoveries(stack) if r.posted) >= count

    wait_until(posted)
    return {r.failed_state: r.slack_channel or "" for r in open_recoveries(stack)}


def pause_of_the_item_action(stack: EmbeddedStack, failed_state: str, error: str, routing: str) -> None:
    """A recovery request of the item action, as its Request recovery step sends it."""
    n = len(open_recoveries(stack)) + 1
    machine = stack.arn("OrderItemStateMachine")
    execution = machine.replace(":stateMachine:", ":execution:") + f":ord-{n}-item-1"
    stack.client("sqs").send_message(
        QueueUrl=stack.physical("RecoveryQueue"),
        MessageBody=json.dumps(
            {
                "task_token": f"token-of-paused-item-{n}",
                "execution_arn": execution,
                "execution_name": f"ord-{n}-item-1",
                "state_machine_arn": machine,
                "failed_state": failed_state,  # its own group: a new message, routed anew
                "error": error,
                "routing": routing,
                "input": {"order_id": f"ord-{n}"},
            }
        ),
    )


# ------------------------------------------------------------------ the tests
def test_two_rules_route_two_state_machines_recoveries_to_two_channels(
    stack: EmbeddedStack, order_api: LocalOrderApi, slack: SlackStandIn
) -> None:
    # Given a team's state machine beside the order example, and one rule for each
    CALLS.clear()
    process_order = deploy_state_machine(
        stack,
        "ProcessOrderSM",
        PROCESS_ORDER.read_text(),
        functions={"CheckProductAvailabilityFunction": f"{__name__}.check_product_availability"},
        substitutions={"RecoveryQueueUrl": stack.physical("RecoveryQueue")},
    )
    write_rules(
        stack,
        rules(
            rule(
                "processing-technical", "C-PROCESSING", state_machine="*-ProcessOrderSM", routing="technical"
            ),
            rule(
                "orders-client-data",
                "C-ORDER-DATA",
                state_machine=f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:*OrderItemStateMachine*",
                routing="client-data",
            ),
        ),
    )

    # When the team's step fails technically and an order's item fails on its data (unknown product)
    stack.client("stepfunctions").start_execution(
        stateMachineArn=process_order, name="order-1", input=json.dumps({"item": "sku-lamp"})
    )
    order_api.place({"customer_id": "customer-1", "product_id": "sku-unknown!", "quantity": 1})
    collect_until_posted(stack, 2)

    # Then each recovery is posted once, in its rule's channel, not in the stack's channels
    by_machine = {r.state_machine_arn: (r.routing.value, r.slack_channel) for r in open_recoveries(stack)}
    assert by_machine == {
        process_order: ("technical", "C-PROCESSING"),
        stack.arn("OrderItemStateMachine"): ("client-data", "C-ORDER-DATA"),
    }
    assert sorted(post.body["channel"] for post in slack.calls_of("chat.postMessage")) == [
        "C-ORDER-DATA",
        "C-PROCESSING",
    ]
    # and the collector read the rules within its role
    assert stack.iam is not None
    parameter_arn = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{stack.physical('RoutingRules')}"
    assert Call("CollectorFunction", "ssm:GetParameter", parameter_arn) in stack.iam.calls


def test_a_rules_change_takes_effect_without_a_deployment_once_the_cache_expires(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    # Given the item action's recoveries routed to the orders team
    write_rules(stack, rules(rule("orders", "C-ORDERS", state_machine="*OrderItemStateMachine*")))
    pause_of_the_item_action(stack, "Check availability", "VendorUnavailable", "technical")
    assert collect_until_posted(stack, 1) == {"Check availability": "C-ORDERS"}

    # When the rules are changed in SSM (nothing redeployed) and the cached document expires
    write_rules(stack, rules(rule("orders", "C-ORDERS-NEW", state_machine="*OrderItemStateMachine*")))
    pause_of_the_item_action(stack, "Reserve stock", "VendorUnavailable", "technical")

    # Then the next recovery goes where the new rules say; the first stays where it was posted
    assert collect_until_posted(stack, 2) == {
        "Check availability": "C-ORDERS",
        "Reserve stock": "C-ORDERS-NEW",
    }


def test_a_bad_document_is_refused_and_the_last_good_rules_keep_routing(
    stack: EmbeddedStack, slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    # Given good rules the collector has routed with
    good = rules(rule("orders", "C-ORDERS", state_machine="*OrderItemStateMachine*"))
    write_rules(stack, good)
    pause_of_the_item_action(stack, "Check availability", "VendorUnavailable", "technical")
    collect_until_posted(stack, 1)

    # When a document with mistakes replaces them and a new recovery arrives
    write_rules(
        stack,
        rules(
            {"name": "orders", "match": {"routing": "urgent"}, "channel": "C-WRONG"},
            rule("orders", "C-WRONG-TOO", error="*"),
        ),
    )
    pause_of_the_item_action(stack, "Reserve stock", "VendorRejectedRequest", "client-data")

    # Then the last good rules route it (not the bad document, not the stack's client-data channel)
    assert collect_until_posted(stack, 2) == {"Check availability": "C-ORDERS", "Reserve stock": "C-ORDERS"}
    assert "C-WRONG" not in json.dumps([post.body for post in slack.calls_of("chat.postMessage")])
    # and the collector logged one error naming every problem of the bad document
    refusals = [r for r in caplog.records if r.getMessage().startswith("routing rules refused")]
    assert [(r.levelname, getattr(r, "problems", None)) for r in refusals] == [
        (
            "ERROR",
            [
                "rules[0].match.routing: must be technical or client-data",
                "rules[1].name: 'orders' is already the name of rules[0]",
            ],
        )
    ]
