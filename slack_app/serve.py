"""`recovery-ops serve`: the Slack app on this machine, against your real workspace.

Socket Mode when ``SLACK_APP_TOKEN`` (xapp-…) is set: nothing to expose, Slack connects out over
a WebSocket. Otherwise Flask on ``--port`` at ``/slack/events`` (expose it with a tunnel and
put its URL in the app's manifest). Listeners run after the acknowledgement in threads
(``process_before_response=False``), the usual choice off Lambda.

The app acts on a deployed stack (``RECOVERIES_TABLE_NAME`` and your AWS credentials) or, with
``--local``, on the embedded stack of ``make demo``: clicking in Slack resumes local executions.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from slack_bolt import App

from recovery_ops.service.composition import Lazy
from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.slack_app.app import build_app
from recovery_ops.slack_app.web import web_client

if TYPE_CHECKING:
    from recovery_ops.service.config import ServeSettings


class ServeError(RecoveryOpsError, RuntimeError):
    pass


def app_for_this_machine(services: Callable[[Any], Any], settings: ServeSettings) -> App:
    """The Bolt app of ``serve``: listeners in threads after the ack, the services built on first use
    (``services(client)``)."""
    token = settings.slack_bot_token
    if not token:
        raise ServeError("set SLACK_BOT_TOKEN (xoxb-…, the app's bot token: see slack_app/manifest.yaml)")
    if not settings.slack_signing_secret and not settings.slack_app_token:
        raise ServeError("set SLACK_SIGNING_SECRET (HTTP) or SLACK_APP_TOKEN (Socket Mode)")
    client = web_client(token, base_url=settings.slack_api_url)
    return build_app(
        client=client,
        signing_secret=settings.slack_signing_secret or "",
        services=Lazy(partial(services, client)),
        process_before_response=False,
    )


def deployed_services(client: Any) -> Any:
    """The services on a deployed stack, configured like the Lambda function (from the environment)."""
    from recovery_ops.service.config import ConfigurationError, ServicesConfig, load_config
    from recovery_ops.slack_app.app import services_from_config

    try:
        config = load_config(ServicesConfig)
    except ConfigurationError as exc:
        raise ServeError(
            f"{exc}. Set RECOVERIES_TABLE_NAME (stack output RecoveriesTableName) or use --local"
        ) from exc
    return services_from_config(config, client)


def run(app: App, port: int, settings: ServeSettings, say: Callable[[str], None] = print) -> None:
    app_token = settings.slack_app_token
    if app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        say("Socket Mode: connecting to Slack (Ctrl-C to stop)")
        SocketModeHandler(app, app_token).start()
        return
    from flask import Flask, request
    from slack_bolt.adapter.flask import SlackRequestHandler

    adapter = SlackRequestHandler(app)
    flask_app = Flask("recovery-ops")
    flask_app.add_url_rule("/slack/events", "slack_events", lambda: adapter.handle(request), methods=["POST"])
    say(f"Slack requests on http://0.0.0.0:{port}/slack/events (Ctrl-C to stop)")
    flask_app.run(host="0.0.0.0", port=port)
