"""The Slack side of the intake's ``Notifier``: post and update recovery messages.

slack_sdk's retry handlers absorb short 429s, 5xx and connection errors; what is still failing
after them becomes ``NotifierUnavailable``, and the collector leaves the record for SQS to
deliver again.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from service.observability import logger, metrics
from service.recovery.notifier import MessageRef, NotifierUnavailable, RecoveryGroup
from service.recovery.recovery import Recovery
from slack_app.blocks import group_blocks, group_fallback_text, recovery_blocks, recovery_fallback_text


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


class SlackNotifier:
    def __init__(self, client: WebClient) -> None:
        self._client = client

    def post_recovery(self, recovery: Recovery, channel: str) -> MessageRef:
        return self._post(channel, recovery_fallback_text(recovery), recovery_blocks(recovery))

    def post_group(self, group: RecoveryGroup, channel: str) -> MessageRef:
        return self._post(channel, group_fallback_text(group), group_blocks(group))

    def update_group(self, group: RecoveryGroup, message: MessageRef) -> None:
        self._call(
            "chat.update",
            channel=message.channel,
            ts=message.ts,
            text=group_fallback_text(group),
            blocks=group_blocks(group),
        )

    def _post(self, channel: str, text: str, blocks: list) -> MessageRef:
        answer = self._call("chat.postMessage", channel=channel, text=text, blocks=blocks)
        return MessageRef(answer["channel"], answer["ts"])

    def _call(self, method: str, **arguments: object) -> dict:
        try:
            if method == "chat.postMessage":
                answer = self._client.chat_postMessage(**arguments)
            else:
                answer = self._client.chat_update(**arguments)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            status = exc.response.status_code if exc.response is not None else None
            metrics.add_metric(name="SlackFailures", unit="Count", value=1)
            logger.warning("slack refused", method=method, slack_error=error, http_status=status)
            raise NotifierUnavailable(f"{method}: {error or status}") from exc
        except (SlackClientError, OSError) as exc:
            metrics.add_metric(name="SlackFailures", unit="Count", value=1)
            logger.warning("slack unreachable", method=method, error=str(exc))
            raise NotifierUnavailable(f"{method}: {exc}") from exc
        metrics.add_metric(name="SlackPosts", unit="Count", value=1)
        return answer.data if isinstance(answer.data, dict) else {}
