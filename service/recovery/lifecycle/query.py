"""What an operator asks for: filters over open recoveries, typed in Slack or on the command line.

``/recoveries retry error=VendorUnavailable state="Check availability" since=2h`` and
``recovery-ops retry --error VendorUnavailable --state "Check availability" --since 2h`` build
the same ``RecoveryQuery``. It travels inside Slack buttons as compact JSON (a page cursor, a
bulk confirmation), so a later click acts on exactly what was shown.

``status=in-flight`` (``/recoveries in-flight``, ``recovery-ops list --in-flight``) lists the
recoveries in flight instead of the open ones: claimed, their outcome not stored yet
(``recovery_ops.service.recovery.lifecycle.in_flight``); nothing acts on those.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import asdict, dataclass, replace
from datetime import timedelta

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.lifecycle.in_flight import IN_FLIGHT
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import ListFilter

_DURATION = re.compile(r"^(\d{1,12})\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# an execution waits at most a year: a longer look back would find nothing more
LONGEST_DURATION = timedelta(days=366)
# a page cursor is the sort key of a listed recovery: <created at, ISO 8601 UTC>#rec-<32 hex>
_CURSOR = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(\+00:00|Z)?#rec-[0-9a-f]{32}$")
FILTER_KEYS = {
    "state": "failed_state",
    "error": "error",
    "machine": "state_machine",
    "since": "since",
    "owner": "owner",
    "status": "status",
    "group": "group",
}
#: other words for a filter: a durable function's recoveries keep it where a state machine is
FILTER_ALIASES = {"function": "state_machine"}
_GROUP = re.compile(r"^grp-[0-9a-f]{32}$")
ME = "me"  # owner=me: the person asking
_OWNER = re.compile(r"^(me|none|[UW][A-Z0-9]{2,20})$")


def inert_json(value: object) -> str:
    """Compact JSON, ASCII only, with ``<``, ``>`` and ``&`` as unicode escapes: the same data when
    read back, and nothing in it that a chat tool or a browser could read as markup."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


class QueryError(RecoveryOpsError, ValueError):
    """The operator's text does not say what to list or act on; the message says why."""


class StaleQueryError(QueryError):
    """A query or page link a button carries that cannot be read (forged, or from an older version).
    Its words say what is wrong; the edge says how to start again (``/recoveries``, the Home tab)."""


def parse_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``7d``: at most a year (``366d``); anything else is a ``QueryError``."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise QueryError(
            f"'{text[:40]}' is not a duration: use a number and s, m, h, d or w (e.g. 30m, 2h, 7d)"
        )
    seconds = int(match[1]) * _UNITS[match[2]]
    if seconds > LONGEST_DURATION.total_seconds():
        raise QueryError(
            f"'{text[:40]}' is longer than a year: an execution waits at most a year, so use at most 366d"
        )
    return timedelta(seconds=seconds)


def check_owner(owner: str) -> str:
    """``me``, ``none`` or a Slack user id, or a ``QueryError``."""
    if _OWNER.match(owner):
        return owner
    raise QueryError(
        f"'{owner[:40]}' is not an owner: use owner=me, owner=none or a user id (owner=U0123ABC)"
    )


_IN_FLIGHT_WORDS = frozenset({IN_FLIGHT, "inflight", "in_flight", "resuming"})


def check_status(status: str) -> str:
    """``in-flight`` (also written ``inflight`` or ``resuming``: the only status a filter names, open
    ones are listed without it), or a ``QueryError``."""
    if status.strip().lower() in _IN_FLIGHT_WORDS:
        return IN_FLIGHT
    raise QueryError(
        f"'{status[:40]}' is not a status to list: use status=in-flight (or `/recoveries in-flight`); "
        "open recoveries are listed without it"
    )


def check_cursor(cursor: str | None) -> str | None:
    """A page cursor as the listing made it, or a ``QueryError`` (a stale or forged button)."""
    if cursor is None or _CURSOR.match(cursor):
        return cursor
    raise StaleQueryError("this page link is not valid any more")


