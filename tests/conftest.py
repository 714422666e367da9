"""Shared fixtures: the stack deployed from template.yaml into moto, the dummy vendor, the order API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from service.local.http_api_events import http_api_event
from service.local.lambda_dispatch import LambdaContext
from service.local.recovery_requests import next_recovery_request
from service.local.stack import EmbeddedStack, embedded_stack
from service.local.vendor_server import serve_dummy_vendor
from service.vendor.dummy import DummyVendor


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


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class OrderApi:
    """Calls the order API's real handler with the events API Gateway (HTTP API) sends."""

    def __init__(self) -> None:
        self.context = LambdaContext(
            "orders-api", "arn:aws:lambda:us-east-1:123456789012:function:recovery-ops-OrdersApiFunction"
        )

    def _call(self, event: dict) -> ApiAnswer:
        from service.handlers import orders_api

        response = orders_api.lambda_handler(event, self.context)
        return ApiAnswer(response["statusCode"], json.loads(response["body"]), response.get("headers", {}))

    def place(self, body: Any) -> ApiAnswer:
        return self._call(http_api_event("POST", "/orders", body, stage="dev", domain_name="api.example.com"))

    def get(self, order_id: str) -> ApiAnswer:
        return self._call(
            http_api_event(
                "GET", f"/orders/{order_id}", route_key="GET /orders/{id}", path_parameters={"id": order_id}
            )
        )


@pytest.fixture
def order_api() -> OrderApi:
    return OrderApi()


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
