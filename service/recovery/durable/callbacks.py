"""The task-token port over Lambda durable functions: the only caller of
SendDurableExecutionCallbackSuccess / SendDurableExecutionCallbackFailure.

A durable function paused on ``wait_for_callback`` waits for its callback id as a Step Functions
task waits for its token: the id is the same kind of secret, kept only in the recoveries table. The
decision goes back once; the answer is sorted as every adapter of the port sorts it
(``ports/token_answers.py``). CallbackTimeoutException (the callback expired or was already closed)
and ResourceNotFoundException (the callback or its execution is gone) mean the id is dead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from recovery_ops.service.recovery.model.redaction import without_tokens
from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome
from recovery_ops.service.recovery.ports.token_answers import sorted_answer

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

DEAD_CALLBACK_ERRORS = frozenset({"CallbackTimeoutException", "ResourceNotFoundException"})
#: the HTTP libraries that log a request's URL (urllib3 at DEBUG) or its parameters (botocore at
#: DEBUG): the callback API's URL holds the callback id
URL_LOGGERS = ("urllib3.connectionpool", "botocore.endpoint", "botocore.auth", "botocore.parsers")


class WithoutCallbackIds(logging.Filter):
    """Each record of the HTTP libraries with the callback id cut out of its URLs and parameters,
    before any handler formats it (a filter on the logger that makes the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "durable-execution-callbacks" in str(record.msg) or any(
            "durable-execution-callbacks" in str(arg) for arg in _args(record)
        ):
            record.msg = without_tokens(record.getMessage())
            record.args = None
        return True


def _args(record: logging.LogRecord) -> tuple[Any, ...]:
    args = record.args
    if isinstance(args, tuple):
        return args
    return (args,) if args is not None else ()


def keep_callback_ids_out_of_http_logs() -> None:
    """Install ``WithoutCallbackIds`` once on each logger that would name a callback id."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, WithoutCallbackIds) for f in logger.filters):
            logger.addFilter(WithoutCallbackIds())


class DurableCallbacks:
    """``TaskTokens`` over a boto3 Lambda client: the token is a durable function's callback id."""

    def __init__(self, lambda_client: LambdaClient | Any) -> None:
        self._lambda = lambda_client
        keep_callback_ids_out_of_http_logs()

    def send_success(self, token: str, output: str) -> TokenOutcome:
        """Resume the callback with ``output`` (a JSON text) as its result."""
        return sorted_answer(
            lambda: self._lambda.send_durable_execution_callback_success(
                CallbackId=token, Result=output.encode()
            ),
            dead=DEAD_CALLBACK_ERRORS,
            token=token,
        )

    def send_failure(self, token: str, error: str, cause: str) -> TokenOutcome:
        """Fail the callback: the function's ``wait_for_callback`` raises with ``error`` as its
        type and ``cause`` as its message."""
        return sorted_answer(
            lambda: self._lambda.send_durable_execution_callback_failure(
                CallbackId=token, Error={"ErrorType": error, "ErrorMessage": cause}
            ),
            dead=DEAD_CALLBACK_ERRORS,
            token=token,
        )
