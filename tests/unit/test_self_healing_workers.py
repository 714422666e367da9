"""Self-healing's resumes run side by side: on real threads each recovery is still resumed exactly once
and counted once, Stop and a circuit that opens again stop the starts, the pending limit counts the
resumes under way, a round keeps to its budget, the simulated pool's timing, and what an edit
lookup reads."""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

import pytest

from recovery_ops.service.recovery.healing.runs import MAX_PENDING_CLAIMS, HealingState
from recovery_ops.service.recovery.healing.workers import InlineWorkers, Task, ThreadWorkers
from recovery_ops.service.recovery.model.recovery import AuditEntry, RecoveryStatus
from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome
from tests.support.simulated_workers import SimulatedWorkers
from tests.unit.test_self_healing import (
    NOW,
    VENDOR,
    Circuits,
    Clock,
    Rig,
    StepFunctionsTokens,
    a_rig,
    heal_until_done,
    outage_recovery,
)

WAIT = 10.0  # the most a test waits on another thread before it fails (never reached when it passes)


@dataclass
class ThreadSafeTokens(StepFunctionsTokens):
    """The tokens fake under a lock, counting every send per token; ``on_send(n)`` runs (outside the
    lock) at the n-th send, and ``seconds`` of ``clock`` pass in each call (a worker's wait)."""

    sends: Counter[str] = field(default_factory=Counter)
    on_send: dict[int, object] = field(default_factory=dict)
    clock: Clock | None = None
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send_success(self, token: str, output: str) -> TokenOutcome:
        with self._lock:
            self.sends[token] += 1
            hook = self.on_send.get(sum(self.sends.values()))
            outcome = super().send_success(token, output)
        if callable(hook):
            hook()
        if self.clock is not None:
            self.clock.sleep(self.seconds)
        return outcome


def a_threaded_rig(count: int, workers: int, **given: object) -> tuple[Rig, ThreadSafeTokens]:
    tokens = ThreadSafeTokens()
    rig = a_rig(*(outage_recovery(n) for n in range(1, count + 1)), tokens=tokens, **given)  # type: ignore[arg-type]
    rig.healing.workers = ThreadWorkers(workers)
    return rig, tokens


# ---------------------------------------------------------------------- exactly once, on threads
def test_on_real_threads_each_recovery_is_resumed_once_and_counted_once() -> None:
    # Given 200 recoveries, 16 workers, and a Step Functions whose first four sends wait for each
    # other (so the test fails unless resumes really run side by side)
    rig, tokens = a_threaded_rig(200, workers=16, per_second=50.0)
    side_by_side = threading.Barrier(4, timeout=WAIT)
    tokens.on_send = {n: side_by_side.wait for n in range(1, 5)}

    # When the rounds run to the end
    reports = heal_until_done(rig)

    # Then every token reached Step Functions once, every recovery resumed, the run counted 200
    assert len(tokens.sends) == 200 and set(tokens.sends.values()) == {1}
    assert set(rig.statuses().values()) == {RecoveryStatus.RESUMED}
    run = rig.runs.get_for(VENDOR, "grp-vendor")
    assert (run.state, run.resumed, run.left, run.pending) == (HealingState.FINISHED, 200, 0, ())
    assert sum(r.resumed for r in reports) == 200


def test_the_pending_limit_counts_the_resumes_under_way() -> None:
    # Given more workers than the pending limit, and sends that wait until the round drains (so
    # every resume it started is under way at once)
    count = MAX_PENDING_CLAIMS + 10
    rig, tokens = a_threaded_rig(count, workers=count, per_second=100.0)
    released = threading.Event()

    class ReleasedOnDrain(ThreadWorkers):
        """Lets the sends go when the round drains its resumes (not at an earlier drain)."""

        resumes = 0

        def submit(self, task: Task) -> None:
            self.resumes += isinstance(task, partial) and task.func.__name__ == "_resume"
            super().submit(task)

        def drain(self) -> None:
            if self.resumes:
                released.set()
            super().drain()

    def held() -> None:
        if not released.wait(WAIT):
            raise AssertionError("the round never drained")

    rig.healing.workers = ReleasedOnDrain(count)
    tokens.on_send = {n: held for n in range(1, count + 1)}

    # When one round runs
    first = rig.healing.round(VENDOR, 60)

    # Then it started no more than the limit; the next round resumes the rest, each once
    assert first.resumed == MAX_PENDING_CLAIMS and not first.done
    heal_until_done(rig)
    assert len(tokens.sends) == count and set(tokens.sends.values()) == {1}


