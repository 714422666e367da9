"""Self-healing: once a dependency's circuit has closed and stayed closed, the recoveries its outage
paused resume by themselves, paced, oldest first, with no click.

What it touches: OPEN recoveries that name the circuit as their ``dependency`` and failed with one
of the deployment's outage errors, whose routing rule heals itself (``self_healing``, else the
stack's default). What it never touches: client-data recoveries (their data needs a person), a
recovery someone owns, and a recovery of an execution a person already ran again with an edited
input. Those stay open for people, and so does everything once someone presses Stop on the group
message or the circuit opens again.

Each resume goes through ``RecoveryActions`` as a click does (the same exactly-once claim, the
same audit), with the actor ``auto:circuit-closed``; a throttled call backs off there and a dead
token closes that recovery as EXPIRED. The work is done in rounds (``round``): a state machine
(``infra/self_healing.asl.json``) waits the settle period, then calls round after round until one
says it is done. A round reads everything afresh, so a round cut short by a crash or a time limit
is simply followed by the next: a claim it made but could not finish is settled from Step
Functions' record by the reconciler (resumed if its call landed, else open again and resumed by
this round), what it did not reach is still OPEN, and no token is sent twice. A resume whose answer
was lost stays in flight, and the run does not finish until a later round has settled it.

Nothing bypasses an approval policy: a recovery whose routing rule puts Run again under approval is
not resumed (the resolver would refuse it), not probed with, and not counted on the run. Self-healing
asks for the resumption instead, once: one request per rule (actor ``self-healing``, a bulk request
when it names more than one), for the recoveries no request answers yet: a later or retried round
files no duplicate of a request that waits, nor asks again for this closing what was denied, withdrawn
or let expire. An approver's approval resumes them (through the resolver, as any approved request).

Each outcome is counted on the run exactly once through a pending claim (``runs.py``): noted on
the run before the claim, named by a mark the claim's audit entry carries, and taken off by the
write that counts it. A round first settles what an earlier one left pending (counted from the
recovery's stored outcome when its last claim bears the mark, released when it does not), so the
run item holds only the claims in flight; a round stops claiming for a run that has
``MAX_PENDING_CLAIMS`` of them, until a later round has settled them from the record.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Protocol

from recovery_ops.service.breaker.circuit_board import CircuitReading
from recovery_ops.service.breaker.circuit_breaker import CircuitState
from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.access.routing_rules import RoutingRules, Rule
from recovery_ops.service.recovery.healing.ramp import Ramp, RampSettings, RampState, sendtask_capped
from recovery_ops.service.recovery.healing.runs import (
    CLAIM_MARK,
    MAX_PENDING_CLAIMS,
    Closure,
    HealingRun,
    HealingRuns,
    HealingState,
    PendingClaim,
    new_claim_mark,
)
from recovery_ops.service.recovery.healing.workers import InlineWorkers, Workers, drain_quietly
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, RecoveryActions
from recovery_ops.service.recovery.lifecycle.approvals import Approvals
from recovery_ops.service.recovery.lifecycle.reconciler import REOPENED, Reconciler
from recovery_ops.service.recovery.model.approval import ApprovalState, Gated
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import (
    CircuitClosedNotice,
    HealingNotice,
    NotifierUnavailableError,
    RecoveryGroup,
)
from recovery_ops.service.recovery.storage.approvals import ApprovalNotFoundError
from recovery_ops.service.recovery.storage.groups import GroupState, GroupStore
from recovery_ops.service.recovery.storage.recoveries import (
    STORE_FAULTS,
    ListFilter,
    RecoveryNotFoundError,
    RecoveryStore,
)

AUTO_ACTOR = "auto:circuit-closed"
PROBE_ACTOR = "auto:circuit-probe"  # resumes one recovery so that a circuit nobody probes is probed
EDITED_ACTION = "edit and run again"
APPROVAL_ACTOR = "self-healing"  # who asks for the resumptions an approval policy holds back
RUN_AGAIN = "run again"
REQUEST_STEP = "request approval"  # the audit action of a request's first step on its recoveries
#: a request in these states still stands for its recoveries: waiting, or approved and running them
STANDING = (ApprovalState.PENDING, ApprovalState.APPROVED)
SELECTION_LIMIT = 10_000
#: a closed recovery's outcome as a run counts it: resumed (True) or expired (False)
COUNTED_AS = {
    RecoveryStatus.RESUMED: True,
    RecoveryStatus.EXPIRED: False,
    RecoveryStatus.ABORTED: False,
}


class CircuitReader(Protocol):
    def reading(self, dependency: str) -> CircuitReading: ...


class HealingDisplay(Protocol):
    """Where people see a run (the group message and its thread); failures there are not fatal."""

    def show(self, group: RecoveryGroup, channel: str, ts: str, notice: CircuitClosedNotice) -> None:
        """The group message with the run's notice (and Stop while it resumes)."""
        ...

    def progress(self, channel: str, ts: str, text_of: HealingNotice, dependency: str) -> None:
        """A reply in the group message's thread: how far the run is, or how it ended."""
        ...


