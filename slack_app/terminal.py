"""Render Slack messages (their Block Kit JSON, or a reply's text) as plain text, for the local runs
without a Slack workspace (`recovery-ops demo` and `recovery-ops try`, through
``recovery_ops.service.local.standin.transcript``)."""

from __future__ import annotations

import re

from recovery_ops.slack_app.views.escaping import unescape

_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")


def _text(value: str) -> str:
    text = _LINK.sub(r"\2", value).replace("*", "").replace("```", "")
    return unescape(text)


def render_message(channel: str, blocks: list[dict], width: int = 100) -> list[str]:
    lines = [f"┌─ #{channel} " + "─" * max(0, width - len(channel) - 5)]
    for block in blocks:
        kind = block.get("type")
        if kind in ("header", "section"):
            for line in _text(block["text"]["text"]).strip().splitlines()[:12]:
                lines.append("│ " + (line if len(line) <= width - 2 else line[: width - 3] + "…"))
        elif kind == "actions":
            buttons = "  ".join(f"[ {e['text']['text']} ]" for e in block.get("elements", []))
            lines.append("│ " + buttons)
        elif kind == "context":
            lines.append("│ " + "  ".join(_text(e.get("text", "")) for e in block.get("elements", [])))
        elif kind == "rich_text":  # a title and preformatted text, shown as written
            for line in _rich_text(block).strip().splitlines()[:12]:
                lines.append("│ " + (line if len(line) <= width - 2 else line[: width - 3] + "…"))
        elif kind == "divider":
            lines.append("│ " + "·" * (width - 4))
    lines.append("└" + "─" * (width - 1))
    return lines


def _rich_text(block: dict) -> str:
    """The text elements of a rich_text block, one line per section or preformatted element."""
    return "\n".join(
        "".join(part.get("text", "") for part in element.get("elements", []) if part.get("type") == "text")
        for element in block.get("elements", [])
    )


def render_text(text: str, width: int = 100) -> list[str]:
    """A reply's mrkdwn text (a thread reply, an answer only the person sees) as plain lines."""
    lines = _text(text).strip().splitlines()[:12]
    return [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
