"""Read executions the way an operator would: wait for them, list the states they went through."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from recovery_ops.service.errors import RecoveryOpsError

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
#: Polling sleeps: a tight loop starves moto's execution threads.
POLL_SECONDS = 0.02


class ExecutionsStillRunningError(RecoveryOpsError, TimeoutError):
    pass


@dataclass(frozen=True)
class StateStep:
    """One state an execution entered, with how it ended (`error` set when the state failed)."""

    name: str
    entered_at: float
    exited: bool
    error: str | None = None


def wait_for_status(
    sfn: Any, execution_arn: str, statuses: frozenset[str] = TERMINAL, timeout: float = 90
) -> dict:
    """The execution's description once its status is one of ``statuses``: ExecutionsStillRunningError
    after ``timeout`` seconds (a deadline for a loaded machine, not a goal)."""
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] in statuses:
            return described
        if time.monotonic() > deadline:
            raise ExecutionsStillRunningError(
                f"{execution_arn} is still {described['status']} after {timeout}s"
            )
        time.sleep(POLL_SECONDS)


def wait_for_all(sfn: Any, execution_arns: list[str], timeout: float = 120) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    finished: dict[str, dict] = {}
    while len(finished) < len(execution_arns):
        for arn in execution_arns:
            if arn not in finished:
                described = sfn.describe_execution(executionArn=arn)
                if described["status"] in TERMINAL:
                    finished[arn] = described
        if len(finished) < len(execution_arns):
            if time.monotonic() > deadline:
                raise ExecutionsStillRunningError(
                    f"{len(execution_arns) - len(finished)} executions still running"
                )
            time.sleep(POLL_SECONDS * 5)
    return finished


def history(sfn: Any, execution_arn: str) -> list[dict]:
    events: list[dict] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def state_steps(events: list[dict]) -> list[StateStep]:
    """The states in the order they were entered; a state's error is the last failure seen inside it.

    Branches of a Parallel and iterations of a Map interleave in the history, so an exit is matched
    to the latest entry of the same state name that has not exited yet.
    """
    steps: list[StateStep] = []
    for event in events:
        entered = event.get("stateEnteredEventDetails")
        if entered:
            steps.append(StateStep(entered["name"], event["timestamp"].timestamp(), exited=False))
            continue
        for key in ("taskFailedEventDetails", "lambdaFunctionFailedEventDetails", "taskTimedOutEventDetails"):
            if key in event and steps:
                last = steps[-1]
                steps[-1] = StateStep(last.name, last.entered_at, last.exited, event[key].get("error"))
        exited = event.get("stateExitedEventDetails")
        if exited:
            for index in range(len(steps) - 1, -1, -1):
                step = steps[index]
                if step.name == exited["name"] and not step.exited:
                    steps[index] = StateStep(step.name, step.entered_at, True, step.error)
                    break
    return steps


def state_path(events: list[dict]) -> str:
    """The states an execution went through, as a person reads them: "A ✓  →  B ✗ Error  →  C ✓"."""
    return "  →  ".join(
        f"{step.name} {'✓' if step.exited else '✗ ' + (step.error or '')}".rstrip()
        for step in state_steps(events)
    )


def failed_error_names(events: list[dict]) -> list[str]:
    """Every error name the execution's tasks failed with, in order (retries included)."""
    names = []
    for event in events:
        for key in (
            "taskFailedEventDetails",
            "lambdaFunctionFailedEventDetails",
            "executionFailedEventDetails",
        ):
            if key in event and event[key].get("error"):
                names.append(event[key]["error"])
    return names


SCHEDULED_EVENTS = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})


def billed_transitions(events: list[dict]) -> int:
    """State transitions as Step Functions bills them: the start, each state entered, each retry.

    A retry shows in the history as a task scheduled again inside the same state entry.
    """
    transitions = 1
    scheduled_in_state = 0
    for event in events:
        if "stateEnteredEventDetails" in event:
            transitions += 1
            scheduled_in_state = 0
        elif event["type"] in SCHEDULED_EVENTS:
            scheduled_in_state += 1
            if scheduled_in_state > 1:
                transitions += 1
    return transitions


def nested_execution_arns(events: list[dict]) -> list[str]:
    """The executions this one started with `states:startExecution` (the order's item actions)."""
    arns = []
    for event in events:
        details = event.get("taskSubmittedEventDetails")
        if details and details.get("resourceType") == "states":
            arns.append(json.loads(details["output"])["ExecutionArn"])
    return arns


def workflow_transitions(sfn: Any, execution_arn: str) -> int:
    """Billed transitions of an execution and of every execution it nested, recursively."""
    events = history(sfn, execution_arn)
    return billed_transitions(events) + sum(
        workflow_transitions(sfn, arn) for arn in nested_execution_arns(events)
    )


def largest_payload_bytes(events: list[dict]) -> int:
    """The largest input, output or parameters (UTF-8 bytes) any event carried: Step Functions
    refuses anything over 256 KiB."""
    sizes = [0]
    for event in events:
        for key, details in event.items():
            if key.endswith("EventDetails") and isinstance(details, dict):
                sizes.extend(
                    len(details[field].encode())
                    for field in ("input", "output", "parameters")
                    if isinstance(details.get(field), str)
                )
    return max(sizes)
