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
  scheduled run, a minute later;
- intake (the collector: a batch of 3 contract messages, two in one group and one in another), and
  intake-burst (3 distinct failures in a channel that folds after its first new message):
  SQS delivers again what the batch reported for retry, or the whole batch after a crash or a
  failed invocation, past the posting lease, up to 5 deliveries in all; past that a message is
  dead-lettered;
- the self-healing probe (one OPEN circuit past its grace, 2 recoveries that heal themselves): the
  next minute's probe;
- escalation (a 2-level ladder, 2 open recoveries old enough for both levels): the next reminders
  run 15 minutes later, past the level leases, then one more;
- approve-edit (an edit under a two-approval policy, one approval counted): the last approver's
  click, which runs the approved edit; clicked once more if it failed or left the edit unsettled;
- approval-expiry (a request past its expiry): the reconciler's run, then its next.

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

from botocore.exceptions import BotoCoreError, ClientError

from recovery_ops.service.breaker.circuit_board import CircuitReading
from recovery_ops.service.breaker.circuit_breaker import CircuitState
from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.healing.runs import HealingState
from recovery_ops.service.recovery.intake.collect import IntakeReport
from recovery_ops.service.recovery.lifecycle.actions import (
    REJECTED_ERROR,
    ActionOutcome,
    RecoveryActions,
    ThrottleBackoff,
)
from recovery_ops.service.recovery.lifecycle.approvals import Approvals, DecisionOutcome, PolicyGate
from recovery_ops.service.recovery.lifecycle.bulk import open_recoveries_matching
from recovery_ops.service.recovery.lifecycle.execution_end import ExecutionEnded
from recovery_ops.service.recovery.model.approval import ApprovalState, Gated
from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.execution_record import TaskFate
from recovery_ops.service.recovery.ports.notifier import ChannelRouting, MessageMark, NotifierUnavailableError
from recovery_ops.service.recovery.storage.approvals import ApprovalStore
from recovery_ops.service.recovery.storage.groups import window_start
from recovery_ops.service.recovery.storage.items import (
    BURST_MEMBER_OF,
    ESCALATING_LEVEL,
    ESCALATION_POSTS,
    GROUP_PREFIX,
    KEY,
    MEMBER_OF,
    key,
)
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryStore
from tests.faults.world import (
    ESCALATION_LEASE_SECONDS,
    GROUP_WINDOW_SECONDS,
    MACHINE_ARN,
    POSTING_LEASE_SECONDS,
    TABLE,
    Attempt,
    World,
)
from tests.support.fakes import Crash

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

    @property
    def dead_lettered(self) -> list[str]:
        """The recoveries whose contract message SQS moved to the recovery DLQ (intake)."""
        return list(self.notes.get("dead_lettered", []))


@dataclass(frozen=True)
class Path:
    name: str
    setup: Callable[[World], Context]
    act: Callable[[World, Context], Any]  # the faulted action: one process's work
    carry_on: Callable[[World, Context, Attempt], None]  # what production does next (faults still on)
    check: Callable[[World, Context], list[str]] = lambda world, context: []


def _one_person_recovery(world: World) -> Context:
    return Context([world.paused(1, step_input={"sku": "a", "quantity": 2})])


def _one_durable_recovery(world: World) -> Context:
    return Context([world.paused(1, step_input={"sku": "a", "quantity": 2}, durable=True)])


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


def _person_path(name: str, act: Callable[[World, Context], Any], durable: bool = False) -> Path:
    def carry_on(world: World, context: Context, first: Attempt) -> None:
        _click_again_if_needed(world, context, first, lambda: act(world, context))

    setup = _one_durable_recovery if durable else _one_person_recovery
    asked = name.removeprefix("durable-")
    return Path(name, setup, act, carry_on, _what_landed_is_what_was_asked(asked))


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


def _mixed_healing_setup(world: World) -> Context:
    """A Step Functions task and a durable function's step paused on the same dependency, sharing
    one group message (the self-healing path sweeps a group of one already)."""
    shared = [world.paused(1, dependency="vendor"), world.paused(2, dependency="vendor", durable=True)]
    return Context(world.grouped("grp-vendor", shared))


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


# ---------------------------------------------------------------------- intake (the collector)
MAX_DELIVERIES = 5  # template.yaml: the recovery queue's RedrivePolicy, maxReceiveCount
REDELIVERY = timedelta(seconds=POSTING_LEASE_SECONDS + 1)  # a message comes back past the posting lease
#: where in its group window the batch arrives (seconds from the window's start): 10 s before the
#: window ends, so that every delivery after the first falls in the next window
INTAKE_AT = GROUP_WINDOW_SECONDS - 10
#: what a record's own failure is in Powertools' BatchProcessor (it fails alone); anything else is a bug
RECORD_FAILURES = (ClientError, BotoCoreError, NotifierUnavailableError, Crash)


