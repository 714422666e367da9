"""Slack's limits on what a message, a Home or a modal may hold, and the one way to cut text to them.

Every figure is Slack's documented one (docs.slack.dev: Block Kit blocks, block elements,
composition objects, modal and Home views, ``chat.postMessage``); the views keep to them by
construction, and the Slack stand-in refuses what passes them (it keeps its own copy of the figures,
so a wrong one here cannot hide itself).

Slack does not say in which unit it counts; its servers count JavaScript string length, UTF-16 code
units, the stricter of the usual units (an emoji outside the Basic Multilingual Plane is two), so
``length`` counts those.

``cut`` is the only way text is shortened: at safe boundaries only, never inside a link or mention
``<…>``, an HTML entity (``&amp;``) or a code fence, and a code span or block the cut (or the text
itself) leaves open is closed, so nothing after it reads as code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# ---------------------------------------------------------------------- surfaces
MAX_BLOCKS = 50  # blocks of a message (chat.postMessage, chat.update, chat.postEphemeral)
VIEW_MAX_BLOCKS = 100  # blocks of a modal or a Home tab view
HOME_MAX_BLOCKS = VIEW_MAX_BLOCKS
MESSAGE_TEXT_LIMIT = 40_000  # chat.postMessage truncates ``text`` past this
MESSAGE_TEXT_GUIDANCE = 4_000  # Slack's advice for ``text``: keep it under 4,000 characters
MARKDOWN_BLOCK_LIMIT = 12_000  # a markdown block's text, and all markdown blocks of one payload together
# The text of one rich_text element. Slack documents no figure (and refuses very long ones as
# ``msg_blocks_too_long``), so the stricter of the documented block texts is taken: a section's.
RICH_TEXT_LIMIT = 3000

# ---------------------------------------------------------------------- blocks
SECTION_TEXT_LIMIT = 3000
SECTION_FIELDS = 10  # fields of a section
SECTION_FIELD_LIMIT = 2000  # text of each field
HEADER_TEXT_LIMIT = 150
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BLOCK_ID_LIMIT = 255
ACTION_ID_LIMIT = 255
INPUT_LABEL_LIMIT = 2000
INPUT_HINT_LIMIT = 2000

# ---------------------------------------------------------------------- elements
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
BUTTON_URL_LIMIT = 3000
OPTION_TEXT_LIMIT = 75
OPTION_VALUE_LIMIT = 150
OPTIONS_LIMIT = 100  # options of a select or an overflow menu (overflow: 5)
OVERFLOW_OPTIONS_LIMIT = 5
TEXT_INPUT_LIMIT = 3000  # a plain_text_input's initial_value and max_length

# ---------------------------------------------------------------------- confirmation dialogs (plain_text)
CONFIRM_TITLE_LIMIT = 100
CONFIRM_TEXT_LIMIT = 300
CONFIRM_BUTTON_LIMIT = 30  # confirm and deny

# ---------------------------------------------------------------------- modals
MODAL_TITLE_LIMIT = 24
MODAL_BUTTON_LIMIT = 24  # submit and close
PRIVATE_METADATA_LIMIT = 3000
CALLBACK_ID_LIMIT = 255

MARKER = "… (truncated)"

_FENCE = "```"
_ENTITY = re.compile(r"&(?:[A-Za-z]+|#[0-9]+|#x[0-9A-Fa-f]+);")


def length(text: str) -> int:
    """``text``'s length as Slack counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def fits(text: str | None, limit: int) -> bool:
    return text is None or length(text) <= limit


def cut(text: str, limit: int, marker: str = MARKER) -> str:
    """``text`` within ``limit`` UTF-16 units, ``marker`` and closing fences included.

    The cut falls only between whole links, mentions, entities and fences; a code span or block
    open where it falls (or at the end of ``text``) is closed before the marker."""
    room = limit - length(marker)
    best = ""
    units = 0
    in_block = in_span = False
    for start, stop, kind in _tokens(text):
        if kind == "fence" and not in_span:
            in_block = not in_block
        elif kind == "tick" and not in_block:
            in_span = not in_span
        elif text[start] == "\n" and in_span:
            in_span = False  # Slack ends an inline code span at a line break
        units += length(text[start:stop])
        if units > limit:
            break
        closer = _closer(in_block, in_span, text[stop - 1])
        if units + length(closer) <= room:
            best = text[:stop] + closer
    else:
        whole = text + _closer(in_block, in_span, text[-1:])
        if length(whole) <= limit:
            return whole
    if length(best + marker) > limit:  # a marker longer than the limit itself
        return cut(marker, limit, marker="") if marker else ""
    return best + marker


def _tokens(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of each indivisible piece: a fence, a backtick, ``<…>``, an entity, a character."""
    i = 0
    while i < len(text):
        if text.startswith(_FENCE, i):
            yield i, i + 3, "fence"
            i += 3
            continue
        char = text[i]
        if char == "`":
            yield i, i + 1, "tick"
            i += 1
            continue
        if char == "<":
            close = text.find(">", i + 1)
            if close != -1:
                yield i, close + 1, "angle"
                i = close + 1
                continue
        if char == "&":
            entity = _ENTITY.match(text, i)
            if entity:
                yield i, entity.end(), "entity"
                i = entity.end()
                continue
        yield i, i + 1, "char"
        i += 1


def _closer(in_block: bool, in_span: bool, last: str) -> str:
    """What closes the code left open: a block's fence, a span's backtick, or nothing."""
    if in_block:
        return _FENCE if last == "\n" else "\n" + _FENCE
    return "`" if in_span else ""


def cut_literal(text: str, limit: int, marker: str = MARKER) -> str:
    """``text`` that Slack shows as written (a ``rich_text`` element: no mrkdwn, no entities, no
    mentions) within ``limit`` UTF-16 units, ``marker`` included, never splitting a character."""
    if length(text) <= limit:
        return text
    room = limit - length(marker)
    if room < 0:
        return cut_literal(marker, limit, marker="")
    units = 0
    for index, char in enumerate(text):
        units += length(char)
        if units > room:
            return text[:index] + marker
    return text + marker  # not reached: the text was longer than ``limit``


def message_text(text: str, whole: str = "") -> str:
    """A message's ``text`` (a reply, a thread reply, a fallback) within Slack's 4,000-character
    guidance, cut only where ``cut`` allows and with any code it leaves open closed; when the cut
    drops something, the text ends by saying where the whole is (``whole``, mrkdwn the product
    wrote: the recovery's `show`, say)."""
    marker = f"{MARKER}: the whole is in {whole}" if whole else MARKER
    return cut(text, MESSAGE_TEXT_GUIDANCE, marker)
