"""Self-healing's ramp over plain fakes, on a simulated clock: a vendor back from an outage that fails
when called faster than it can bear, a circuit that counts those failures, and Step Functions'
SendTask* bucket. The pace starts slow, grows while the vendor answers, halves when its failures
come back, stays under the ceilings, and a later round goes on from the pace the last one reached."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from recovery_ops.service.breaker.circuit_board import CircuitReading
from recovery_ops.service.breaker.circuit_breaker import CircuitState
from recovery_ops.service.recovery.healing.ramp import (
    SENDTASK_BUCKET,
    SENDTASK_REFILL_PER_SECOND,
    Ramp,
    RampSettings,
    RampState,
)
from recovery_ops.service.recovery.healing.runs import HealingState
from recovery_ops.service.recovery.healing.self_healing import Pace
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome, TokenResult
from tests.unit.test_self_healing import (
    CLOSED_AT,
    VENDOR,
    Clock,
    Rig,
    StepFunctionsTokens,
    a_rig,
    heal_until_done,
    outage_recovery,
    rules,
)

SETTINGS = RampSettings()  # 2 a second at first, doubling every 2 s, then 2 more every 2 s


# ---------------------------------------------------------------------- the simulation
@dataclass
class Vendor:
    """A dependency that takes ``capacity`` calls in each second; the calls past it fail."""

    clock: Clock
    capacity: int
    calls: Counter[int] = field(default_factory=Counter)
    errors: list[float] = field(default_factory=list)  # when each failed call was made

    def call(self) -> bool:
        second = math.floor(self.clock.now)
        self.calls[second] += 1
        if self.calls[second] <= self.capacity:
            return True
        self.errors.append(self.clock.now)
        return False


@dataclass
class Breaker:
    """The vendor's circuit: ``threshold`` failures within ``window`` seconds open it."""

    clock: Clock
    threshold: int = 40
    window: float = 60.0
    failures: int = 0
    window_start: float | None = None
    opened_at: float | None = None

    def failure(self) -> None:
        now = self.clock.now
        if self.window_start is None or now - self.window_start > self.window:
            self.window_start, self.failures = now, 0
        self.failures += 1
        if self.failures >= self.threshold and self.opened_at is None:
            self.opened_at = now

    def reading(self, dependency: str) -> CircuitReading:
        if self.opened_at is not None:
            return CircuitReading(dependency, CircuitState.OPEN, since=CLOSED_AT + timedelta(hours=1))
        window = CLOSED_AT + timedelta(seconds=self.window_start) if self.window_start is not None else None
        return CircuitReading(
            dependency, CircuitState.CLOSED, since=CLOSED_AT, failures=self.failures, window_started_at=window
        )


@dataclass
class SendTaskBucket:
    """Step Functions' SendTask* token bucket: ``size`` tokens, refilled at ``refill`` a second."""

    clock: Clock
    size: float = SENDTASK_BUCKET
    refill: float = SENDTASK_REFILL_PER_SECOND
    level: float = SENDTASK_BUCKET
    at: float = 0.0
    lowest: float = SENDTASK_BUCKET

    def take(self) -> bool:
        now = self.clock.now
        self.level, self.at = min(self.size, self.level + (now - self.at) * self.refill), now
        if self.level < 1:
            return False
        self.level -= 1
        self.lowest = min(self.lowest, self.level)
        return True


@dataclass
class ResumingStepFunctions(StepFunctionsTokens):
    """Step Functions behind the tokens: each accepted token's execution calls the vendor at once;
    a failed call is counted by the circuit and the execution pauses again at the same step (a new
    recovery, through ``relapse``)."""

    clock: Clock = field(default_factory=Clock)
    vendor: Vendor | None = None
    breaker: Breaker | None = None
    bucket: SendTaskBucket | None = None
    relapse: Callable[[str], None] = lambda token: None
    sent_at: list[float] = field(default_factory=list)
    throttled_calls: int = 0

    def send_success(self, token: str, output: str) -> TokenOutcome:
        if self.bucket is not None and not self.bucket.take():
            self.throttled_calls += 1
            return TokenOutcome.throttled()
        outcome = super().send_success(token, output)
        if outcome.result is TokenResult.ACCEPTED:
            self.sent_at.append(self.clock.now)
            assert self.vendor is not None and self.breaker is not None
            if not self.vendor.call():
                self.breaker.failure()
                self.relapse(token)
        return outcome


