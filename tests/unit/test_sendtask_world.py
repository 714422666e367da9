"""What the outage simulation's self-healing meets (tests/support/sendtask_world.py): a vendor that
bears so many calls a second, its circuit, Step Functions' SendTask* bucket, and a Step Functions
client that takes each token once and counts every send, as the real adapter reads its answers."""

from __future__ import annotations

from dataclasses import dataclass

from recovery_ops.service.breaker.circuit_breaker import BreakerSettings, CircuitState
from recovery_ops.service.recovery.ports.execution_record import TaskFate
from recovery_ops.service.recovery.ports.task_tokens import TokenResult
from recovery_ops.service.recovery.stepfunctions.tokens import StepFunctionsTokens
from tests.support.sendtask_world import SendTaskBucket, StepFunctionsClient, Vendor, VendorCircuit


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_vendor_fails_the_calls_past_what_it_bears_in_a_second() -> None:
    clock = Clock()
    vendor = Vendor(clock, per_second=3)

    first = [vendor.call() for _ in range(5)]
    clock.now += 1.0
    next_second = vendor.call()

    assert first == [True, True, True, False, False]
    assert next_second is True
    assert (vendor.errors, vendor.busiest_second) == (2, 5)


def test_the_circuit_counts_failures_in_its_window_and_opens_at_the_threshold() -> None:
    clock = Clock()
    circuit = VendorCircuit(clock, closed_at=900.0, settings=BreakerSettings(threshold=3, window_seconds=60))

    circuit.failure()
    clock.now += 61  # a new window: the first failure is forgotten
    circuit.failure()
    circuit.failure()
    reading = circuit.reading("payments")
    assert (reading.state, reading.failures) == (CircuitState.CLOSED, 2)
    assert reading.window_started_at is not None and reading.window_started_at.timestamp() == 1061.0

    circuit.failure()
    assert circuit.reading("payments").state is CircuitState.OPEN


def test_the_bucket_throttles_once_empty_and_refills_with_time() -> None:
    clock = Clock()
    bucket = SendTaskBucket(clock, size=2, refill=1, level=2)

    taken = [bucket.take() for _ in range(3)]
    clock.now += 1.0

    assert taken == [True, True, False]
    assert bucket.take() is True and bucket.take() is False


def test_a_token_sent_twice_is_counted_and_answered_as_dead_through_the_real_adapter() -> None:
    # Given Step Functions behind the real adapter, noting each execution that goes on
    clock = Clock()
    resumed: list[str] = []
    sfn = StepFunctionsClient(SendTaskBucket(clock), resumed=resumed.append)
    tokens = StepFunctionsTokens(sfn)

    # When one token is sent twice and another once
    first = tokens.send_success("t-1", "{}")
    again = tokens.send_success("t-1", "{}")
    other = tokens.send_failure("t-2", "Rejected", "by a person")

    # Then the second send reached Step Functions, was answered as a dead token and counted
    assert (first.result, again.result, other.result) == (
        TokenResult.ACCEPTED,
        TokenResult.DEAD,
        TokenResult.ACCEPTED,
    )
    assert sfn.double_sent == 1 and resumed == ["t-1"]
    assert sfn.task_truth("arn", "t-1").fate is TaskFate.SUCCEEDED
    assert sfn.task_truth("arn", "t-2").fate is TaskFate.FAILED
    assert sfn.task_truth("arn", "t-3").fate is TaskFate.WAITING


def test_a_throttled_send_reaches_no_token_and_is_no_double_send() -> None:
    clock = Clock()
    sfn = StepFunctionsClient(SendTaskBucket(clock, size=1, refill=1, level=1))
    tokens = StepFunctionsTokens(sfn)

    outcomes = [tokens.send_success("t-1", "{}").result, tokens.send_success("t-2", "{}").result]
    clock.now += 1.0
    retried = tokens.send_success("t-2", "{}").result

    assert outcomes == [TokenResult.ACCEPTED, TokenResult.THROTTLED]
    assert retried is TokenResult.ACCEPTED
    assert (sfn.throttled, sfn.double_sent) == (1, 0)