# ---------------------------------------------------------------------- what stops the starts
def test_stop_pressed_while_workers_resume_stops_the_starts_and_the_count_is_exact() -> None:
    # Given 120 recoveries resumed by 8 threads, and someone pressing Stop at the 20th send
    rig, tokens = a_threaded_rig(120, workers=8, per_second=10.0)

    def stop() -> None:
        run = rig.runs.get_for(VENDOR, "grp-vendor")
        assert rig.runs.stop(run.healing_id, "UALICE", NOW.isoformat())

    tokens.on_send = {20: stop}

    # When the rounds run to the end
    heal_until_done(rig)

    # Then starts stopped within the second it takes to read the runs again, none is left in
    # flight, and the run counts exactly what resumed
    statuses = list(rig.statuses().values())
    resumed = statuses.count(RecoveryStatus.RESUMED)
    assert 20 <= resumed <= 20 + 10 + 8  # a second of starts at 10 a second, and those under way
    assert statuses.count(RecoveryStatus.OPEN) == 120 - resumed
    run = rig.runs.get_for(VENDOR, "grp-vendor")
    assert (run.state, run.resumed, run.pending) == (HealingState.STOPPED, resumed, ())


def test_a_circuit_that_opens_again_while_workers_resume_stops_the_starts() -> None:
    rig, tokens = a_threaded_rig(100, workers=8, circuits=Circuits(reopen_after=3))

    reports = heal_until_done(rig)

    assert reports[-1].done and "opened again" in reports[-1].why
    statuses = list(rig.statuses().values())
    resumed = statuses.count(RecoveryStatus.RESUMED)
    assert 0 < resumed < 100 and statuses.count(RecoveryStatus.OPEN) == 100 - resumed
    run = rig.runs.get_for(VENDOR, "grp-vendor")
    assert (run.state, run.resumed, run.left, run.pending) == (
        HealingState.REOPENED,
        resumed,
        100 - resumed,
        (),
    )
    assert set(tokens.sends.values()) == {1}


# ---------------------------------------------------------------------- the round's budget
def test_a_round_starts_its_last_resume_early_enough_to_drain_within_its_budget() -> None:
    # Given resumes that take 4 s each on the clock, 8 workers at 10 starts a second
    clock = Clock()
    tokens = ThreadSafeTokens(clock=clock, seconds=4.0)
    rig = a_rig(*(outage_recovery(n) for n in range(1, 201)), tokens=tokens, clock=clock, per_second=10.0)
    rig.healing.workers = SimulatedWorkers(8, clock.monotonic, lambda at: setattr(clock, "now", at))
    rig.healing.wind_down_seconds = 5.0

    # When a round of 30 s runs
    first = rig.healing.round(VENDOR, budget_seconds=30.0)

    # Then it ended within its budget, the resumes it started all counted; the next rounds go on
    assert clock.now <= 30.0
    assert not first.done and 0 < first.resumed < 200
    assert rig.runs.get_for(VENDOR, "grp-vendor").resumed == first.resumed
    heal_until_done(rig, budget_seconds=30.0, rounds=40)
    assert len(tokens.sends) == 200 and set(tokens.sends.values()) == {1}


def test_without_a_wind_down_the_last_resumes_would_run_past_the_budget() -> None:
    # the same round, starting resumes until the budget's very end: the check above is not idle
    clock = Clock()
    tokens = ThreadSafeTokens(clock=clock, seconds=4.0)
    rig = a_rig(*(outage_recovery(n) for n in range(1, 201)), tokens=tokens, clock=clock, per_second=10.0)
    rig.healing.workers = SimulatedWorkers(8, clock.monotonic, lambda at: setattr(clock, "now", at))
    rig.healing.wind_down_seconds = 0.0

    rig.healing.round(VENDOR, budget_seconds=30.0)

    assert clock.now > 30.0


# ---------------------------------------------------------------------- the simulated pool
def test_the_simulated_pool_starts_a_task_when_a_worker_is_free_and_drains_to_the_last_finish() -> None:
    # Given two workers on a clock at 0, and tasks that take 3, 1, 2 and 1 seconds
    clock = Clock()
    pool = SimulatedWorkers(2, clock.monotonic, lambda at: setattr(clock, "now", at))
    started: list[float] = []

    def takes(seconds: float):
        def task() -> None:
            started.append(clock.now)
            clock.sleep(seconds)

        return task

    # When they are submitted one after the other, the dispatcher's clock moving 0.5 s before the last
    pool.submit(takes(3))
    pool.submit(takes(1))
    after_two = clock.now
    pool.submit(takes(2))  # both busy: it waits for the one free at 1
    after_three = clock.now
    clock.sleep(0.5)
    pool.submit(takes(1))  # both busy (free at 3 and 3): it waits until 3
    after_four = clock.now
    pool.drain()

    # Then each started at max(its submission, the earliest free worker); the dispatcher waited
    # only while both were busy; the drain ends at the last finish
    assert started == [0.0, 0.0, 1.0, 3.0]
    assert (after_two, after_three, after_four) == (0.0, 1.0, 3.0)
    assert clock.now == 4.0 and pool.busiest == 2


