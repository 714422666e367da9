"""What Slack refuses in a message's blocks or a view, judged as Slack judges it.

Two judges, both of which must pass: slack_sdk's own Block Kit models (``Block.parse`` / ``View``
and their ``validate_json()``, which raise ``SlackObjectFormationError`` for what they know), and
Slack's documented limits counted in UTF-16 code units (Slack's unit; slack_sdk counts code points),
with what slack_sdk does not check: ``action_id`` unique within a block, confirmation dialogs in
``plain_text`` within their limits, ``private_metadata``, option counts and the rest.

The newer blocks are judged by what Slack documents of them: a ``markdown`` block only in messages,
its text within 12,000 characters, and all markdown blocks of one payload within 12,000 together;
a ``rich_text`` block's text elements not empty and, as Slack refuses very long ones
(``msg_blocks_too_long``) without documenting the figure, each within a section's 3,000. A
message's ``text`` past 40,000 characters is ``msg_too_long`` (``message_text_problem``), not a
blocks problem.

The figures are kept here, apart from the app's own limits module, so that a wrong figure there
cannot pass here too.
"""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_TEXT = 40_000
MARKDOWN_TEXT = 12_000  # one markdown block, and all of a payload's together
RICH_TEXT = 3000  # one rich_text text element (undocumented by Slack: a section's figure)
# (block type, field) → limit
_BLOCK_TEXT = {
    ("section", "text"): 3000,
    ("header", "text"): 150,
    ("input", "label"): 2000,
    ("input", "hint"): 2000,
}
_IDS = 255
_BUTTON = {"text": 75, "value": 2000, "url": 3000}
_OPTION = {"text": 75, "value": 150, "description": 75}
_CONFIRM = {"title": 100, "text": 300, "confirm": 30, "deny": 30}
_INITIAL_VALUE = 3000
_PRIVATE_METADATA = 3000
_MODAL_TEXT = 24  # title, submit, close


def utf16(text: Any) -> int:
    return len(str(text).encode("utf-16-le")) // 2


def blocks_problem(blocks: Any, max_blocks: int = MESSAGE_BLOCKS, pointer: str = "/blocks") -> str | None:
    """What Slack would refuse in ``blocks`` (a list or its JSON), or None; ``max_blocks`` above a
    message's 50 means a view's blocks, where a ``markdown`` block is not allowed."""
    if blocks is None:
        return None
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return f"invalid JSON [json-pointer:{pointer}]"
    if not isinstance(blocks, list):
        return f"must be an array [json-pointer:{pointer}]"
    if len(blocks) > max_blocks:
        return f"must be no more than {max_blocks} items [json-pointer:{pointer}]"
    for index, block in enumerate(blocks):
        problem = _block_problem(block, f"{pointer}/{index}")
        if problem:
            return problem
    return _markdown_problem(blocks, in_view=max_blocks > MESSAGE_BLOCKS, pointer=pointer)


def view_problem(view: Any) -> str | None:
    """What Slack would refuse in a modal or Home ``view`` (a dict or its JSON), or None."""
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            return "invalid JSON [json-pointer:/view]"
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        return "must be a modal or a home view [json-pointer:/view/type]"
    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError, KeyError) as exc:
        return f"{exc} [json-pointer:/view]"
    if utf16(view.get("private_metadata") or "") > _PRIVATE_METADATA:
        return _too_long(_PRIVATE_METADATA, "/view/private_metadata")
    if utf16(view.get("callback_id") or "") > _IDS:
        return _too_long(_IDS, "/view/callback_id")
    if view["type"] == "modal":
        for field in ("title", "submit", "close"):
            problem = _text_problem(view.get(field), _MODAL_TEXT, f"/view/{field}", plain_only=True)
            if problem:
                return problem
    return blocks_problem(view.get("blocks") or [], VIEW_BLOCKS, "/view/blocks")


def message_text_problem(text: Any) -> str | None:
    """A message's ``text`` past Slack's 40,000 characters (Slack's ``msg_too_long``), or None."""
    if text is not None and utf16(text) > MESSAGE_TEXT:
        return _too_long(MESSAGE_TEXT, "/text")
    return None


