"""A dead-letter queue as the desk names it: by a key and a label, never by a URL from a request.

Shared by the queues on SQS (``queues.py``) and their audit trail (``audit.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeadLetterQueue:
    """One DLQ, by the key buttons and the CLI name it with (never a URL from a request)."""

    key: str
    label: str
    url: str
    redrive_to_url: str | None = None  # None: inspect only
    not_redrivable_because: str = ""

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def redrivable(self) -> bool:
        return bool(self.redrive_to_url)

    @property
    def destination_name(self) -> str:
        return (self.redrive_to_url or "").rstrip("/").rsplit("/", 1)[-1]
