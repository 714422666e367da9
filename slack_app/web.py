"""The Slack Web API client every part uses: slack_sdk's WebClient with its retry handlers
(connection errors, 429 with Retry-After, 5xx), short timeouts, and, when given one, the channels'
pace: every ``chat.postMessage`` waits for its channel's turn
(``recovery_ops.service.recovery.storage.channel_pace``), and a 429 that outlasts the retries
holds the channel for everyone for its ``Retry-After``. Import-light on purpose."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web.slack_response import SlackResponse

if TYPE_CHECKING:
    from recovery_ops.service.recovery.ports.notifier import ChannelPace

PACED_METHODS = frozenset({"chat.postMessage"})  # Slack's per-channel limit: about one a second


class PacedWebClient(WebClient):
    """A WebClient whose posts keep to each channel's pace (none set: as WebClient). The pace may
    be given as a factory, built on the first post: a client made while a click waits for its
    acknowledgement then makes no AWS client for it."""

    pace: ChannelPace | None = None
    pace_factory: Callable[[], ChannelPace | None] | None = None

    def api_call(self, api_method: str, **arguments: Any) -> SlackResponse:
        pace = self._pace() if api_method in PACED_METHODS else None
        channel = _channel_of(arguments) if pace else None
        if channel and pace:
            pace.turn(channel)
        try:
            return super().api_call(api_method, **arguments)
        except SlackApiError as exc:
            if channel and pace and exc.response is not None and exc.response.status_code == 429:
                pace.hold(channel, _retry_after(exc.response.headers))
            raise

    def _pace(self) -> ChannelPace | None:
        if self.pace is None and self.pace_factory is not None:
            self.pace, self.pace_factory = self.pace_factory(), None
        return self.pace


def web_client(
    token: str,
    base_url: str | None = None,
    timeout: int = 5,
    retries: int = 2,
    pace: ChannelPace | None = None,
    pace_factory: Callable[[], ChannelPace | None] | None = None,
) -> PacedWebClient:
    client = PacedWebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=timeout)
    client.pace, client.pace_factory = pace, pace_factory
    client.retry_handlers.extend(
        [
            ConnectionErrorRetryHandler(max_retry_count=retries),
            RateLimitErrorRetryHandler(max_retry_count=retries),
            ServerErrorRetryHandler(max_retry_count=retries),
        ]
    )
    return client


def _channel_of(arguments: dict[str, Any]) -> str | None:
    for part in ("json", "data", "params"):
        channel = (arguments.get(part) or {}).get("channel")
        if isinstance(channel, str) and channel:
            return channel
    return None


def _retry_after(headers: Any) -> float:
    """Slack's ``Retry-After`` in seconds (1 when it is missing or unreadable)."""
    for name, value in dict(headers or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value[0] if isinstance(value, list) else value))
            except (TypeError, ValueError):
                break
    return 1.0
