"""What self-healing meets when it resumes an outage's recoveries, over a simulated clock: Step
Functions (its SendTask* bucket, each token taken once, every send recorded), the vendor behind the
resumed executions (it bears so many calls a second and fails the rest) and the vendor's circuit
(it counts those failures, and opens at the breaker's threshold within its window).

``StepFunctionsClient`` is boto3-shaped (``send_task_success(taskToken=..., output=...)``), so the
real adapter (``StepFunctionsTokens``) sorts its answers: a throttle is botocore's
``ThrottlingException``, a token sent again ``TaskTimedOut``. It keeps every send that reached a
token (``sends``): a token sent twice is ``double_sent``, whatever Step Functions answered the
second time. A throttled call reached nothing and is counted apart (``throttled``).

When a resume is accepted, the execution calls the vendor at once (``Vendor.call``); a failed call
is counted by the circuit and handed to ``relapse`` (the execution pauses again at the same step:
a new recovery). The clock is seconds, as ``Callable[[], float]``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from recovery_ops.service.breaker.circuit_board import CircuitReading
from recovery_ops.service.breaker.circuit_breaker import BreakerSettings, CircuitState
from recovery_ops.service.recovery.healing.ramp import SENDTASK_BUCKET, SENDTASK_REFILL_PER_SECOND
from recovery_ops.service.recovery.ports.execution_record import TaskFate, TaskTruth

Clock = Callable[[], float]


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass
class Vendor:
    """A dependency that bears ``per_second`` calls in each second of the clock; the rest fail."""

    clock: Clock
    per_second: int
    calls: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    def call(self) -> bool:
        second = math.floor(self.clock())
        self.calls[second] += 1
        if self.calls[second] <= self.per_second:
            return True
        self.errors += 1
        return False

    @property
    def busiest_second(self) -> int:
        return max(self.calls.values(), default=0)


@dataclass
class VendorCircuit:
    """The vendor's circuit as self-healing reads it: CLOSED since ``closed_at``, counting failures in
    windows of ``settings.window_seconds``; ``settings.threshold`` of them in one window open it."""

    clock: Clock
    closed_at: float
    settings: BreakerSettings = field(default_factory=BreakerSettings)
    failures: int = 0
    window_started_at: float | None = None
    opened_at: float | None = None

    def failure(self) -> None:
        now = self.clock()
        if self.window_started_at is None or now - self.window_started_at > self.settings.window_seconds:
            self.window_started_at, self.failures = now, 0
        self.failures += 1
        if self.failures >= self.settings.threshold and self.opened_at is None:
            self.opened_at = now

    def reading(self, dependency: str) -> CircuitReading:
        if self.opened_at is not None:
            return CircuitReading(dependency, CircuitState.OPEN, since=_at(self.opened_at))
        window = _at(self.window_started_at) if self.window_started_at is not None else None
        return CircuitReading(
            dependency,
            CircuitState.CLOSED,
            since=_at(self.closed_at),
            failures=self.failures,
            window_started_at=window,
        )


@dataclass
class SendTaskBucket:
    """Step Functions' SendTask* token bucket, per account and Region: ``size`` tokens, refilled at
    ``refill`` a second; a call finding it empty is throttled."""

    clock: Clock
    size: float = SENDTASK_BUCKET
    refill: float = SENDTASK_REFILL_PER_SECOND
    level: float = SENDTASK_BUCKET
    at: float | None = None
    lowest: float = SENDTASK_BUCKET

    def take(self) -> bool:
        now = self.clock()
        if self.at is not None and now > self.at:  # concurrent callers' stamps may go back a little
            self.level = min(self.size, self.level + (now - self.at) * self.refill)
        self.at = now if self.at is None else max(self.at, now)
        if self.level < 1:
            return False
        self.level -= 1
        self.lowest = min(self.lowest, self.level)
        return True


def _error(code: str, message: str) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    return ClientError(response, "SendTaskSuccess")


@dataclass
class StepFunctionsClient:
    """Step Functions' SendTask* calls, boto3-shaped, over ``bucket``; each token is taken once.
    An accepted SendTaskSuccess runs ``resumed(token)``: the execution goes on (and calls the vendor).
    """

    bucket: SendTaskBucket
    resumed: Callable[[str], None] = lambda token: None
    sends: Counter[str] = field(default_factory=Counter)
    taken: dict[str, str] = field(default_factory=dict)  # token: "success" or "failure"
    throttled: int = 0

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:  # noqa: N803
        self._send(taskToken, "success")
        self.resumed(taskToken)
        return {}

    def send_task_failure(self, taskToken: str, error: str = "", cause: str = "") -> dict[str, Any]:  # noqa: N803
        self._send(taskToken, "failure")
        return {}

    def _send(self, token: str, kind: str) -> None:
        if not self.bucket.take():
            self.throttled += 1
            raise _error("ThrottlingException", "Rate exceeded")
        self.sends[token] += 1
        if token in self.taken:
            raise _error("TaskTimedOut", "Provided task does not exist anymore")
        self.taken[token] = kind

    @property
    def double_sent(self) -> int:
        """Tokens that reached Step Functions more than once (SendTaskSuccess or SendTaskFailure)."""
        return sum(1 for count in self.sends.values() if count > 1)

    def task_truth(self, execution_arn: str, task_token: str) -> TaskTruth:
        """The record the reconciler reads: a taken token's step went on; any other still waits."""
        kind = self.taken.get(task_token)
        if kind == "success":
            return TaskTruth(TaskFate.SUCCEEDED, "RUNNING")
        if kind == "failure":
            return TaskTruth(TaskFate.FAILED, "RUNNING")
        return TaskTruth(TaskFate.WAITING, "RUNNING")
