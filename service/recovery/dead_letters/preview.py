"""What a dead letter looks like in a preview: an excerpt without task tokens, its age, its reason.

A preview shows the start of a message and never its task tokens (``redaction.py``); the whole
message stays in the queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from recovery_ops.service.recovery.model.redaction import without_tokens

EXCERPT_CHARS = 240
REASON_CHARS = 300


@dataclass(frozen=True)
class DeadLetter:
    """One message, as previewed (an excerpt: the whole message stays in the queue)."""

    message_id: str
    sent_at: datetime | None
    receive_count: int
    excerpt: str
    reason: str | None = None

    def age(self, now: datetime | None = None) -> timedelta | None:
        if self.sent_at is None:
            return None
        return max(timedelta(0), (now or datetime.now(UTC)) - self.sent_at)


def age_text(age: timedelta | None) -> str:
    if age is None:
        return "unknown age"
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def dead_letter(message: dict[str, Any]) -> DeadLetter:
    """One received SQS message as previewed."""
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    reason = ((message.get("MessageAttributes") or {}).get("reason") or {}).get("StringValue")
    return DeadLetter(
        message_id=message["MessageId"],
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent else None,
        receive_count=int(attributes.get("ApproximateReceiveCount", 0)),
        excerpt=excerpt(message.get("Body", "")),
        reason=_cut(without_tokens(reason), REASON_CHARS) if reason else None,
    )


def excerpt(body: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a body on one line, its token fields removed first (JSON compacted, so more of
    it fits): what is cut is already without tokens."""
    try:
        text = json.dumps(without_tokens(json.loads(body)), separators=(",", ":"), ensure_ascii=False)
    except ValueError:
        text = " ".join(without_tokens(body).split())
    return _cut(text, limit)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