def why_left_for_people(recovery: Recovery, heals_itself: bool, edited: bool) -> str | None:
    """Why self-healing must not resume ``recovery`` (None: it may)."""
    if recovery.routing is Routing.CLIENT_DATA:
        return "its data needs a person (client-data)"
    if recovery.owner:
        return f"{recovery.owner} owns it"
    if edited:
        return "a person already ran this execution again with an edited input"
    if not heals_itself:
        return "its routing rule does not heal itself"
    return None


@dataclass
class Pace:
    """Resumes evenly spaced (no burst on the vendor that just came back, nor on Step Functions'
    SendTask* bucket): ``per_second`` a second, the stack's ceiling, unless ``wait`` is given the
    rate of this one gap (the ramp's, or a rule's lower ceiling)."""

    per_second: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _last: float | None = None

    def wait(self, per_second: float | None = None) -> None:
        now = self.clock()
        if self._last is not None:
            due = self._last + 1.0 / (per_second or self.per_second)
            if due > now:
                self.sleep(due - now)
                now = due
        self._last = now


@dataclass
class RoundReport:
    done: bool
    resumed: int = 0
    expired: int = 0
    left_for_people: int = 0
    carried_on: int = 0
    in_flight: int = 0  # resumes whose answer was lost: settled by a later round, before the run ends
    why: str = ""
    per_second: float = 0.0  # the pace it ended at
    #: recoveries an approval policy holds back: not resumed, they wait for an approver's approval
    awaiting_approval: int = 0
    approval_requests: list[str] = field(default_factory=list)  # the requests this round asked for


