"""What Slack would act on in a payload: mentions, links, control characters from recovery text.

``hostile`` builds text that tries every trick Slack parses; ``unsafe_spots`` reads a recorded
payload as Slack does (a message's ``text``, every text object, block ids and values, modal
titles, metadata) and lists every place where one survived unescaped: a raw special mention, a
``<…>`` entity the product did not make itself, a control character. Only an editable input's
``initial_value`` and the text elements of a ``rich_text`` block are data, not text (Slack shows
them as written and parses nothing in them: a mention there is an element of its own), so they
are checked for control characters only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

TRICKS = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<#C123>",
    "<https://example.com|click>",
    "<!subteam^S123>",
)
CONTROL = "\x00\x07\x1b[31m\r\u202e"
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_ENTITY = re.compile(r"<([^<>]*)>")
_USER_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,20}$")
_CONSOLE_LINK = re.compile(
    r"^https://[a-z0-9-]+\.console\.aws\.amazon\.com/states/home\?region=[a-z0-9-]+#[^\s|<>]*\|"
)
_JSON_TEXT_KEYS = ("blocks", "view", "attachments")
DATA_KEYS = ("initial_value", "rich_text")  # "rich_text": a rich_text block's text element


def hostile(label: str) -> str:
    """``label`` wrapped in every trick: mentions, a channel link, a link, markup, control characters."""
    return f"{label} {' '.join(TRICKS)} *bold* `tick` {CONTROL}end"


def unsafe_spots(payload: Any, users: Iterable[str] = (), user_groups: Iterable[str] = ()) -> list[str]:
    """Where ``payload`` (one recorded call's body) holds something Slack would act on.

    ``users``: Slack user ids the product itself may mention (the people who clicked, the owner);
    ``user_groups``: user group ids it may mention (escalation levels), each only as
    ``<!subteam^S…>`` and only when the id is a valid one."""
    allowed_mentions = {f"@{user}" for user in users} | {
        f"!subteam^{group}" for group in user_groups if _USER_GROUP_ID.match(group)
    }
    problems = []
    for path, key, text in _strings(payload):
        if _CONTROL.search(text):
            problems.append(f"{path}: control character in {text[:80]!r}")
        if key in DATA_KEYS:
            continue
        for trick in TRICKS:
            if trick in text:
                problems.append(f"{path}: raw {trick} in {text[:120]!r}")
        for entity in _ENTITY.findall(text):
            if entity in allowed_mentions or _CONSOLE_LINK.match(entity):
                continue
            problems.append(f"{path}: entity <{entity[:80]}> Slack would act on")
    return sorted(set(problems))


def _strings(value: Any, path: str = "", key: str = "") -> Iterator[tuple[str, str, str]]:
    if isinstance(value, str):
        if key in _JSON_TEXT_KEYS and value[:1] in "[{":
            yield from _strings(json.loads(value), path, "")
        else:
            yield path or "/", key, value
    elif isinstance(value, dict) and value.get("type") == "text" and isinstance(value.get("text"), str):
        yield f"{path}/text", "rich_text", value["text"]  # only rich_text has elements of type "text"
    elif isinstance(value, dict):
        for child_key, item in value.items():
            yield from _strings(item, f"{path}/{child_key}", str(child_key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}/{index}", key)
