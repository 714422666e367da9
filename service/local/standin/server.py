"""A local stand-in for the Slack Web API on 127.0.0.1, for tests, the demo and benchmarks.

Point slack_sdk's ``WebClient(base_url=...)`` at it. It records every call, answers like Slack
(``ok``/``error``, ``ts``, ``Retry-After`` on 429), refuses what Slack refuses in blocks and views
(``invalid_blocks`` / ``invalid_arguments``: slack_sdk's own models and Slack's documented limits in
UTF-16 units, unique action ids, plain-text confirmations, the ``rich_text`` and ``markdown`` limits;
``msg_too_long`` for a ``text`` past 40,000 characters; ``block_kit.py``), keeps
each person's published Home (``home_of``), and can be told to fail:
``fail_next(n, status)`` or ``rate_limit_for(seconds)``; like Slack, it answers 429 with ``Retry-After``
when one channel is posted to faster than about one message a second (bursts of ``channel_burst``
allowed; judged on the pace clock of ``recovery_ops.service.recovery.storage.channel_pace``, which a
local stack runs faster). It also serves the ``response_url`` of
interactive requests (``response_url(...)``; answers land in ``responses``) and answers
``usergroups.users.list`` from ``usergroups``.

Messages are stamped as Slack stamps them: ``ts`` is the stand-in's ``clock`` (epoch seconds and
microseconds, each later than the one before), and a message keeps the ``metadata`` it was posted
with (refused, as ``invalid_metadata_format``, unless it is an object with an ``event_type`` of
letters, digits and underscores and an object ``event_payload``). ``conversations.history`` answers
from the messages a channel holds, newest first (thread replies left out unless broadcast),
``conversations.replies`` from a thread (its parent first, then its replies, oldest first); both
take ``oldest``, ``latest``, ``inclusive``, ``limit`` and ``cursor`` and show metadata only with
``include_all_metadata``. The stand-in cannot know a workspace's channels: a channel exists for it
once it is listed in ``channels`` (``add_channels``; the stacks of the tests list their channel
parameters) or a ``chat.*`` call named it (the app posts only where it was told to, so such a
channel exists in the real workspace too); reading any other answers ``channel_not_found``.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from recovery_ops.service.local.engine.http_serving import JsonRequestHandler, serve_locally
from recovery_ops.service.local.standin.block_kit import blocks_problem, message_text_problem, view_problem
from recovery_ops.service.recovery.storage import channel_pace

VALID_TOKEN_PREFIX = "xoxb-"
# the bot token of local runs (demo, benchmarks): only the stand-in accepts it
LOCAL_BOT_TOKEN = VALID_TOKEN_PREFIX + "local-stand-in"
MAX_BLOCKS = 50  # of a message
HOME_MAX_BLOCKS = 100  # of a Home tab view
HISTORY_LIMIT = 100  # conversations.history / .replies: messages per page unless ``limit`` says
HISTORY_MAX_LIMIT = 999
CHANNEL_BURST = 5  # posts Slack takes at once in a quiet channel before it holds to one a second
EVENT_TYPE = re.compile(r"[A-Za-z0-9_]{1,255}")  # what Slack takes as a metadata event type


@dataclass(frozen=True)
class SlackCall:
    method: str
    body: dict[str, Any]
    token: str | None
    status: int
    at: float = 0.0  # when it arrived, on the pace's clock


@dataclass
class SlackStandIn:
    """The recorded traffic and the scripted failures of one stand-in."""

    calls: list[SlackCall] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id → their published Home
    _failures: list[tuple[int, str | None]] = field(default_factory=list)
    _rate_limited_until: float = 0.0
    _retry_after: int = 1
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    clock: Callable[[], float] = time.time  # Slack's clock: what a message's ts says
    channels: set[str] = field(default_factory=set)  # the workspace's channels, as far as it knows
    _last_ts: int = 0  # microseconds
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    base_url: str = ""
    _response_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    #: Slack's per-channel limit on chat.postMessage: about one a second, short bursts allowed
    #: (None: no limit). Judged on the pace's clock, which a local stack may run faster.
    channel_posts_per_second: float | None = 1.0
    channel_burst: int = CHANNEL_BURST
    pace_clock: Callable[[], float] = field(default=lambda: channel_pace.now(), repr=False)
    _channel_tat: dict[str, float] = field(default_factory=dict, repr=False)

    def response_url(self) -> str:
        """A fresh response_url, as Slack puts one in each interactive request."""
        return self.base_url.removesuffix("/api/") + f"/respond/{next(self._response_ids)}"

    @property
    def responses(self) -> list[dict[str, Any]]:
        """Everything posted to response URLs, in order."""
        return [c.body for c in self.calls_of("response_url")]

    def fail_next(self, count: int, status: int = 500, method: str | None = None) -> None:
        """The next ``count`` calls (of ``method`` only, if given) answer ``status``."""
        with self._lock:
            self._failures.extend([(status, method)] * count)

    def stop_failing(self) -> None:
        """Answer normally again: scripted failures and rate limits are dropped."""
        with self._lock:
            self._failures.clear()
            self._rate_limited_until = 0.0

    def rate_limit_for(self, seconds: float, retry_after: int = 1) -> None:
        with self._lock:
            self._rate_limited_until = time.monotonic() + seconds
            self._retry_after = retry_after

    def add_channels(self, *channels: str | None) -> None:
        """Channels that exist in the workspace before the app names them (empty names ignored)."""
        with self._lock:
            self.channels.update(c for c in channels if c)

    def home_of(self, user: str) -> dict[str, Any] | None:
        """The Home view last published for ``user`` (None: none yet)."""
        with self._lock:
            return self.homes.get(user)

    def posted_messages(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every message posted, thread replies included, as it reads now (updates applied), by
        (channel, ts), oldest first."""
        with self._lock:
            return dict(self.messages)

    def calls_of(self, method: str, ok_only: bool = True) -> list[SlackCall]:
        with self._lock:
            return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    # ------------------------------------------------------------------ serving
    def answer(self, method: str, body: dict[str, Any], token: str | None) -> tuple[int, dict, dict]:
        with self._lock:
            status = 200
            headers: dict[str, str] = {}
            failure = next((f for f in self._failures if f[1] in (None, method)), None)
            if failure is not None:
                self._failures.remove(failure)
                status = failure[0]
            elif time.monotonic() < self._rate_limited_until:
                status = 429
                headers["Retry-After"] = str(self._retry_after)
            elif method == "chat.postMessage" and (retry_after := self._channel_over_pace(body)) is not None:
                status = 429
                headers["Retry-After"] = str(retry_after)
            self.calls.append(SlackCall(method, body, token, status, self.pace_clock()))
            if method.startswith("chat.") and isinstance(body.get("channel"), str):
                self.channels.add(body["channel"])
            if status == 429:
                return status, {"ok": False, "error": "ratelimited"}, headers
            if status != 200:
                return status, {"ok": False, "error": "internal_error"}, headers
            if method != "response_url" and (not token or not token.startswith(VALID_TOKEN_PREFIX)):
                return 200, {"ok": False, "error": "invalid_auth"}, headers
            return 200, self._ok(method, body), headers

    def channel_posts(self, channel: str) -> list[float]:
        """When each accepted chat.postMessage to ``channel`` arrived, on the pace's clock."""
        with self._lock:
            return [
                c.at
                for c in self.calls
                if c.method == "chat.postMessage" and c.status == 200 and c.body.get("channel") == channel
            ]

    def _channel_over_pace(self, body: dict[str, Any]) -> int | None:
        """Slack's answer to a post faster than its channel allows: the seconds to wait (its
        ``Retry-After``), or None when the post is within the pace (and then counted)."""
        channel = body.get("channel")
        if self.channel_posts_per_second is None or not isinstance(channel, str):
            return None
        interval = 1.0 / self.channel_posts_per_second
        tolerance = (self.channel_burst - 1) * interval
        at = self.pace_clock()
        arrival = max(self._channel_tat.get(channel, at), at)
        if arrival - tolerance > at:
            return max(1, math.ceil(arrival - tolerance - at))
        self._channel_tat[channel] = arrival + interval
        return None

    def _ok(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"):
            problem = block_kit_problem(body.get("blocks"))
            if problem:
                return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
            if message_text_problem(body.get("text")):  # Slack's error for a text past 40,000
                return {"ok": False, "error": "msg_too_long"}
        if method == "chat.postMessage":
            if "metadata" in body:
                metadata = metadata_of(body["metadata"])
                if metadata is None:
                    return {"ok": False, "error": "invalid_metadata_format"}
                body = {**body, "metadata": metadata}
            ts = self._next_ts()
            self.messages[(body["channel"], ts)] = body
            return {"ok": True, "channel": body["channel"], "ts": ts, "message": body}
        if method == "conversations.history":
            return self._history(body)
        if method == "conversations.replies":
            return self._replies(body)
        if method == "chat.update":
            key = (body["channel"], body["ts"])
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[key] = {**self.messages[key], **body}
            return {"ok": True, "channel": body["channel"], "ts": body["ts"]}
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1"}
        if method == "usergroups.users.list":
            if body.get("usergroup") not in self.usergroups:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": self.usergroups[body["usergroup"]]}
        if method in ("views.open", "views.push", "views.update"):
            problem = view_problem(body.get("view") or {})
            if problem:
                return {"ok": False, "error": "invalid_arguments", "errors": [problem]}
            return {"ok": True, "view": {"id": f"V{next(self._ts)}"}}
        if method == "views.publish":
            view = body.get("view") or {}
            view = json.loads(view) if isinstance(view, str) else view
            problem = view_problem(view)
            if view.get("type") != "home" or not body.get("user_id") or problem:
                return {"ok": False, "error": "invalid_arguments", "errors": [problem or "not a home view"]}
            self.homes[body["user_id"]] = view
            return {"ok": True, "view": {"id": f"V{next(self._ts)}", **view}}
        return {"ok": True}

    def _next_ts(self) -> str:
        """Now on the stand-in's clock, later than every ts before it (Slack's ts are unique)."""
        micros = max(int(self.clock() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    # ------------------------------------------------------------------ reading history
    def _known(self, channel: Any) -> bool:
        return channel in self.channels

    def _history(self, query: dict[str, Any]) -> dict[str, Any]:
        """conversations.history: the channel's messages, newest first; thread replies only if
        broadcast to the channel."""
        channel = query.get("channel")
        if not self._known(channel):
            return {"ok": False, "error": "channel_not_found"}
        in_channel = [
            (ts, body)
            for (c, ts), body in self.messages.items()
            if c == channel and (body.get("thread_ts") in (None, ts) or _truthy(body.get("reply_broadcast")))
        ]
        return self._page(query, sorted(in_channel, key=lambda m: Decimal(m[0]), reverse=True))

    def _replies(self, query: dict[str, Any]) -> dict[str, Any]:
        """conversations.replies: the thread's parent first, then its replies, oldest first."""
        channel, parent = query.get("channel", ""), query.get("ts", "")
        if not self._known(channel):
            return {"ok": False, "error": "channel_not_found"}
        if (channel, parent) not in self.messages:
            return {"ok": False, "error": "thread_not_found"}
        replies = [
            (ts, body)
            for (c, ts), body in self.messages.items()
            if c == channel and ts != parent and body.get("thread_ts") == parent
        ]
        head = [] if query.get("cursor") else [(parent, self.messages[(channel, parent)])]
        answer = self._page(query, sorted(replies, key=lambda m: Decimal(m[0])))
        if answer["ok"]:
            answer["messages"] = [self._shown(t, b, query, parent) for t, b in head] + answer["messages"]
        return answer

    def _page(self, query: dict[str, Any], ordered: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        """One page of ``ordered`` within ``oldest``/``latest``, from ``cursor``, ``limit`` long."""
        try:
            oldest = Decimal(str(query.get("oldest") or "0"))
            latest = Decimal(str(query["latest"])) if query.get("latest") else None  # None: now
        except InvalidOperation:
            return {"ok": False, "error": "invalid_ts_oldest"}
        inclusive = _truthy(query.get("inclusive"))
        within = [
            (ts, body)
            for ts, body in ordered
            if (oldest <= Decimal(ts) if inclusive else oldest < Decimal(ts))
            and (latest is None or (Decimal(ts) <= latest if inclusive else Decimal(ts) < latest))
        ]
        start = 0
        if query.get("cursor"):
            try:
                start = int(base64.b64decode(str(query["cursor"])).decode().removeprefix("next:"))
            except (ValueError, UnicodeDecodeError):
                return {"ok": False, "error": "invalid_cursor"}
        try:
            limit = int(query.get("limit") or HISTORY_LIMIT)
        except ValueError:
            return {"ok": False, "error": "invalid_limit"}
        limit = HISTORY_LIMIT if limit < 1 else min(limit, HISTORY_MAX_LIMIT)
        page = within[start : start + limit]
        more = start + limit < len(within)
        cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        return {
            "ok": True,
            "messages": [self._shown(ts, body, query) for ts, body in page],
            "has_more": more,
            "response_metadata": {"next_cursor": cursor},
        }

    def _shown(self, ts: str, body: dict[str, Any], query: dict[str, Any], parent: str | None = None) -> dict:
        """A stored message as a history answer shows it (its metadata only when asked for)."""
        shown: dict[str, Any] = {"type": "message", "ts": ts, "user": "UBOT", "bot_id": "BBOT"}
        shown["text"] = body.get("text", "")
        if body.get("blocks") is not None:
            shown["blocks"] = body["blocks"]
        if body.get("thread_ts") or ts == parent:
            shown["thread_ts"] = body.get("thread_ts") or ts
        if "metadata" in body and _truthy(query.get("include_all_metadata")):
            shown["metadata"] = body["metadata"]
        return shown


def metadata_of(value: Any) -> dict[str, Any] | None:
    """Message metadata as Slack takes it (a JSON object or its text), or None when Slack would refuse it."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    if not isinstance(value, dict) or not isinstance(value.get("event_payload"), dict):
        return None
    event_type = value.get("event_type")
    if not isinstance(event_type, str) or not EVENT_TYPE.fullmatch(event_type):
        return None
    return {"event_type": event_type, "event_payload": value["event_payload"]}


def _truthy(value: Any) -> bool:
    """A Web API boolean: ``true``/``1`` in a query or a form, ``true`` in JSON."""
    return value is True or str(value).lower() in ("1", "true")


def block_kit_problem(blocks: Any, max_blocks: int = MAX_BLOCKS) -> str | None:
    """What Slack would refuse in ``blocks`` (of a message; of a Home or modal with ``max_blocks=100``),
    or None: slack_sdk's models and Slack's documented limits (``block_kit.blocks_problem``)."""
    return blocks_problem(blocks, max_blocks)


class _SlackRequestHandler(JsonRequestHandler):
    standin: SlackStandIn

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        method = self.path.rstrip("/").rsplit("/", 1)[-1]
        if self.path.startswith("/respond/"):
            method = "response_url"
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if "json" in (self.headers.get("Content-Type") or ""):
            body = json.loads(raw or "{}")
        else:
            body = {k: v[0] for k, v in parse_qs(raw).items()}
        self._answer(method, body)

    def do_GET(self) -> None:  # noqa: N802 - some Web API methods (usergroups.users.list) are GETs
        path, _, query = self.path.partition("?")
        self._answer(path.rstrip("/").rsplit("/", 1)[-1], {k: v[0] for k, v in parse_qs(query).items()})

    def _answer(self, method: str, body: dict[str, Any]) -> None:
        authorization = self.headers.get("Authorization") or ""
        token = authorization.removeprefix("Bearer ").strip() or body.get("token")
        self.answer_json(*self.standin.answer(method, body, token))


@contextmanager
def serve_slack_standin(standin: SlackStandIn | None = None) -> Iterator[SlackStandIn]:
    """Serve a stand-in on an ephemeral port; its ``base_url`` is what WebClient(base_url=...) takes."""
    standin = standin or SlackStandIn()
    handler = type("BoundSlackRequestHandler", (_SlackRequestHandler,), {"standin": standin})
    with serve_locally(handler) as url:
        standin.base_url = f"{url}/api/"
        yield standin