def _contract_message(n: int, error: str) -> RecoveryRequest:
    return RecoveryRequest(
        task_token=f"token-{n}",
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:orders:run-{n}",
        execution_name=f"run-{n}",
        state_machine_arn=MACHINE_ARN,
        failed_state="Check availability",
        input={"n": n},
        error=error,
    )


def _intake_setup(world: World) -> Context:
    """Three paused steps whose contract messages are in the queue: two with one error (one group),
    one with another. The clock is put ``INTAKE_AT`` seconds into a group window, later than the
    wall clock's second it starts at (the group ids, not the calls, depend on where it starts)."""
    start = window_start(GROUP_WINDOW_SECONDS, world.clock())
    world.clock.now = start + timedelta(seconds=GROUP_WINDOW_SECONDS + INTAKE_AT)
    requests = [
        _contract_message(1, "VendorUnavailable"),
        _contract_message(2, "VendorUnavailable"),
        _contract_message(3, "OrderRejected"),
    ]
    for request in requests:
        world.sfn.step(request.task_token)  # each step waits for its token
    recoveries = [Recovery.from_request(request, world.clock()) for request in requests]
    return Context(recoveries, {"requests": requests, "deliveries": {r.recovery_id: 0 for r in recoveries}})


def _burst_setup(world: World) -> Context:
    """As ``_intake_setup``, but three distinct failures in a channel that takes one new message a
    window before folding: the first gets its own message, the other two fold into the channel's
    burst message (posted once, updated, found again after a crash, as a group's)."""
    context = _intake_setup(world)
    requests = [
        _contract_message(1, "VendorUnavailable"),
        _contract_message(2, "OrderRejected"),
        _contract_message(3, "PaymentDeclined"),
    ]
    for request in requests:
        world.sfn.step(request.task_token)
    recoveries = [Recovery.from_request(request, world.clock()) for request in requests]
    return Context(
        recoveries,
        {
            **context.notes,
            "requests": requests,
            "deliveries": {r.recovery_id: 0 for r in recoveries},
            "fold_after": 1,
        },
    )


def _collect(world: World, context: Context, process: int, requests: list[RecoveryRequest]) -> list[str]:
    """One invocation of the collector (``service/handlers/collector.py``): each record stored once
    (a record that fails fails alone), then one chat call per group. The ids SQS must deliver again
    (the batch item failures)."""
    intake = world.collector(process, context.notes.get("fold_after"))
    report, failed, to_post = IntakeReport(), [], []
    for request in requests:
        context.notes["deliveries"][request.recovery_id] += 1
        try:
            recovery = intake.store_one(request, context.notes["deliveries"][request.recovery_id], report)
        except RECORD_FAILURES:
            failed.append(request.recovery_id)
            continue
        if recovery is not None:
            to_post.append(recovery)
    intake.notify(to_post, report)
    return failed + [rid for rid in report.retry if rid not in failed]


def _intake(world: World, context: Context) -> Any:
    return _collect(world, context, 1, context.notes["requests"])


def _intake_carry_on(world: World, context: Context, first: Attempt) -> None:
    """SQS delivers again, past the posting lease: the records the batch reported, or every record of
    a batch whose invocation failed or died; a record delivered ``MAX_DELIVERIES`` times and failed
    again goes to the recovery DLQ."""
    requests = {r.recovery_id: r for r in context.notes["requests"]}
    batch, last, process = list(requests), first, 1
    while True:
        again = last.result if last.ok else batch
        if not again or process >= MAX_DELIVERIES:
            break
        batch, process = again, process + 1
        world.clock.advance(REDELIVERY)
        redelivered = [requests[rid] for rid in batch]
        last = world.attempt(lambda: _collect(world, context, process, redelivered))  # noqa: B023 - run at once
    context.notes["dead_lettered"] = sorted(again)
    world.reconcile_after_lease()


def _member_of(item: dict, group_id: str) -> bool:
    """Whether the group counted the recovery (its item's mark, as the group's transaction wrote it)."""
    return group_id in (item.get(MEMBER_OF, {}).get("S"), item.get(BURST_MEMBER_OF, {}).get("S"))


