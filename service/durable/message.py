"""The durable shape of the integration contract (version 1): the one message ``wait_for_recovery``
sends to the recovery queue when a step of a durable function still fails after its retries.

Built in two parts: what the step knows before the callback exists (``RecoveryAsk``, validated
before anything is sent, so a bad name or input fails the handler, not a retried step) and the
message itself, once the callback id is known (inside the submitter step). The callback id is a
secret capability, as a task token is: it is put in the message and nowhere else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recovery_ops.service.durable.errors import RecoveryRequestError

CONTRACT_VERSION = 1
KIND = "durable-callback"
ROUTINGS = ("technical", "client-data")
MAX_NAME_LENGTH = 256
#: SQS's largest message: a bigger request is refused here, with what to do instead
MAX_MESSAGE_BYTES = 256 * 1024
#: AWS's callback ids are at most 1,024 characters: the room kept for one when the message is
#: checked before its callback exists
CALLBACK_ID_ROOM = 1024
LARGE_INPUTS = "docs/integrate/durable-functions.md#large-inputs"
#: AWS's durable execution ARN: function-ARN:qualifier/durable-execution/NAME/ID
_DURABLE_EXECUTION_ARN = re.compile(
    r"^arn:[^:]*:lambda:[^:]*:[^:]*:function:[^:/]+:[^:/]+/durable-execution/([^/]+)/[^/]+$"
)

Error = BaseException | str | Mapping[str, Any]


@dataclass(frozen=True)
class RecoveryAsk:
    """What the failed step asks the desk for, validated: known before the callback exists."""

    step: str
    input: Any
    error: str
    cause: str | None
    routing: str
    dependency: str | None

    @classmethod
    def of(
        cls,
        step: str,
        *,
        input: Any,  # noqa: A002 - the contract's own word
        error: Error,
        cause: str | None = None,
        routing: str = "technical",
        dependency: str | None = None,
    ) -> RecoveryAsk:
        """The ask, or ``RecoveryRequestError`` saying which argument is wrong and why."""
        _text("name", step, MAX_NAME_LENGTH)
        if dependency is not None:
            _text("dependency", dependency, MAX_NAME_LENGTH)
        if routing not in ROUTINGS:
            raise RecoveryRequestError(f"routing must be one of {', '.join(ROUTINGS)}, not {routing!r}")
        if cause is not None and not isinstance(cause, str):
            raise RecoveryRequestError(f"cause must be a string, not {type(cause).__name__}")
        name, error_cause = _error(error)
        return cls(
            step=step,
            input=_json_value(input),
            error=name,
            cause=cause if cause is not None else error_cause,
            routing=routing,
            dependency=dependency,
        )


def message_body(
    ask: RecoveryAsk,
    *,
    callback_id: str,
    durable_execution_arn: str,
    function_arn: str,
    requested_at: datetime,
) -> str:
    """The message's JSON text, or ``RecoveryRequestError`` when it is larger than SQS takes."""
    message: dict[str, Any] = {
        "contract_version": CONTRACT_VERSION,
        "kind": KIND,
        "callback_id": callback_id,
        "durable_execution_arn": durable_execution_arn,
        "function_arn": function_arn,
        "step": ask.step,
        "input": ask.input,
        "error": ask.error,
        "cause": ask.cause,
        "routing": ask.routing,
        "requested_at": requested_at.isoformat(),
    }
    execution = execution_name(durable_execution_arn)
    if execution is not None:
        message["execution_name"] = execution
    if ask.dependency is not None:
        message["dependency"] = ask.dependency
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    size = len(body.encode())
    if size > MAX_MESSAGE_BYTES:
        raise RecoveryRequestError(
            f"the recovery request of step {ask.step!r} is about {size:,} bytes; the recovery queue takes "
            f"at most {MAX_MESSAGE_BYTES:,} (256 KiB). Pass a large input by reference (an S3 key, an "
            f"id the step reads) and keep its cause short: see {LARGE_INPUTS}"
        )
    return body


def check_size(ask: RecoveryAsk, *, durable_execution_arn: str, function_arn: str) -> None:
    """Refuse a request too large for the queue before its callback exists (room kept for the id)."""
    message_body(
        ask,
        callback_id="x" * CALLBACK_ID_ROOM,
        durable_execution_arn=durable_execution_arn,
        function_arn=function_arn,
        requested_at=datetime.fromisoformat("2000-01-01T00:00:00.000001+00:00"),
    )


def execution_name(durable_execution_arn: str) -> str | None:
    """The execution's name in AWS's durable execution ARN; None for another form (the desk then
    takes a name from the ARN itself)."""
    match = _DURABLE_EXECUTION_ARN.match(durable_execution_arn)
    return match.group(1)[:MAX_NAME_LENGTH] if match else None


def _text(what: str, value: object, longest: int) -> str:
    if not isinstance(value, str):
        raise RecoveryRequestError(f"{what} must be a string, not {type(value).__name__}")
    if not 1 <= len(value) <= longest:
        raise RecoveryRequestError(f"{what} must be 1 to {longest} characters, not {len(value):,}")
    return value


def _json_value(value: Any) -> Any:
    """``value`` as the desk will see it (tuples become lists...), or why it is not JSON."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise RecoveryRequestError(f"input must be JSON-serialisable: {exc}") from exc


def _error(error: Error) -> tuple[str, str | None]:
    """(the error's name, the cause it brings) of an exception (its class name and text; for a failed
    durable step, the error that escaped it), a name, or a Catch-style ``{"Error": …, "Cause": …}``
    (read as the contract reads it)."""
    if isinstance(error, BaseException):
        # a failed durable step (the SDK's StepError) names the error that escaped it, module and all
        escaped = getattr(error, "error_type", None)
        if isinstance(escaped, str) and escaped:
            message = getattr(error, "message", None)
            return escaped.rsplit(".", 1)[-1], message if isinstance(message, str) and message else None
        return type(error).__name__, str(error) or None
    if isinstance(error, str):
        return _text("error", error, MAX_NAME_LENGTH), None
    if isinstance(error, Mapping):
        cause = error.get("Cause")
        if cause is not None and not isinstance(cause, str):
            raise RecoveryRequestError(f'error["Cause"] must be a string, not {type(cause).__name__}')
        return _text('error["Error"]', error.get("Error"), MAX_NAME_LENGTH), cause
    raise RecoveryRequestError(
        f'error must be an exception, a name or {{"Error": …, "Cause": …}}, not {type(error).__name__}'
    )
