"""Slack's confirmation dialog, as documented: every text ``plain_text``, each within its limit
(title 100, text 300, confirm and deny 30, in UTF-16 units), whatever names it repeats."""

from __future__ import annotations

from slack_sdk.models.blocks import ConfirmObject, PlainTextObject

from recovery_ops.slack_app.views.escaping import plain
from recovery_ops.slack_app.views.limits import (
    CONFIRM_BUTTON_LIMIT,
    CONFIRM_TEXT_LIMIT,
    CONFIRM_TITLE_LIMIT,
    cut,
)


def confirm_dialog(
    title: str, text: str, confirm: str, deny: str = "Cancel", style: str | None = None
) -> ConfirmObject:
    """A confirmation of ``title`` / ``text`` (untrusted names in it are made plain and cut to fit)."""
    return ConfirmObject(
        title=PlainTextObject(text=cut(plain(title), CONFIRM_TITLE_LIMIT, "…")),
        text=PlainTextObject(text=cut(plain(text), CONFIRM_TEXT_LIMIT, "…")),
        confirm=PlainTextObject(text=cut(plain(confirm), CONFIRM_BUTTON_LIMIT, "…")),
        deny=PlainTextObject(text=cut(plain(deny), CONFIRM_BUTTON_LIMIT, "…")),
        style=style,
    )


def named(name: str, room: int = 120) -> str:
    """A name inside a dialog's sentence, cut to ``room`` so the sentence around it is still read."""
    return cut(plain(name).replace("\n", " "), room, "…")
