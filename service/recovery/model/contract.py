"""The integration contract: what a paused execution sends to the recovery queue (version 1).

Any team's state machine can send it (docs/integrate/contract.md). The task token is a
secret capability: it is kept in the recoveries table and never shown, logged or put in a URL.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError


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
_ERROR_SHAPE = 'the error\'s name or the Catch\'s object {"Error": …, "Cause": …}'


def _wrong_type(what: str, value: object) -> PydanticCustomError:
    return PydanticCustomError("contract_type", f"{what}, not {json_type(value)}")


class RecoveryRequest(BaseModel):
    """One recovery request. ``error`` may be the error's name or the ``Catch``'s whole error object
    (``{"Error": …, "Cause": …}``, as ``"error.$": "$.error"`` sends it): its ``Error`` becomes
    ``error`` and its ``Cause`` becomes ``cause`` unless ``cause`` is given."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    contract_version: Literal[1] = 1
    task_token: str = Field(min_length=1, repr=False)
    execution_arn: str = Field(pattern=EXECUTION_ARN_PATTERN)
    execution_name: str = Field(min_length=1, max_length=256)
    state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:")
    failed_state: str = Field(min_length=1, max_length=256)
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
        return self.state_machine_arn.rsplit(":", 1)[-1]
