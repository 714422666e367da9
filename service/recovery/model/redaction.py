"""Task tokens and durable callback ids never leave the recoveries table: what is shown is first
stripped of them.

A task token (or a durable function's callback id) is a capability: whoever holds it can resume or
fail the paused step. It is kept in
the recoveries table (and, until a redrive, in the recovery DLQ's message bodies, which SQS needs
whole), and nowhere else. Everything that shows a body, an input, a cause, an audit detail or an
error to a person or a log (Slack, the CLI, log lines) passes it through ``without_tokens`` first,
before cutting or formatting it, so a cut can never leave half a token behind.

What counts as a token field: any key whose name contains "token" in any spelling
(``task_token``, ``taskToken``, ``TaskToken``, ``Token``) or names a callback id (``callback_id``,
``callbackId``, ``CallbackId``, ``callback-id``), and the path segment after
``durable-execution-callbacks/`` in a URL (Lambda's callback API puts the id there). A text that
is not JSON (or JSON cut short) is searched for the same keys followed by ``:`` or ``=`` and its
value is removed up to the end of the value (or of the text, when the value is cut short).
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

REDACTED = "[redacted]"
T = TypeVar("T")

#: a key that names a secret: a token of any spelling, or a durable callback's id
SECRET_KEY = re.compile(r"token|callback[_-]?id", re.IGNORECASE)
_TOKEN_KEY = SECRET_KEY
# "task_token": "…"  |  'taskToken': '…'  |  task_token=…  (the value may be cut short: then to the end);
# a key starts at a word boundary and is at most 64 characters before "token" (or "callback_id"):
# linear in the text
_TOKEN_IN_TEXT = re.compile(
    r"""(?P<key>(?<![\w.-])["']?[\w.-]{0,64}?(?:token|callback[_-]?id)["']?\s*[:=]\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*(?:"|$)|'(?:[^'\\]|\\.)*(?:'|$)|[^\s,;&}\]]+)""",
    re.IGNORECASE,
)


def without_tokens(value: T, known: tuple[str, ...] = ()) -> T:
    """``value`` (a JSON-like object, or a text that may hold JSON) with every token field's value
    replaced by ``[redacted]``; ``known`` token values are removed wherever they appear."""
    if isinstance(value, str):
        return _text_without_tokens(value, known)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {  # type: ignore[return-value]
            key: REDACTED if _is_token_key(key, item) else without_tokens(item, known)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(without_tokens(item, known) for item in value)
    return value


def _is_token_key(key: Any, item: Any) -> bool:
    return isinstance(key, str) and bool(_TOKEN_KEY.search(key)) and item is not None


#: Lambda's callback API carries the callback id in its path (…/durable-execution-callbacks/ID/succeed),
#: which HTTP libraries log: the path segment after it is a secret wherever a text quotes it
_CALLBACK_PATH = re.compile(r"(durable-execution-callbacks/)[^/\s\"'?&]+")


def _text_without_tokens(text: str, known: tuple[str, ...]) -> str:
    for token in known:
        if token:
            text = text.replace(token, REDACTED)
    if "durable-execution-callbacks/" in text:
        text = _CALLBACK_PATH.sub(rf"\g<1>{REDACTED}", text)
    stripped = text.strip()
    if stripped[:1] in ("{", "[") and _TOKEN_KEY.search(stripped):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            pass
        else:
            redacted = without_tokens(parsed, known)
            return text if redacted == parsed else json.dumps(redacted, ensure_ascii=False)
    if not _TOKEN_KEY.search(text):
        return text
    return _TOKEN_IN_TEXT.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    value = match["value"]
    quote = value[0] if value[:1] in ('"', "'") else ""
    return f"{match['key']}{quote}{REDACTED}{quote}"


def restore_redacted(edited: Any, original: Any) -> Any:
    """An edit of a redacted view, with each token field still ``[redacted]`` given back its value
    from ``original`` (a person edits what they were shown; the hidden values stay as stored)."""
    if isinstance(edited, dict) and isinstance(original, dict):
        restored = {}
        for key, item in edited.items():
            if item == REDACTED and key in original and _is_token_key(key, original[key]):
                restored[key] = original[key]
            else:
                restored[key] = restore_redacted(item, original.get(key))
        return restored
    if isinstance(edited, list) and isinstance(original, list):
        return [
            restore_redacted(item, original[index] if index < len(original) else None)
            for index, item in enumerate(edited)
        ]
    return edited
