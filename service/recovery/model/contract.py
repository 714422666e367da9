"""The integration contract: what a paused execution sends to the recovery queue (version 1).

Two kinds of pause send it (docs/integrate/contract.md): a Step Functions task waiting for its task
token (``kind`` absent or ``task-token``), and a Lambda durable function waiting on a callback
(``kind: durable-callback``, docs/integrate/durable-functions.md). Both become one
``RecoveryRequest``: a durable callback's id is kept where a task token is, its durable execution
where an execution is, its function where a state machine is, its step where a failed state is.
The task token and the callback id are secret capabilities: kept in the recoveries table and never
shown, logged or put in a URL.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError


class WorkflowKind(StrEnum):
    """What paused: a Step Functions task (its task token) or a Lambda durable function (its callback)."""

    STEP_FUNCTIONS = "task-token"
    DURABLE = "durable-callback"

    @property
    def workflow_noun(self) -> str:
        """What a person calls the workflow of such a pause."""
        return "function" if self is WorkflowKind.DURABLE else "state machine"


class Routing(StrEnum):
    """Which support team should look: technical problems or bad client data."""

    TECHNICAL = "technical"
    CLIENT_DATA = "client-data"


def json_type(value: object) -> str:
    """How JSON names the type of ``value`` (for messages that say what was sent instead)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


EXECUTION_ARN_PATTERN = r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:"
STATE_MACHINE_ARN_PATTERN = r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:"
#: a function's ARN, qualified or not (the qualifier is dropped: rules and lists speak of the function)
FUNCTION_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$"
)
#: AWS's callback ids are base64 text of at most 1,024 characters (SendDurableExecutionCallbackSuccess)
CALLBACK_ID_PATTERN = r"^[A-Za-z0-9+/]+={0,2}$"
#: a durable execution's ARN: AWS's is function-ARN:qualifier/durable-execution/name/id; a local
#: runner's is shorter. Checked loosely: printable, no whitespace, at most 2,048 characters
DURABLE_EXECUTION_ARN_PATTERN = r"^[!-~]{1,2048}$"
_EXECUTION_ARN = re.compile(EXECUTION_ARN_PATTERN)
_STATE_MACHINE_ARN = re.compile(STATE_MACHINE_ARN_PATTERN)
_FUNCTION_ARN = re.compile(FUNCTION_ARN_PATTERN)
_DURABLE_EXECUTION_ARN = re.compile(DURABLE_EXECUTION_ARN_PATTERN)
_ERROR_SHAPE = 'the error\'s name or the Catch\'s object {"Error": …, "Cause": …}'


def _matched(
    value: str, info: ValidationInfo, *, durable: re.Pattern[str], task_token: re.Pattern[str]
) -> str:
    """``value`` when it has the form its kind of pause gives it (the kind is validated first)."""
    pattern = durable if info.data.get("kind") is WorkflowKind.DURABLE else task_token
    if not pattern.match(value):
        raise PydanticCustomError("contract_arn", f"String should match pattern '{pattern.pattern}'")
    return value


def _wrong_type(what: str, value: object) -> PydanticCustomError:
    return PydanticCustomError("contract_type", f"{what}, not {json_type(value)}")


class RecoveryRequest(BaseModel):
    """One recovery request. ``error`` may be the error's name or the ``Catch``'s whole error object
    (``{"Error": …, "Cause": …}``, as ``"error.$": "$.error"`` sends it): its ``Error`` becomes
    ``error`` and its ``Cause`` becomes ``cause`` unless ``cause`` is given."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contract_version: Literal[1] = 1
    #: set by the contract's parser: a durable callback arrives as ``DurableCallbackRequest``
    kind: WorkflowKind = WorkflowKind.STEP_FUNCTIONS
    task_token: str = Field(min_length=1, repr=False)  # a durable callback's id for DURABLE
    execution_arn: str  # a durable execution's ARN for DURABLE
    execution_name: str = Field(min_length=1, max_length=256)
    state_machine_arn: str  # the function's ARN, unqualified, for DURABLE
    failed_state: str = Field(min_length=1, max_length=256)  # the durable function's step for DURABLE
    input: Any = None
    error: str | None = None
    cause: str | None = None
    routing: Routing = Routing.TECHNICAL
    requested_at: datetime | None = None
    #: the circuit the failed step depends on (the breaker table's key, e.g. ``vendor``): when that
    #: circuit closes again, circuit news and self-healing find this recovery by it
    dependency: str | None = Field(default=None, min_length=1, max_length=256)

    @model_validator(mode="before")
    @classmethod
    def _cause_from_error_object(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("error"), dict) and data.get("cause") is None:
            cause = data["error"].get("Cause")
            if isinstance(cause, str):
                return {**data, "cause": cause}
        return data

    @field_validator("execution_arn")
    @classmethod
    def _execution_arn(cls, value: str, info: ValidationInfo) -> str:
        return _matched(value, info, durable=_DURABLE_EXECUTION_ARN, task_token=_EXECUTION_ARN)

    @field_validator("state_machine_arn")
    @classmethod
    def _workflow_arn(cls, value: str, info: ValidationInfo) -> str:
        matched = _matched(value, info, durable=_FUNCTION_ARN, task_token=_STATE_MACHINE_ARN)
        return unqualified_function_arn(matched) if info.data.get("kind") is WorkflowKind.DURABLE else matched

    @field_validator("error", mode="before")
    @classmethod
    def _error_name(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if not isinstance(value, dict):
            raise _wrong_type(f"must be {_ERROR_SHAPE}", value)
        name, cause = value.get("Error"), value.get("Cause")
        if name is not None and not isinstance(name, str):
            raise _wrong_type('the Catch\'s object must have a string "Error"', name)
        if cause is not None and not isinstance(cause, str):
            raise _wrong_type('the Catch\'s object must have a string "Cause"', cause)
        return name

    @field_validator("cause", mode="before")
    @classmethod
    def _cause_text(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        raise _wrong_type("must be a string", value)

    @property
    def recovery_id(self) -> str:
        """Stable per paused task: a redelivered message maps to the same id; each branch's differs."""
        return "rec-" + hashlib.sha256(self.task_token.encode()).hexdigest()[:32]

    @property
    def state_machine_name(self) -> str:
        """The state machine's name, or for a durable callback the function's."""
        return self.state_machine_arn.rsplit(":", 1)[-1]


