"""The stack every Slack app test starts from: template.yaml with the Slack app, Slack as a stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.local.slack_standin import SlackStandIn
from service.local.stack import EmbeddedStack
from tests.integration.slack.harness import slack_app_stack


@pytest.fixture
def stack(vendor_url: str, slack: SlackStandIn) -> Iterator[EmbeddedStack]:
    with slack_app_stack(vendor_url, slack) as deployed:
        yield deployed
