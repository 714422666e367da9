"""The Slack app end to end: signed requests → the Lambda function → Step Functions on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from service.local.order_api_client import LocalOrderApi
from service.local.slack_standin import SlackStandIn, serve_slack_standin
from service.local.stack import EmbeddedStack
from service.recovery.recovery import RecoveryStatus
from service.vendor.dummy import DummyVendor
from slack_app.ids import RUN_AGAIN
from tests.conftest import wait_until
from tests.integration.slack_app_harness import (
    ALLOWED,
    ORDER,
    count_calls,
    execution_status,
    pause,
    requests_for,
    send,
    slack_app_stack,
    wait_for_status,
)


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with serve_slack_standin() as standin:
        yield standin


@pytest.fixture
def stack(vendor_url: str, slack: SlackStandIn) -> Iterator[EmbeddedStack]:
    with slack_app_stack(vendor_url, slack) as deployed:
        yield deployed


def test_run_again_resumes_the_execution_and_replaces_the_buttons_with_the_outcome(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    resumes = count_calls(stack, "SendTaskSuccess")

    answer = send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))

    assert answer["statusCode"] == 200
    resumed = wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")
    assert len(resumes) == 1
    (update,) = slack.calls_of("chat.update")
    assert (update.body["channel"], update.body["ts"]) == (resumed.slack_channel, resumed.slack_ts)
    assert "actions" not in [block["type"] for block in update.body["blocks"]]
    assert f"Run again* by <@{ALLOWED}>" in json.dumps(update.body["blocks"], ensure_ascii=False)
    assert [(e.actor, e.result) for e in resumed.audit[1:]] == [(ALLOWED, "RESUMING"), (ALLOWED, "RESUMED")]