@dataclass
class RecordingPace(Pace):
    """The pace, noting the rate of each gap it spaces."""

    rates: list[float] = field(default_factory=list)

    def wait(self, per_second: float | None = None) -> None:
        self.rates.append(per_second or self.per_second)
        super().wait(per_second)


@dataclass
class Simulation:
    rig: Rig
    tokens: ResumingStepFunctions
    vendor: Vendor
    breaker: Breaker
    bucket: SendTaskBucket
    pace: RecordingPace
    relapsed: list[str] = field(default_factory=list)

    def busiest_second(self) -> int:
        return max(Counter(math.floor(at) for at in self.tokens.sent_at).values())

    def new_round(self) -> RecordingPace:
        """The next round in a fresh invocation: nothing kept in memory but the clock."""
        pace = RecordingPace(self.pace.per_second, clock=self.rig.clock.monotonic, sleep=self.rig.clock.sleep)
        self.rig.healing = replace(self.rig.healing, pace=pace, _edited={})
        self.pace = pace
        return pace


def a_simulation(
    count: int,
    capacity: int,
    max_per_second: float | None = None,
    stack_per_second: float = 10.0,
    threshold: int = 40,
    bucket: SendTaskBucket | None = None,
    settings: RampSettings = SETTINGS,
) -> Simulation:
    clock = Clock()
    vendor, breaker = Vendor(clock, capacity), Breaker(clock, threshold)
    bucket = bucket or SendTaskBucket(clock)
    tokens = ResumingStepFunctions(clock=clock, vendor=vendor, breaker=breaker, bucket=bucket)
    rule = {"name": "orders", "match": {"state_machine": "orders"}, "channel": "C-O", "self_healing": True}
    if max_per_second is not None:
        rule["self_healing_max_per_second"] = max_per_second
    rig = a_rig(
        *(outage_recovery(n) for n in range(1, count + 1)),
        rules_in_force=rules(rule),
        tokens=tokens,
        circuits=breaker,  # type: ignore[arg-type]
        per_second=stack_per_second,
        clock=clock,
        ramp=settings,
    )
    pace = RecordingPace(stack_per_second, clock=clock.monotonic, sleep=clock.sleep)
    rig.healing.pace = pace
    simulation = Simulation(rig, tokens, vendor, breaker, bucket, pace)

    def relapse(token: str) -> None:
        """The execution of ``token`` failed at the vendor again and paused: a new recovery."""
        number = 100_000 + len(simulation.relapsed)
        original = outage_recovery(int(token.split("-")[1]))
        again = outage_recovery(number, task_token=f"token-{number}", execution_arn=original.execution_arn)
        rig.store.create_if_absent(again)
        rig.groups.add_members("grp-vendor", [again], CLOSED_AT)
        rig.store.mark_posted(again.recovery_id, "C-O", "ts-grp-vendor", "grp-vendor")
        simulation.relapsed.append(again.recovery_id)

    tokens.relapse = relapse
    return simulation


