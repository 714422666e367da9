"""The execution-record port over durable functions: GetDurableExecution and its history sorted into
the fate of one callback."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from recovery_ops.service.recovery.durable.history import DurableHistory
from recovery_ops.service.recovery.ports.execution_record import TaskFate, TaskTruth

ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/durable-execution/order-1/abc"
CALLBACK_ID = "callback-secret-1"
OTHER_ID = "callback-secret-2"


def started(operation: str, callback_id: str) -> dict[str, Any]:
    return {
        "EventType": "CallbackStarted",
        "Id": operation,
        "CallbackStartedDetails": {"CallbackId": callback_id},
    }


def succeeded(operation: str, payload: str) -> dict[str, Any]:
    return {
        "EventType": "CallbackSucceeded",
        "Id": operation,
        "CallbackSucceededDetails": {"Result": {"Payload": payload}},
    }


def failed(operation: str, error_type: str, kind: str = "CallbackFailed") -> dict[str, Any]:
    return {
        "EventType": kind,
        "Id": operation,
        f"{kind}Details": {"Error": {"Payload": {"ErrorType": error_type, "ErrorMessage": "m"}}},
    }


STEP = {"EventType": "StepSucceeded", "Id": "step-1", "StepSucceededDetails": {"Result": {"Payload": "1"}}}


class RecordedLambda:
    """GetDurableExecution with ``status`` and a history of ``events`` (oldest first), served newest
    first in pages of ``page_size`` as Lambda does with ReverseOrder; or ``error`` for every call."""

    def __init__(
        self, status: str, events: list[dict[str, Any]], page_size: int = 1000, error: Exception | None = None
    ) -> None:
        self.status, self.events, self.page_size, self.error = status, events, page_size, error
        self.history_calls: list[dict[str, Any]] = []

    def get_durable_execution(self, **parameters: Any) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        assert parameters["DurableExecutionArn"] == ARN
        return {"DurableExecutionArn": ARN, "Status": self.status}

    def get_durable_execution_history(self, **parameters: Any) -> dict[str, Any]:
        self.history_calls.append(parameters)
        newest_first = list(reversed(self.events)) if parameters.get("ReverseOrder") else self.events
        start = int(parameters.get("Marker", 0))
        page = newest_first[start : start + self.page_size]
        answer: dict[str, Any] = {"Events": page}
        if start + self.page_size < len(newest_first):
            answer["NextMarker"] = str(start + self.page_size)
        return answer


def truth_of(client: RecordedLambda, max_pages: int = 25) -> TaskTruth:
    return DurableHistory(client, max_pages=max_pages).task_truth(ARN, CALLBACK_ID)


def test_a_callback_that_succeeded_gives_its_result() -> None:
    # Given the callback was completed with a result, and the execution went on
    events = [STEP, started("op-1", CALLBACK_ID), succeeded("op-1", '{"a": 1}'), STEP]

    # When its truth is read
    truth = truth_of(RecordedLambda("SUCCEEDED", events))

    # Then it SUCCEEDED with that result as its output
    assert truth == TaskTruth(TaskFate.SUCCEEDED, "SUCCEEDED", output='{"a": 1}')


def test_a_callback_that_failed_gives_its_error_type() -> None:
    # Given the callback was failed (a Reject)
    events = [started("op-1", CALLBACK_ID), failed("op-1", "RecoveryRejected")]

    # When its truth is read
    truth = truth_of(RecordedLambda("FAILED", events))

    # Then it FAILED with the error type it was failed with
    assert (truth.fate, truth.error, truth.execution_status) == (
        TaskFate.FAILED,
        "RecoveryRejected",
        "FAILED",
    )


def test_a_callback_whose_timeout_fired_timed_out() -> None:
    # Given the callback's own timeout fired
    events = [started("op-1", CALLBACK_ID), failed("op-1", "Callback.Timeout", kind="CallbackTimedOut")]

    # When its truth is read
    truth = truth_of(RecordedLambda("RUNNING", events))

    # Then it TIMED_OUT: nothing may be sent for it any more
    assert truth.fate is TaskFate.TIMED_OUT
    assert truth.fate.consumed


@pytest.mark.parametrize("status", ["RUNNING", "PAUSED"])
def test_a_callback_still_started_in_a_live_execution_waits(status: str) -> None:
    # Given the callback started and nothing completed it (another callback did complete)
    events = [started("op-0", OTHER_ID), succeeded("op-0", "1"), started("op-1", CALLBACK_ID), STEP]

    # When its truth is read
    truth = truth_of(RecordedLambda(status, events))

    # Then it is WAITING
    assert truth == TaskTruth(TaskFate.WAITING, status)


@pytest.mark.parametrize("status", ["STOPPED", "FAILED", "TIMED_OUT", "SUCCEEDED"])
def test_an_execution_that_ended_without_the_callback_is_ended(status: str) -> None:
    # Given the execution ended while the callback was started and not completed
    events = [started("op-1", CALLBACK_ID), STEP]

    # When its truth is read
    truth = truth_of(RecordedLambda(status, events))

    # Then it ENDED, with the execution's status
    assert (truth.fate, truth.execution_status) == (TaskFate.ENDED, status)


def test_another_callbacks_fate_is_not_taken_for_this_ones() -> None:
    # Given a later callback of the same execution succeeded, this one still waits
    events = [started("op-1", CALLBACK_ID), started("op-2", OTHER_ID), succeeded("op-2", "other")]

    # When this callback's truth is read
    truth = truth_of(RecordedLambda("RUNNING", events))

    # Then it waits
    assert truth.fate is TaskFate.WAITING


def test_the_history_is_read_page_by_page_back_to_the_pause_and_no_further() -> None:
    # Given a long history: the pause in the middle, its success near the end
    events = [STEP] * 5 + [started("op-1", CALLBACK_ID)] + [STEP] * 3 + [succeeded("op-1", "ok")] + [STEP] * 2
    lambda_client = RecordedLambda("SUCCEEDED", events, page_size=2)

    # When the truth is read
    truth = truth_of(lambda_client)

    # Then the success is found across pages, every page with the execution's data
    assert (truth.fate, truth.output) == (TaskFate.SUCCEEDED, "ok")
    assert all(call["IncludeExecutionData"] is True for call in lambda_client.history_calls)
    assert [call.get("Marker") for call in lambda_client.history_calls] == [None, "2", "4", "6"]


@pytest.mark.parametrize(("status", "fate"), [("RUNNING", TaskFate.UNKNOWN), ("SUCCEEDED", TaskFate.ENDED)])
def test_a_callback_beyond_the_pages_read_is_not_guessed(status: str, fate: TaskFate) -> None:
    # Given the pause lies further back than the pages the adapter reads
    events = [started("op-1", CALLBACK_ID)] + [STEP] * 10

    # When the truth is read with at most two pages of two
    truth = truth_of(RecordedLambda(status, events, page_size=2), max_pages=2)

    # Then a live execution is UNKNOWN, an ended one ENDED
    assert truth.fate is fate


def test_an_execution_lambda_no_longer_knows_is_gone() -> None:
    # Given Lambda no longer knows the execution
    gone = ClientError(
        {"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "GetDurableExecution"
    )

    # When the truth is read
    truth = truth_of(RecordedLambda("RUNNING", [], error=gone))

    # Then it is GONE
    assert truth.fate is TaskFate.GONE


@pytest.mark.parametrize(
    "error",
    [
        ClientError(
            {"Error": {"Code": "TooManyRequestsException", "Message": f"slow for {CALLBACK_ID}"}},
            "GetDurableExecutionHistory",
        ),
        ClientError({"Error": {"Code": "ServiceException", "Message": "boom"}}, "GetDurableExecution"),
        EndpointConnectionError(endpoint_url=f"https://lambda/{CALLBACK_ID}"),
    ],
    ids=["throttled", "5xx", "unreachable"],
)
def test_an_unreadable_record_is_unknown_with_why_and_without_the_callback_id(error: Exception) -> None:
    # Given the record cannot be read
    client = RecordedLambda("RUNNING", [], error=error)

    # When the truth is read
    truth = truth_of(client)

    # Then it is UNKNOWN, says why, and does not name the callback id
    assert truth.fate is TaskFate.UNKNOWN
    assert truth.detail
    assert CALLBACK_ID not in truth.detail