def unqualified_function_arn(function_arn: str) -> str:
    """``arn:…:function:NAME`` of a function ARN with or without its version or alias."""
    parts = function_arn.split(":")
    return ":".join(parts[:7])


def durable_execution_name(durable_execution_arn: str) -> str:
    """The name in AWS's durable execution ARN (``…/durable-execution/NAME/ID``), else the ARN's first
    part (a local runner's ``EXECUTION-ID/INVOCATION-ID``)."""
    _, found, rest = durable_execution_arn.partition("/durable-execution/")
    name = rest.split("/", 1)[0] if found else durable_execution_arn.split("/", 1)[0]
    return (name or durable_execution_arn)[:256]


class DurableCallbackRequest(BaseModel):
    """What a Lambda durable function sends when a step still fails after its retries and it waits
    on a callback for a person (``recovery_ops.service.durable.wait_for_recovery`` sends it)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contract_version: Literal[1] = 1
    kind: Literal[WorkflowKind.DURABLE]
    callback_id: str = Field(min_length=1, max_length=1024, pattern=CALLBACK_ID_PATTERN, repr=False)
    durable_execution_arn: str = Field(pattern=DURABLE_EXECUTION_ARN_PATTERN)
    function_arn: str = Field(pattern=FUNCTION_ARN_PATTERN)
    execution_name: str | None = Field(default=None, min_length=1, max_length=256)
    step: str = Field(min_length=1, max_length=256)
    input: Any = None
    error: Any = None
    cause: Any = None
    routing: Routing = Routing.TECHNICAL
    requested_at: datetime | None = None
    dependency: str | None = Field(default=None, min_length=1, max_length=256)

    def as_request(self) -> RecoveryRequest:
        """The recovery request the desk keeps: the callback where a task token is (same secret)."""
        return RecoveryRequest.model_validate(
            {
                "kind": WorkflowKind.DURABLE,
                "task_token": self.callback_id,
                "execution_arn": self.durable_execution_arn,
                "execution_name": self.execution_name or durable_execution_name(self.durable_execution_arn),
                "state_machine_arn": self.function_arn,
                "failed_state": self.step,
                "input": self.input,
                "error": self.error,
                "cause": self.cause,
                "routing": self.routing,
                "requested_at": self.requested_at,
                "dependency": self.dependency,
            }
        )


def _kind_of(message: Any) -> str:
    kind = message.get("kind") if isinstance(message, dict) else getattr(message, "kind", None)
    return str(kind) if kind is not None else WorkflowKind.STEP_FUNCTIONS.value


_KIND_TAGS = {kind.value for kind in WorkflowKind}
_ANY_CONTRACT: TypeAdapter[RecoveryRequest | DurableCallbackRequest] = TypeAdapter(
    Annotated[
        Annotated[RecoveryRequest, Tag(WorkflowKind.STEP_FUNCTIONS.value)]
        | Annotated[DurableCallbackRequest, Tag(WorkflowKind.DURABLE.value)],
        Discriminator(
            _kind_of,
            custom_error_type="contract_kind",
            custom_error_message="must be 'task-token' (or absent) or 'durable-callback'",
        ),
    ]
)


def parse_contract(text: str | bytes) -> RecoveryRequest:
    """The recovery request a queue message carries, of either kind. Raises ``ValidationError``;
    ``contract_problems`` words it as (field, what is wrong) pairs without the kind's tag."""
    message = _ANY_CONTRACT.validate_json(text)
    return message.as_request() if isinstance(message, DurableCallbackRequest) else message


def contract_problems(error: ValidationError) -> list[tuple[str, str]]:
    """Each problem as (where, what), never a value sent; the union's kind tag left out of where."""
    problems: list[tuple[str, str]] = []
    for e in error.errors(include_input=False):
        loc = [str(part) for part in e["loc"]]
        if loc and loc[0] in _KIND_TAGS:
            loc = loc[1:]
        where = ".".join(loc) or ("kind" if e["type"] == "contract_kind" else "body")
        problems.append((where, e["msg"]))
    return problems
