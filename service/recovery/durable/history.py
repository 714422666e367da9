"""``ExecutionRecords`` over Lambda durable functions: GetDurableExecution, then the history back to
the pause.

A durable function pauses on ``wait_for_callback``: its history has a ``CallbackStarted`` event
carrying the callback id, and the callback's fate is the ``CallbackSucceeded`` /
``CallbackFailed`` / ``CallbackTimedOut`` event of the same operation (its ``Id``). The history is
read newest first, a page at a time, and no further back than the pause; at most ``max_pages``
pages. A failure to read is UNKNOWN, never a guess; the callback id appears in no detail.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from recovery_ops.service.recovery.ports.execution_record import TaskFate, TaskTruth
from recovery_ops.service.recovery.ports.token_answers import without_token

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

FATE_OF_EVENT = {
    "CallbackSucceeded": TaskFate.SUCCEEDED,
    "CallbackFailed": TaskFate.FAILED,
    "CallbackTimedOut": TaskFate.TIMED_OUT,
}
#: an execution in these may still take the callback; any other status has ended it
LIVE_STATUSES = frozenset({"RUNNING", "PAUSING", "PAUSED"})
PAGE_SIZE = 1000  # GetDurableExecutionHistory's largest page
Event = Mapping[str, Any]  # one history event, as GetDurableExecutionHistory returns it


class DurableHistory:
    def __init__(self, lambda_client: LambdaClient | Any, max_pages: int = 25) -> None:
        self._lambda = lambda_client
        self._max_pages = max_pages

    def task_truth(self, execution_arn: str, task_token: str) -> TaskTruth:
        """The fate of the callback ``task_token`` (a callback id) in the durable execution."""
        try:
            status = self._lambda.get_durable_execution(
                DurableExecutionArn=execution_arn, IncludeExecutionData=False
            )["Status"]
            fate = self._callback_fate(execution_arn, task_token)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ResourceNotFoundException":
                return TaskTruth(TaskFate.GONE, detail="Lambda no longer knows the durable execution")
            message = without_token(task_token, exc.response["Error"].get("Message", ""))
            return TaskTruth(TaskFate.UNKNOWN, detail=f"{code}: {message}")
        except BotoCoreError as exc:
            return TaskTruth(
                TaskFate.UNKNOWN, detail=f"{type(exc).__name__}: {without_token(task_token, str(exc))}"
            )
        if fate is None:
            if status in LIVE_STATUSES:
                return TaskTruth(
                    TaskFate.UNKNOWN, status, detail="the callback was not found in the execution's history"
                )
            return TaskTruth(
                TaskFate.ENDED,
                status,
                detail="the execution ended; its history did not show the callback within the pages read",
            )
        return _truth(fate, status)

    def _callback_fate(self, execution_arn: str, callback_id: str) -> Event | None:
        """The callback's last event: its fate, or its ``CallbackStarted`` while it waits; None when
        the callback is not within ``max_pages``."""
        kwargs: dict[str, Any] = {
            "DurableExecutionArn": execution_arn,
            "IncludeExecutionData": True,
            "ReverseOrder": True,
            "MaxItems": PAGE_SIZE,
        }
        fates: dict[str, Event] = {}  # operation id -> its fate event (newest first: seen before its start)
        for _ in range(self._max_pages):
            page = self._lambda.get_durable_execution_history(**kwargs)
            for event in page.get("Events", []):
                kind = event.get("EventType")
                if kind in FATE_OF_EVENT:
                    fates.setdefault(str(event.get("Id")), event)
                elif kind == "CallbackStarted" and _carries(event, callback_id):
                    fate: Event = fates.get(str(event.get("Id")), event)
                    return fate
            if not page.get("NextMarker"):
                return None
            kwargs["Marker"] = page["NextMarker"]
        return None


def _carries(event: Event, callback_id: str) -> bool:
    return bool(event.get("CallbackStartedDetails", {}).get("CallbackId") == callback_id)


def _truth(event: Event, status: str) -> TaskTruth:
    fate = FATE_OF_EVENT.get(str(event.get("EventType")))
    if fate is None:  # still started: the callback waits while the execution lives
        return TaskTruth(TaskFate.WAITING if status in LIVE_STATUSES else TaskFate.ENDED, status)
    details: Event = event.get(f"{event['EventType']}Details", {})
    if fate is TaskFate.SUCCEEDED:
        return TaskTruth(fate, status, output=details.get("Result", {}).get("Payload"))
    error = details.get("Error", {}).get("Payload", {}).get("ErrorType")
    return TaskTruth(fate, status, error=error)