@dataclass(frozen=True)
class RecoveryQuery:
    failed_state: str | None = None
    error: str | None = None
    state_machine: str | None = None
    since: str | None = None  # a duration as typed: 2h
    owner: str | None = None  # a user id, "none" (nobody owns it) or, as typed, "me"
    status: str | None = None  # IN_FLIGHT: the recoveries in flight instead of the open ones
    before: str | None = None  # page cursor (sort key of the last row shown)
    group: str | None = None  # the recoveries of one group or burst message (its id)

    @property
    def narrowed(self) -> bool:
        """Whether it selects something else than "every open recovery" (fewer, or those in flight)."""
        return any(
            (
                self.failed_state,
                self.error,
                self.state_machine,
                self.since,
                self.owner,
                self.status,
                self.group,
            )
        )

    @property
    def in_flight(self) -> bool:
        """Whether it lists the recoveries in flight (claimed, outcome not stored) instead of the open."""
        return self.status == IN_FLIGHT

    @property
    def listed_status(self) -> RecoveryStatus:
        """The status of the recoveries it lists."""
        return RecoveryStatus.RESUMING if self.in_flight else RecoveryStatus.OPEN

    def with_status(self, status: str | None) -> RecoveryQuery:
        """The same filters over the open recoveries (None) or those in flight (``IN_FLIGHT``)."""
        return replace(self, status=check_status(status) if status else None, before=None)

    def for_person(self, user_id: str) -> RecoveryQuery:
        """``owner=me`` made ``owner=<user_id>``: what a button then carries is the same for anyone."""
        return replace(self, owner=user_id) if self.owner == ME else self

    def list_filter(self) -> ListFilter:
        return ListFilter(
            state_machine=self.state_machine,
            failed_state=self.failed_state,
            error=self.error,
            newer_than=parse_duration(self.since) if self.since else None,
            owner=self.owner,
            group_id=self.group,
        )

    def next_page(self, cursor: str) -> RecoveryQuery:
        return replace(self, before=cursor)

    def describe(self) -> str:
        parts = [f'{key}="{getattr(self, attr)}"' for key, attr in FILTER_KEYS.items() if getattr(self, attr)]
        return " ".join(parts) or "all"

    def to_json(self) -> str:
        """What a button carries (``inert_json``): the same query when read back."""
        return inert_json({k: v for k, v in asdict(self).items() if v})

    @classmethod
    def from_json(cls, text: str) -> RecoveryQuery:
        """The query a button carries; a malformed one (forged, or from an older version) is a
        ``QueryError`` that names no more of it than needed."""
        try:
            data = json.loads(text or "{}")
        except ValueError as exc:
            raise StaleQueryError("this button's query cannot be read") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise StaleQueryError("this button's query cannot be read")
        query = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        if query.since:
            parse_duration(query.since)
        if query.owner:
            check_owner(query.owner)
        if query.status and check_status(query.status) != query.status:
            raise StaleQueryError("this button's query cannot be read")
        check_cursor(query.before)
        if query.group:
            check_group(query.group)
        return query

    @classmethod
    def from_words(cls, words: list[str]) -> RecoveryQuery:
        """``key=value`` words (values may be quoted); unknown keys are an error, not ignored."""
        values: dict[str, str] = {}
        for word in words:
            key, sep, value = word.partition("=")
            attribute = FILTER_KEYS.get(key) or FILTER_ALIASES.get(key)
            if not sep or attribute is None or not value:
                raise QueryError(
                    f"'{word[:80]}' is not a filter: use state=, error=, machine=, since= or owner= "
                    "(e.g. since=2h, owner=me; function= for a durable function); status=in-flight "
                    "lists the recoveries in flight"
                )
            values[attribute] = value
        if "status" in values:
            values["status"] = check_status(values["status"])
        query = cls(**values)
        if query.since:
            parse_duration(query.since)
        if query.owner:
            check_owner(query.owner)
        if query.group:
            check_group(query.group)
        return query


def check_group(group: str) -> str:
    """A group's id as the collector made it (``grp-`` and 32 hex digits), or a ``QueryError``."""
    if _GROUP.match(group):
        return group
    raise QueryError(f"'{group[:40]}' is not a group: use the id a group or burst message shows (grp-…)")


def split_words(text: str) -> list[str]:
    try:
        return shlex.split(text or "")
    except ValueError as exc:
        raise QueryError(f"cannot read the command: {exc}") from exc
