"""Self-healing over plain fakes: which recoveries resume by themselves when their circuit closes,
which stay for people, Stop, a circuit that opens again, and rounds cut short by a crash."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from recovery_ops.service.breaker.circuit_board import CircuitReading
from recovery_ops.service.breaker.circuit_breaker import CircuitState
from recovery_ops.service.recovery.access.routing_rules import RoutingRules, parse_rules
from recovery_ops.service.recovery.healing.ramp import RampSettings
from recovery_ops.service.recovery.healing.runs import Closure, HealingRuns, HealingState
from recovery_ops.service.recovery.healing.self_healing import (
    AUTO_ACTOR,
    PROBE_ACTOR,
    Pace,
    SelfHealing,
    why_left_for_people,
)
from recovery_ops.service.recovery.lifecycle.actions import RecoveryActions, ThrottleBackoff
from recovery_ops.service.recovery.lifecycle.reconciler import Reconciler
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.execution_record import TaskFate, TaskTruth
from recovery_ops.service.recovery.ports.notifier import (
    ChannelRouting,
    CircuitClosedNotice,
    HealingNotice,
    RecoveryGroup,
)
from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome
from recovery_ops.service.recovery.storage.groups import GroupStore
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.unit.slack.builders import a_recovery

TABLE = "recoveries"
CLOSED_AT = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
VENDOR = Closure("vendor", CLOSED_AT.timestamp())
NOW = CLOSED_AT + timedelta(minutes=3)


class Crash(RuntimeError):
    """The function died (a time limit, an out-of-memory) in the middle of a round."""


@dataclass
class StepFunctionsTokens:
    """Tokens as Step Functions treats them: each is accepted once; a second call on it is answered
    as a dead token. ``crash_on`` crashes the n-th call (1-based) before (``"before"``) or after
    (``"after"``) Step Functions took it."""

    accepted: list[str] = field(default_factory=list)
    calls: int = 0
    crash_on: int | None = None
    crash_when: str = "before"
    throttled: int = 0  # the first calls are throttled
    unanswered: set[str] = field(default_factory=set)  # tokens whose first call gets no answer (not landed)

    def send_success(self, token: str, output: str) -> TokenOutcome:
        self.calls += 1
        if token in self.unanswered:
            self.unanswered.discard(token)
            return TokenOutcome.unknown("ReadTimeoutError", "no answer")
        if self.throttled:
            self.throttled -= 1
            return TokenOutcome.throttled()
        crash = self.calls == self.crash_on
        if crash and self.crash_when == "before":
            raise Crash("before the call")
        if token in self.accepted:
            return TokenOutcome.dead("TaskTimedOut", "Provided task does not exist anymore")
        if token.startswith("dead-"):
            return TokenOutcome.dead("TaskTimedOut", "the step timed out")
        self.accepted.append(token)
        if crash:
            raise Crash("after the call")
        return TokenOutcome.accepted()

    def send_failure(self, token: str, error: str, cause: str) -> TokenOutcome:
        raise AssertionError("self-healing never rejects")

    def task_truth(self, execution_arn: str, task_token: str) -> TaskTruth:
        """The record: an accepted token's step resumed; a dead one's timed out; others wait."""
        if task_token in self.accepted:
            return TaskTruth(TaskFate.SUCCEEDED, "RUNNING")
        if task_token.startswith("dead-"):
            return TaskTruth(TaskFate.TIMED_OUT, "RUNNING")
        return TaskTruth(TaskFate.WAITING, "RUNNING")


@dataclass
class Circuits:
    """The breaker table as self-healing reads it; ``reopen_after`` reads, the circuit is OPEN."""

    state: CircuitState = CircuitState.CLOSED
    since: datetime = CLOSED_AT
    reopen_after: int | None = None
    reads: int = 0

    def reading(self, dependency: str) -> CircuitReading:
        self.reads += 1
        if self.reopen_after is not None and self.reads > self.reopen_after:
            return CircuitReading(dependency, CircuitState.OPEN, since=NOW)
        if dependency != "vendor":
            return CircuitReading(dependency, CircuitState.OPEN, since=CLOSED_AT - timedelta(hours=1))
        return CircuitReading(dependency, self.state, since=self.since)


@dataclass
class Display:
    shown: list[tuple[str, CircuitClosedNotice]] = field(default_factory=list)
    thread: list[HealingNotice] = field(default_factory=list)

    def show(self, group: RecoveryGroup, channel: str, ts: str, notice: CircuitClosedNotice) -> None:
        self.shown.append((group.group_id, notice))

    def progress(self, channel: str, ts: str, text_of: HealingNotice, dependency: str) -> None:
        self.thread.append(text_of)


@dataclass
class Clock:
    """Monotonic time that moves only when someone sleeps (the pace), plus a little per call."""

    now: float = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def rules(*documents: dict) -> RoutingRules:
    return parse_rules(json.dumps({"rules": list(documents)}), ChannelRouting(default="C-DEFAULT"))


HEALING_ORDERS = rules(
    {"name": "orders", "match": {"state_machine": "orders"}, "channel": "C-O", "self_healing": True}
)


@dataclass
class Rig:
    """Self-healing over fakes: the stores, task tokens, circuits, a display and a clock."""

    dynamodb: object
    store: RecoveryStore
    groups: GroupStore
    runs: HealingRuns
    tokens: StepFunctionsTokens
    circuits: Circuits
    display: Display
    clock: Clock
    healing: SelfHealing

    def statuses(self) -> dict[str, RecoveryStatus]:
        return {r.recovery_id: r.status for r in self.all()}

    def all(self) -> list[Recovery]:
        return [
            self.store.get(i)
            for i in sorted(self.dynamodb.items(TABLE))  # type: ignore[attr-defined]
            if i.startswith("rec-")
        ]


def a_rig(
    *recoveries: Recovery,
    rules_in_force: RoutingRules = HEALING_ORDERS,
    by_default: bool = False,
    tokens: StepFunctionsTokens | None = None,
    circuits: Circuits | None = None,
    per_second: float = 10.0,
    clock: Clock | None = None,
    ramp: RampSettings | None = None,
) -> Rig:
    from tests.support.fakes import FakeDynamoDB

    dynamodb = FakeDynamoDB()
    store, groups, runs = (
        RecoveryStore(TABLE, dynamodb),
        GroupStore(TABLE, dynamodb),
        HealingRuns(TABLE, dynamodb),
    )
    by_group: dict[str, list[Recovery]] = {}
    for recovery in recoveries:
        store.create_if_absent(recovery)
        if recovery.group_id:
            by_group.setdefault(recovery.group_id, []).append(recovery)
    for group_id, members in by_group.items():
        groups.add_members(group_id, members, CLOSED_AT)
        groups.set_message(group_id, "C-O", f"ts-{group_id}")
        for member in members:
            store.mark_posted(member.recovery_id, "C-O", f"ts-{group_id}", group_id)
    tokens = tokens or StepFunctionsTokens()
    clock, display, circuits = clock or Clock(), Display(), circuits or Circuits()
    reconciler = Reconciler(store, tokens, clock=lambda: NOW)
    actions = RecoveryActions(
        store, tokens, backoff=ThrottleBackoff(sleep=clock.sleep), clock=lambda: NOW, settler=reconciler
    )
    healing = SelfHealing(
        store=store,
        groups=groups,
        runs=runs,
        actions=actions,
        circuits=circuits,
        rules=lambda: rules_in_force,
        outage_errors=("CircuitOpen", "VendorUnavailable"),
        heals_by_default=by_default,
        display=display,
        pace=Pace(per_second, clock=clock.monotonic, sleep=clock.sleep),
        reconciler=reconciler,
        clock=lambda: NOW,
        monotonic=clock.monotonic,
        ramp=ramp,
    )
    return Rig(dynamodb, store, groups, runs, tokens, circuits, display, clock, healing)


def outage_recovery(number: int, group: str = "grp-vendor", **changes: object) -> Recovery:
    """A recovery the vendor's outage left: it names the vendor's circuit, oldest first by number."""
    created = (CLOSED_AT - timedelta(minutes=30) + timedelta(seconds=number)).isoformat(
        timespec="milliseconds"
    )
    given = {
        "task_token": f"token-{number}",
        "dependency": "vendor",
        "group_id": group,
        "created_at": created,
    }
    return a_recovery(number, **{**given, **changes})


def heal_until_done(rig: Rig, budget_seconds: float = 60.0, rounds: int = 20) -> list:
    reports = []
    for _ in range(rounds):
        report = rig.healing.round(VENDOR, budget_seconds)
        reports.append(report)
        if report.done:
            return reports
    raise AssertionError(f"not done after {rounds} rounds")


# ---------------------------------------------------------------------- what it may touch
def test_a_client_data_an_owned_and_an_edited_recovery_are_left_for_people() -> None:
    plain = outage_recovery(1)
    assert why_left_for_people(plain, heals_itself=True, edited=False) is None
    assert "client-data" in why_left_for_people(replace(plain, routing=Routing.CLIENT_DATA), True, False)
    assert "UALICE owns it" == why_left_for_people(replace(plain, owner="UALICE"), True, False)
    assert "edited input" in why_left_for_people(plain, True, edited=True)
    assert "does not heal itself" in why_left_for_people(plain, heals_itself=False, edited=False)


def test_only_the_closed_dependencys_outage_recoveries_resume() -> None:
    rig = a_rig(
        outage_recovery(1),
        outage_recovery(2, group="grp-payments", dependency="payments"),  # its circuit is still open
        outage_recovery(3, group="grp-other", error="ProductUnavailable"),  # not an outage error
        outage_recovery(4, group="grp-unsaid", dependency=None),  # says no dependency: never guessed
        outage_recovery(5),
    )

    reports = heal_until_done(rig)

    statuses = rig.statuses()
    assert statuses[outage_recovery(1).recovery_id] is RecoveryStatus.RESUMED
    assert statuses[outage_recovery(5).recovery_id] is RecoveryStatus.RESUMED
    for untouched in (2, 3, 4):
        assert statuses[outage_recovery(untouched).recovery_id] is RecoveryStatus.OPEN
    assert rig.tokens.accepted == ["token-1", "token-5"]  # oldest first
    assert reports[-1].done and sum(r.resumed for r in reports) == 2


def test_client_data_owned_and_edited_recoveries_stay_open_while_the_rest_resume() -> None:
    edited_before = outage_recovery(
        10,
        group="grp-done",
        status=RecoveryStatus.RESUMED,
        execution_arn=outage_recovery(3).execution_arn,
        audit=[AuditEntry("2026-12-01T10:10:00.000+00:00", "UALICE", "edit and run again", "RESUMED")],
    )
    rig = a_rig(
        outage_recovery(1, routing=Routing.CLIENT_DATA),
        outage_recovery(2, owner="UBOB", owned_at="2026-12-01T10:40:00+00:00"),
        outage_recovery(3),  # its execution was run again with an edited input once already
        outage_recovery(4),
        edited_before,
    )

    heal_until_done(rig)

    statuses = rig.statuses()
    assert [n for n in (1, 2, 3, 4) if statuses[outage_recovery(n).recovery_id] is RecoveryStatus.OPEN] == [
        1,
        2,
        3,
    ]
    assert rig.tokens.accepted == ["token-4"]


def test_a_rule_that_does_not_heal_itself_keeps_its_recoveries_for_people_whatever_the_default() -> None:
    manual = rules(
        {"name": "orders", "match": {"state_machine": "orders"}, "channel": "C-O", "self_healing": False}
    )
    rig = a_rig(outage_recovery(1), rules_in_force=manual, by_default=True)

    assert not heal_until_done(rig)[-1].resumed
    assert rig.statuses()[outage_recovery(1).recovery_id] is RecoveryStatus.OPEN


def test_the_stack_default_decides_for_recoveries_no_rule_says_anything_about() -> None:
    silent = rules({"name": "orders", "match": {"state_machine": "orders"}, "channel": "C-O"})
    off, on = (
        a_rig(outage_recovery(1), rules_in_force=silent),
        a_rig(outage_recovery(1), rules_in_force=silent, by_default=True),
    )

    heal_until_done(off), heal_until_done(on)

    assert off.tokens.accepted == [] and on.tokens.accepted == ["token-1"]
    assert not off.healing.may_heal_any() and on.healing.may_heal_any()


# ---------------------------------------------------------------------- how it resumes
def test_each_resume_is_audited_as_self_healing_and_paced() -> None:
    rig = a_rig(*(outage_recovery(n) for n in range(1, 21)), per_second=5.0)

    heal_until_done(rig)

    resumed = rig.all()
    assert {r.status for r in resumed} == {RecoveryStatus.RESUMED}
    claims = [e for r in resumed for e in r.audit if e.result == RecoveryStatus.RESUMING]
    assert {(e.actor, e.action, e.detail["closure"]) for e in claims} == {
        (AUTO_ACTOR, "run again", VENDOR.id)
    }
    assert rig.clock.now == pytest.approx(19 / 5.0)  # 20 resumes at 5 a second: 19 gaps of 0.2 s


def test_a_round_stops_at_its_budget_and_the_next_round_carries_on_without_repeating() -> None:
    rig = a_rig(*(outage_recovery(n) for n in range(1, 31)), per_second=10.0)

    first = rig.healing.round(VENDOR, budget_seconds=1.0)
    assert not first.done and 0 < first.resumed < 30
    rest = heal_until_done(rig)

    assert first.resumed + sum(r.resumed for r in rest) == 30
    assert sorted(rig.tokens.accepted) == sorted(f"token-{n}" for n in range(1, 31))
    assert len(rig.tokens.accepted) == len(set(rig.tokens.accepted))


def test_a_dead_token_closes_its_recovery_as_expired_and_the_rest_go_on() -> None:
    rig = a_rig(outage_recovery(1), outage_recovery(2, task_token="dead-2"), outage_recovery(3))

    reports = heal_until_done(rig)

    statuses = rig.statuses()
    assert statuses[outage_recovery(2).recovery_id] is RecoveryStatus.EXPIRED
    assert (
        statuses[outage_recovery(1).recovery_id]
        is statuses[outage_recovery(3).recovery_id]
        is RecoveryStatus.RESUMED
    )
    run = rig.runs.get_for(VENDOR, "grp-vendor")
    assert (run.state, run.resumed, run.expired, run.left) == (HealingState.FINISHED, 2, 1, 0)
    assert sum(r.expired for r in reports) == 1


def test_a_throttled_call_backs_off_and_then_resumes() -> None:
    rig = a_rig(outage_recovery(1), tokens=StepFunctionsTokens(throttled=3))

    heal_until_done(rig)

    assert rig.tokens.accepted == ["token-1"] and rig.tokens.calls == 4
    assert rig.statuses()[outage_recovery(1).recovery_id] is RecoveryStatus.RESUMED


def test_a_recovery_a_person_took_meanwhile_is_theirs() -> None:
    rig = a_rig(outage_recovery(1), outage_recovery(2))
    rig.store.transition(
        outage_recovery(1).recovery_id,
        RecoveryStatus.OPEN,
        RecoveryStatus.RESUMING,
        AuditEntry(NOW.isoformat(), "UALICE", "run again", RecoveryStatus.RESUMING),
    )

    heal_until_done(rig)

    assert rig.tokens.accepted == ["token-2"]  # Alice's claim is hers to finish
    assert rig.statuses()[outage_recovery(1).recovery_id] is RecoveryStatus.RESUMING


# ---------------------------------------------------------------------- what people see, Stop
def test_the_group_message_says_how_many_resume_and_the_thread_gets_the_final_count() -> None:
    rig = a_rig(*(outage_recovery(n) for n in range(1, 4)))

    heal_until_done(rig)

    first_group, first = rig.display.shown[0]
    assert first_group == "grp-vendor" and first.healing is not None
    assert (first.healing.state, first.healing.selected, first.healing.resumed) == ("RESUMING", 3, 0)
    last = rig.display.thread[-1]
    assert (last.state, last.resumed, last.expired, last.left) == ("FINISHED", 3, 0, 0)
    assert rig.display.shown[-1][1].healing.state == "FINISHED"


def test_stop_leaves_the_rest_of_that_group_open_and_only_that_group() -> None:
    rig = a_rig(
        *(outage_recovery(n) for n in range(1, 11)),
        *(outage_recovery(n, group="grp-b") for n in range(11, 21)),
    )
    rig.healing.round(VENDOR, budget_seconds=0.5)
    run = rig.runs.get_for(VENDOR, "grp-vendor")

    assert rig.runs.stop(run.healing_id, "UALICE", NOW.isoformat())
    assert not rig.runs.stop(run.healing_id, "UBOB", NOW.isoformat())  # exactly once
    heal_until_done(rig)

    stopped = rig.runs.get_for(VENDOR, "grp-vendor")
    assert stopped.state is HealingState.STOPPED and stopped.stopped_by == "UALICE"
    assert [e.actor for e in stopped.audit if e.action == "stop self-healing"] == ["UALICE"]
    group_a = [r for r in rig.all() if r.group_id == "grp-vendor"]
    group_b = [r for r in rig.all() if r.group_id == "grp-b"]
    assert any(r.status is RecoveryStatus.OPEN for r in group_a)
    assert stopped.resumed == sum(r.status is RecoveryStatus.RESUMED for r in group_a) < 10
    assert {r.status for r in group_b} == {RecoveryStatus.RESUMED}


# ---------------------------------------------------------------------- the circuit opens again
def test_a_circuit_that_opens_again_mid_resume_leaves_the_rest_open_and_untouched() -> None:
    rig = a_rig(*(outage_recovery(n) for n in range(1, 41)), circuits=Circuits(reopen_after=3))

    reports = heal_until_done(rig)

    assert reports[-1].done and "opened again" in reports[-1].why
    statuses = rig.statuses().values()
    resumed = sum(s is RecoveryStatus.RESUMED for s in statuses)
    assert 0 < resumed < 40 and sum(s is RecoveryStatus.OPEN for s in statuses) == 40 - resumed
    run = rig.runs.get_for(VENDOR, "grp-vendor")
    assert run.state is HealingState.REOPENED and run.left == 40 - resumed
    assert rig.display.thread[-1].state == "REOPENED"


def test_a_circuit_that_closed_again_since_is_another_closure_whose_own_run_resumes() -> None:
    rig = a_rig(outage_recovery(1), circuits=Circuits(since=CLOSED_AT + timedelta(minutes=1)))

    assert rig.healing.round(VENDOR, 60).done  # this closing's run sees it is not its circuit any more
    assert rig.tokens.accepted == []
    later = Closure("vendor", (CLOSED_AT + timedelta(minutes=1)).timestamp())
    assert rig.healing.round(later, 60).done and rig.tokens.accepted == ["token-1"]


# ---------------------------------------------------------------------- crashes
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_mid_round_resumes_each_remaining_recovery_exactly_once(when: str) -> None:
    rig = a_rig(
        *(outage_recovery(n) for n in range(1, 11)), tokens=StepFunctionsTokens(crash_on=4, crash_when=when)
    )

    with pytest.raises(Crash):
        rig.healing.round(VENDOR, 60)  # Step Functions retries the round's task
    heal_until_done(rig)

    assert sorted(rig.tokens.accepted) == sorted(f"token-{n}" for n in range(1, 11))
    assert len(rig.tokens.accepted) == 10  # none twice
    assert set(rig.statuses().values()) == {RecoveryStatus.RESUMED}
    fourth = rig.store.get(outage_recovery(4).recovery_id)
    if when == "before":  # nothing reached Step Functions: open again, then resumed by the next round
        assert [e.action for e in fourth.audit[-3:]] == ["reopen", "run again", "run again"]
    else:  # Step Functions had it: the record says resumed, and nothing was sent again
        assert fourth.audit[-1].detail["from"] == "Step Functions' record of the execution"
        assert fourth.audit[-1].result == RecoveryStatus.RESUMED


def test_a_resume_without_an_answer_keeps_the_run_going_until_a_later_round_has_settled_it() -> None:
    # Given the third resume's call gets no answer (it did not land)
    rig = a_rig(
        *(outage_recovery(n) for n in range(1, 6)), tokens=StepFunctionsTokens(unanswered={"token-3"})
    )

    # When rounds run until one says it is done
    reports = heal_until_done(rig)

    # Then the first round does not call the run finished while that recovery is in flight; the next
    # round opens it again from the record and resumes it: every token accepted once
    assert not reports[0].done and reports[0].in_flight == 1
    assert sorted(rig.tokens.accepted) == sorted(f"token-{n}" for n in range(1, 6))
    assert set(rig.statuses().values()) == {RecoveryStatus.RESUMED}
    assert rig.runs.get_for(VENDOR, "grp-vendor").state is HealingState.FINISHED


def test_a_round_cut_off_between_a_resume_and_its_count_still_ends_with_the_exact_count() -> None:
    # Given a round that dies right after the third recovery resumed, before counting it
    rig = a_rig(*(outage_recovery(n) for n in range(1, 6)))
    count, calls = rig.runs.count, []

    def dies_on_the_third(*args, **kwargs) -> None:
        calls.append(args)
        if len(calls) == 3:
            raise Crash("between the resume and its count")
        count(*args, **kwargs)

    rig.runs.count = dies_on_the_third  # type: ignore[method-assign]
    with pytest.raises(Crash):
        rig.healing.round(VENDOR, 60)

    # When the rounds go on to the end
    heal_until_done(rig)

    # Then every recovery resumed once and the run's count says five, not four
    run = rig.runs.get_for(VENDOR, "grp-vendor")
    assert len(rig.tokens.accepted) == 5
    assert (run.state, run.resumed, run.left) == (HealingState.FINISHED, 5, 0)


def test_abandon_ends_every_run_and_leaves_the_rest_open() -> None:
    rig = a_rig(*(outage_recovery(n) for n in range(1, 11)))
    rig.healing.round(VENDOR, budget_seconds=0.3)

    rig.healing.abandon(VENDOR, "the round failed 6 times")

    run = rig.runs.get_for(VENDOR, "grp-vendor")
    assert run.state is HealingState.INTERRUPTED and run.left > 0
    assert sum(s is RecoveryStatus.OPEN for s in rig.statuses().values()) == run.left


# ---------------------------------------------------------------------- a circuit nobody probes
OPEN_UNTIL = CLOSED_AT - timedelta(minutes=5)


def open_circuit(dependency: str = "vendor", until: datetime = OPEN_UNTIL) -> CircuitReading:
    return CircuitReading(dependency, CircuitState.OPEN, since=until - timedelta(minutes=1), open_until=until)


def test_a_circuit_nobody_probed_past_its_grace_gets_its_oldest_self_healing_recovery_resumed_to_probe() -> (
    None
):
    rig = a_rig(outage_recovery(1, routing=Routing.CLIENT_DATA), outage_recovery(2), outage_recovery(3))

    probed = rig.healing.probe([open_circuit()], now=OPEN_UNTIL.timestamp() + 61, grace_seconds=60)

    assert probed == [outage_recovery(2).recovery_id]  # the oldest it may resume, not the client-data one
    assert rig.tokens.accepted == ["token-2"]
    claim = next(e for e in rig.store.get(probed[0]).audit if e.result == RecoveryStatus.RESUMING)
    assert (claim.actor, claim.detail) == (PROBE_ACTOR, {"probe": "vendor"})


def test_no_probe_while_callers_may_still_take_it_or_someone_probes_or_nothing_may_heal() -> None:
    rig = a_rig(outage_recovery(1))
    after_grace = OPEN_UNTIL.timestamp() + 61

    assert rig.healing.probe([open_circuit()], now=OPEN_UNTIL.timestamp() + 30, grace_seconds=60) == []
    half_open = CircuitReading(
        "vendor", CircuitState.HALF_OPEN, since=OPEN_UNTIL, probe_expires=OPEN_UNTIL + timedelta(seconds=30)
    )
    closed = CircuitReading("vendor", CircuitState.CLOSED, since=OPEN_UNTIL)
    assert rig.healing.probe([half_open, closed], now=after_grace, grace_seconds=60) == []
    assert rig.healing.probe([open_circuit("payments")], now=after_grace, grace_seconds=60) == []
    manual = a_rig(outage_recovery(1), rules_in_force=rules())  # no rule heals, the default is off
    assert manual.healing.probe([open_circuit()], now=after_grace, grace_seconds=60) == []
    assert rig.tokens.accepted == [] and manual.tokens.accepted == []


def test_a_half_open_circuit_whose_probe_died_is_probed_once_its_lease_and_grace_are_over() -> None:
    rig = a_rig(outage_recovery(1))
    lease_ends = OPEN_UNTIL + timedelta(seconds=30)
    died = CircuitReading("vendor", CircuitState.HALF_OPEN, since=OPEN_UNTIL, probe_expires=lease_ends)

    assert rig.healing.probe([died], now=lease_ends.timestamp() + 59, grace_seconds=60) == []
    assert rig.healing.probe([died], now=lease_ends.timestamp() + 60, grace_seconds=60) == [
        outage_recovery(1).recovery_id
    ]


def test_a_group_an_earlier_round_finished_ends_with_the_closing_and_not_left_resuming() -> None:
    rig = a_rig(
        *(outage_recovery(n) for n in range(1, 4)), *(outage_recovery(n, group="grp-b") for n in range(4, 30))
    )

    first = rig.healing.round(VENDOR, budget_seconds=1.0)  # group grp-vendor's three, then some of grp-b
    assert not first.done
    heal_until_done(rig)

    runs = rig.runs.of_closure(VENDOR)
    assert {group: run.state for group, run in runs.items()} == {
        "grp-vendor": HealingState.FINISHED,
        "grp-b": HealingState.FINISHED,
    }
    assert (runs["grp-vendor"].resumed, runs["grp-b"].resumed) == (3, 26)


def test_a_round_that_lost_the_answer_to_creating_its_run_still_ends_the_run() -> None:
    # Given a round whose write creating the group's run lands but loses its answer
    from botocore.exceptions import ReadTimeoutError

    rig = a_rig(*(outage_recovery(n) for n in range(1, 4)))
    put_item = rig.dynamodb.put_item  # type: ignore[attr-defined]

    def answer_lost(**request: object) -> dict:
        put_item(**request)
        rig.dynamodb.put_item = put_item  # type: ignore[attr-defined]  # once
        raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    rig.dynamodb.put_item = answer_lost  # type: ignore[attr-defined]
    with pytest.raises(ReadTimeoutError):
        rig.healing.round(VENDOR, 60)  # Step Functions retries the round's task

    # When the next rounds run until done
    heal_until_done(rig)

    # Then the run the lost answer created is the closing's, and it ended with the rest
    run = rig.runs.get_for(VENDOR, "grp-vendor")
    assert list(rig.runs.of_closure(VENDOR)) == ["grp-vendor"]
    assert (run.state, run.resumed) == (HealingState.FINISHED, 3)


def test_a_recovery_whose_message_is_not_posted_yet_resumes_with_the_rest() -> None:
    # Given an outage's recoveries, one of them stored but not posted yet (no group: Slack was down)
    rig = a_rig(outage_recovery(1), outage_recovery(2), outage_recovery(3, group=None))

    # When the circuit has closed and self-healing runs to the end
    reports = heal_until_done(rig)

    # Then all three are resumed, the ungrouped one too, and nothing is left for people
    assert set(rig.statuses().values()) == {RecoveryStatus.RESUMED}
    assert sorted(rig.tokens.accepted) == ["token-1", "token-2", "token-3"]
    assert sum(r.left_for_people for r in reports) == 0
