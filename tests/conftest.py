"""Shared fixtures: the stack deployed from template.yaml into moto, the dummy vendor, the order API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from service.local import iam_check
from service.local.order_api_client import LocalOrderApi
from service.local.recovery_requests import next_recovery_request
from service.local.slack_standin import SlackStandIn, serve_slack_standin
from service.local.stack import EmbeddedStack, embedded_stack
from service.local.vendor_server import serve_dummy_vendor
from service.orders.order_workflow import execution_arn
from service.supplier.dummy import DummyVendor


@pytest.fixture(autouse=True)
def aws_calls_within_their_roles() -> Iterator[None]:
    """Every AWS call of a template function or state machine in a test is allowed by its SAM role."""
    with iam_check.checking_every_stack() as recorders:
        yield
    denied = [call for recorder in recorders for call in recorder.take_denied()]
    if denied:
        pytest.fail(iam_check.describe(denied), pytrace=False)


@pytest.fixture
def vendor() -> DummyVendor:
    return DummyVendor(seed=1234)


@pytest.fixture
def vendor_url(vendor: DummyVendor) -> Iterator[str]:
    with serve_dummy_vendor(vendor) as url:
        yield url


@pytest.fixture
def stack(vendor_url: str) -> Iterator[EmbeddedStack]:
    """template.yaml in moto, its Lambda tasks run in-process, the vendor on 127.0.0.1."""
    with embedded_stack(parameters={"VendorUrl": vendor_url}) as deployed:
        yield deployed


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    """The Slack Web API stand-in on 127.0.0.1 (base_url for WebClient; records every call)."""
    with serve_slack_standin() as standin:
        yield standin


@pytest.fixture
def order_api() -> LocalOrderApi:
    return LocalOrderApi(stage="dev", domain_name="api.example.com")


def wait_for_recovery_request(stack: EmbeddedStack, timeout: float = 30) -> dict[str, Any]:
    """The next message a paused execution sent to the recovery queue (the integration contract)."""
    return next_recovery_request(stack.client("sqs"), stack.physical("RecoveryQueue"), timeout)


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.02)


def dead_letters(stack: EmbeddedStack, queue: str = "OrdersDeadLetterQueue") -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    messages = sqs.receive_message(QueueUrl=stack.physical(queue), MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def item_execution_arn(stack: EmbeddedStack, order_id: str, item_number: int = 1) -> str:
    """The nested execution that handles one item of an order: ``<order id>-item-<n>``."""
    return execution_arn(stack.arn("OrderItemStateMachine"), f"{order_id}-item-{item_number}")
