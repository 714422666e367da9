"""The Slack Web API client every part uses: slack_sdk's WebClient with its retry handlers
(connection errors, 429 with Retry-After, 5xx), short timeouts. Import-light on purpose."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)


def web_client(token: str, base_url: str | None = None, timeout: int = 5, retries: int = 2) -> WebClient:
    client = WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=timeout)
    client.retry_handlers.extend(
        [
            ConnectionErrorRetryHandler(max_retry_count=retries),
            RateLimitErrorRetryHandler(max_retry_count=retries),
            ServerErrorRetryHandler(max_retry_count=retries),
        ]
    )
    return client
