"""The Slack app's Lambda function as an operator sees it: rotated secrets, clean log lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from aws_lambda_powertools.utilities import parameters

from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.standin.requests import SlackRequests
from recovery_ops.service.local.standin.server import SlackStandIn
from tests.support.desk import requests_for, send
from tests.support.stacks import ALLOWED, SIGNING_SECRET
from tests.support.waiting import wait_until

ROTATED = "rotated-signing-secret"


def test_a_rotated_signing_secret_is_used_once_the_secrets_cache_expires_without_a_cold_start(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    # Given the app answering requests signed with the current secret
    assert send(stack, requests_for(slack).command(ALLOWED, "help"))["statusCode"] == 200

    # When the secret is rotated in Secrets Manager and the five-minute cache expires
    stack.client("secretsmanager").put_secret_value(
        SecretId="recovery-ops/slack-signing-secret", SecretString=ROTATED
    )
    still_cached = send(stack, requests_for(slack).command(ALLOWED, "help"))["statusCode"]
    parameters.clear_caches()  # what five minutes do to Powertools' cache
    old = send(stack, requests_for(slack).command(ALLOWED, "help"))["statusCode"]
    new = send(stack, SlackRequests(ROTATED, response_url=slack.response_url).command(ALLOWED, "help"))

    # Then the old secret is refused and the new one accepted, by the same warm function
    assert (still_cached, old, new["statusCode"]) == (200, 401, 200)
    assert SIGNING_SECRET != ROTATED


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def product_log() -> Iterator[Records]:
    """The records of the product's logger (Powertools' logger does not propagate to the root)."""
    records = Records()
    logging.getLogger("recovery-ops").addHandler(records)
    yield records
    logging.getLogger("recovery-ops").removeHandler(records)


def test_each_invocation_logs_its_own_lambda_context_and_no_key_left_by_an_earlier_one(
    stack: EmbeddedStack, slack: SlackStandIn, product_log: Records
) -> None:
    from recovery_ops.service.observability import logger

    logger.append_keys(recovery_id="rec-left-over")  # as an earlier invocation's handler would
    send(stack, requests_for(slack).command("USTRANGER", ""))  # a denied look logs a warning
    wait_until(lambda: any(r.getMessage() == "view denied" for r in product_log.records))

    denied = next(r for r in product_log.records if r.getMessage() == "view denied")
    formatted = json.loads(logger.registered_formatter.format(denied))
    assert formatted["function_name"] == stack.physical("SlackAppFunction")
    assert formatted["user"] == "USTRANGER" and "recovery_id" not in formatted
