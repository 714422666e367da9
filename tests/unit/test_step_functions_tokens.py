"""The task-token adapter: Step Functions' answers sorted into the port's outcomes."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome, TokenResult
from recovery_ops.service.recovery.stepfunctions.tokens import StepFunctionsTokens


class AnsweringStepFunctions:
    """SendTaskSuccess / SendTaskFailure raising ``error`` (or accepting), recording their parameters."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def send_task_success(self, **parameters: Any) -> dict:
        return self._answer("send_task_success", parameters)

    def send_task_failure(self, **parameters: Any) -> dict:
        return self._answer("send_task_failure", parameters)

    def _answer(self, operation: str, parameters: dict[str, Any]) -> dict:
        self.calls.append((operation, parameters))
        if self.error is not None:
            raise self.error
        return {}


def refusal(code: str, message: str = "said by the service") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "SendTaskSuccess")


def test_an_accepted_success_sends_the_token_and_output() -> None:
    # Given Step Functions accepts the call
    sfn = AnsweringStepFunctions()

    # When the adapter sends a success
    outcome = StepFunctionsTokens(sfn).send_success("token-1", '{"a": 1}')

    # Then it made exactly that call and says ACCEPTED
    assert outcome == TokenOutcome.accepted()
    assert sfn.calls == [("send_task_success", {"taskToken": "token-1", "output": '{"a": 1}'})]


def test_an_accepted_failure_sends_the_token_error_and_cause() -> None:
    # Given Step Functions accepts the call
    sfn = AnsweringStepFunctions()

    # When the adapter sends a failure
    outcome = StepFunctionsTokens(sfn).send_failure("token-1", "RecoveryRejected", "Rejected by U1")

    # Then it made exactly that call and says ACCEPTED
    assert outcome.result is TokenResult.ACCEPTED
    assert sfn.calls == [
        (
            "send_task_failure",
            {"taskToken": "token-1", "error": "RecoveryRejected", "cause": "Rejected by U1"},
        )
    ]


@pytest.mark.parametrize("code", ["InvalidToken", "TaskTimedOut", "TaskDoesNotExist"])
def test_a_token_step_functions_no_longer_knows_is_dead(code: str) -> None:
    # Given Step Functions answers that the token is unusable
    tokens = StepFunctionsTokens(AnsweringStepFunctions(refusal(code)))

    # When the adapter sends a success
    outcome = tokens.send_success("token-1", "{}")

    # Then the outcome is DEAD, with the code
    assert (outcome.result, outcome.code) == (TokenResult.DEAD, code)


@pytest.mark.parametrize("code", ["ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"])
def test_a_throttled_call_is_reported_as_throttled_not_retried(code: str) -> None:
    # Given Step Functions throttles the call
    sfn = AnsweringStepFunctions(refusal(code))

    # When the adapter sends a failure
    outcome = StepFunctionsTokens(sfn).send_failure("token-1", "E", "c")

    # Then it says THROTTLED after a single call (backing off is the core's decision)
    assert (outcome.result, outcome.code) == (TokenResult.THROTTLED, code)
    assert len(sfn.calls) == 1


def test_any_other_refusal_carries_its_code_and_message() -> None:
    # Given Step Functions refuses for a reason that is not the token's
    tokens = StepFunctionsTokens(AnsweringStepFunctions(refusal("AccessDeniedException", "not authorized")))

    # When the adapter sends a success
    outcome = tokens.send_success("token-1", "{}")

    # Then the outcome is REFUSED with the service's code and message
    assert outcome == TokenOutcome.refused("AccessDeniedException", "not authorized")


def test_an_unreachable_endpoint_is_a_refusal_named_after_botocores_error() -> None:
    # Given Step Functions cannot be reached
    unreachable = EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com")
    tokens = StepFunctionsTokens(AnsweringStepFunctions(unreachable))

    # When the adapter sends a success
    outcome = tokens.send_success("token-1", "{}")

    # Then the outcome is REFUSED, named after botocore's exception
    assert (outcome.result, outcome.code) == (TokenResult.REFUSED, "EndpointConnectionError")
    assert "states.us-east-1" in outcome.message