# ---------------------------------------------------------------------- the parts
def _block_problem(block: Any, pointer: str) -> str | None:
    if not isinstance(block, dict):
        return f"must be an object [json-pointer:{pointer}]"
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return f"unknown block type [json-pointer:{pointer}/type]"
        parsed.validate_json()
    except (SlackObjectFormationError, TypeError, KeyError) as exc:
        return f"{exc} [json-pointer:{pointer}]"
    kind = block.get("type")
    if utf16(block.get("block_id") or "") > _IDS:
        return _too_long(_IDS, f"{pointer}/block_id")
    if kind == "rich_text":
        return _rich_text_problem(block.get("elements"), f"{pointer}/elements")
    for (block_kind, field), limit in _BLOCK_TEXT.items():
        if kind == block_kind:
            plain_only = kind != "section"
            problem = _text_problem(block.get(field), limit, f"{pointer}/{field}", plain_only=plain_only)
            if problem:
                return problem
    fields = block.get("fields") or []
    if len(fields) > 10:
        return f"must be no more than 10 items [json-pointer:{pointer}/fields]"
    for index, field_text in enumerate(fields):
        problem = _text_problem(field_text, 2000, f"{pointer}/fields/{index}")
        if problem:
            return problem
    elements = [("accessory", block["accessory"])] if isinstance(block.get("accessory"), dict) else []
    if isinstance(block.get("element"), dict):
        elements.append(("element", block["element"]))
    if kind in ("actions", "context"):
        elements += [(f"elements/{i}", e) for i, e in enumerate(block.get("elements") or [])]
    action_ids = [e.get("action_id") for _, e in elements if isinstance(e, dict) and e.get("action_id")]
    if len(action_ids) != len(set(action_ids)):
        return f"action_id must be unique within a block [json-pointer:{pointer}/elements]"
    for where, element in elements:
        problem = _element_problem(element, f"{pointer}/{where}")
        if problem:
            return problem
    return None


def _element_problem(element: Any, pointer: str) -> str | None:
    if not isinstance(element, dict) or element.get("type") in ("plain_text", "mrkdwn", "image"):
        return None
    if utf16(element.get("action_id") or "") > _IDS:
        return _too_long(_IDS, f"{pointer}/action_id")
    if element.get("type") == "button":
        for field, limit in _BUTTON.items():
            value = element.get(field)
            text = value.get("text") if isinstance(value, dict) else value
            if text is not None and utf16(text) > limit:
                return _too_long(limit, f"{pointer}/{field}")
    initial_value = element.get("initial_value") if element.get("type") == "plain_text_input" else None
    if isinstance(initial_value, str) and utf16(initial_value) > _INITIAL_VALUE:
        return _too_long(_INITIAL_VALUE, f"{pointer}/initial_value")
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    most = 5 if element.get("type") == "overflow" else 100
    if len(options) > most:
        return f"must be no more than {most} items [json-pointer:{pointer}/options]"
    for index, option in enumerate(options):
        for field, limit in _OPTION.items():
            value = option.get(field)
            text = value.get("text") if isinstance(value, dict) else value
            if text is not None and utf16(text) > limit:
                return _too_long(limit, f"{pointer}/options/{index}/{field}")
    confirm = element.get("confirm")
    if confirm is not None:
        for field, limit in _CONFIRM.items():
            problem = _text_problem(confirm.get(field), limit, f"{pointer}/confirm/{field}", plain_only=True)
            if problem:
                return problem
    return None


def _too_long(limit: int, pointer: str) -> str:
    """Slack's own words for a string past its limit."""
    return f"must be less than {limit + 1} characters [json-pointer:{pointer}]"


def _text_problem(text: Any, limit: int, pointer: str, plain_only: bool = False) -> str | None:
    if text is None:
        return None
    if isinstance(text, str):
        content = text
    else:
        if plain_only and text.get("type") != "plain_text":
            return f"must be a plain_text object [json-pointer:{pointer}/type]"
        content = text.get("text") or ""
    if utf16(content) > limit:
        return _too_long(limit, f"{pointer}/text")
    return None


def _rich_text_problem(elements: Any, pointer: str) -> str | None:
    """The text elements of a rich_text block, however deep: not empty, each within ``RICH_TEXT``."""
    if not isinstance(elements, list) or not elements:
        return f"must be a non-empty array [json-pointer:{pointer}]"
    for index, element in enumerate(elements):
        where = f"{pointer}/{index}"
        if not isinstance(element, dict):
            return f"must be an object [json-pointer:{where}]"
        if element.get("type") == "text":
            text = element.get("text")
            if not isinstance(text, str) or not text:
                return f"must be a non-empty string [json-pointer:{where}/text]"
            if utf16(text) > RICH_TEXT:
                return _too_long(RICH_TEXT, f"{where}/text")
        elif "elements" in element:
            problem = _rich_text_problem(element["elements"], f"{where}/elements")
            if problem:
                return problem
    return None


def _markdown_problem(blocks: list[Any], in_view: bool, pointer: str) -> str | None:
    """Markdown blocks: messages only, each and all together within ``MARKDOWN_TEXT``."""
    total = 0
    for index, block in enumerate(blocks):
        if block.get("type") != "markdown":
            continue
        if in_view:
            return f"markdown blocks are only allowed in messages [json-pointer:{pointer}/{index}]"
        size = utf16(block.get("text") or "")
        if size > MARKDOWN_TEXT:
            return _too_long(MARKDOWN_TEXT, f"{pointer}/{index}/text")
        total += size
        if total > MARKDOWN_TEXT:
            return f"markdown must total less than {MARKDOWN_TEXT + 1} characters [json-pointer:{pointer}]"
    return None