def _intake_check(world: World, context: Context) -> list[str]:
    """Every recovery on exactly one live message, the one its group recorded; a group message
    posted once; a recovery not posted is in the DLQ, never dropped."""
    problems = []
    items = world.table.items(TABLE)
    groups = [world.plain_groups.get(gid) for gid in sorted(items) if gid.startswith(GROUP_PREFIX)]
    messages_of = {
        group.group_id: world.chat.marked(MessageMark.group(group.group_id)) for group in groups if group
    }
    dead = set(context.dead_lettered)
    for group_id, messages in messages_of.items():
        if len(messages) > 1:
            problems.append(f"{group_id} has {len(messages)} live messages: {[m.ts for m in messages]}")
    for rid in context.ids:
        if rid not in items:
            if rid not in dead:
                problems.append(f"{rid}: its message was neither stored nor dead-lettered: lost")
            continue
        recovery = world.plain.get(rid)
        on = [
            (group.group_id, message)
            for group in groups
            if group and _member_of(items.get(rid, {}), group.group_id)
            for message in messages_of[group.group_id]
        ]
        if len(on) > 1:
            problems.append(f"{rid} is on {len(on)} live messages: {[(g, m.ts) for g, m in on]}")
            continue
        if not recovery.posted:
            if rid not in dead:
                problems.append(f"{rid}: not posted, and its message was not dead-lettered: dropped")
            continue
        if not on:
            problems.append(f"{rid} records message {recovery.slack_ts}, which no live group message is")
            continue
        group_id, message = on[0]
        where = (recovery.slack_channel, recovery.slack_ts, recovery.group_id)
        if where != (message.channel, message.ts, group_id):
            problems.append(f"{rid} records {where}, not its group's message {(message.channel, message.ts)}")
    for group in filter(None, groups):
        live = messages_of[group.group_id]
        if group.ts is not None and [(m.channel, m.ts) for m in live] != [(group.channel, group.ts)]:
            problems.append(
                f"{group.group_id} records {group.ts}, its live messages are {[m.ts for m in live]}"
            )
    return problems


# ---------------------------------------------------------------------- the self-healing probe
PROBE_GRACE_SECONDS = 60  # SELF_HEALING_PROBE_GRACE_SECONDS' default
PROBE_LEASE = timedelta(seconds=30)  # the breaker's probe_lease_seconds: how long a probe holds the circuit


def _probe_setup(world: World) -> Context:
    """Two open recoveries of ``vendor``'s outage, each on its own message (a group of one)."""
    oldest, younger = (world.paused(n, dependency="vendor") for n in (1, 2))
    recoveries = world.grouped("grp-1", [oldest]) + world.grouped("grp-2", [younger])
    open_until = world.clock() - timedelta(seconds=PROBE_GRACE_SECONDS + 60)
    return Context(recoveries, {"open_until": open_until})


def _readings(world: World, context: Context) -> list[CircuitReading]:
    """The circuit as the probe reads it: OPEN past its grace while no probe's call has landed; once
    one has, its execution took the circuit's probe (HALF_OPEN, its lease running)."""
    if any(world.sfn.landed_for(token) for token in context.tokens):
        now = world.clock()
        return [CircuitReading("vendor", CircuitState.HALF_OPEN, since=now, probe_expires=now + PROBE_LEASE)]
    open_until = context.notes["open_until"]
    since = open_until - timedelta(minutes=1)
    return [CircuitReading("vendor", CircuitState.OPEN, since=since, open_until=open_until)]


def _probe(world: World, context: Context) -> Any:
    readings = _readings(world, context)
    return world.healing.probe(readings, world.clock().timestamp(), PROBE_GRACE_SECONDS)


def _probe_carry_on(world: World, context: Context, first: Attempt) -> None:
    world.clock.advance(timedelta(seconds=60))  # the next minute's probe
    world.attempt(lambda: _probe(world, context))
    world.reconcile_after_lease()


def _probe_check(world: World, context: Context) -> list[str]:
    oldest = world.plain.get(context.ids[0])
    problems = []
    landed = world.sfn.landed_for(oldest.task_token)
    if len(landed) > 1:
        problems.append(f"the oldest recovery's token landed {len(landed)} times")
    if oldest.status not in (RecoveryStatus.RESUMED, RecoveryStatus.OPEN):
        problems.append(f"the oldest recovery ends {oldest.status}, not RESUMED or OPEN")
    for recovery in map(world.plain.get, context.ids):
        if recovery.status is RecoveryStatus.RESUMING:
            problems.append(f"{recovery.recovery_id} stays RESUMING")
    return problems


# ---------------------------------------------------------------------- escalation
LEVELS = 2
NEXT_REMINDERS_RUN = timedelta(minutes=15)  # past every level's lease


