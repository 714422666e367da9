"""Slack as a channel reader sees it, over the Slack stand-in's recorded calls: the messages posted
(as they read now, updates applied), their threads, their text and buttons, and what people were
told privately. What the pytest plugin's ``slack_workspace`` fixture is."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.model.recovery import Recovery


@dataclass(frozen=True)
class Button:
    text: str
    action_id: str
    value: str | None


@dataclass(frozen=True)
class SlackMessage:
    """One message as it reads now: its fallback ``text`` and the text of its blocks, one per line."""

    channel: str
    ts: str
    text: str
    blocks: tuple[dict[str, Any], ...]
    replies: tuple[SlackMessage, ...] = ()  # its thread, oldest first
    thread_ts: str | None = None  # set on a reply: the message it answers

    @property
    def buttons(self) -> list[Button]:
        """Every button of the message, in order."""
        return [
            Button(_plain(element.get("text")), element["action_id"], element.get("value"))
            for element in _elements(list(self.blocks))
            if element.get("type") == "button" and "action_id" in element
        ]


class SlackWorkspace:
    """What the recovery service posted to the stand-in, read as Slack shows it."""

    def __init__(self, standin: SlackStandIn) -> None:
        self.standin = standin

    def messages(self, channel: str | None = None) -> list[SlackMessage]:
        """The messages posted in ``channel`` (every channel, direct messages included, if None), oldest
        first, each with its thread's replies."""
        posted = self.standin.posted_messages()
        replies: dict[tuple[str, str], list[SlackMessage]] = {}
        for (where, ts), body in posted.items():
            if body.get("thread_ts"):
                replies.setdefault((where, body["thread_ts"]), []).append(_message(where, ts, body))
        return [
            _message(where, ts, body, tuple(replies.get((where, ts), ())))
            for (where, ts), body in posted.items()
            if not body.get("thread_ts") and (channel is None or where == channel)
        ]

    def message(self, channel: str, ts: str) -> SlackMessage:
        """The message at ``ts`` in ``channel``; LookupError naming what was posted when there is none."""
        for message in self.messages(channel):
            if message.ts == ts:
                return message
        posted = [f"{m.channel} {m.ts}" for m in self.messages()]
        raise LookupError(f"no message {ts} in {channel}; posted: {', '.join(posted) or 'nothing'}")

    def message_of(self, recovery: Recovery) -> SlackMessage:
        """The message that shows ``recovery`` (its own, or its group's)."""
        if not (recovery.slack_channel and recovery.slack_ts):
            raise LookupError(f"recovery {recovery.recovery_id} was not posted to Slack")
        return self.message(recovery.slack_channel, recovery.slack_ts)

    def told(self) -> list[str]:
        """What people were told privately, oldest first: answers to their clicks and commands (posted to
        a ``response_url``) and ephemeral messages."""
        return [
            call.body.get("text") or ""
            for call in list(self.standin.calls)  # a copy: the stand-in records from its own thread
            if call.status == 200 and call.method in ("response_url", "chat.postEphemeral")
        ]


def _message(
    channel: str, ts: str, body: dict[str, Any], replies: tuple[SlackMessage, ...] = ()
) -> SlackMessage:
    blocks = body.get("blocks") or []
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    lines = [body.get("text") or "", *_texts(blocks)]
    return SlackMessage(
        channel=channel,
        ts=ts,
        text="\n".join(line for line in lines if line),
        blocks=tuple(blocks),
        replies=replies,
        thread_ts=body.get("thread_ts"),
    )


def _texts(node: Any) -> list[str]:
    """Every text object's text, in order; a button's or menu's label is not the message's text."""
    if isinstance(node, list):
        return [text for child in node for text in _texts(child)]
    if not isinstance(node, dict) or "action_id" in node:
        return []
    if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
        return [node["text"]]
    return [text for child in node.values() for text in _texts(child)]


def _elements(node: Any) -> list[dict[str, Any]]:
    """Every interactive element (anything with an ``action_id``), in order."""
    if isinstance(node, list):
        return [element for child in node for element in _elements(child)]
    if not isinstance(node, dict):
        return []
    if "action_id" in node:
        return [node]
    return [element for child in node.values() for element in _elements(child)]


def _plain(text: Any) -> str:
    return text.get("text", "") if isinstance(text, dict) else str(text or "")
