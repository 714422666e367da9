"""The task-token port over durable functions: Lambda's callback answers sorted into the port's outcomes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber

from recovery_ops.service.recovery.durable.callbacks import DurableCallbacks
from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome, TokenResult

#: a callback id as the service gives them: opaque, URL-unsafe characters included
CALLBACK_ID = "eyJhcm4iOiJ4In0+/secret=="
CALLBACKS_URL = "https://lambda.us-east-1.amazonaws.com/2025-12-01/durable-execution-callbacks"


class AnsweringLambda:
    """SendDurableExecutionCallback* raising ``error`` (or accepting), recording their parameters."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def send_durable_execution_callback_success(self, **parameters: Any) -> dict:
        return self._answer("success", parameters)

    def send_durable_execution_callback_failure(self, **parameters: Any) -> dict:
        return self._answer("failure", parameters)

    def _answer(self, operation: str, parameters: dict[str, Any]) -> dict:
        self.calls.append((operation, parameters))
        if self.error is not None:
            raise self.error
        return {}


def refusal(code: str, message: str = "said by the service", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "SendDurableExecutionCallbackSuccess",
    )


def test_a_success_goes_back_as_the_callbacks_result_in_bytes() -> None:
    # Given Lambda's real request shapes (botocore validates the parameters against its model)
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(client) as stub:
        stub.add_response(
            "send_durable_execution_callback_success", {}, {"CallbackId": CALLBACK_ID, "Result": b'{"a": 1}'}
        )

        # When the adapter sends a success
        outcome = DurableCallbacks(client).send_success(CALLBACK_ID, json.dumps({"a": 1}))

        # Then exactly that call was made, and it was accepted
        stub.assert_no_pending_responses()
    assert outcome == TokenOutcome.accepted()


def test_a_failure_goes_back_as_an_error_type_and_message() -> None:
    # Given Lambda accepts the call
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    expected = {
        "CallbackId": CALLBACK_ID,
        "Error": {"ErrorType": "RecoveryRejected", "ErrorMessage": "no, U1"},
    }
    with Stubber(client) as stub:
        stub.add_response("send_durable_execution_callback_failure", {}, expected)

        # When the adapter sends a failure
        outcome = DurableCallbacks(client).send_failure(CALLBACK_ID, "RecoveryRejected", "no, U1")

        # Then the function's wait_for_callback gets that error type and message
        stub.assert_no_pending_responses()
    assert outcome.result is TokenResult.ACCEPTED


@pytest.mark.parametrize("code", ["CallbackTimeoutException", "ResourceNotFoundException"])
def test_an_expired_closed_or_unknown_callback_is_dead(code: str) -> None:
    # Given Lambda answers that the callback can no longer be completed
    callbacks = DurableCallbacks(AnsweringLambda(refusal(code)))

    # When the adapter sends a success
    outcome = callbacks.send_success(CALLBACK_ID, "{}")

    # Then the outcome is DEAD, with the code
    assert (outcome.result, outcome.code) == (TokenResult.DEAD, code)


@pytest.mark.parametrize("code", ["TooManyRequestsException", "ThrottlingException"])
def test_a_throttled_call_is_reported_once_as_throttled(code: str) -> None:
    # Given Lambda throttles the call
    lambda_client = AnsweringLambda(refusal(code, status=429))

    # When the adapter sends a failure
    outcome = DurableCallbacks(lambda_client).send_failure(CALLBACK_ID, "RecoveryRejected", "c")

    # Then it says THROTTLED after a single call
    assert (outcome.result, outcome.code) == (TokenResult.THROTTLED, code)
    assert len(lambda_client.calls) == 1


def test_a_service_failure_may_have_landed_so_it_is_unknown() -> None:
    # Given Lambda fails mid-way
    callbacks = DurableCallbacks(AnsweringLambda(refusal("ServiceException", "internal", status=500)))

    # When the adapter sends a success
    outcome = callbacks.send_success(CALLBACK_ID, "{}")

    # Then nobody may assume it did not land
    assert (outcome.result, outcome.code) == (TokenResult.UNKNOWN, "ServiceException")


def test_an_answer_that_never_came_is_unknown() -> None:
    # Given the request went out and the answer timed out
    lost = ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com")
    callbacks = DurableCallbacks(AnsweringLambda(lost))

    # When the adapter sends a success
    outcome = callbacks.send_success(CALLBACK_ID, "{}")

    # Then it is UNKNOWN
    assert (outcome.result, outcome.code) == (TokenResult.UNKNOWN, "ReadTimeoutError")


@pytest.mark.parametrize("code", ["InvalidParameterValueException", "AccessDeniedException"])
def test_any_other_refusal_carries_its_code_and_message(code: str) -> None:
    # Given Lambda refuses for a reason that is not the callback's
    callbacks = DurableCallbacks(AnsweringLambda(refusal(code, "not like this")))

    # When the adapter sends a success
    outcome = callbacks.send_success(CALLBACK_ID, "{}")

    # Then the outcome is REFUSED with the service's code and message
    assert outcome == TokenOutcome.refused(code, "not like this")


def test_an_unreachable_endpoint_is_a_refusal_named_after_botocores_error() -> None:
    # Given Lambda cannot be reached
    unreachable = EndpointConnectionError(endpoint_url="https://lambda.us-east-1.amazonaws.com")

    # When the adapter sends a failure
    outcome = DurableCallbacks(AnsweringLambda(unreachable)).send_failure(CALLBACK_ID, "E", "c")

    # Then nothing was sent: REFUSED, named after botocore's exception
    assert (outcome.result, outcome.code) == (TokenResult.REFUSED, "EndpointConnectionError")


@pytest.mark.parametrize(
    "error",
    [
        refusal("ResourceNotFoundException", f"Callback operation [{CALLBACK_ID}] is not in STARTED state"),
        refusal("CallbackTimeoutException", f"callback {CALLBACK_ID} expired"),
        refusal("ServiceException", f"failed on {CALLBACK_ID}", status=503),
        refusal("InvalidParameterValueException", f"bad id {CALLBACK_ID}"),
        refusal("TooManyRequestsException", f"slow down for {CALLBACK_ID}", status=429),
        ReadTimeoutError(endpoint_url=f"{CALLBACKS_URL}/{quote(CALLBACK_ID, safe='')}/succeed"),
        EndpointConnectionError(endpoint_url=f"{CALLBACKS_URL}/{quote(CALLBACK_ID, safe='')}/fail"),
    ],
    ids=["dead", "expired", "5xx", "refused", "throttled", "lost", "unreachable"],
)
def test_no_outcome_message_holds_the_callback_id(error: Exception) -> None:
    # Given an answer whose text names the callback id (as it is, or in the request's URL)
    callbacks = DurableCallbacks(AnsweringLambda(error))

    # When the adapter sends a success and a failure
    outcomes = [callbacks.send_success(CALLBACK_ID, "{}"), callbacks.send_failure(CALLBACK_ID, "E", "c")]

    # Then no outcome carries the id in any spelling, though the rest of the message is kept
    for outcome in outcomes:
        assert outcome.message
        for spelling in (CALLBACK_ID, quote(CALLBACK_ID, safe=""), quote(CALLBACK_ID)):
            assert spelling not in outcome.message