def _escalation_setup(world: World) -> Context:
    """Two open recoveries, each on its own message, open for 3 hours: past both levels."""
    return Context([world.paused(n, age=timedelta(hours=3)) for n in (1, 2)])


def _escalate(world: World, context: Context) -> Any:
    return world.escalations(1).run()


def _reminders_run(world: World, process: int) -> Any:
    """One run of the reminders function (``service/handlers/reminders.py``): reminders, then the
    escalation ladders."""
    world.reminders.run()
    return world.escalations(process).run()


def _escalation_carry_on(world: World, context: Context, first: Attempt) -> None:
    assert NEXT_REMINDERS_RUN > timedelta(seconds=ESCALATION_LEASE_SECONDS)
    for process in (2, 3):
        world.clock.advance(NEXT_REMINDERS_RUN)
        last_run_starts = world.plan.count
        world.attempt(lambda: _reminders_run(world, process))  # noqa: B023 - called at once
    context.notes["last_run_faulted"] = any(index >= last_run_starts for index, _, _ in world.plan.fired)
    world.reconcile_after_lease()


def _escalation_check(world: World, context: Context) -> list[str]:
    """Each level of each recovery posted at most once (by its mark), and once the last run went
    without a fault, exactly once: recorded on the recovery with that message, and audited."""
    problems = []
    items = world.table.items(TABLE)
    settled = not context.notes.get("last_run_faulted")
    for rid in context.ids:
        item = items[key(rid)[KEY]["S"]]
        recovery = world.plain.get(rid)
        posts = [
            {name: next(iter(value.values())) for name, value in post["M"].items()}
            for post in item.get(ESCALATION_POSTS, {}).get("L", [])
        ]
        results = [e.result for e in recovery.audit if e.actor == "escalation"]
        for level in range(1, LEVELS + 1):
            messages = world.chat.marked(MessageMark.escalation(rid, level))
            recorded = [p for p in posts if p["level"] == str(level)]
            if len(messages) > 1:
                problems.append(f"{rid}: level {level} posted {len(messages)} times")
            if len(recorded) > 1:
                problems.append(f"{rid}: level {level} recorded {len(recorded)} times")
            if recorded and [(m.channel, m.ts) for m in messages] != [
                (recorded[0]["channel"], recorded[0]["ts"])
            ]:
                problems.append(f"{rid}: level {level} records {recorded[0]}, not its message")
            claims = results.count(f"LEVEL {level}") - results.count(f"LEVEL {level} NOT POSTED")
            if recorded and claims != 1:
                problems.append(
                    f"{rid}: level {level} is posted, and its audit holds {claims} claims standing"
                )
            if settled and not (messages and recorded):
                problems.append(
                    f"{rid}: level {level} not posted and recorded after a run without a fault "
                    f"({len(messages)} messages, {len(recorded)} records)"
                )
        if settled and (recovery.escalated != LEVELS or ESCALATING_LEVEL in item):
            problems.append(
                f"{rid}: escalated {recovery.escalated}, a level still claimed: {ESCALATING_LEVEL in item}"
            )
    return problems


# ---------------------------------------------------------------------- approvals
APPROVERS = ("UALICE", "UBOB", "UCAROL")
APPROVAL_RULES = json.dumps(
    {
        "rules": [
            {
                "name": "orders",
                "match": {"state_machine": "orders"},
                "channel": "C-OPS",
                "team": {"user_ids": list(APPROVERS)},
                "approval": {
                    "actions": ["edit"],
                    "approvals": 2,
                    "approvers": {"user_ids": list(APPROVERS)},
                    "expires_after_minutes": 30,
                },
            }
        ]
    }
)


def _approvals_over(world: World, store: RecoveryStore, dynamodb: Any) -> Approvals:
    """The approvals (and a resolver under the rules' policy) over ``dynamodb``."""
    rules = parse_rules(APPROVAL_RULES, ChannelRouting(default="C-OPS"))
    gate = PolicyGate(TeamAccess(AccessPolicy(), lambda: rules))
    actions = RecoveryActions(
        store,
        world.sfn,
        world.chat,
        backoff=ThrottleBackoff(sleep=world.monotonic.sleep),
        clock=world.clock,
        settler=world.reconciler,
        gate=gate,
    )
    return Approvals(ApprovalStore(TABLE, dynamodb), store, gate, actions, clock=world.clock)


