"""The Slack app's tests deploy the stack with the Slack app's parameters (tests/support/stacks.py)."""

from __future__ import annotations

import pytest

from tests.support.stacks import SLACK_APP_PARAMETERS


@pytest.fixture
def stack_parameters(vendor_url: str) -> dict[str, str]:
    return {"VendorUrl": vendor_url, **SLACK_APP_PARAMETERS}
