"""How an adapter of the task-token port sorts an AWS answer into a ``TokenOutcome``.

Both adapters (Step Functions' SendTask*, Lambda's SendDurableExecutionCallback*) make one call and
sort what comes back the same way; only the codes that mean "this token is dead" differ. An
endpoint that could not be reached at all (no connection, no credentials) is a refusal named after
botocore's exception class: nothing was sent. An answer that never came (a read timeout, a
connection dropped after the request went out, a 5xx) is UNKNOWN: the request may have landed.

The token is a secret: a service may quote it in its message, and botocore names the URL (which
carries a callback id) in its own errors, so every message is stripped of it before it is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any
from urllib.parse import quote

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from recovery_ops.service.recovery.model.redaction import without_tokens
from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome

THROTTLING_ERRORS = frozenset({"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})
#: the request went out and no answer came back: it may have landed
ANSWER_LOST = (ReadTimeoutError, ConnectionClosedError, ResponseStreamingError)


def sorted_answer(call: Callable[[], Any], *, dead: Collection[str], token: str) -> TokenOutcome:
    """Make ``call`` once; its answer as a ``TokenOutcome`` (``dead``: the error codes that mean the
    token cannot be used any more), with ``token`` in none of its messages."""
    try:
        call()
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        message = without_token(token, exc.response["Error"].get("Message", ""))
        if code in dead:
            return TokenOutcome.dead(code, message)
        if code in THROTTLING_ERRORS:
            return TokenOutcome.throttled(code, message)
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) >= 500:
            return TokenOutcome.unknown(code, message)  # the service failed mid-way: may have landed
        return TokenOutcome.refused(code, message)
    except ANSWER_LOST as exc:
        return TokenOutcome.unknown(type(exc).__name__, without_token(token, str(exc)))
    except BotoCoreError as exc:  # nothing sent: no connection, no credentials
        return TokenOutcome.refused(type(exc).__name__, without_token(token, str(exc)))
    return TokenOutcome.accepted()


def without_token(token: str, message: str) -> str:
    """``message`` with ``token`` removed as it is and as it appears in a URL."""
    return without_tokens(message, known=(token, quote(token, safe=""), quote(token)))
