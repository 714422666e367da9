"""The paths the sweep faults: each sets up a world, does one thing the product does (the faulted
action), then carries on as production would after a crash or an error.

- person actions (Run again, Edit & run again, Reject): on a crash, an error, a refusal or an
  answer still in flight, the person clicks once more;
- bulk Run again (3 recoveries): selected as the CLI and Slack select them, run, and each
  recovery's own message shown as the Slack app does after a bulk run; after a failure the person
  runs it once more on what is still open;
- a self-healing round (3 recoveries, two sharing a group message): rounds follow as the state
  machine calls them (a failed round is retried 5 times, then the rest is left to people);
- the execution watcher (an execution ended while one recovery was OPEN, one RESUMING whose call
  had landed and one RESUMING whose call had not): EventBridge's Lambda retries (twice);
- reminders (two open, one in flight for long): the next scheduled run, 5 minutes later;
- the reconciler itself (expired leases of every kind of truth, and a stale message): its next
  scheduled run, a minute later.

Then every path ends alike: the reconciler after the leases have run out (faults still on), then
once more past every lease with no fault (``World.final_reconcile``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from service.recovery.actions import REJECTED_ERROR, ActionOutcome
from service.recovery.bulk import open_recoveries_matching
from service.recovery.execution_end import ExecutionEnded
from service.recovery.execution_record import TaskFate
from service.recovery.healing_runs import HealingState
from service.recovery.recovery import AuditEntry, Recovery, RecoveryStatus
from service.recovery.store import ListFilter
from tests.faults.world import MACHINE_ARN, Attempt, World

SETTLED_OUTCOMES = (ActionOutcome.RESUMED, ActionOutcome.REJECTED, ActionOutcome.EXPIRED)
ROUND_RETRIES = 5  # infra/self_healing.asl.json: "Resume a round" Retry MaxAttempts
MAX_ROUNDS = 12
WATCHER_RETRIES = 2  # an asynchronous Lambda invocation (EventBridge) is tried twice more
EDITED = {"sku": "b", "quantity": 2}
REASON = "the customer cancelled"


@dataclass
class Context:
    """What a path set up: the paused steps (by token), and what its own checks need."""

    recoveries: list[Recovery]
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return [r.recovery_id for r in self.recoveries]

    @property
    def tokens(self) -> list[str]:
        return [r.task_token for r in self.recoveries]


@dataclass(frozen=True)
class Path:
    name: str
    setup: Callable[[World], Context]
    act: Callable[[World, Context], Any]  # the faulted action: one process's work
    carry_on: Callable[[World, Context, Attempt], None]  # what production does next (faults still on)
    check: Callable[[World, Context], list[str]] = lambda world, context: []


def _one_person_recovery(world: World) -> Context:
    return Context([world.paused(1, step_input={"sku": "a", "quantity": 2})])


def _click_again_if_needed(world: World, context: Context, first: Attempt, act: Callable[[], Any]) -> None:
    """The person clicks once more when the first click failed or did not settle."""
    if not first.ok or first.result.outcome not in SETTLED_OUTCOMES:
        world.attempt(act)
    world.reconcile_after_lease()


# ---------------------------------------------------------------------- person actions
def _run_again(world: World, context: Context) -> Any:
    return world.actions.run_again(context.ids[0], "UALICE")


def _edit(world: World, context: Context) -> Any:
    return world.actions.run_again(context.ids[0], "UALICE", new_input=EDITED, diff="-sku a\n+sku b")


def _reject(world: World, context: Context) -> Any:
    return world.actions.reject(context.ids[0], "UBOB", REASON)


def _person_path(name: str, act: Callable[[World, Context], Any]) -> Path:
    def carry_on(world: World, context: Context, first: Attempt) -> None:
        _click_again_if_needed(world, context, first, lambda: act(world, context))

    return Path(name, _one_person_recovery, act, carry_on, _what_landed_is_what_was_asked(name))


def _what_landed_is_what_was_asked(name: str) -> Callable[[World, Context], list[str]]:
    def check(world: World, context: Context) -> list[str]:
        problems = []
        for call in world.sfn.landed_for(context.tokens[0]):
            if name == "reject" and (call.kind, call.error) != ("failure", REJECTED_ERROR):
                problems.append(f"a Reject landed as {call.kind} {call.error}")
            elif name == "reject" and REASON not in (call.cause or ""):
                problems.append(f"a Reject's cause lost its reason: {call.cause!r}")
            elif name == "edit-and-run-again" and json.loads(call.output or "null") != EDITED:
                problems.append(f"an edit resumed with {call.output!r}, not the edited input")
            elif name == "run-again" and json.loads(call.output or "null") != {"sku": "a", "quantity": 2}:
                problems.append(f"a Run again resumed with {call.output!r}, not the step's input")
        return problems

    return check


# ---------------------------------------------------------------------- bulk
ALL_ORDERS = ListFilter(state_machine="orders")


def _bulk_setup(world: World) -> Context:
    return Context([world.paused(n) for n in (1, 2, 3)])


def _bulk_run_again(world: World, context: Context) -> Any:
    """Run again all the open recoveries of ``orders``, then show each one's outcome on its message
    (what the Slack app's ``refresh_messages`` does after a bulk run)."""
    report = world.bulk.run_again(open_recoveries_matching(world.store, ALL_ORDERS), "UALICE")
    for result in report.results:
        recovery = result.recovery
        if recovery is None or not recovery.status.is_closed:
            continue
        if result.outcome is not ActionOutcome.ALREADY_HANDLED:
            world.actions.show(recovery)
    return report


def _bulk_carry_on(world: World, context: Context, first: Attempt) -> None:
    unsettled = not first.ok or any(r.outcome not in SETTLED_OUTCOMES for r in first.result.results)
    if unsettled:
        world.attempt(lambda: _bulk_run_again(world, context))
    world.reconcile_after_lease()


# ---------------------------------------------------------------------- self-healing
def _healing_setup(world: World) -> Context:
    shared = [world.paused(n, dependency="vendor") for n in (1, 2)]
    alone = world.paused(3, dependency="vendor")
    recoveries = world.grouped("grp-vendor", shared) + world.grouped("grp-solo", [alone])
    return Context(recoveries)


def _round(world: World, context: Context) -> Any:
    return world.healing.round(world.closure, budget_seconds=60.0)


def _healing_carry_on(world: World, context: Context, first: Attempt) -> None:
    """Rounds as ``infra/self_healing.asl.json`` calls them: until one is done; a failing round is
    retried ``ROUND_RETRIES`` times, then the rest is left to people (``abandon``)."""
    last, failures, rounds = first, 0, 1
    while rounds < MAX_ROUNDS:
        if last.ok and last.result.done:
            break
        failures = 0 if last.ok else failures + 1
        if failures > ROUND_RETRIES:
            world.attempt(lambda: world.healing.abandon(world.closure, "the round failed 6 times"))
            break
        last, rounds = world.attempt(lambda: _round(world, context)), rounds + 1
    context.notes["rounds"] = rounds
    context.notes["finished"] = (last.ok and last.result.done) or failures > ROUND_RETRIES
    world.reconcile_after_lease()


def _healing_check(world: World, context: Context) -> list[str]:
    problems = []
    if not context.notes.get("finished"):
        problems.append(f"self-healing was not done after {context.notes.get('rounds')} rounds")
    for group_id in ("grp-vendor", "grp-solo"):
        run = world.plain_runs.get_for(world.closure, group_id)
        if run is not None and run.state is HealingState.RESUMING:
            problems.append(f"the self-healing run of {group_id} still says RESUMING after the rounds ended")
    return problems


# ---------------------------------------------------------------------- the execution watcher
ENDED_EXECUTION = "run-9"


def _watcher_setup(world: World) -> Context:
    open_one, landed, not_landed = (world.paused(n, execution=ENDED_EXECUTION) for n in (1, 2, 3))
    lease = world.clock() + timedelta(seconds=120)
    landed = world.claimed(landed, "UALICE", "claim-alice", lease)
    world.sfn.send_success(landed.task_token, json.dumps(landed.input))  # landed; its process died
    not_landed = world.claimed(not_landed, "UBOB", "claim-bob", lease)  # died before the call
    for recovery in (open_one, landed, not_landed):
        world.sfn.end_execution(recovery.task_token, "FAILED")
    return Context([open_one, landed, not_landed])


def _ended(context: Context) -> ExecutionEnded:
    first = context.recoveries[0]
    return ExecutionEnded(
        execution_arn=first.execution_arn,
        execution_name=ENDED_EXECUTION,
        state_machine_arn=MACHINE_ARN,
        status="FAILED",
        error="States.TaskFailed",
        cause="a later step failed",
        stopped_at=datetime.fromisoformat(first.created_at) + timedelta(hours=1),
    )


def _watch(world: World, context: Context) -> Any:
    return world.catch.handle(_ended(context))


def _watcher_carry_on(world: World, context: Context, first: Attempt) -> None:
    last, retries = first, 0
    while not last.ok and retries < WATCHER_RETRIES:
        last, retries = world.attempt(lambda: _watch(world, context)), retries + 1
    context.notes["delivered"] = first.ok or last.ok
    world.reconcile_after_lease()


def _watcher_check(world: World, context: Context) -> list[str]:
    if not context.notes.get("delivered"):
        return []  # every delivery failed: the event is in the watcher's DLQ (random schedules only)
    still_open = [r.recovery_id for r in map(world.plain.get, context.ids) if r.status is RecoveryStatus.OPEN]
    return [
        f"{rid} is still OPEN though its execution ended and the watcher handled it" for rid in still_open
    ]


# ---------------------------------------------------------------------- reminders
def _reminders_setup(world: World) -> Context:
    first, second, claimed = (world.paused(n) for n in (1, 2, 3))
    at = world.clock() - timedelta(minutes=90)  # its process died long ago: reminded as in flight
    claimed = world.claimed(claimed, "UALICE", "claim-alice", at + timedelta(seconds=120), at=at)
    return Context([first, second, claimed])


def _remind(world: World, context: Context) -> Any:
    return world.reminders.run()


def _reminders_carry_on(world: World, context: Context, first: Attempt) -> None:
    world.clock.advance(timedelta(minutes=5))  # the next scheduled run
    world.attempt(lambda: _remind(world, context))
    world.reconcile_after_lease()


def _reminders_check(world: World, context: Context) -> list[str]:
    counted = Counter(r.recovery.recovery_id for r in world.chat.reminders)
    return [f"{rid} was reminded {n} times within an hour" for rid, n in counted.items() if n > 1]


# ---------------------------------------------------------------------- the reconciler
def _reconciler_setup(world: World) -> Context:
    """Expired leases of every kind: a success landed, a Reject landed, nothing landed (the step
    waits), the execution was stopped, the step timed out; and a resumed recovery whose message
    still shows it open."""
    expired = world.clock() - timedelta(seconds=1)
    recoveries = [world.paused(n) for n in range(1, 7)]
    claimed = [world.claimed(r, "UALICE", f"claim-{r.task_token}", expired) for r in recoveries[:5]]
    world.sfn.send_success(claimed[0].task_token, json.dumps(claimed[0].input))
    world.sfn.send_failure(claimed[1].task_token, REJECTED_ERROR, "Rejected by UALICE")
    world.sfn.end_execution(claimed[3].task_token, "ABORTED")
    world.sfn.step(claimed[4].task_token).fate = TaskFate.TIMED_OUT
    stale = recoveries[5]
    world.claimed(stale, "UBOB", "claim-bob", world.clock() + timedelta(seconds=120))
    world.sfn.send_success(stale.task_token, json.dumps(stale.input))
    entry = AuditEntry(world.clock().isoformat(), "UBOB", "run again", RecoveryStatus.RESUMED)
    assert world.plain.transition(
        stale.recovery_id, RecoveryStatus.RESUMING, RecoveryStatus.RESUMED, entry, lease_owner="claim-bob"
    )
    world.plain.mark_display_stale(stale.recovery_id, world.clock() - timedelta(minutes=1))
    return Context([world.plain.get(r.recovery_id) for r in recoveries])


def _reconcile(world: World, context: Context) -> Any:
    return world.reconciler.run()


def _reconciler_carry_on(world: World, context: Context, first: Attempt) -> None:
    world.clock.advance(timedelta(minutes=1))  # its next scheduled run
    world.attempt(lambda: _reconcile(world, context))
    world.reconcile_after_lease()


PATHS: dict[str, Path] = {
    path.name: path
    for path in (
        _person_path("run-again", _run_again),
        _person_path("edit-and-run-again", _edit),
        _person_path("reject", _reject),
        Path("bulk-run-again", _bulk_setup, _bulk_run_again, _bulk_carry_on),
        Path("self-healing", _healing_setup, _round, _healing_carry_on, _healing_check),
        Path("execution-watcher", _watcher_setup, _watch, _watcher_carry_on, _watcher_check),
        Path("reminders", _reminders_setup, _remind, _reminders_carry_on, _reminders_check),
        Path("reconciler", _reconciler_setup, _reconcile, _reconciler_carry_on),
    )
}
