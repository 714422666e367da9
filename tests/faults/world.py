"""The recovery core assembled over the faulty edges, as the handlers assemble it over AWS and Slack.

One ``World`` per schedule: a recoveries table (``TrackedDynamoDB``), Step Functions
(``FaultySteps``), the chat (``FakeChat``), the circuit self-healing reads, and the real core over
them: ``RecoveryActions``, ``Reconciler``, ``BulkAction``, ``SelfHealing``, ``OutermostCatch`` and
``Reminders``, and per process (each with its own claimant, as each Lambda invocation has) the
collector's ``RecoveryIntake`` and the escalation ladder's ``Escalations``, all on one injectable
clock. The setup writes through plain stores (its calls are not numbered); the product's calls go
through the faulty client.

``attempt`` runs one process's work (a click, a Lambda invocation, a round) and says how it ended:
its answer, a crash, or an error, the way the next process (or the person) would see it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from recovery_ops.service.breaker.circuit_board import CircuitReading
from recovery_ops.service.breaker.circuit_breaker import CircuitState
from recovery_ops.service.recovery.access.routing_rules import RoutingRulesSource, parse_rules
from recovery_ops.service.recovery.failed_executions.failures import FailureStore
from recovery_ops.service.recovery.healing.ramp import RampSettings
from recovery_ops.service.recovery.healing.runs import Closure, HealingRuns
from recovery_ops.service.recovery.healing.self_healing import Pace, SelfHealing
from recovery_ops.service.recovery.intake.collect import RecoveryIntake
from recovery_ops.service.recovery.lifecycle.actions import LEASE_SECONDS, RecoveryActions, ThrottleBackoff
from recovery_ops.service.recovery.lifecycle.bulk import BulkAction
from recovery_ops.service.recovery.lifecycle.escalation import Escalations
from recovery_ops.service.recovery.lifecycle.execution_end import OutermostCatch
from recovery_ops.service.recovery.lifecycle.reconciler import DISPLAY_RETRY, Reconciler
from recovery_ops.service.recovery.lifecycle.reminders import Reminders
from recovery_ops.service.recovery.model.contract import RecoveryRequest, WorkflowKind
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting, NotifierUnavailableError
from recovery_ops.service.recovery.storage.groups import GroupStore
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.faults.injection import (
    FakeChat,
    FaultPlan,
    FaultyCircuits,
    FaultyDynamoDB,
    FaultySteps,
    TrackedDynamoDB,
)
from tests.support.fakes import Crash

TABLE = "recoveries"
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
#: a Lambda durable function whose pauses wait on callbacks (the desk resolves them as tokens)
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders-durable"
CHANNEL = "C-OPS"
#: the closing self-healing works for (a fixed moment: run ids hash it, and their order is read back)
CLOSURE = Closure("vendor", datetime(2026, 12, 1, 11, 0, tzinfo=UTC).timestamp())
REMIND_AFTER = timedelta(hours=1)
GROUP_WINDOW_SECONDS = 600  # RECOVERY_GROUP_WINDOW_SECONDS' default
POSTING_LEASE_SECONDS = 60  # RECOVERY_POSTING_LEASE_SECONDS' default
ESCALATION_LEASE_SECONDS = 60  # ``Escalations.lease_seconds``' default
INCIDENT_CHANNEL = "C-INCIDENT"
#: the rules the escalation ladder climbs: level 1 in the recovery's thread, level 2 in a channel
ESCALATION_RULES = json.dumps(
    {
        "rules": [
            {
                "name": "orders",
                "match": {"state_machine": "orders"},
                "channel": CHANNEL,
                "escalation": [
                    {"after_minutes": 30, "mention_user_group": "S0LEADS"},
                    {"after_minutes": 120, "mention_user_group": "S0ONCALL", "channel": INCIDENT_CHANNEL},
                ],
            }
        ]
    }
)
#: what a process meets when a dependency fails it: anything else is a bug
EXPECTED_FAILURES: tuple[type[Exception], ...] = (ClientError, BotoCoreError, NotifierUnavailableError)


def _wall_clock() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Clock:
    """Wall time (``datetime``) that moves only when the harness moves it. It starts at the wall
    clock's second: the execution watcher stamps its writes with the wall clock (a message it could
    not update is due at ``datetime.now``), so the world's clock starts there and only moves on.
    A schedule's calls and faults do not depend on where it starts."""

    now: datetime = field(default_factory=_wall_clock)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Monotonic:
    """Monotonic seconds for paces and bulk runs: they move when something sleeps."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


@dataclass(frozen=True)
class Attempt:
    """How one process's work ended: its answer, or ``failure`` ("crash", or the error's name)."""

    result: Any = None
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass
class World:
    plan: FaultPlan
    clock: Clock = field(default_factory=Clock)
    monotonic: Monotonic = field(default_factory=Monotonic)
    unexpected: list[str] = field(default_factory=list)  # exceptions no fault explains
    attempts: list[str] = field(default_factory=list)  # how each process ended ("ok", "crash", …)

    def __post_init__(self) -> None:
        plan = self.plan
        self.table = TrackedDynamoDB()
        self.dynamodb = FaultyDynamoDB(self.table, plan)
        self.sfn = FaultySteps(plan)
        self.chat = FakeChat(plan, self.clock)
        # what the setup and the invariants read and write: not numbered, never faulted
        self.plain = RecoveryStore(TABLE, self.table)
        self.plain_groups = GroupStore(TABLE, self.table)
        self.plain_runs = HealingRuns(TABLE, self.table)
        # the product
        self.store = RecoveryStore(TABLE, self.dynamodb)
        self.groups = GroupStore(TABLE, self.dynamodb)
        self.runs = HealingRuns(TABLE, self.dynamodb)
        self.reconciler = Reconciler(self.store, self.sfn, self.chat, clock=self.clock, page_size=2)
        self.actions = RecoveryActions(
            self.store,
            self.sfn,
            self.chat,
            backoff=ThrottleBackoff(sleep=self.monotonic.sleep),
            clock=self.clock,
            settler=self.reconciler,
        )
        self.bulk = BulkAction(
            self.actions, rate_per_second=50.0, clock=self.monotonic, sleep=self.monotonic.sleep
        )
        self.closure = CLOSURE
        closed_since = datetime.fromtimestamp(self.closure.closed_at, UTC)
        self.circuits = FaultyCircuits(
            plan, lambda dependency: CircuitReading(dependency, CircuitState.CLOSED, since=closed_since)
        )
        healing_rules = parse_rules(
            json.dumps(
                {"rules": [{"name": "orders", "match": {"state_machine": "orders"}, "channel": CHANNEL}]}
            ),
            ChannelRouting(default=CHANNEL),
        )
        self.healing = SelfHealing(
            store=self.store,
            groups=self.groups,
            runs=self.runs,
            actions=self.actions,
            circuits=self.circuits,
            rules=lambda: healing_rules,
            outage_errors=("CircuitOpen", "VendorUnavailable"),
            heals_by_default=True,
            display=self.chat,
            pace=Pace(10.0, clock=self.monotonic, sleep=self.monotonic.sleep),
            reconciler=self.reconciler,
            clock=self.clock,
            monotonic=self.monotonic,
            ramp=RampSettings(),
        )
        self.catch = OutermostCatch(
            store=self.store,
            failures=FailureStore(TABLE, self.dynamodb),
            recovery_display=self.chat,
            reconciler=self.reconciler,
        )
        self.reminders = Reminders(self.store, self.dynamodb, self.sfn, self.chat, REMIND_AFTER, self.clock)
        self.escalation_rules = parse_rules(ESCALATION_RULES, ChannelRouting(default=CHANNEL))

    # ------------------------------------------------------------------ one process each
    def collector(self, process: int, fold_after: int | None = None) -> RecoveryIntake:
        """The collector of one Lambda invocation (its own claimant), routing by the stack's channel;
        ``fold_after``: new messages a channel gets in a window before distinct failures fold into
        its burst message (None: the product's)."""
        folding = {} if fold_after is None else {"fold_after": fold_after}
        return RecoveryIntake(
            **folding,
            store=self.store,
            groups=self.groups,
            notifier=self.chat,
            routes=RoutingRulesSource(load=lambda: None, fallback=ChannelRouting(default=CHANNEL)),
            group_window_seconds=GROUP_WINDOW_SECONDS,
            clock=self.clock,
            claimant=f"collector-{process}",
            posting_lease_seconds=POSTING_LEASE_SECONDS,
        )

    def escalations(self, process: int) -> Escalations:
        """The escalation ladder of one reminders run (its own claimant)."""
        return Escalations(
            store=self.store,
            dynamodb=self.dynamodb,
            rules=lambda: self.escalation_rules,
            poster=self.chat,
            clock=self.clock,
            lease_seconds=ESCALATION_LEASE_SECONDS,
            claimant=f"escalation-run-{process}",
        )

    # ------------------------------------------------------------------ the setup (not numbered)
    def paused(
        self,
        n: int,
        execution: str | None = None,
        dependency: str | None = None,
        age: timedelta = timedelta(hours=2),
        step_input: Any = None,
        durable: bool = False,
    ) -> Recovery:
        """Recovery ``n``: its step paused (waiting for ``token-n``), stored and posted on a message of
        its own, which shows it open. ``durable``: a durable function's step, waiting on a callback."""
        name = execution or f"run-{n}"
        where = (
            {
                "kind": WorkflowKind.DURABLE,
                "task_token": f"Y2FsbGJhY2s{n}",
                "execution_arn": f"{FUNCTION_ARN}:$LATEST/durable-execution/{name}/0f9c-{n}",
                "state_machine_arn": FUNCTION_ARN,
                "failed_state": "check stock",
            }
            if durable
            else {
                "task_token": f"token-{n}",
                "execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:orders:{name}",
                "state_machine_arn": MACHINE_ARN,
                "failed_state": "Check availability",
            }
        )
        request = RecoveryRequest(
            **where,
            execution_name=name,
            input={"n": n} if step_input is None else step_input,
            error="VendorUnavailable",
            dependency=dependency,
        )
        recovery = Recovery.from_request(request, self.clock() - age + timedelta(seconds=n))
        assert self.plain.create_if_absent(recovery)
        self.plain.mark_posted(recovery.recovery_id, CHANNEL, f"ts-{n}")
        self.sfn.step(recovery.task_token)
        stored = self.plain.get(recovery.recovery_id)
        self.chat.posted(stored)
        return stored

    def grouped(self, group_id: str, members: list[Recovery]) -> list[Recovery]:
        """``members`` share one group message (a group of one keeps its own message)."""
        self.plain_groups.add_members(group_id, members, self.clock())
        self.plain_groups.set_message(group_id, CHANNEL, f"ts-{group_id}")
        for member in members:
            self.plain.mark_posted(member.recovery_id, CHANNEL, f"ts-{group_id}", group_id)
        return [self.plain.get(m.recovery_id) for m in members]

    def claimed(
        self, recovery: Recovery, actor: str, owner: str, until: datetime, at: datetime | None = None
    ) -> Recovery:
        """``recovery`` claimed by ``actor`` (at ``at``, until ``until``) as the actions claim it,
        its process gone since."""
        at = at or self.clock()
        entry = AuditEntry(at.isoformat(timespec="milliseconds"), actor, "run again", RecoveryStatus.RESUMING)
        claimed = self.plain.claim(recovery.recovery_id, entry, owner, until, at=at)
        assert claimed is not None
        return claimed

    # ------------------------------------------------------------------ running
    def attempt(self, work: Any) -> Attempt:
        """Run one process's ``work``; a process that died (even if the code caught the ``Crash``)
        answered nobody."""
        try:
            result, failure = work(), None
        except Crash:
            result, failure = None, "crash"
        except EXPECTED_FAILURES as exc:
            result, failure = None, type(exc).__name__
        except Exception as exc:  # noqa: BLE001 - a bug the sweep reports
            self.unexpected.append(f"{type(exc).__name__}: {exc}")
            result, failure = None, "unexpected"
        if self.plan.revive():
            result, failure = None, "crash"
        self.attempts.append(failure or "ok")
        return Attempt(result, failure)

    def reconcile_after_lease(self) -> Attempt:
        """The scheduled reconciler, once every lease taken so far has run out."""
        self.clock.advance(timedelta(seconds=LEASE_SECONDS + 1))
        return self.attempt(self.reconciler.run)

    def final_reconcile(self) -> Attempt:
        """The reconciler once more, past every lease and every message retry, with no fault."""
        self.plan.armed = False
        self.clock.advance(timedelta(seconds=LEASE_SECONDS) + DISPLAY_RETRY + timedelta(seconds=1))
        return self.attempt(self.reconciler.run)