# ---------------------------------------------------------------------- the ramp, resuming
def test_the_pace_starts_slow_grows_while_the_vendor_answers_and_halves_when_its_failures_come_back() -> None:
    # Given 600 paused executions, a vendor that takes 50 calls a second, a rule's ceiling of 80
    sim = a_simulation(600, capacity=50, max_per_second=80)

    # When self-healing runs round after round
    heal_until_done(sim.rig, budget_seconds=60.0, rounds=40)

    # Then it started at 2 a second and doubled while the vendor answered
    rates = sim.pace.rates
    assert rates[0] == SETTINGS.initial_per_second
    distinct = list(dict.fromkeys(rates))
    assert distinct[:6] == [2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    # and the first failures halved it: the next pace is half the one that brought them
    first_error = sim.vendor.errors[0]
    rate_then = rates[sim.tokens.sent_at.index(first_error)]
    assert rate_then > 50
    after = [r for r, at in zip(rates[1:], sim.tokens.sent_at, strict=False) if at > first_error + 1]
    assert after[0] == rate_then / 2
    # it never passed the rule's ceiling, and the vendor's errors stayed few and the circuit closed
    assert max(rates) <= 80 and sim.busiest_second() <= 80 + 1
    assert 0 < len(sim.vendor.errors) < 0.05 * len(sim.tokens.sent_at)
    assert sim.breaker.opened_at is None
    # and everything was resumed, the executions that failed again too, nothing sent twice
    assert set(sim.rig.statuses().values()) == {RecoveryStatus.RESUMED}
    assert len(sim.rig.statuses()) == 600 + len(sim.relapsed)
    assert len(sim.tokens.accepted) == len(set(sim.tokens.accepted)) == 600 + len(sim.relapsed)
    run = sim.rig.runs.get_for(VENDOR, "grp-vendor")
    assert (run.state, run.resumed) == (HealingState.FINISHED, 600 + len(sim.relapsed))


def test_it_resumes_much_faster_than_a_fixed_pace_at_the_stacks_default() -> None:
    # Given 800 paused executions and a vendor that takes 100 a second, under a ceiling of 150
    sim = a_simulation(800, capacity=100, max_per_second=150)

    heal_until_done(sim.rig, budget_seconds=60.0, rounds=40)

    # Then the run took well under the 80 s that 10 a second would need, and the circuit held
    assert sim.tokens.sent_at[-1] < 30
    assert sim.breaker.opened_at is None
    assert set(sim.rig.statuses().values()) == {RecoveryStatus.RESUMED}


def test_without_a_rule_ceiling_the_stacks_resumes_per_second_is_the_ceiling() -> None:
    sim = a_simulation(200, capacity=1000, stack_per_second=10.0)

    heal_until_done(sim.rig)

    assert max(sim.pace.rates) == 10.0
    assert sim.busiest_second() <= 10 + 1  # evenly spaced: a second may hold both ends of its gaps
    assert not sim.vendor.errors


def test_the_pace_never_passes_step_functions_sendtask_bucket() -> None:
    # Given a vendor that takes anything, a rule allowing the most Step Functions refills, and a
    # ramp that starts high (so that it gets there soon)
    high = replace(SETTINGS, initial_per_second=125.0)
    sim = a_simulation(900, capacity=100_000, max_per_second=500, settings=high)

    heal_until_done(sim.rig, budget_seconds=60.0, rounds=20)

    # Then the pace reached the refill rate and no more: no call was throttled, the bucket never ran dry
    assert max(sim.pace.rates) == SENDTASK_REFILL_PER_SECOND
    assert sim.busiest_second() <= SENDTASK_REFILL_PER_SECOND + 1
    assert sim.tokens.throttled_calls == 0 and sim.bucket.lowest > SENDTASK_BUCKET - 10
    assert len(sim.tokens.accepted) == len(set(sim.tokens.accepted)) == 900


def test_sendtask_throttles_halve_the_pace_too() -> None:
    # Given other callers leave self-healing a bucket of 20 refilled at 20 a second
    clock_bucket = SendTaskBucket(Clock(), size=20, refill=20, level=20)
    sim = a_simulation(600, capacity=100_000, max_per_second=200, bucket=clock_bucket)
    clock_bucket.clock = sim.rig.clock

    heal_until_done(sim.rig, budget_seconds=60.0, rounds=40)

    # Then throttles were few: the pace halved each time it ran into the bucket, and the rest went on
    assert 0 < sim.tokens.throttled_calls < 60
    halvings = [b for a, b in zip(sim.pace.rates, sim.pace.rates[1:], strict=False) if b < a]
    assert halvings
    assert len(sim.tokens.accepted) == len(set(sim.tokens.accepted)) == 600


def test_a_circuit_that_opens_again_stops_the_ramp_and_leaves_the_rest_for_people() -> None:
    # Given a vendor that takes 3 calls a second and a circuit that opens at 3 failures
    sim = a_simulation(300, capacity=3, max_per_second=100, threshold=3)

    reports = heal_until_done(sim.rig, budget_seconds=60.0, rounds=40)

    # Then the run ends as the circuit opened, nothing is sent after, the rest stay open
    assert reports[-1].done and "opened again" in reports[-1].why
    assert sim.breaker.opened_at is not None
    assert all(at <= sim.breaker.opened_at + 1 for at in sim.tokens.sent_at)
    run = sim.rig.runs.get_for(VENDOR, "grp-vendor")
    assert run.state is HealingState.REOPENED
    assert sum(s is RecoveryStatus.OPEN for s in sim.rig.statuses().values()) >= 250


def test_a_round_cut_short_is_followed_by_one_that_goes_on_at_the_stored_pace() -> None:
    # Given a first round cut off after 9 simulated seconds, its pace grown on the way
    sim = a_simulation(400, capacity=1000, max_per_second=100)
    first = sim.rig.healing.round(VENDOR, budget_seconds=9.0)
    assert not first.done and first.per_second > 4 * SETTINGS.initial_per_second

    # When the next round runs in a fresh invocation
    pace = sim.new_round()
    heal_until_done(sim.rig)

    # Then it starts at the pace the first one reached, not at the initial 2 a second
    assert pace.rates[0] == first.per_second
    assert sim.rig.runs.get_for(VENDOR, "grp-vendor").ramp is not None
    assert len(sim.tokens.accepted) == len(set(sim.tokens.accepted)) == 400


def test_failures_counted_between_rounds_halve_the_next_rounds_pace() -> None:
    # Given a round that ended at a grown pace, and failures the circuit counted after it
    sim = a_simulation(400, capacity=1000, max_per_second=100)
    first = sim.rig.healing.round(VENDOR, budget_seconds=9.0)
    for _ in range(3):
        sim.breaker.failure()

    # When the next round reads the circuit
    pace = sim.new_round()
    sim.rig.healing.round(VENDOR, budget_seconds=5.0)

    # Then it halves from the stored pace at once
    assert pace.rates[0] == first.per_second / 2


def test_the_progress_in_slack_shows_the_current_pace() -> None:
    sim = a_simulation(400, capacity=1000, max_per_second=100)
    sim.rig.healing.progress_every_seconds = 3.0

    heal_until_done(sim.rig)

    shown = [notice.per_second for notice in sim.rig.display.thread if notice.state == "RESUMING"]
    assert shown[0] == SETTINGS.initial_per_second and max(shown) > SETTINGS.initial_per_second


# ---------------------------------------------------------------------- the ramp alone
def closed(failures: int = 0, window: float = 0.0) -> CircuitReading:
    return CircuitReading(
        "vendor",
        CircuitState.CLOSED,
        since=CLOSED_AT,
        failures=failures,
        window_started_at=CLOSED_AT + timedelta(seconds=window) if window else None,
    )


def window(ramp: Ramp) -> datetime | None:
    """The failures' window the ramp last saw, as the circuit reads it."""
    seen = ramp.state.window_started_at
    return datetime.fromtimestamp(seen, UTC) if seen else None


def grown(ramp: Ramp, times: int, start: float = 0.0) -> float:
    now = start
    for _ in range(times):
        ramp.sent()
        now += SETTINGS.grow_every_seconds
        ramp.observe(
            replace(closed(), failures=ramp.state.failures_seen, window_started_at=window(ramp)), 0, now
        )
    return now


def test_slow_start_doubles_then_after_trouble_grows_by_a_step() -> None:
    ramp = Ramp.start(SETTINGS, ceiling=100, stored=None, now=0)
    ramp.observe(closed(), 0, 0)

    now = grown(ramp, 4)
    assert ramp.per_second == 32.0
    assert ramp.observe(closed(failures=2, window=now), 0, now + 0.5) == "halved"
    assert (ramp.per_second, ramp.state.threshold) == (16.0, 16.0)
    grown(ramp, 2, now + 0.5)
    assert ramp.per_second == 16.0 + 2 * SETTINGS.additive_per_second


def test_trouble_right_after_a_halving_is_the_same_event() -> None:
    ramp = Ramp.start(SETTINGS, ceiling=100, stored=RampState(40.0), now=0)
    ramp.observe(closed(failures=1, window=1), 0, 0.1)  # a stored state: failures it did not see are new

    assert ramp.per_second == 20.0
    assert ramp.observe(closed(failures=4, window=1), 0, 0.5) is None and ramp.per_second == 20.0
    ramp.sent()
    assert ramp.observe(closed(failures=5, window=1), 0, 3.0) == "halved" and ramp.per_second == 10.0


def test_the_ramp_stays_between_its_floor_and_its_ceiling() -> None:
    ramp = Ramp.start(SETTINGS, ceiling=12, stored=None, now=0)
    grown(ramp, 10)
    assert ramp.per_second == 12

    low = Ramp.start(SETTINGS, ceiling=100, stored=RampState(1.0, threshold=1.0), now=0)
    low.observe(closed(failures=9, window=1), 3, 5)
    assert low.per_second == SETTINGS.floor_per_second
    above = Ramp.start(SETTINGS, ceiling=600, stored=RampState(700.0), now=0)
    assert above.per_second == SENDTASK_REFILL_PER_SECOND  # a stored pace over a lowered ceiling


def test_a_new_failure_window_counts_its_failures_as_new() -> None:
    ramp = Ramp.start(
        SETTINGS, ceiling=100, stored=RampState(20.0, failures_seen=4, window_started_at=1.0), now=0
    )

    assert ramp.observe(closed(failures=1, window=70), 0, 0) == "halved"