def _edit_requested(world: World) -> Context:
    """Alice's edit waits for two approvals, Bob's counted (set up without faults); the reconciler
    carries approval requests on, as the product's does."""
    context = _one_person_recovery(world)
    plain = _approvals_over(world, world.plain, world.table)
    rule = plain.gate.access.rules().rules[0]
    asked = plain.request([context.recoveries[0]], Gated.EDIT, "UALICE", rule, new_input=EDITED, diff="sku")
    assert asked.request is not None
    context.notes["request"] = asked.request.request_id
    context.notes["approvals"] = _approvals_over(world, world.store, world.dynamodb)
    world.reconciler.approvals = context.notes["approvals"]
    return context


def _approval_setup(world: World) -> Context:
    context = _edit_requested(world)
    counted = _approvals_over(world, world.plain, world.table).approve(context.notes["request"], "UBOB")
    assert counted.outcome is DecisionOutcome.COUNTED
    return context


def _approve(world: World, context: Context) -> Any:
    """Carol's approval: the last one needed, so her process runs the approved edit."""
    return context.notes["approvals"].approve(context.notes["request"], "UCAROL")


def _approval_carry_on(world: World, context: Context, first: Attempt) -> None:
    """Carol clicks once more when her click failed or left the edit unsettled; then the reconciler."""
    settled = first.ok and all(r.outcome in SETTLED_OUTCOMES for r in first.result.results)
    if not settled:
        world.attempt(lambda: _approve(world, context))
    world.reconcile_after_lease()


def _approval_check(world: World, context: Context) -> list[str]:
    """Nothing ran before two other people approved; what ran is exactly what was approved, once;
    the request is settled (DONE, or the edit ran and was refused: open again), nobody twice."""
    request = ApprovalStore(TABLE, world.table).get(context.notes["request"])
    landed = world.sfn.landed_for(context.tokens[0])
    problems = []
    if landed and len(request.approvals) < 2:
        problems.append(f"a call landed with {len(request.approvals)} approval(s)")
    problems += [
        f"an approved edit resumed with {call.output!r}, not the approved input"
        for call in landed
        if json.loads(call.output or "null") != EDITED
    ]
    if len(set(request.approved_by)) != len(request.approved_by) or "UALICE" in request.approved_by:
        problems.append(f"approvals counted wrong: {request.approved_by}")
    stored = world.plain.get(context.ids[0])
    if request.state is ApprovalState.PENDING:  # every click failed: it still waits, visibly, for one more
        waiting = stored.approval
        if landed or stored.status is not RecoveryStatus.OPEN:
            problems.append(f"a pending request's recovery is {stored.status} with {len(landed)} call(s)")
        if waiting is None or list(waiting.approved_by) != request.approved_by:
            problems.append(f"a pending request shows as {waiting} on its recovery")
    elif request.state is not ApprovalState.DONE:
        problems.append(f"the request is {request.state} after the final reconcile, not DONE")
    elif stored.approval is not None:
        problems.append("the recovery still shows a request that is done")
    return problems


def _expiry_setup(world: World) -> Context:
    context = _edit_requested(world)
    world.clock.advance(timedelta(minutes=31))
    return context


def _expire(world: World, context: Context) -> Any:
    return world.reconciler.run()


def _expiry_carry_on(world: World, context: Context, first: Attempt) -> None:
    world.reconcile_after_lease()


def _expiry_check(world: World, context: Context) -> list[str]:
    request = ApprovalStore(TABLE, world.table).get(context.notes["request"])
    stored = world.plain.get(context.ids[0])
    problems = []
    if request.state is not ApprovalState.EXPIRED:
        problems.append(f"an expired request is {request.state}")
    if stored.status is not RecoveryStatus.OPEN or stored.approval is not None:
        problems.append(f"after the expiry the recovery is {stored.status}, marked {stored.approval}")
    if world.sfn.landed_for(context.tokens[0]):
        problems.append("an expired request ran")
    if [e.result for e in stored.audit].count("APPROVAL_EXPIRED") != 1:
        problems.append("the expiry is not audited once")
    return problems


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
        Path("intake", _intake_setup, _intake, _intake_carry_on, _intake_check),
        Path("intake-burst", _burst_setup, _intake, _intake_carry_on, _intake_check),
        Path("self-healing-probe", _probe_setup, _probe, _probe_carry_on, _probe_check),
        Path("escalation", _escalation_setup, _escalate, _escalation_carry_on, _escalation_check),
        Path("approve-edit", _approval_setup, _approve, _approval_carry_on, _approval_check),
        Path("approval-expiry", _expiry_setup, _expire, _expiry_carry_on, _expiry_check),
        _person_path("durable-run-again", _run_again, durable=True),
        _person_path("durable-reject", _reject, durable=True),
        Path("durable-self-healing", _mixed_healing_setup, _round, _healing_carry_on, _healing_check),
    )
}
