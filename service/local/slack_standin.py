"""A local stand-in for the Slack Web API on 127.0.0.1, for tests, the demo and benchmarks.

Point slack_sdk's ``WebClient(base_url=...)`` at it. It records every call, answers like Slack
(``ok``/``error``, ``ts``, ``Retry-After`` on 429), enforces the Block Kit limits Slack enforces
(50 blocks, 100 in a Home tab, 3,000 characters of section text, 2,000 of a button value), keeps
each person's published Home (``home_of``), and can be told to fail:
``fail_next(n, status)`` or ``rate_limit_for(seconds)``. It also serves the ``response_url`` of
interactive requests (``response_url(...)``; answers land in ``responses``) and answers
``usergroups.users.list`` from ``usergroups``.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from service.local.http_serving import JsonRequestHandler, serve_locally

VALID_TOKEN_PREFIX = "xoxb-"
# the bot token of local runs (demo, benchmarks): only the stand-in accepts it
LOCAL_BOT_TOKEN = VALID_TOKEN_PREFIX + "local-stand-in"
MAX_BLOCKS = 50  # of a message
HOME_MAX_BLOCKS = 100  # of a Home tab view


@dataclass(frozen=True)
class SlackCall:
    method: str
    body: dict[str, Any]
    token: str | None
    status: int


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
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    base_url: str = ""
    _response_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

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
            self.calls.append(SlackCall(method, body, token, status))
            if status == 429:
                return status, {"ok": False, "error": "ratelimited"}, headers
            if status != 200:
                return status, {"ok": False, "error": "internal_error"}, headers
            if method != "response_url" and (not token or not token.startswith(VALID_TOKEN_PREFIX)):
                return 200, {"ok": False, "error": "invalid_auth"}, headers
            return 200, self._ok(method, body), headers

    def _ok(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        problem = block_kit_problem(body.get("blocks"))
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url") and problem:
            return {"ok": False, "error": "invalid_blocks", "errors": [problem]}
        if method == "chat.postMessage":
            ts = f"{1700000000 + next(self._ts)}.000100"
            self.messages[(body["channel"], ts)] = body
            return {"ok": True, "channel": body["channel"], "ts": ts, "message": body}
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
        if method == "views.open":
            return {"ok": True, "view": {"id": f"V{next(self._ts)}"}}
        if method == "views.publish":
            view = body.get("view") or {}
            view = json.loads(view) if isinstance(view, str) else view
            problem = block_kit_problem(view.get("blocks"), max_blocks=HOME_MAX_BLOCKS)
            if view.get("type") != "home" or not body.get("user_id") or problem:
                return {"ok": False, "error": "invalid_arguments", "errors": [problem or "not a home view"]}
            self.homes[body["user_id"]] = view
            return {"ok": True, "view": {"id": f"V{next(self._ts)}", **view}}
        return {"ok": True}


def block_kit_problem(blocks: Any, max_blocks: int = MAX_BLOCKS) -> str | None:
    """What Slack would refuse in ``blocks`` (of a message; of a Home with ``max_blocks=100``), or None."""
    if blocks is None:
        return None
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if len(blocks) > max_blocks:
        return f"must be no more than {max_blocks} items [json-pointer:/blocks]"
    for index, block in enumerate(blocks):
        text = (block.get("text") or {}).get("text", "")
        if block.get("type") == "section" and len(text) > 3000:
            return f"must be less than 3001 characters [json-pointer:/blocks/{index}/text/text]"
        if block.get("type") == "header" and len(text) > 150:
            return f"must be less than 151 characters [json-pointer:/blocks/{index}/text/text]"
        for element in block.get("elements", []) or []:
            if len(str(element.get("value", ""))) > 2000:
                return f"must be less than 2001 characters [json-pointer:/blocks/{index}/elements]"
    return None


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
