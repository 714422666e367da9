"""``ExecutionRecords`` over Step Functions: DescribeExecution, then the history after the pause.

The paused step is found by its token: the ``TaskScheduled`` event of a ``.waitForTaskToken``
task carries the resolved parameters, the token among them. The step's fate is the first
``TaskSucceeded`` / ``TaskFailed`` / ``TaskTimedOut`` event whose chain of ``previousEventId``
leads back to that event (a Map or Parallel interleaves other steps' events). The history is read
newest first, a page at a time, and no further back than the pause; at most ``max_pages`` pages.
A failure to read is UNKNOWN, never a guess.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from recovery_ops.service.recovery.ports.execution_record import TaskFate, TaskTruth

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

FATE_OF_EVENT = {
    "TaskSucceeded": TaskFate.SUCCEEDED,
    "TaskFailed": TaskFate.FAILED,
    "TaskTimedOut": TaskFate.TIMED_OUT,
}
PAGE_SIZE = 1000  # GetExecutionHistory's largest page
Event = Mapping[str, Any]  # one history event, as GetExecutionHistory returns it


class StepFunctionsHistory:
    def __init__(self, sfn: SFNClient | Any, max_pages: int = 25) -> None:
        self._sfn = sfn
        self._max_pages = max_pages

    def task_truth(self, execution_arn: str, task_token: str) -> TaskTruth:
        try:
            status = self._sfn.describe_execution(executionArn=execution_arn)["status"]
            events = self._events_since_pause(execution_arn, task_token)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ExecutionDoesNotExist":
                return TaskTruth(TaskFate.GONE, detail="Step Functions no longer knows the execution")
            return TaskTruth(TaskFate.UNKNOWN, detail=f"{code}: {exc.response['Error'].get('Message', '')}")
        except BotoCoreError as exc:
            return TaskTruth(TaskFate.UNKNOWN, detail=f"{type(exc).__name__}: {exc}")
        if events is None:
            if status == "RUNNING":
                return TaskTruth(
                    TaskFate.UNKNOWN, status, detail="the pause was not found in the execution's history"
                )
            return TaskTruth(
                TaskFate.ENDED,
                status,
                detail="the execution ended; its history did not show the pause within the pages read",
            )
        return _fate(events, status)

    def _events_since_pause(self, execution_arn: str, token: str) -> list[Event] | None:
        """The pause's ``TaskScheduled`` event and every event after it, oldest first; None when
        the pause is not within ``max_pages``."""
        kwargs: dict[str, Any] = {
            "executionArn": execution_arn,
            "reverseOrder": True,
            "maxResults": PAGE_SIZE,
            "includeExecutionData": True,
        }
        seen: dict[int, Event] = {}
        for _ in range(self._max_pages):
            page = self._sfn.get_execution_history(**kwargs)
            for event in page.get("events", []):
                seen[event["id"]] = event
            scheduled = next((e for e in seen.values() if _schedules(e, token)), None)
            if scheduled is not None:
                return sorted((e for e in seen.values() if e["id"] >= scheduled["id"]), key=lambda e: e["id"])
            if not page.get("nextToken"):
                return None
            kwargs["nextToken"] = page["nextToken"]
        return None


def _schedules(event: Event, token: str) -> bool:
    if event.get("type") != "TaskScheduled":
        return False
    parameters = event.get("taskScheduledEventDetails", {}).get("parameters", "")
    return token in parameters or json.dumps(token)[1:-1] in parameters


def _fate(events: list[Event], status: str) -> TaskTruth:
    scheduled_id = events[0]["id"]
    by_id = {e["id"]: e for e in events}
    for event in events[1:]:
        fate = FATE_OF_EVENT.get(event["type"])
        if fate is None or not _leads_to(event, scheduled_id, by_id):
            continue
        details: Event = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        return TaskTruth(fate, status, error=details.get("error"), output=details.get("output"))
    if status == "RUNNING":
        return TaskTruth(TaskFate.WAITING, status)
    return TaskTruth(TaskFate.ENDED, status)


def _leads_to(event: Event, scheduled_id: int, by_id: dict[int, Event]) -> bool:
    current = event
    for _ in range(len(by_id)):
        previous = current.get("previousEventId", 0)
        if previous == scheduled_id:
            return True
        if previous < scheduled_id or previous not in by_id:
            return False
        current = by_id[previous]
    return False
