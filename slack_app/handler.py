"""AWS Lambda entry point of the Slack app (HTTP API ``POST /slack/events``).

Bolt's AWS Lambda adapter with ``process_before_response=True``: every listener acknowledges
within Slack's 3 seconds and its slow half runs as a lazy listener, which the adapter starts
by invoking this same function asynchronously (the template grants exactly that). Importing
this module loads Bolt and its adapter only; the app is built on the first request.
"""

from __future__ import annotations

import threading
from typing import Any

from slack_bolt.adapter.aws_lambda import SlackRequestHandler

from slack_app.runtime import seconds_left

_handler: SlackRequestHandler | None = None
_lock = threading.Lock()


def request_handler() -> SlackRequestHandler:
    global _handler
    if _handler is None:
        with _lock:
            if _handler is None:
                from slack_app.app import app_from_environment

                _handler = SlackRequestHandler(app_from_environment(process_before_response=True))
    return _handler


def reset() -> None:
    """Forget the built app (a new deployment's environment, in the local stack and tests)."""
    global _handler
    with _lock:
        _handler = None


def lambda_handler(event: dict, context: Any) -> dict:
    handler = request_handler()
    budget = seconds_left.set(lambda: context.get_remaining_time_in_millis() / 1000)
    try:
        return handler.handle(event, context)
    finally:
        seconds_left.reset(budget)
