"""The one way a test deploys template.yaml into moto: the Slack stand-in beside it, the bot token and
signing secret in Secrets Manager. The ``stack`` fixture (tests/conftest.py) and the tests that need a
second configuration inline both come through :func:`deployed_stack`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recovery_ops.service.local.engine.stack import EmbeddedStack, embedded_stack
from recovery_ops.service.local.programs.order_stock import stock_local_catalogue
from recovery_ops.service.local.standin.server import SlackStandIn

BOT_TOKEN = "xoxb-local-test-token"
SIGNING_SECRET = "local-signing-secret"
SLACK_SECRETS = {
    "recovery-ops/slack-bot-token": BOT_TOKEN,
    "recovery-ops/slack-signing-secret": SIGNING_SECRET,
}
ALLOWED = "UALLOWED"
SECOND = "USECOND"
STRANGER = "USTRANGER"

# The Slack app's tests: one channel, the breaker off (the vendor's answers are scripted), every
# recovery of a test in one group window, two people who may act.
SLACK_APP_PARAMETERS = {
    "SlackDefaultChannel": "C-RECOVERIES",
    "CircuitBreakerEnabled": "false",
    "RecoveryGroupWindowSeconds": "86400",
    "SlackAllowedUserIds": f"{ALLOWED},{SECOND}",
}
CHANNEL_PARAMETERS = ("SlackDefaultChannel", "SlackTechnicalChannel", "SlackClientDataChannel")
# Three channels: technical, client-data and the default.
ROUTED_CHANNELS = {
    "SlackDefaultChannel": "C-DEFAULT",
    "SlackTechnicalChannel": "C-TECH",
    "SlackClientDataChannel": "C-DATA",
}


@contextmanager
def deployed_stack(
    parameters: dict[str, str], slack: SlackStandIn, template_path: Path | None = None
) -> Iterator[EmbeddedStack]:
    """template.yaml (or ``template_path``, a changed copy) in moto with ``parameters``, its Lambda
    tasks in-process, Slack at the stand-in (which knows the stack's channels)."""
    slack.add_channels(*(parameters.get(name) for name in CHANNEL_PARAMETERS))
    with embedded_stack(
        parameters=parameters,
        secrets=SLACK_SECRETS,
        environment={"SLACK_API_URL": slack.base_url},
        template_path=template_path,
        prepare=stock_local_catalogue,
    ) as stack:
        yield stack


@contextmanager
def slack_app_stack(vendor_url: str, slack: SlackStandIn, **parameters: str) -> Iterator[EmbeddedStack]:
    """The Slack app tests' stack with some parameters changed (for a test that needs two)."""
    with deployed_stack({"VendorUrl": vendor_url, **SLACK_APP_PARAMETERS, **parameters}, slack) as stack:
        yield stack
