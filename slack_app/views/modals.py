"""Modals: edit an input, confirm a rejection (with a reason), confirm a bulk action (with a count).

Each modal carries what it acts on in ``private_metadata`` (ids and a query, never a token; JSON
with ``<``, ``>`` and ``&`` written as JSON unicode escapes, so no name in it reads as markup).
Slack's plain-text input holds at most 3,000 characters: a larger input cannot be edited in a
modal, and the editor is told to use ``recovery-ops retry --input``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from recovery_ops.service.recovery.access.routing_rules import ApprovalPolicy
from recovery_ops.service.recovery.lifecycle.query import inert_json
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.model.redaction import restore_redacted, without_tokens
from recovery_ops.slack_app.ids import BULK_SUBMIT, EDIT_SUBMIT, REJECT_SUBMIT
from recovery_ops.slack_app.views.ephemeral import left_out_note
from recovery_ops.slack_app.views.escaping import code, mrkdwn, one_line, truncate
from recovery_ops.slack_app.views.limits import SECTION_TEXT_LIMIT, TEXT_INPUT_LIMIT, length

INPUT_BLOCK, INPUT_ACTION = "edited_input", "json"
REASON_BLOCK, REASON_ACTION = "reason", "text"
# what JSON leaves raw but a person cannot see: DEL, C1 controls, bidirectional overrides
_INVISIBLE = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
REASON_LIMIT = 500


@dataclass(frozen=True)
class ModalOrigin:
    """Where the modal was opened from: the thread and channel to answer in."""

    channel: str | None = None
    message_ts: str | None = None


def compact_input(recovery: Recovery) -> str:
    """The input to edit, token fields shown as ``[redacted]`` (``edited_input`` puts them back);
    control characters as JSON escapes (the same data, nothing hidden from the editor)."""
    text = json.dumps(without_tokens(recovery.input), indent=1, ensure_ascii=False)
    return _INVISIBLE.sub(lambda found: f"\\u{ord(found[0]):04x}", text)


def edited_input(recovery: Recovery, edited: object) -> object:
    """What the editor submitted, with each field still ``[redacted]`` given back its stored value."""
    return restore_redacted(edited, recovery.input)


def editable(recovery: Recovery) -> bool:
    return length(compact_input(recovery)) <= TEXT_INPUT_LIMIT  # as Slack counts: UTF-16 units


def edit_modal(recovery: Recovery, origin: ModalOrigin, reason: ApprovalPolicy | None = None) -> View:
    """The edit modal; under an approval ``reason`` policy, with a reason for the approvers (required
    when the policy says so)."""
    blocks: list[Block] = [
        SectionBlock(
            text=mrkdwn(
                truncate(
                    f"*{one_line(recovery.failed_state)}* of {code(recovery.execution_name)}"
                    " runs again "
                    f"with this input. It must be JSON, at most 256 KiB, and match the state's schema "
                    f"if one is configured. Fields shown as `[redacted]` keep their stored value.",
                    SECTION_TEXT_LIMIT,
                )
            )
        ),
        InputBlock(
            block_id=INPUT_BLOCK,
            label=PlainTextObject(text="Input (JSON)"),
            element=PlainTextInputElement(
                action_id=INPUT_ACTION,
                multiline=True,
                initial_value=compact_input(recovery),
                max_length=TEXT_INPUT_LIMIT,
            ),
        ),
    ]
    if reason is not None:
        needed = f"{reason.approvals} approval{'s' if reason.approvals != 1 else ''}"
        blocks.append(
            _reason_input(
                f"Reason for the approvers ({'required' if reason.reason_required else 'optional'}): "
                f"this edit needs {needed}",
                optional=not reason.reason_required,
            )
        )
    return View(
        type="modal",
        callback_id=EDIT_SUBMIT,
        private_metadata=_metadata(recovery, origin),
        title=PlainTextObject(text="Edit input"),
        submit=PlainTextObject(text="Ask approval" if reason is not None else "Run again"),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )


def reject_modal(recovery: Recovery, origin: ModalOrigin) -> View:
    cause = f"\n{code(truncate(recovery.error, 200))}" if recovery.error else ""
    return View(
        type="modal",
        callback_id=REJECT_SUBMIT,
        private_metadata=_metadata(recovery, origin),
        title=PlainTextObject(text="Reject recovery?"),
        submit=PlainTextObject(text="Reject"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                text=mrkdwn(
                    truncate(
                        f"{code(recovery.execution_name)} stops waiting at "
                        f"*{one_line(recovery.failed_state)}*"
                        f" and compensates (the order is marked rejected and sent to the dead-letter queue)."
                        + cause,
                        SECTION_TEXT_LIMIT,
                    )
                )
            ),
            _reason_input(),
        ],
    )


def bulk_modal(kind: str, count: int, description: str, metadata: dict[str, Any], left_out: int = 0) -> View:
    """Confirm a bulk action; ``kind`` is "run_again" or "reject"."""
    verb = "Run again" if kind == "run_again" else "Reject"
    consequence = (
        "Each paused execution runs its failed step again with its original input."
        if kind == "run_again"
        else "Each paused execution compensates."
    )
    blocks: list[Block] = [
        SectionBlock(
            text=mrkdwn(
                truncate(
                    f"*{count}* open recover{'y' if count == 1 else 'ies'} will be affected: "
                    f"{one_line(description)}.{left_out_note(left_out)}\n{consequence} "
                    "Progress is posted in the thread.",
                    SECTION_TEXT_LIMIT,
                )
            )
        )
    ]
    if kind == "reject":
        blocks.append(_reason_input())
    return View(
        type="modal",
        callback_id=BULK_SUBMIT,
        private_metadata=metadata_json({**metadata, "kind": kind}),
        title=PlainTextObject(text=f"{verb} {count}?"[:24]),
        submit=PlainTextObject(text=f"{verb} all"[:24]),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
    )


def _reason_input(
    label: str = "Reason (optional, kept in the audit trail)", optional: bool = True
) -> InputBlock:
    return InputBlock(
        block_id=REASON_BLOCK,
        optional=optional,
        label=PlainTextObject(text=label),
        element=PlainTextInputElement(action_id=REASON_ACTION, multiline=True, max_length=REASON_LIMIT),
    )


def _metadata(recovery: Recovery, origin: ModalOrigin) -> str:
    return metadata_json(
        {
            "recovery_id": recovery.recovery_id,
            "channel": origin.channel,
            "message_ts": origin.message_ts,
        }
    )


def metadata_json(metadata: dict[str, Any]) -> str:
    """``private_metadata``: compact JSON (at most 3,000 characters, as Slack allows) in which
    ``<``, ``>`` and ``&`` are ``\\u`` escapes: the same data when read back, no markup on the way."""
    text = inert_json(metadata)
    if len(text) > 3000:
        raise ValueError("a modal's metadata is over Slack's 3,000 characters")
    return text


def submitted_value(view: dict[str, Any], block_id: str, action_id: str) -> str | None:
    return ((view.get("state") or {}).get("values", {}).get(block_id, {}).get(action_id) or {}).get("value")
