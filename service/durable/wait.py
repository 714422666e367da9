"""``wait_for_recovery``: a durable function hands a step that still fails after its retries to the
recovery desk, and waits (without paying for the wait) for a person's answer.

It creates a callback, sends the contract's durable shape with the callback's id to the recovery
queue from the callback's submitter step, and returns what the person decided: ``RunAgain`` with the
input to run the step with (as it was, or edited), or it raises ``RecoveryRejected`` (a person
rejected it) or ``RecoveryTimedOut`` (nobody answered in time). The submitter is a durable step, so
it may run more than once: the desk keeps one recovery per callback id.

The SDK (``aws_durable_execution_sdk_python``) is imported inside the function: the module imports
with boto3 and the standard library alone.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from recovery_ops.service.durable.errors import RecoveryRejected, RecoveryRequestError, RecoveryTimedOut
from recovery_ops.service.durable.message import Error, RecoveryAsk, check_size, message_body
from recovery_ops.service.durable.unlogged import callback_id_unlogged

if TYPE_CHECKING:
    from aws_durable_execution_sdk_python import DurableContext
    from aws_durable_execution_sdk_python.config import Duration
    from aws_durable_execution_sdk_python.types import WaitForCallbackContext
    from mypy_boto3_sqs import SQSClient

QUEUE_URL_VARIABLE = "RECOVERY_QUEUE_URL"
DEFAULT_TIMEOUT_DAYS = 7
#: the operation's name in the execution's history, kept within AWS's 256 characters with the
#: suffixes the SDK adds (" create callback id", " submitter")
_OPERATION_NAME_LENGTH = 200

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunAgain:
    """A person chose Run again: run the step with ``input`` (``edited`` when it is not the one sent)."""

    input: Any
    edited: bool


def wait_for_recovery(
    context: DurableContext,
    *,
    name: str,
    error: Error,
    input: Any,  # noqa: A002 - the contract's own word
    dependency: str | None = None,
    routing: str = "technical",
    cause: str | None = None,
    timeout: Duration | None = None,
    queue_url: str | None = None,
    sqs: SQSClient | None = None,
) -> RunAgain:
    """Ask the recovery desk what to do with the failed step ``name`` and wait for the answer.

    ``error`` is the exception (its class name and text become error and cause; a failed step's
    ``StepError`` gives the error that escaped the step), the error's name, or a Catch-style
    ``{"Error": …, "Cause": …}``; ``cause`` overrides the cause it brings.
    ``input`` is the step's input (JSON): what Run again sends back, possibly edited. ``dependency``
    is the circuit the step depends on (the desk's circuit news and self-healing find it by it).
    ``timeout`` defaults to 7 days; ``queue_url`` to the ``RECOVERY_QUEUE_URL`` variable.

    Raises ``RecoveryRejected`` (``.cause``: who and why), ``RecoveryTimedOut``, or, before anything is
    sent, ``RecoveryRequestError`` for an argument the contract cannot carry.
    """
    from aws_durable_execution_sdk_python.config import Duration, WaitForCallbackConfig
    from aws_durable_execution_sdk_python.exceptions import CallbackExternalError, CallbackTimeoutError

    ask = RecoveryAsk.of(name, input=input, error=error, cause=cause, routing=routing, dependency=dependency)
    url = _queue_url(queue_url)
    durable_execution_arn = context.state.durable_execution_arn
    function_arn = _function_arn(context)
    check_size(ask, durable_execution_arn=durable_execution_arn, function_arn=function_arn)
    wait = timeout if timeout is not None else Duration.from_days(DEFAULT_TIMEOUT_DAYS)

    def submit(callback_id: str, _: WaitForCallbackContext) -> None:
        body = message_body(
            ask,
            callback_id=callback_id,
            durable_execution_arn=durable_execution_arn,
            function_arn=function_arn,
            requested_at=datetime.now(UTC),
        )
        with callback_id_unlogged(callback_id):
            (sqs or _default_sqs(url)).send_message(QueueUrl=url, MessageBody=body)
        logger.info(
            "recovery requested",
            extra={"step": name, "durable_execution_arn": durable_execution_arn, "routing": routing},
        )

    try:
        result = context.wait_for_callback(
            submit,
            name=f"recovery: {name[:_OPERATION_NAME_LENGTH]}",
            config=WaitForCallbackConfig(timeout=wait),
        )
    except CallbackExternalError as exc:
        raise RecoveryRejected(name, exc.message or "rejected") from exc
    except CallbackTimeoutError as exc:
        raise RecoveryTimedOut(name, wait.to_seconds()) from exc
    return run_again(result, sent=ask.input)


def run_again(result: Any, *, sent: Any) -> RunAgain:
    """The person's Run again: the callback's result is the input as JSON text (bytes or text)."""
    if isinstance(result, bytes | bytearray):
        result = result.decode()
    chosen = json.loads(result) if isinstance(result, str) else result
    return RunAgain(input=chosen, edited=chosen != sent)


def _queue_url(given: str | None) -> str:
    url = given or os.environ.get(QUEUE_URL_VARIABLE)
    if not url:
        raise RecoveryRequestError(
            f"no recovery queue: pass queue_url= or set {QUEUE_URL_VARIABLE} on the function "
            "(the recovery stack's RecoveryQueueUrl)"
        )
    return url


def _function_arn(context: DurableContext) -> str:
    """The function's ARN as invoked (qualified with its version or alias), from the Lambda context."""
    arn = getattr(context.lambda_context, "invoked_function_arn", None)
    if not isinstance(arn, str) or not arn:
        raise RecoveryRequestError("the durable context has no Lambda context to name the function by")
    return arn


def _default_sqs(queue_url: str) -> SQSClient:
    """An SQS client in the queue's own Region (its URL says it: ``https://sqs.REGION.amazonaws.com/…``),
    else the function's; made once per Region and kept for the function's later invocations."""
    host = queue_url.split("://", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    region = parts[1] if len(parts) > 2 and parts[0] == "sqs" else None
    return _sqs_in(region)


@cache
def _sqs_in(region: str | None) -> SQSClient:
    import boto3

    return boto3.client("sqs", region_name=region)
