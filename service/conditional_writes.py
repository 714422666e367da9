"""Conditional DynamoDB writes: the one place that tells "condition failed" from a real error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

Answer = TypeVar("Answer")  # what the write answers: a typed client's TypedDict, or a plain dict


def if_condition_holds(write: Callable[..., Answer], **request: Any) -> Answer | None:
    """Run ``write(**request)``; its answer, or None when its ConditionExpression did not hold."""
    try:
        return write(**request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise


# What a write may raise after DynamoDB applied it (a timeout, a connection reset, a 5xx whose
# retries ran out): the caller cannot tell from the error whether the write happened, and reads the
# item back to know. ``if_condition_holds`` has already turned a failed condition into None.
ANSWER_LOST = (BotoCoreError, ClientError)