@dataclass
class SelfHealing:
    store: RecoveryStore
    groups: GroupStore
    runs: HealingRuns
    actions: RecoveryActions
    circuits: CircuitReader
    rules: Callable[[], RoutingRules]
    outage_errors: tuple[str, ...]
    heals_by_default: bool
    display: HealingDisplay
    pace: Pace
    reconciler: Reconciler
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    monotonic: Callable[[], float] = time.monotonic
    check_every_seconds: float = 1.0
    #: the circuit is read again after this many resumes too, so a fast pace hears trouble soon
    check_every_resumes: int = 10
    progress_every_seconds: float = 15.0
    #: the pace ramps (``ramp.py``) under the ceiling; None: it resumes at the ceiling from the start
    ramp: RampSettings | None = None
    #: what runs the resumes (and the reads and Slack updates that do not wait on each other): one at
    #: a time by default; the function's are ``SELF_HEALING_CONCURRENCY`` threads
    workers: Workers = field(default_factory=InlineWorkers)
    #: a round starts its last resume this long before its budget ends (at most a tenth of the
    #: budget), leaving the time to drain the resumes under way and to do its closing work
    wind_down_seconds: float = 20.0
    #: where a resumption an approval policy holds back is asked for (None: it is only held back)
    approvals: Approvals | None = None
    _edited: dict[str, bool] = field(default_factory=dict)
    _per_second: float = 0.0  # the pace now, as people see it
    #: groups whose message is shared / that have more than one recovery: once so, always so (a group
    #: only grows, and a burst stays a burst), so only the answer yes is kept
    _shared: set[str] = field(default_factory=set)
    _many: set[str] = field(default_factory=set)
    #: what the workers' tasks share with the round (its report, counts, sets)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ------------------------------------------------------------------ decisions
    def heals_itself(self, recovery: Recovery) -> bool:
        rule = self._rule(recovery)
        if rule is not None and rule.self_healing is not None:
            return rule.self_healing
        return self.heals_by_default

    def ceiling(self, recovery: Recovery) -> float:
        """The most resumes a second for ``recovery``: its rule's ``self_healing_max_per_second``,
        else the stack's, and never past Step Functions' SendTask* refill rate."""
        rule = self._rule(recovery)
        given = rule.self_healing_max_per_second if rule is not None else None
        return sendtask_capped(given if given is not None else self.pace.per_second)

    def may_heal_any(self) -> bool:
        """Whether any recovery could heal itself (the default, or one rule that says so)."""
        return self.heals_by_default or any(rule.self_healing for rule in self.rules().rules)

    def still_closed(self, closure: Closure) -> bool:
        """The circuit is CLOSED and it is still the same closing (it has not opened in between)."""
        return self._closed_reading(closure) is not None

    def _closed_reading(self, closure: Closure) -> CircuitReading | None:
        """The circuit's reading while it is still ``closure``'s closing (None: it opened since)."""
        reading = self.circuits.reading(closure.dependency)
        since = reading.since.timestamp() if reading.since else 0.0
        closed = reading.state is CircuitState.CLOSED and abs(since - closure.closed_at) < 0.001
        return reading if closed else None

    def resumable(self, dependency: str) -> list[Recovery]:
        """The open recoveries of ``dependency``'s outage that self-healing may resume, oldest first."""
        return self._selected(dependency)[0]

    def _selected(self, dependency: str) -> tuple[list[Recovery], list[Recovery]]:
        """The open recoveries of ``dependency``'s outage that self-healing may resume, oldest first,
        and those it would resume but an approval policy holds back. Whether a person edited an
        execution is looked up only for those nothing else leaves for people, by the workers (a
        query each, independent of each other)."""
        maybe = [r for r in self._listed(dependency) if self._may_resume_unless_edited(r)]
        self._learn_edits([r for r in maybe if r.recovery_id not in self._edited])
        free = [r for r in maybe if not self._edited[r.recovery_id]]
        held = {r.recovery_id for r in free if self._needs_approval(r)}
        return [r for r in free if r.recovery_id not in held], [r for r in free if r.recovery_id in held]

    def _needs_approval(self, recovery: Recovery) -> bool:
        """Whether the resolver would refuse to resume ``recovery`` without an approved request."""
        gate = self.actions.gate
        return gate is not None and gate.any_policy() and gate.needs_approval(recovery, RUN_AGAIN) is not None

    def _listed(self, dependency: str) -> list[Recovery]:
        """The open recoveries of ``dependency``'s outage errors, oldest first (up to the selection)."""
        found: dict[str, Recovery] = {}
        for error in self.outage_errors:
            where = ListFilter(dependency=dependency, error=error)
            for recovery in self.store.list_by_status(
                RecoveryStatus.OPEN, where, limit=SELECTION_LIMIT, oldest_first=True
            ):
                found[recovery.recovery_id] = recovery
        return sorted(found.values(), key=lambda r: r.sort_key)

    def _may_resume_unless_edited(self, recovery: Recovery) -> bool:
        return why_left_for_people(recovery, self.heals_itself(recovery), edited=False) is None

    # ------------------------------------------------------------------ one round
    def round(self, closure: Closure, budget_seconds: float) -> RoundReport:
        """Resume for at most ``budget_seconds``; ``done`` once nothing is left to resume, someone
        stopped every group, or the circuit opened again."""
        if not self.still_closed(closure):
            self._end_all(closure, HealingState.REOPENED, "the circuit opened again")
            return RoundReport(done=True, why="the circuit opened again")
        report = RoundReport(done=False)
        last_start = self.monotonic() + budget_seconds - min(self.wind_down_seconds, budget_seconds / 10)
        report.carried_on, report.in_flight = self._carry_on_interrupted(closure)
        resumable, held = self._selected(closure.dependency)
        report.awaiting_approval = len(held)
        report.approval_requests = self._ask_approval(closure, held)
        self._per_second = min(self.ramp.initial_per_second, self.pace.per_second) if self.ramp else 0.0
        runs = self._runs_for(closure, resumable)
        outstanding = self._settle_pending(runs)
        todo = [  # a recovery not yet grouped (its message not posted yet) has the run of group ""
            r
            for r in resumable
            if (r.group_id or "") in runs and runs[r.group_id or ""].state is HealingState.RESUMING
        ]
        report.left_for_people = len(resumable) - len(todo)
        ceilings = {r.recovery_id: self.ceiling(r) for r in todo}
        ramp = self._start_ramp(runs, max(ceilings.values(), default=self.pace.per_second))
        done_ids: set[str] = set()
        try:
            runs, reopened = self._dispatch(
                closure, todo, runs, _Dispatch(report, ceilings, outstanding, done_ids, ramp, last_start)
            )
        except BaseException:
            drain_quietly(self.workers)  # nothing of this round goes on after it
            raise
        self.workers.drain()
        if reopened:
            self._end_all(closure, HealingState.REOPENED, "the circuit opened again")
            report.done, report.why = True, "the circuit opened again"
            return report
        report.per_second = ramp.per_second if ramp else self.pace.per_second
        runs = self._refresh(runs)
        if (
            not report.in_flight
            and all(r.recovery_id in done_ids for r in todo)
            and not self._arrived(closure, {r.recovery_id for r in [*resumable, *held]}, runs)
        ):
            # every run of the closing, also those of groups an earlier round finished
            self._end_all(closure, HealingState.FINISHED, "nothing it may resume is left")
            report.done, report.why = True, "nothing it may resume is left"
        else:
            self._progress(closure, runs)
            self.workers.drain()
        return report

    def _dispatch(
        self, closure: Closure, todo: list[Recovery], runs: dict[str, HealingRun], at: _Dispatch
    ) -> tuple[dict[str, HealingRun], bool]:
        """Start the resumes of ``todo`` at the pace, on the workers, until the last start or the
        end of ``todo``: the runs as last read, and whether the circuit opened again (nothing more
        is started then, nor for a group someone stopped). Between starts: the circuit is read every
        second or ``check_every_resumes`` starts (the ramp decides on it), the runs every second."""
        next_check = next_progress = self.monotonic()
        next_progress += self.progress_every_seconds
        since_check = 0
        for recovery in todo:
            now = self.monotonic()
            if now >= at.last_start:
                break
            if now >= next_check or since_check >= self.check_every_resumes:
                reading = self._closed_reading(closure)
                if reading is None:
                    return runs, True
                self._adjust(at.ramp, reading, now, closure)
                if now >= next_check:
                    runs = self._refresh(runs)
                    next_check = now + self.check_every_seconds
                since_check = 0
            if now >= next_progress:
                self._progress(closure, runs)
                next_progress = now + self.progress_every_seconds
            run = runs[recovery.group_id or ""]
            if run.state is not HealingState.RESUMING:
                continue  # someone pressed Stop on its group
            with self._lock:  # in flight or answer lost: a later round settles them first, then goes on
                if at.outstanding[run.healing_id] >= MAX_PENDING_CLAIMS:
                    continue
                at.outstanding[run.healing_id] += 1  # until its outcome is counted
            ceiling = at.ceilings[recovery.recovery_id]
            self.pace.wait(min(at.ramp.per_second, ceiling) if at.ramp else ceiling)
            since_check += 1
            stored = None
            if at.ramp is not None:
                at.ramp.sent()
                stored = at.ramp.stored()
            self.workers.submit(partial(self._resume, recovery, run, at, stored))
        return runs, False

    # ------------------------------------------------------------------ what a policy holds back
    def _ask_approval(self, closure: Closure, held: list[Recovery]) -> list[str]:
        """Ask for the resumption of ``held``: one request per rule, for those no request of theirs
        answers yet (a refused request is logged, and asked again by the next round). The ids asked
        for."""
        if self.approvals is None or not held:
            return []
        standing = self._under_request(held, closure)
        by_rule: dict[str, tuple[Rule, list[Recovery]]] = {}
        for recovery in held:
            found = (
                None
                if recovery.recovery_id in standing
                else self.approvals.gate.policy(recovery, Gated.RUN_AGAIN)
            )
            if found is not None:
                by_rule.setdefault(found[0].name, (found[0], []))[1].append(recovery)
        asked = []
        for rule, members in by_rule.values():
            decision = self.approvals.request(
                members,
                Gated.RUN_AGAIN,
                APPROVAL_ACTOR,
                rule,
                reason=f"the circuit of {closure.dependency} closed (closing {closure.id}): self-healing "
                f"would resume {len(members)} recover{'y' if len(members) == 1 else 'ies'} its outage paused",
                bulk=len(members) > 1,
            )
            if decision.request is not None:
                asked.append(decision.request.request_id)
            logger.info(
                "self-healing asked for approval"
                if decision.request
                else "self-healing could not ask for approval",
                dependency=closure.dependency,
                rule=rule.name,
                recoveries=len(members),
                outcome=str(decision.outcome),
                detail=decision.detail,
            )
        return asked

    def _under_request(self, held: list[Recovery], closure: Closure) -> set[str]:
        """The ids of ``held`` a request answers already: one waiting on the recovery itself (its
        ``approval`` mark), or the request its audit last says was asked for it (a bulk request marks
        no recovery: its step is on each one's audit), read once per request, while it waits or runs,
        or when self-healing asked it for this closing (denied, withdrawn or expired: answered)."""
        assert self.approvals is not None
        states: dict[str, bool] = {}
        standing = set()
        for recovery in held:
            if recovery.approval is not None:
                standing.add(recovery.recovery_id)
                continue
            asked = next((e for e in reversed(recovery.audit) if e.action == REQUEST_STEP), None)
            request_id = asked.detail.get("request") if asked is not None else None
            if not request_id:
                continue
            if request_id not in states:
                states[request_id] = self._answers(request_id, closure)
            if states[request_id]:
                standing.add(recovery.recovery_id)
        return standing

    def _answers(self, request_id: str, closure: Closure) -> bool:
        """Whether request ``request_id`` answers for its recoveries in ``closure``."""
        assert self.approvals is not None
        try:
            request = self.approvals.store.get(request_id)
        except ApprovalNotFoundError:
            return False
        except STORE_FAULTS as exc:  # unknown: taken as standing, so that nothing is asked twice
            logger.warning("approval request not read", request_id=request_id, error=type(exc).__name__)
            return True
        ours = request.requested_by == APPROVAL_ACTOR and f"closing {closure.id}" in (request.reason or "")
        return request.state in STANDING or ours

    def probe(self, readings: list[CircuitReading], now: float, grace_seconds: float) -> list[str]:
        """Resume one recovery of each circuit nobody probes, so that it probes: the ids resumed.

        A circuit closes only when a caller's probe succeeds. When every execution that waited for
        it has paused for a person and nothing new calls, nobody probes, and the circuit (and so
        self-healing) would wait for the next caller. So for a circuit OPEN ``grace_seconds`` past
        the end of its open period, or HALF_OPEN that long past its probe's lease (its probe died),
        with no caller taking the probe it could have, the oldest recovery
        self-healing may resume is resumed (actor ``auto:circuit-probe``): its execution asks the
        circuit, becomes the probe and calls the dependency. If the dependency answers, the circuit
        closes and self-healing resumes the rest; if not, it opens again and the probe's execution
        pauses again, to be tried after the next open period."""
        probed = []
        for reading in readings:
            since = reading.probeable_since  # OPEN: its open period's end; HALF_OPEN: its lease's end
            if since is None or now < since.timestamp() + grace_seconds:
                continue  # closed, or callers may still take the probe
            resumable = self.resumable(reading.dependency)
            if not resumable:
                continue
            oldest = resumable[0]
            result = self.actions.run_again(
                oldest.recovery_id,
                PROBE_ACTOR,
                show=not self.groups.shares_message(oldest),
                audit_detail={"probe": reading.dependency},
            )
            logger.info(
                "circuit nobody probed: a recovery resumed to probe it",
                dependency=reading.dependency,
                recovery_id=oldest.recovery_id,
                outcome=str(result.outcome),
            )
            if result.outcome is ActionOutcome.RESUMED:
                probed.append(oldest.recovery_id)
        return probed

    def abandon(self, closure: Closure, why: str) -> None:
        """Rounds failed again and again: end every run of ``closure``, leaving the rest to people."""
        self._end_all(closure, HealingState.INTERRUPTED, why)

    # ------------------------------------------------------------------ steps
    def _start_ramp(self, runs: dict[str, HealingRun], ceiling: float) -> Ramp | None:
        """The round's ramp, going on from the newest state an earlier round stored on the runs."""
        if self.ramp is None:
            self._per_second = self.pace.per_second
            return None
        stored = [run.ramp for run in runs.values() if run.ramp is not None]
        newest = max(stored, key=lambda state: state.seq, default=None)
        ramp = Ramp.start(self.ramp, ceiling, newest, self.monotonic())
        self._per_second = ramp.per_second
        return ramp

    def _adjust(self, ramp: Ramp | None, reading: CircuitReading, now: float, closure: Closure) -> None:
        """Let the ramp decide on a fresh reading of the circuit and the throttles so far."""
        if ramp is None:
            return
        change = ramp.observe(reading, self.actions.throttles, now)
        self._per_second = ramp.per_second
        if change is not None:
            logger.info(
                "self-healing pace " + change,
                dependency=closure.dependency,
                per_second=ramp.per_second,
                threshold=ramp.state.threshold,
                failures=reading.failures,
            )

    def _resume(self, recovery: Recovery, run: HealingRun, at: _Dispatch, ramp: RampState | None) -> None:
        """Resume one recovery (on a worker). Its outcome counted, it is done; while its outcome is
        not known it stays in flight, its claim pending on the run (and counted as outstanding). One
        that found no free worker before the round's last start is not made: it stays open for the
        next round, so that what the round drains is what started in time."""
        if self.monotonic() >= at.last_start:
            with self._lock:
                at.outstanding[run.healing_id] -= 1
            return
        shares_message = self._shares_message(recovery)
        mark = new_claim_mark()
        self.runs.note_claim(run.healing_id, recovery.recovery_id, mark, ramp)
        result = self.actions.run_again(
            recovery.recovery_id,
            AUTO_ACTOR,
            show=not shares_message,  # a group message shows the run's progress instead
            audit_detail={"closure": run.closure_id, CLAIM_MARK: mark},
        )
        if result.outcome is ActionOutcome.IN_FLIGHT:  # its answer was lost: a later round settles it
            with self._lock:
                at.report.in_flight += 1
            return
        if result.outcome in (ActionOutcome.RESUMED, ActionOutcome.EXPIRED):
            resumed = result.outcome is ActionOutcome.RESUMED
            self.runs.count(run.healing_id, recovery.recovery_id, mark, resumed=resumed)
        else:  # a person's click won, or Step Functions refused: it is theirs, or open again
            self.runs.release(run.healing_id, mark)
        with self._lock:
            if result.outcome is ActionOutcome.RESUMED:
                at.report.resumed += 1
            elif result.outcome is ActionOutcome.EXPIRED:
                at.report.expired += 1
            else:
                at.report.left_for_people += 1
            at.outstanding[run.healing_id] -= 1
            at.done_ids.add(recovery.recovery_id)

    def _shares_message(self, recovery: Recovery) -> bool:
        """``GroupStore.shares_message``, read once per round for a group whose message is shared."""
        group_id = recovery.group_id
        if group_id and group_id in self._shared:
            return True
        shared = self.groups.shares_message(recovery)
        if shared and group_id:
            with self._lock:
                self._shared.add(group_id)
        return shared

    def _learn(self, group_id: str, state: GroupState | None) -> None:
        """Keep what a read of a group's state says for good (see ``_shared``)."""
        if state is None:
            return
        with self._lock:
            if state.count > 1:
                self._many.add(group_id)
            if state.count > 1 or state.burst:
                self._shared.add(group_id)

    def _arrived(self, closure: Closure, seen: set[str], runs: dict[str, HealingRun]) -> bool:
        """Whether recoveries of the outage arrived while the round resumed (an execution it resumed
        failed at the dependency again and paused again): the run goes on for them, in the next
        round, unless their group was stopped. It stops at the first (an edit looked up for each
        newcomer until then)."""
        for recovery in self._listed(closure.dependency):
            if recovery.recovery_id in seen:
                continue
            if recovery.group_id in runs and runs[recovery.group_id].state is not HealingState.RESUMING:
                continue
            if self._may_resume_unless_edited(recovery) and not self._was_edited(recovery):
                return True
        return False

    def _carry_on_interrupted(self, closure: Closure) -> tuple[int, int]:
        """Settle the claims self-healing made but an interrupted round did not finish, from Step
        Functions' record (never by sending again): those of this closing at once (the round that
        made them has ended: this is its retry), another closing's once their lease has run out.
        How many were settled, and how many the record could not tell yet."""
        carried = unsettled = 0
        now = self.clock()
        claimed = self.store.list_by_status(
            RecoveryStatus.RESUMING, ListFilter(dependency=closure.dependency), limit=SELECTION_LIMIT
        )
        for recovery in claimed:
            claim = recovery.claim
            if claim is None or claim.actor not in (AUTO_ACTOR, PROBE_ACTOR):
                continue  # a person's click under way: the reconciler settles it if its process dies
            ours = claim.detail.get("closure") == closure.id
            if not ours and not recovery.lease_expired(now):
                continue  # another closing's run may still be making this call
            settled = self.reconciler.settle(recovery.recovery_id, actor=AUTO_ACTOR, holder_gone=ours)
            status = settled.recovery.status if settled.recovery is not None else None
            run = self.runs.get_for(closure, recovery.group_id or "") if ours else None
            if run is not None and status in COUNTED_AS:
                self._count(run, recovery.recovery_id, claim.detail.get(CLAIM_MARK), COUNTED_AS[status])
            if status is RecoveryStatus.RESUMING:
                unsettled += 1
            else:
                carried += 1
            logger.info(
                "interrupted resume settled from the record",
                recovery_id=recovery.recovery_id,
                settled=settled.result,
                reopened=settled.result == REOPENED,
            )
        return carried, unsettled

    def _runs_for(self, closure: Closure, resumable: list[Recovery]) -> dict[str, HealingRun]:
        """Each group's run for the closure: created (and announced) for a group seen the first time;
        a later round's newcomers are added to its count. The groups' runs, by the workers."""
        by_group: dict[str, list[Recovery]] = defaultdict(list)
        for recovery in resumable:
            by_group[recovery.group_id or ""].append(recovery)
        runs: dict[str, HealingRun] = {}
        try:
            for group_id, members in by_group.items():
                self.workers.submit(partial(self._run_for, closure, group_id, members, runs))
        except BaseException:
            drain_quietly(self.workers)
            raise
        self.workers.drain()
        return {group_id: runs[group_id] for group_id in by_group}

    def _run_for(
        self, closure: Closure, group_id: str, members: list[Recovery], runs: dict[str, HealingRun]
    ) -> None:
        state = self.groups.get(group_id) if group_id else None
        self._learn(group_id, state)
        message = (state.channel, state.ts) if state and state.channel and state.ts else None
        run, created = self.runs.start(closure, group_id, len(members), message, self.clock())
        if not created and run.state is HealingState.RESUMING:
            pending = self._unseen(run, members)
            if pending:
                self.runs.add_selected(run.healing_id, pending)
                run = self.runs.get(run.healing_id) or run
        with self._lock:
            runs[group_id] = run
        if (created or not run.announced) and run.state is HealingState.RESUMING:
            self._show(closure, run, members)  # also a run whose creation's answer was lost
            self._thread(run, closure)
            self.runs.mark_announced(run.healing_id)

    def _unseen(self, run: HealingRun, members: list[Recovery]) -> int:
        """Open members beyond what the run counted: recoveries that paused after it began."""
        return max(0, len(members) - run.left)

    def _refresh(self, runs: dict[str, HealingRun]) -> dict[str, HealingRun]:
        """The runs read again (a Stop pressed shows here), a hundred a call."""
        fresh = self.runs.get_many([run.healing_id for run in runs.values()])
        return {group_id: fresh.get(run.healing_id, run) for group_id, run in runs.items()}

    def _progress(self, closure: Closure, runs: dict[str, HealingRun]) -> None:
        """Each resuming run's progress in its thread, by the workers (drained with the round's)."""
        for run in runs.values():
            if run.state is HealingState.RESUMING:
                self.workers.submit(partial(self._thread, run, closure))

    def _end_all(
        self,
        closure: Closure,
        state: HealingState,
        why: str,
        runs: dict[str, HealingRun] | None = None,
    ) -> None:
        """End every resuming run of ``closure`` (each by the workers: they do not wait on each other)."""
        at = self.clock().isoformat(timespec="seconds")
        try:
            for run in (runs or self.runs.of_closure(closure)).values():
                if run.state is HealingState.RESUMING:
                    self.workers.submit(partial(self._end_one, closure, run, state, why, at))
        except BaseException:
            drain_quietly(self.workers)
            raise
        self.workers.drain()

    def _end_one(self, closure: Closure, run: HealingRun, state: HealingState, why: str, at: str) -> None:
        self._count_the_uncounted(run)
        if not self.runs.end(run.healing_id, state, why, at):
            return
        ended = self.runs.get(run.healing_id) or run
        members, _ = self._open_members(ended.group_id)
        self._show(closure, ended, members)
        self._thread(ended, closure)
        logger.info(
            "self-healing run ended",
            dependency=closure.dependency,
            group_id=ended.group_id,
            state=str(state),
            resumed=ended.resumed,
            expired=ended.expired,
            left=ended.left,
        )

    def _count(self, run: HealingRun, recovery_id: str, mark: str | None, resumed: bool) -> None:
        """Count the outcome of a claim of ``run``: through its pending claim, or, for a claim made
        before pending claims (no mark), as the run stored then counts it."""
        if mark:
            self.runs.count(run.healing_id, recovery_id, mark, resumed)
        else:
            self.runs.count_legacy(run.healing_id, recovery_id, resumed)

    def _settle_pending(self, runs: dict[str, HealingRun]) -> defaultdict[str, int]:
        """Settle the claims earlier rounds left pending on the resuming ``runs``: how many each
        still has (in flight, so the round claims fewer for it)."""
        outstanding: defaultdict[str, int] = defaultdict(int)
        for group_id, run in runs.items():
            if run.state is not HealingState.RESUMING or not run.pending:
                continue
            for claim in run.pending:
                self._settle_claim(run, claim)
            runs[group_id] = self.runs.get(run.healing_id) or run
            outstanding[run.healing_id] = len(runs[group_id].pending)
        return outstanding

    def _settle_claim(self, run: HealingRun, claim: PendingClaim) -> None:
        """Count a pending claim from the recovery's stored outcome when its last claim is this one,
        or release it when nothing of it is left to count. A recovery in flight stays pending (the
        carry-on settles it from the record), and so does an open one whose last claim is another:
        a round racing this one may be about to make it."""
        try:
            recovery = self.store.get(claim.recovery_id)
        except RecoveryNotFoundError:
            self.runs.release(run.healing_id, claim.mark)
            return
        if recovery.status is RecoveryStatus.RESUMING:
            return
        last = recovery.claim
        this_one = last is not None and last.detail.get(CLAIM_MARK) == claim.mark
        if this_one and recovery.status in COUNTED_AS:
            self.runs.count(run.healing_id, claim.recovery_id, claim.mark, COUNTED_AS[recovery.status])
        elif this_one or recovery.status.is_closed:  # reopened, or closed by another claim
            self.runs.release(run.healing_id, claim.mark)

    def _count_the_uncounted(self, run: HealingRun) -> None:
        """What a cut-off round resumed but did not count is counted from the stored outcome, so the
        final count is exact: its pending claims, and a run stored before them its uncounted ids."""
        current = self.runs.get(run.healing_id) or run
        for claim in current.pending:
            self._settle_claim(current, claim)
        for recovery_id in sorted(current.uncounted):
            try:
                recovery = self.store.get(recovery_id)
            except RecoveryNotFoundError:
                continue
            last = recovery.claim
            if last is not None and CLAIM_MARK in last.detail:
                continue  # claimed again since, under a mark: counted through its pending claim
            if recovery.status in COUNTED_AS:
                self.runs.count_legacy(run.healing_id, recovery_id, COUNTED_AS[recovery.status])

    def _open_members(self, group_id: str) -> tuple[list[Recovery], int]:
        if not group_id:
            return [], 0
        members = self.store.list_by_status(RecoveryStatus.OPEN, ListFilter(group_id=group_id), limit=5)
        return members, len(members)

    def _show(self, closure: Closure, run: HealingRun, members: list[Recovery]) -> None:
        state = self.groups.get(run.group_id) if run.group_id else None
        self._learn(run.group_id, state)
        if state is None or state.count <= 1 or not (state.channel and state.ts) or state.burst:
            return  # a recovery of its own shows its outcome on its own message; a burst, in its thread
        view = RecoveryGroup.of(state, members)
        notice = CircuitClosedNotice(
            closure.dependency,
            datetime.fromtimestamp(closure.closed_at, UTC).isoformat(timespec="seconds"),
            waiting=run.left,
            healing=self._notice(run),
        )
        try:
            self.display.show(view, state.channel, state.ts, notice)
        except NotifierUnavailableError as exc:
            logger.warning("self-healing: group message not updated", group_id=run.group_id, error=str(exc))

    def _thread(self, run: HealingRun, closure: Closure) -> None:
        if not (run.channel and run.ts) or not run.group_id:
            return
        if run.group_id not in self._many:
            state = self.groups.get(run.group_id)
            self._learn(run.group_id, state)
            if state is None or state.count <= 1:
                return
        try:
            self.display.progress(run.channel, run.ts, self._notice(run), closure.dependency)
        except NotifierUnavailableError as exc:
            logger.warning("self-healing: progress not posted", group_id=run.group_id, error=str(exc))

    def _notice(self, run: HealingRun) -> HealingNotice:
        return run.notice(self._per_second or self.pace.per_second)

    def _rule(self, recovery: Recovery) -> Rule | None:
        return (
            self.rules()
            .route(recovery.state_machine_arn, recovery.failed_state, recovery.error, recovery.routing)
            .rule
        )

    def _was_edited(self, recovery: Recovery) -> bool:
        """Whether a person ran this recovery's execution again with an edited input before."""
        if recovery.recovery_id not in self._edited:
            self._note_edited(recovery)
        return self._edited[recovery.recovery_id]

    def _note_edited(self, recovery: Recovery) -> None:
        """Look it up: the execution's other recoveries (none, mostly: one KEYS_ONLY query), their
        audits as stored (their inputs not brought back)."""
        edited = any(
            entry.action == EDITED_ACTION
            for other in self.store.others_of_execution(recovery.execution_arn, recovery.recovery_id)
            for entry in other.audit
        )
        with self._lock:
            self._edited[recovery.recovery_id] = edited

    def _learn_edits(self, recoveries: list[Recovery]) -> None:
        """``_note_edited`` for each of ``recoveries``, by the workers."""
        try:
            for recovery in recoveries:
                self.workers.submit(partial(self._note_edited, recovery))
        except BaseException:
            drain_quietly(self.workers)
            raise
        self.workers.drain()


@dataclass
class _Dispatch:
    """What a round's dispatch and its resumes share: the report, each recovery's ceiling, the claims
    outstanding per run (lost answers and resumes under way), the recoveries done, the ramp (read
    and moved by the dispatch only) and when the last resume may start."""

    report: RoundReport
    ceilings: dict[str, float]
    outstanding: defaultdict[str, int]
    done_ids: set[str]
    ramp: Ramp | None
    last_start: float
