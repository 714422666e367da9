"""What an operator asks for: filters over open recoveries, typed in Slack or on the command line.

``/recoveries retry error=VendorUnavailable state="Check availability" since=2h`` and
``recovery-ops retry --error VendorUnavailable --state "Check availability" --since 2h`` build
the same ``RecoveryQuery``. It travels inside Slack buttons as compact JSON (a page cursor, a
bulk confirmation), so a later click acts on exactly what was shown.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass, replace
from datetime import timedelta

from service.recovery.store import ListFilter

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
FILTER_KEYS = {"state": "failed_state", "error": "error", "machine": "state_machine", "since": "since"}


class QueryError(ValueError):
    """The operator's text does not say what to list or act on; the message says why."""


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise QueryError(f"'{text}' is not a duration: use a number and s, m, h, d or w (e.g. 30m, 2h, 7d)")
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])


@dataclass(frozen=True)
class RecoveryQuery:
    failed_state: str | None = None
    error: str | None = None
    state_machine: str | None = None
    since: str | None = None  # a duration as typed: 2h
    before: str | None = None  # page cursor (sort key of the last row shown)

    @property
    def narrowed(self) -> bool:
        """Whether it selects something narrower than "every open recovery"."""
        return any((self.failed_state, self.error, self.state_machine, self.since))

    def list_filter(self) -> ListFilter:
        return ListFilter(
            state_machine=self.state_machine,
            failed_state=self.failed_state,
            error=self.error,
            newer_than=parse_duration(self.since) if self.since else None,
        )

    def next_page(self, cursor: str) -> RecoveryQuery:
        return replace(self, before=cursor)

    def describe(self) -> str:
        parts = [f'{key}="{getattr(self, attr)}"' for key, attr in FILTER_KEYS.items() if getattr(self, attr)]
        return " ".join(parts) or "all"

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> RecoveryQuery:
        data = json.loads(text or "{}")
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @classmethod
    def from_words(cls, words: list[str]) -> RecoveryQuery:
        """``key=value`` words (values may be quoted); unknown keys are an error, not ignored."""
        values: dict[str, str] = {}
        for word in words:
            key, sep, value = word.partition("=")
            if not sep or key not in FILTER_KEYS or not value:
                raise QueryError(
                    f"'{word}' is not a filter: use state=, error=, machine= or since= (e.g. since=2h)"
                )
            values[FILTER_KEYS[key]] = value
        query = cls(**values)
        if query.since:
            parse_duration(query.since)
        return query


def split_words(text: str) -> list[str]:
    try:
        return shlex.split(text or "")
    except ValueError as exc:
        raise QueryError(f"cannot read the command: {exc}") from exc
