"""A recovery request that cannot be read: told once to the technical team, never with its token.

Such a message (not JSON, a required field missing, a field of the wrong type) still comes from an
execution that is paused and waits for a person, but no recovery can be stored for it. The
collector moves it to the recovery DLQ first (nothing is lost), then ``UnreadableNotices.tell``
posts one notice with what could be read of it. Once per message: the notice is claimed first with
a conditional put of ``unreadable#<hash of the message id>`` in the recoveries table, so a
redelivery, or a redrive of the DLQ, finds the claim and posts nothing new. A notice that could not
be posted gives its claim back, so that a redrive of the DLQ posts it. The message id is the
original one: a redriven message carries it as its ``source_message_id`` attribute.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from recovery_ops.service.conditional_writes import if_condition_holds
from recovery_ops.service.recovery.model.contract import (
    EXECUTION_ARN_PATTERN,
    FUNCTION_ARN_PATTERN,
    WorkflowKind,
    durable_execution_name,
    unqualified_function_arn,
)
from recovery_ops.service.recovery.model.redaction import SECRET_KEY, without_tokens
from recovery_ops.service.recovery.ports.notifier import Notifier, UnreadableMessage
from recovery_ops.service.recovery.storage.items import (
    NOTICE_PREFIX,
    key,
    notice_claim_item,
    notice_id,
    string,
)

__all__ = [
    "CLAIMED",
    "NOTICE_PREFIX",
    "RELEASED",
    "DynamoNoticeClaims",
    "NoticeClaims",
    "UnreadableNotices",
    "notice_id",
    "read_what_can_be_read",
]

CLAIMED = "CLAIMED"
RELEASED = "RELEASED"
FIELD_LIMIT = 300  # a shown value that long is not a name any more

_EXECUTION_ARN = re.compile(EXECUTION_ARN_PATTERN)
_FUNCTION_ARN = re.compile(FUNCTION_ARN_PATTERN)
_TOKEN_KEY = SECRET_KEY  # a task token or a durable callback id


def read_what_can_be_read(
    body: str, message_id: str, problems: Iterable[tuple[str, str]]
) -> UnreadableMessage:
    """What of ``body`` can be shown: the execution, its state machine and failed state when they
    are there as text; token fields, and the message's own token values wherever they appear, removed.
    ``problems``: why it was refused, as (field, what is wrong) pairs, one line each in the reason."""
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        parsed = None
    fields = parsed if isinstance(parsed, dict) else {}
    known = tuple(
        value
        for key, value in fields.items()
        if isinstance(key, str) and _TOKEN_KEY.search(key) and isinstance(value, str) and value
    )

    def text(name: str) -> str | None:
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip():
            return None
        return without_tokens(value, known)[:FIELD_LIMIT]

    if fields.get("kind") == WorkflowKind.DURABLE:
        return _durable_unreadable(message_id, problems, text, known)
    execution_arn = text("execution_arn")
    if execution_arn is not None and not _EXECUTION_ARN.match(execution_arn):
        execution_arn = None
    parts = execution_arn.split(":") if execution_arn else []
    machine_arn = text("state_machine_arn")
    return UnreadableMessage(
        message_id=message_id,
        reason=_reason(problems, known),
        execution_arn=execution_arn,
        execution_name=text("execution_name") or (parts[7] if len(parts) > 7 else None),
        state_machine_name=(machine_arn.rsplit(":", 1)[-1] if machine_arn else None)
        or (parts[6] if len(parts) > 6 else None),
        failed_state=text("failed_state"),
    )


def _reason(problems: Iterable[tuple[str, str]], known: tuple[str, ...]) -> str:
    """Why it was refused, a line per problem: "field — problem", not "field: problem", which would
    read as a token field's value."""
    return "\n".join(without_tokens(f"{where} — {what}", known) for where, what in problems)


def _durable_unreadable(
    message_id: str,
    problems: Iterable[tuple[str, str]],
    text: Callable[[str], str | None],
    known: tuple[str, ...],
) -> UnreadableMessage:
    """What of a durable function's message can be shown: its function, execution name and step
    (no console link: the execution's page is the function's, found by its name)."""
    function_arn = text("function_arn")
    durable_arn = text("durable_execution_arn")
    return UnreadableMessage(
        message_id=message_id,
        reason=_reason(problems, known),
        execution_arn=None,
        execution_name=text("execution_name")
        or (durable_execution_name(durable_arn) if durable_arn else None),
        state_machine_name=unqualified_function_arn(function_arn).rsplit(":", 1)[-1]
        if function_arn and _FUNCTION_ARN.match(function_arn)
        else None,
        failed_state=text("step"),
    )


class NoticeClaims(Protocol):
    def claim(self, message_id: str) -> bool:
        """True when this caller may post the message's notice (nobody has, or a post gave it back)."""
        ...

    def release(self, message_id: str) -> None:
        """The notice was not posted after all: the next delivery of the message may post it."""
        ...


class DynamoNoticeClaims:
    """Claims as items of the recoveries table: no ``status`` (out of every listing), a TTL."""

    def __init__(self, table_name: str, dynamodb: Any, retention_days: int = 90) -> None:
        self._table = table_name
        self._client = dynamodb
        self._retention = timedelta(days=retention_days)

    def claim(self, message_id: str) -> bool:
        now = datetime.now(UTC)
        claimed = if_condition_holds(
            self._client.put_item,
            TableName=self._table,
            Item=notice_claim_item(message_id, CLAIMED, now, self._retention),
            ConditionExpression="attribute_not_exists(recovery_id) OR notice = :released",
            ExpressionAttributeValues={":released": string(RELEASED)},
        )
        return claimed is not None

    def release(self, message_id: str) -> None:
        if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(notice_id(message_id)),
            UpdateExpression="SET notice = :released",
            ConditionExpression="notice = :claimed",
            ExpressionAttributeValues={":released": string(RELEASED), ":claimed": string(CLAIMED)},
        )


@dataclass
class UnreadableNotices:
    claims: NoticeClaims
    notifier: Notifier
    channel: str

    def tell(self, message: UnreadableMessage) -> bool:
        """Post the notice unless it was posted already (False). A failed post gives the claim back
        and raises."""
        if not self.claims.claim(message.message_id):
            return False
        try:
            self.notifier.post_unreadable(message, self.channel)
        except Exception:
            self.claims.release(message.message_id)
            raise
        return True
