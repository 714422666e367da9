"""The deployed dummy vendor reads its behaviour from the SSM parameter the template creates."""

from __future__ import annotations

import json

import pytest

from recovery_ops.service.local.engine.http_api_events import http_api_event
from recovery_ops.service.local.engine.lambda_dispatch import LambdaContext
from recovery_ops.service.local.engine.stack import EmbeddedStack


@pytest.fixture
def stack_parameters() -> dict[str, str]:
    return {}  # VendorUrl left empty: the template deploys the dummy vendor and its behaviour parameter


def ask(product_id: str, quantity: str = "1") -> dict:
    from recovery_ops.service.example.handlers import dummy_vendor

    dummy_vendor.parameters.clear_caches()
    event = http_api_event(
        "GET",
        f"/products/{product_id}/availability",
        route_key="GET /products/{product_id}/availability",
        path_parameters={"product_id": product_id},
        query={"quantity": quantity},
    )
    return dummy_vendor.lambda_handler(event, LambdaContext("vendor", "arn:aws:lambda:::function:vendor"))


def test_the_dummy_vendor_is_deployed_only_without_a_vendor_url(
    stack: EmbeddedStack,
) -> None:
    assert "DummyVendorFunction" in stack.context.resources
    assert stack.environment["VENDOR_URL"].endswith("/dev")


def test_scripting_an_outage_through_the_parameter_changes_its_answers(
    stack: EmbeddedStack,
) -> None:
    ssm = stack.client("ssm")
    parameter = stack.physical("DummyVendorBehaviour")

    assert ask("sku-lamp")["statusCode"] == 200

    ssm.put_parameter(Name=parameter, Value=json.dumps({"outage": True}), Overwrite=True)

    answer = ask("sku-lamp")
    assert answer["statusCode"] == 503
    assert json.loads(answer["body"])["message"] == "service unavailable"
