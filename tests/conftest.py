"""Shared fixtures: the one stack deployed from template.yaml into moto, the dummy vendor, Slack's
stand-in, the order API. Helpers live in ``tests/support/``.

Every test under ``tests/integration/`` is marked ``slow`` (it deploys the stack); ``make unit`` runs
the rest: plain fakes, the template read as data, at most a local HTTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine import iam_check
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.programs.vendor_server import serve_dummy_vendor
from recovery_ops.service.local.standin.server import SlackStandIn, serve_slack_standin
from tests.faults.figures import pytest_runtest_logreport, pytest_terminal_summary  # noqa: F401 - hooks
from tests.support.stacks import deployed_stack

INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.slow)


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
def slack() -> Iterator[SlackStandIn]:
    """The Slack Web API stand-in on 127.0.0.1 (base_url for WebClient; records every call)."""
    with serve_slack_standin() as standin:
        yield standin


@pytest.fixture
def stack_parameters(vendor_url: str) -> dict[str, str]:
    """template.yaml's parameters for the ``stack`` fixture; a test module or conftest overrides this."""
    return {"VendorUrl": vendor_url}


@pytest.fixture
def stack(
    request: pytest.FixtureRequest, stack_parameters: dict[str, str], slack: SlackStandIn
) -> Iterator[EmbeddedStack]:
    """template.yaml in moto, its Lambda tasks run in-process, the vendor on 127.0.0.1, Slack's stand-in.

    A test changes a few parameters with ``@pytest.mark.stack_parameters(Name="value")``."""
    marker = request.node.get_closest_marker("stack_parameters")
    with deployed_stack({**stack_parameters, **(marker.kwargs if marker else {})}, slack) as deployed:
        yield deployed


@pytest.fixture
def order_api() -> LocalOrderApi:
    return LocalOrderApi(stage="dev", domain_name="api.example.com")
