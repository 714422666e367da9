"""Text that did not come from the product itself never becomes a mention, a link or markup.

Recoveries carry text written by other people's state machines (errors, causes, state and
execution names, inputs) and the Slack app repeats text people typed (filters, reasons, ids).
Slack acts on ``<!channel>``, ``<!here>``, ``<!everyone>``, ``<@U…>``, ``<#C…>``,
``<!subteam^…>`` and ``<url|label>`` wherever it parses: a message's ``text`` and every
``mrkdwn`` object. Its own escaping (``&`` → ``&amp;``, ``<`` → ``&lt;``, ``>`` → ``&gt;``) turns
all of them into plain characters, so that is what ``escape`` does, in this one place; the
helpers below build on it for the places untrusted text goes:

- ``escape``: into ``text`` fallbacks and mrkdwn (also drops control characters, which could
  forge lines or hide text);
- ``code`` / ``code_block``: the same, inside backticks, with backticks swapped for a look-alike
  so the text cannot end the code span and start markup;
- ``literal``: into ``rich_text`` text elements, which Slack shows as written (no mrkdwn, no
  entities, no mentions: a mention there is an element of its own): only control characters go;
- ``plain``: into ``plain_text`` objects (headers, titles, labels), which Slack does not parse:
  control characters go, angle brackets become look-alikes so nothing reads as a mention;
- ``link``: a URL the product built, with any character that could end or split ``<url|label>``
  percent-encoded, and an escaped label;
- ``who``: the mention the product makes on purpose of a person (a Slack user id: who acted, who
  owns a recovery); any other actor is escaped text;
- ``user_group``: the other one, of a user group an escalation level names (``<!subteam^S…>``,
  only for a valid user group id); anything else is escaped text.

``unescape`` is the way back, for the demo that prints messages in a terminal.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from slack_sdk.models.blocks import MarkdownTextObject

from recovery_ops.slack_app.views.limits import MARKER, cut

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NEWLINES = re.compile(r"[\r\n\t]+")
_BACKTICK_LOOKALIKE = "ˋ"
_MARKUP_LOOKALIKES = str.maketrans({"*": "∗", "~": "∼", "`": _BACKTICK_LOOKALIKE})
# what may stay as it is in a URL inside <url|label>: no <, >, |, space or quote
_URL_SAFE = ":/?#[]@!$&'()*+,;=%-._~"
_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
SLACK_USER_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,20}$")


def escape(text: object) -> str:
    """Slack's escaping of ``&``, ``<`` and ``>``, control characters removed."""
    cleaned = _CONTROL.sub("", str(text))
    return cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: object) -> str:
    """Escaped, on one line, for names shown inline in mrkdwn: no forged extra lines, and the
    characters that would start bold, strike or code (``*``, ``~``, a backtick) as look-alikes."""
    flat = _NEWLINES.sub(" ", str(text)).translate(_MARKUP_LOOKALIKES)
    return escape(flat)


def code(text: object) -> str:
    """Inline code: ```text``` on one line, escaped; a backtick inside cannot close it."""
    return "`" + escape(_NEWLINES.sub(" ", str(text)).replace("`", _BACKTICK_LOOKALIKE)) + "`"


def truncate(text: str, limit: int, marker: str = MARKER) -> str:
    """``text`` within ``limit`` (UTF-16 units, as Slack counts), ``marker`` included, cut only at a
    safe boundary (``limits.cut``)."""
    return cut(text, limit, marker)


def code_block(text: object, limit: int) -> str:
    """A code block of at most ``limit`` characters, fences included, escaped."""
    fence = "```"
    body = escape(text).replace("`", _BACKTICK_LOOKALIKE)
    return fence + truncate(body, limit - 2 * len(fence) - 1) + "\n" + fence


def literal(text: object) -> str:
    """For ``rich_text`` text elements, shown as written: no control characters, nothing else changed."""
    return _CONTROL.sub("", str(text))


def plain(text: object) -> str:
    """For ``plain_text`` objects: no control characters, no angle brackets that read as a mention."""
    return _CONTROL.sub("", str(text)).replace("<", "‹").replace(">", "›")


def link(url: str, label: object) -> str:
    """``<url|label>`` for a URL the product built from recovery data, and an untrusted label."""
    safe_url = quote(_CONTROL.sub("", url), safe=_URL_SAFE).replace("&", "&amp;")
    return f"<{safe_url}|{one_line(label)}>"


def mrkdwn(text: str) -> MarkdownTextObject:
    """A mrkdwn object for text already escaped here: ``verbatim`` so Slack adds no links or
    mentions of its own (plain URLs, ``#channel``, ``@here``); the product's ``<url|label>`` stay."""
    return MarkdownTextObject(text=text, verbatim=True)


def who(actor: str | None) -> str:
    """A Slack user id as a mention; any other actor (``cli:alice``) as plain, escaped text."""
    if actor and _SLACK_USER_ID.match(actor):
        return f"<@{actor}>"
    return one_line(actor or "someone")


def user_group(user_group_id: str) -> str:
    """A Slack user group id as a mention of its members; anything else as plain, escaped text."""
    if SLACK_USER_GROUP_ID.match(user_group_id):
        return f"<!subteam^{user_group_id}>"
    return one_line(user_group_id or "no user group")


def unescape(text: str) -> str:
    """What ``escape`` wrote, as the characters a person sees in Slack."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