def test_thread_workers_run_every_task_and_raise_the_first_failure_at_the_drain() -> None:
    pool, ran = ThreadWorkers(4), Counter[int]()
    lock = threading.Lock()

    def task(n: int):
        def run() -> None:
            with lock:
                ran[n] += 1
            if n == 3:
                raise ValueError("the third failed")

        return run

    with pytest.raises(ValueError, match="third"):
        for n in range(1, 11):
            pool.submit(task(n))
        pool.drain()
    pool.drain()  # whatever was still under way has finished, nothing more is raised

    assert ran[3] == 1 and set(ran.values()) == {1}
    assert len(ran) >= 3  # the starts stopped at the failure at the latest


def test_inline_workers_run_each_task_when_submitted() -> None:
    pool, order = InlineWorkers(), []

    pool.submit(lambda: order.append(1))
    order.append("after")
    pool.drain()

    assert order == [1, "after"]


# ---------------------------------------------------------------------- what a resume reads
@dataclass
class Reads:
    """The DynamoDB reads of one recovery item, by operation."""

    calls: list[tuple[str, str]] = field(default_factory=list)


def counting(rig: Rig) -> Reads:
    reads = Reads()
    get_item, query = rig.dynamodb.get_item, rig.dynamodb.query  # type: ignore[attr-defined]

    def counted_get(**request: object) -> dict:
        reads.calls.append(("get_item", request["Key"]["recovery_id"]["S"]))  # type: ignore[index]
        return get_item(**request)

    def counted_query(**request: object) -> dict:
        reads.calls.append(("query", str(request.get("IndexName"))))
        return query(**request)

    rig.dynamodb.get_item = counted_get  # type: ignore[attr-defined]
    rig.dynamodb.query = counted_query  # type: ignore[attr-defined]
    return reads


def test_an_edit_lookup_for_an_execution_with_one_recovery_is_one_query_and_no_read() -> None:
    rig = a_rig(outage_recovery(1))
    reads = counting(rig)

    assert [r.recovery_id for r in rig.healing.resumable("vendor")] == [outage_recovery(1).recovery_id]

    assert reads.calls.count(("query", "by-execution")) == 1
    assert [c for c in reads.calls if c[0] == "get_item"] == []


def test_an_edit_lookup_reads_the_executions_other_recoveries_only() -> None:
    edited_before = outage_recovery(
        10,
        group="grp-done",
        status=RecoveryStatus.RESUMED,
        execution_arn=outage_recovery(3).execution_arn,
        audit=[AuditEntry("2026-12-01T10:10:00.000+00:00", "UALICE", "edit and run again", "RESUMED")],
    )
    rig = a_rig(outage_recovery(3), edited_before)
    reads = counting(rig)

    assert rig.healing.resumable("vendor") == []

    assert [c for c in reads.calls if c[0] == "get_item"] == [("get_item", edited_before.recovery_id)]


def test_thread_workers_run_each_task_in_the_context_it_was_submitted_from() -> None:
    # Given a value bound to the invocation (as the caller the embedded stack checks permissions for)
    invocation: contextvars.ContextVar[str | None] = contextvars.ContextVar("invocation", default=None)
    invocation.set("SelfHealingFunction")
    pool, seen = ThreadWorkers(2), []

    # When tasks run on the pool's threads
    for _ in range(3):
        pool.submit(lambda: seen.append(invocation.get()))
    pool.drain()

    # Then each saw it
    assert seen == ["SelfHealingFunction"] * 3


def test_the_runs_are_read_again_a_hundred_a_call() -> None:
    # Given a closing with 150 groups' runs, one of them stopped
    rig = a_rig()
    started = [rig.runs.start(VENDOR, f"grp-{n}", 1, None, NOW)[0] for n in range(150)]
    assert rig.runs.stop(started[7].healing_id, "UALICE", NOW.isoformat())
    calls: list[int] = []
    batch_get_item = rig.dynamodb.batch_get_item  # type: ignore[attr-defined]

    def counted(**request: dict) -> dict:
        calls.append(sum(len(table["Keys"]) for table in request["RequestItems"].values()))
        return batch_get_item(**request)

    rig.dynamodb.batch_get_item = counted  # type: ignore[attr-defined]

    # When they are read again
    fresh = rig.runs.get_many([run.healing_id for run in started])

    # Then two calls read them all, as they are stored now
    assert calls == [100, 50]
    assert len(fresh) == 150 and fresh[started[7].healing_id].state is HealingState.STOPPED
    assert {run.state for i, run in fresh.items() if i != started[7].healing_id} == {HealingState.RESUMING}
