"""AWS Lambda entry point of the Slack app (HTTP API ``POST /slack/events``).

Bolt's AWS Lambda adapter with ``process_before_response=True``: every listener acknowledges
within Slack's 3 seconds and its slow half runs as a lazy listener, which the adapter starts
by invoking this same function asynchronously (the template grants exactly that). Importing
this module loads Bolt, its adapter and Powertools' Logger only; the app is built on the first
request.

Observability as in every handler: Powertools' Lambda context in every log line, log keys cleared
between invocations, X-Ray subsegments from Powertools' Tracer on the lazy halves (an
acknowledgement is traced by Lambda's active tracing alone, so it never waits for the X-Ray SDK's
import). Rotated Slack secrets are picked up within the secrets' five-minute cache: each request
reads them through that cache, and the app is built again when they changed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from slack_bolt.adapter.aws_lambda import SlackRequestHandler

from recovery_ops.service.observability import logger
from recovery_ops.slack_app.runtime import seconds_left

LAZY_HEADER = "x-slack-bolt-lazy-only"  # what Bolt's lazy runner puts on the invocations it starts

_handler: SlackRequestHandler | None = None
_built_for: object = None
_traced: Callable[[dict, Any], dict] | None = None
_lock = threading.Lock()


def request_handler() -> SlackRequestHandler:
    """The Bolt handler for the deployment's current configuration and Slack secrets."""
    global _handler, _built_for
    from recovery_ops.slack_app.app import app_from_config, current_settings

    settings = current_settings()  # configuration and secrets, the secrets through their cache
    with _lock:
        if _handler is None or _built_for != settings:
            _handler = SlackRequestHandler(app_from_config(*settings, process_before_response=True))
            _built_for = settings
        return _handler


def reset() -> None:
    """Forget the built app (a new deployment's environment, in the local stack and tests)."""
    global _handler, _built_for
    with _lock:
        _handler, _built_for = None, None


def handle(event: dict, context: Any) -> dict:
    handler = request_handler()
    budget = seconds_left.set(lambda: context.get_remaining_time_in_millis() / 1000)
    try:
        return handler.handle(event, context)
    finally:
        seconds_left.reset(budget)


def _traced_handle() -> Callable[[dict, Any], dict]:
    global _traced
    if _traced is None:
        from recovery_ops.service.observability import tracer

        _traced = tracer.capture_lambda_handler(handle)
    return _traced


def is_lazy_invocation(event: dict) -> bool:
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    return LAZY_HEADER in headers


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: Any) -> dict:
    if is_lazy_invocation(event):
        return _traced_handle()(event, context)
    return handle(event, context)
