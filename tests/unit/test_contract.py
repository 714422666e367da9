"""The integration contract's ``error``: the error's name, or the Catch's whole error object."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from recovery_ops.service.recovery.model.contract import RecoveryRequest

MESSAGE: dict[str, Any] = {
    "contract_version": 1,
    "task_token": "token-of-the-paused-task",
    "execution_arn": "arn:aws:states:eu-west-1:123456789012:execution:ProcessOrderSM:order-1",
    "execution_name": "order-1",
    "state_machine_arn": "arn:aws:states:eu-west-1:123456789012:stateMachine:ProcessOrderSM",
    "failed_state": "Check availability",
    "input": {"item": "sku-lamp"},
}


def received(**fields: Any) -> RecoveryRequest:
    """The message as the collector reads it: JSON off the queue."""
    return RecoveryRequest.model_validate_json(json.dumps({**MESSAGE, **fields}))


def problems(**fields: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as raised:
        received(**fields)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in raised.value.errors(include_input=False)]


def test_an_error_name_given_as_a_string_is_the_error() -> None:
    # Given / When
    request = received(error="ProductUnavailable", cause="sku-lamp is gone")

    # Then
    assert (request.error, request.cause) == ("ProductUnavailable", "sku-lamp is gone")


def test_the_catch_object_gives_its_error_and_its_cause() -> None:
    # Given what "error.$": "$.error" sends after a Catch with "ResultPath": "$.error"
    caught = {"Error": "States.TaskFailed", "Cause": '{"errorMessage": "vendor down"}'}

    # When
    request = received(error=caught)

    # Then
    assert request.error == "States.TaskFailed"
    assert request.cause == '{"errorMessage": "vendor down"}'


def test_an_explicit_cause_wins_over_the_catch_objects_cause() -> None:
    # Given / When
    request = received(error={"Error": "VendorUnavailable", "Cause": "from the catch"}, cause="said plainly")

    # Then
    assert (request.error, request.cause) == ("VendorUnavailable", "said plainly")


def test_a_null_cause_is_filled_from_the_catch_object() -> None:
    # Given / When ("cause.$" pointing at a field that is null)
    request = received(error={"Error": "VendorUnavailable", "Cause": "timeout"}, cause=None)

    # Then
    assert request.cause == "timeout"


def test_a_catch_object_without_cause_gives_no_cause() -> None:
    # Given / When
    request = received(error={"Error": "CircuitOpen"})

    # Then
    assert (request.error, request.cause) == ("CircuitOpen", None)


def test_no_error_at_all_is_accepted_as_unknown() -> None:
    # Given / When
    request = received()

    # Then
    assert (request.error, request.cause) == (None, None)


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (42, "not a number"),
        (["VendorUnavailable"], "not an array"),
        (True, "not a boolean"),
    ],
)
def test_an_error_of_another_type_is_refused_naming_what_it_must_be_and_what_it_was(
    error: Any, said: str
) -> None:
    # Given / When
    ((where, message),) = problems(error=error)

    # Then
    assert where == "error"
    assert message.startswith('must be the error\'s name or the Catch\'s object {"Error": …, "Cause": …}')
    assert message.endswith(said)


def test_a_catch_object_whose_error_is_not_a_string_is_refused_clearly() -> None:
    # Given / When
    ((where, message),) = problems(error={"Error": 7, "Cause": "x"})

    # Then
    assert (where, message) == ("error", 'the Catch\'s object must have a string "Error", not a number')


def test_a_catch_object_whose_cause_is_not_a_string_is_refused_clearly() -> None:
    # Given / When
    ((where, message),) = problems(error={"Error": "X", "Cause": {"errorMessage": "m"}})

    # Then
    assert (where, message) == ("error", 'the Catch\'s object must have a string "Cause", not an object')


def test_a_cause_that_is_not_a_string_is_refused_clearly() -> None:
    # Given / When
    ((where, message),) = problems(error="X", cause=["a", "b"])

    # Then
    assert (where, message) == ("cause", "must be a string, not an array")
