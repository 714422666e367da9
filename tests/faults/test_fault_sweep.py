"""The single-fault sweep: every path, every call of its action, every fault that call can get;
after each schedule every invariant holds (``invariants.py``). It runs with the whole suite."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from recovery_ops.service.recovery.lifecycle.actions import RecoveryActions
from recovery_ops.service.recovery.lifecycle.reconciler import Reconciler
from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome, TokenResult
from recovery_ops.service.recovery.storage import escalation_claims
from recovery_ops.service.recovery.storage.groups import GroupStore
from tests.faults.figures import FIGURES
from tests.faults.injection import modes_for
from tests.faults.paths import PATHS
from tests.faults.sweep import Schedule, random_schedules, run_schedule, single_sweep


def _reproduce(schedule: str) -> str:
    return f"reproduce with: .venv/bin/python -m tests.faults.sweep --schedule '{schedule}'"


@pytest.mark.parametrize("path", sorted(PATHS))
def test_a_single_fault_at_any_call_of_the_path_keeps_every_invariant(
    path: str, record_property: pytest.RecordProperty
) -> None:
    # Given the path run without a fault, its calls counted
    bases, report = single_sweep([path])
    base = bases[path]
    assert not base.violations, "\n".join(base.violations)

    # When each of its calls gets each fault it can get, one schedule each
    record_property(FIGURES, json.dumps(report.figures()))
    print("\n".join(report.lines()))

    # Then every schedule was run, and none breaks an invariant
    expected = sum(len(modes_for(kind)) for kind in base.trace[: base.action_calls])
    assert sum(report.schedules.values()) == expected
    assert report.violations == 0, "\n".join(
        [*report.lines(), *(_reproduce(str(run.schedule)) for run in report.failed)]
    )


def test_a_schedule_is_its_own_reproduction() -> None:
    # Given a seeded random schedule
    bases = {name: run_schedule(Schedule(name)) for name in ("bulk-run-again", "reconciler")}
    schedules = random_schedules(bases, 2, seed=7)
    assert schedules == random_schedules(bases, 2, seed=7)  # the same seed, the same schedules

    # When each is run twice
    first, again = [run_schedule(s) for s in schedules], [run_schedule(s) for s in schedules]

    # Then the same calls are made and the same faults fire, with the same outcome
    for one, other in zip(first, again, strict=True):
        assert (one.trace, one.fired, one.attempts, one.violations) == (
            other.trace,
            other.fired,
            other.attempts,
            other.violations,
        )
        assert Schedule.parse(str(one.schedule)).faults == one.schedule.faults


def test_a_message_not_posted_by_its_fifth_delivery_is_dead_lettered_and_its_recovery_stays_found() -> None:
    # Given a group's post that fails, and the channel's history unreadable at each delivery after it
    schedule = Schedule.parse("intake@8:error,26:error,35:error,44:error,53:error")

    # When SQS has delivered its two messages 5 times
    run = run_schedule(schedule)

    # Then both went to the recovery DLQ, their recoveries stored and open in the listing
    assert [kind for _, kind, _ in run.fired].count("chat-history.find_posted") == 4
    assert run.dead_lettered == 2 and run.violations == []


# ---------------------------------------------------------------------- the invariants bite
def _takes_silence_for_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    finish = RecoveryActions._finish

    def guessing(self, recovery, owner, actor, action, call, *rest, **more):  # noqa: ANN001, ANN002, ANN003
        def answered():  # noqa: ANN202
            answer = call()
            unknown = answer.result is TokenResult.UNKNOWN
            return TokenOutcome.refused(answer.code, "guessed") if unknown else answer

        return finish(self, recovery, owner, actor, action, answered, *rest, **more)

    monkeypatch.setattr(RecoveryActions, "_finish", guessing)


def _never_reads_the_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Reconciler, "settle", lambda self, recovery_id, **_: None)


def _never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RecoveryActions, "show", lambda self, recovery: None)
    monkeypatch.setattr(Reconciler, "refresh", lambda self, recovery_id, recovery=None: True)


def _posts_the_group_without_looking(monkeypatch: pytest.MonkeyPatch) -> None:
    claim_posting = GroupStore.claim_posting

    def blind(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        claim = claim_posting(self, *args, **kwargs)
        return claim and replace(claim, since=None)

    monkeypatch.setattr(GroupStore, "claim_posting", blind)


def _posts_the_level_without_looking(monkeypatch: pytest.MonkeyPatch) -> None:
    held = escalation_claims._held
    monkeypatch.setattr(escalation_claims, "_held", lambda item, now: replace(held(item, now), since=None))


@pytest.mark.parametrize(
    ("break_the_product", "schedule", "invariant"),
    [
        (_takes_silence_for_a_refusal, "run-again@3:lost", "(b)"),
        (_takes_silence_for_a_refusal, "self-healing@51:lost", "(c)"),
        (_never_reads_the_record, "reject@4:crash-before", "(a)"),
        (_never_shows, "run-again@no-fault", "(e)"),
        (_posts_the_group_without_looking, "intake@8:crash-after", "(intake)"),
        (_posts_the_level_without_looking, "escalation@3:crash-after", "(escalation)"),
        (_never_reads_the_record, "self-healing-probe@24:crash-before", "(self-healing-probe)"),
    ],
    ids=[
        "sends-twice",
        "landed-but-open",
        "left-in-flight",
        "message-behind",
        "group-posted-twice",
        "level-posted-twice",
        "probe-left-in-flight",
    ],
)
def test_the_invariants_catch_a_product_that_breaks_them(
    monkeypatch: pytest.MonkeyPatch,
    break_the_product,
    schedule: str,
    invariant: str,  # noqa: ANN001
) -> None:
    # Given a product broken on purpose
    break_the_product(monkeypatch)

    # When a schedule that reaches the broken code runs
    run = run_schedule(Schedule.parse(schedule))

    # Then the invariant it breaks says so
    assert any(invariant in v for v in run.violations), run.violations
