"""The task-token port over Step Functions: the only caller of SendTaskSuccess / SendTaskFailure.

Each call is made once; the answer is sorted into a ``TokenOutcome`` (throttling is reported, and
the core decides how to back off). An endpoint that could not be reached at all (no connection,
no credentials) is a refusal named after botocore's exception class: nothing was sent. An answer
that never came (a read timeout, a connection dropped after the request went out, a 5xx) is
UNKNOWN: the request may have landed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

DEAD_TOKEN_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
THROTTLING_ERRORS = frozenset({"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})
#: the request went out and no answer came back: it may have landed
ANSWER_LOST = (ReadTimeoutError, ConnectionClosedError, ResponseStreamingError)


class StepFunctionsTokens:
    """``TaskTokens`` over a boto3 Step Functions client."""

    def __init__(self, sfn: SFNClient | Any) -> None:
        self._sfn = sfn

    def send_success(self, token: str, output: str) -> TokenOutcome:
        return _answer(lambda: self._sfn.send_task_success(taskToken=token, output=output))

    def send_failure(self, token: str, error: str, cause: str) -> TokenOutcome:
        return _answer(lambda: self._sfn.send_task_failure(taskToken=token, error=error, cause=cause))


def _answer(call: Callable[[], Any]) -> TokenOutcome:
    try:
        call()
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        message = exc.response["Error"].get("Message", "")
        if code in DEAD_TOKEN_ERRORS:
            return TokenOutcome.dead(code, message)
        if code in THROTTLING_ERRORS:
            return TokenOutcome.throttled(code, message)
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400) >= 500:
            return TokenOutcome.unknown(code, message)  # the service failed mid-way: may have landed
        return TokenOutcome.refused(code, message)
    except ANSWER_LOST as exc:
        return TokenOutcome.unknown(type(exc).__name__, str(exc))
    except BotoCoreError as exc:  # nothing sent: no connection, no credentials
        return TokenOutcome.refused(type(exc).__name__, str(exc))
    return TokenOutcome.accepted()
