"""The Slack messages of a local run, shown in the terminal in the order they were sent.

The one rendering of `recovery-ops demo` and `recovery-ops try`: each call the Slack stand-in
received since the last look (a message posted, a message updated in place, a reply in a thread,
an answer only the person who clicked sees), its blocks rendered by ``recovery_ops.slack_app.terminal``.
Without a stand-in (the messages went to a real workspace) there is nothing to show.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from recovery_ops.service.local.standin.server import SlackCall, SlackStandIn
from recovery_ops.slack_app.terminal import render_message, render_text

Print = Callable[[str], None]

_VERBS = {"chat.postMessage": "posts to", "chat.update": "updates its message in"}


class SlackTranscript:
    """Prints what the stand-in received since the last ``show_new``, each line after ``indent``."""

    def __init__(self, standin: SlackStandIn | None, out: Print, indent: str = "  ") -> None:
        self._standin = standin
        self._out = out
        self._indent = indent
        self._shown = 0

    @property
    def seen(self) -> int:
        """How many of the stand-in's calls have been looked at: where the next ``show_new`` starts."""
        return self._shown

    def show_new(self) -> None:
        if self._standin is None:
            return
        calls = list(self._standin.calls)
        for call in calls[self._shown :]:
            if call.status == 200:
                self._show(call)
        self._shown = len(calls)

    def _show(self, call: SlackCall) -> None:
        out, indent, body = self._out, self._indent, call.body
        if call.method == "response_url":
            if body.get("text"):
                out(f"{indent}recovery-ops answers (only the person who clicked sees it):")
                for line in render_text(body["text"]):
                    out(f"{indent}  {line}")
            return
        if not call.method.startswith("chat."):
            return
        channel = body.get("channel", "?")
        if body.get("thread_ts"):
            lines = render_text(body.get("text", ""), width=160) or [""]
            out(f"{indent}thread reply in #{channel}: {lines[0]}")
            for line in lines[1:]:
                out(f"{indent}  {line}")
            return
        verb = _VERBS.get(call.method, "replies in")
        if call.method == "chat.postEphemeral":
            verb = "replies (only the person who clicked sees it) in"
        out(f"{indent}recovery-ops {verb} #{channel}:")
        blocks = body.get("blocks") or []
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        if not blocks and body.get("text"):
            blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": body["text"]}}]
        for line in render_message(channel, blocks):
            out(f"{indent}  {line}")
