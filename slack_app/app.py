"""The Bolt app: built once per process, its listeners registered by surface
(``recovery_ops.slack_app.listeners``).

``build_app`` takes everything it needs (a WebClient, the signing secret, a factory of the
services), so the Lambda function, ``recovery-ops serve`` (Flask or Socket Mode) and the
tests build the same app. ``current_settings`` + ``app_from_config`` are the Lambda function's
wiring: configuration from its environment, secrets from Secrets Manager, the services on the
deployment's table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from recovery_ops.slack_app.listeners import (
    approvals,
    dead_letters,
    home,
    modals,
    ownership,
    recovery_buttons,
    self_healing,
    slash_command,
)
from recovery_ops.slack_app.listeners.registration import ServicesFactory


def build_app(
    *,
    client: WebClient,
    signing_secret: str,
    services: ServicesFactory,
    process_before_response: bool,
) -> App:
    app = App(
        client=client,
        signing_secret=signing_secret,
        process_before_response=process_before_response,
        # auth.test runs on the first request instead of at every cold start's import.
        token_verification_enabled=False,
    )
    recovery_buttons.register(app, services)
    ownership.register(app, services)
    modals.register(app, services)
    slash_command.register(app, services)
    home.register(app, services)
    dead_letters.register(app, services)
    self_healing.register(app, services)
    approvals.register(app, services)
    return app


@dataclass(frozen=True)
class SlackSecrets:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)


def current_settings() -> tuple[Any, SlackSecrets]:
    """The function's configuration and its Slack secrets, read through Powertools' cache (a rotated
    secret is seen within ``recovery_ops.service.config.SECRET_MAX_AGE_SECONDS``, without a cold start)."""
    from recovery_ops.service.config import SlackAppConfig, load_config, read_secret

    config = load_config(SlackAppConfig)
    return config, SlackSecrets(
        bot_token=read_secret(config.slack_bot_token_secret),
        signing_secret=read_secret(config.slack_signing_secret_secret),
    )


def app_from_config(config: Any, secrets: SlackSecrets, process_before_response: bool = True) -> App:
    from recovery_ops.service import aws_clients
    from recovery_ops.service.composition import Lazy, channel_pace
    from recovery_ops.slack_app.web import web_client

    client = web_client(  # the pace's table client is made on the first post, not before the first ack
        secrets.bot_token,
        base_url=config.slack_api_url,
        pace_factory=lambda: channel_pace(config, aws_clients.client("dynamodb")),
    )
    signing_secret = secrets.signing_secret
    return build_app(
        client=client,
        signing_secret=signing_secret,
        services=Lazy(partial(services_from_config, config, client)),
        process_before_response=process_before_response,
    )


def services_from_config(config: Any, client: WebClient) -> Any:
    """The services of the deployed app (and of ``serve``): ``config``'s deployment, this account's
    clients."""
    from recovery_ops.service import aws_clients
    from recovery_ops.service.composition import build_services

    return build_services(config, aws_clients.client, client)
