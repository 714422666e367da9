"""Outage at scale: the recovery core over the plain fakes, its DynamoDB load counted per partition key.

For each ``--recoveries`` N, a fresh run: N recoveries from 20 teams and 200 state machines (10 per
team, each team's rule routing them to its channel and escalating after 30 minutes) arrive over
``--arrival-seconds`` of a simulated clock, most of them one payment provider's outage
(``VendorUnavailable``, dependency ``payments``), with step inputs of 1 KB to 256 KB. The real
``RecoveryIntake`` takes them in the batches the collector's SQS event source makes (template.yaml:
up to 100 messages, a 5 s batching window), each batch one invocation with its own claimant, over
``FakeDynamoDB`` with a ``PartitionLoad`` accountant (tests/support/partition_load.py) and a fake
chat. Then people and schedules read: a page of ``/recoveries``, the same page filtered by one state
machine, its counts, an admin's Home, and two hours later one escalation run and one reminders run.

**Self-healing.** Then the payments circuit closes. Self-healing waits template.yaml's
``SelfHealingSettleSeconds`` and runs its rounds as its state machine calls them, one after the
other, each a fresh invocation (``SelfHealing`` built anew) with ``SELF_HEALING_ROUND_SECONDS`` to
resume in (within the function's timeout less the handler's reserve), under the ceiling
``SelfHealingResumesPerSecond`` (its default) and its ramp, until a round says it is done. It reads
and writes the same ``FakeDynamoDB`` (billed by the same accountant) and resumes through the real
``RecoveryActions`` claim and the real ``StepFunctionsTokens`` adapter, over a boto3-shaped Step
Functions fake (tests/support/sendtask_world.py) that keeps the SendTask* bucket (3,000 tokens,
500 a second: a call finding it empty is throttled and counted) and every send per token
(``double_sent``: tokens sent more than once). Each resumed execution calls the vendor at once;
the vendor bears ``VENDOR_PER_SECOND`` calls a second (an assumption: 300) and fails the rest;
the circuit (template.yaml's breaker threshold and window) counts each failure, which is what
the ramp reads, and the execution pauses again: a new recovery through the collector. The round's
process spends ``CALL_SECONDS`` per DynamoDB call, ``SENDTASK_CALL_SECONDS`` (an assumption: 20
ms) per SendTask* call and ``SLACK_CALL_SECONDS`` per Slack update, as it waits for each.
``self_healing_resume_s`` runs from the circuit closing (the settle included) to the last resume
Step Functions accepted.

**The chronicle.** The fake table records its stream (every write, new and old images); the
real ``Sealer`` takes it as ChronicleFunction's event source delivers it (benchmarks/_chronicle.py:
template.yaml's ``BatchSize`` and batching window, its filter passing INSERT and MODIFY, so
counters, lanes, paces and the chain items themselves reach it and are skipped), one invocation per
batch, one stream shard read in order (an assumption: the worst case for its lag), over the same
``FakeDynamoDB`` (the chain items' units billed by the same accountant) and a counting EventBridge
behind the real ``EventBridgeBus`` adapter (PutEvents requests, entries, their sizes, the 64 KB
chunks billed). It runs between the collectors' invocations and, when the stream piles up, between
a process's calls, on its own time (the clock is given back). Every item with an audit must end
with each entry sealed in its chain and published; otherwise the benchmark exits non-zero.

**Time.** Each batch is stamped with its arrival time (collectors run concurrently: their writes
land when the messages arrive). The surfaces and the runs are one process each, calling DynamoDB
one call after the other: the simulated clock moves ``CALL_SECONDS`` (DynamoDB's single-digit
millisecond latency) at every call, so a process that reads a thousand pages spreads its reads
over the seconds it would take.

**Memory.** 100,000 inputs of 128 KB on average would be 12.8 GB. The inputs come in 16 size
buckets; every input of one bucket holds the same string object, and the fake shares it
(``copy.deepcopy`` keeps strings, which are immutable), so each bucket's bytes exist once while
every item is sized and billed in full. The three default runs (1,000, 10,000 and 100,000) take
about 3.5 minutes on two cores and at most 1.2 GB.

It measures the design as it is: the store's lanes (the sharded ``by-lane`` index, entries per
filter, counters kept in each transition's transaction), every surface reading a page, and inputs
and causes over 4 KB kept apart (``CountingPayloads``: the bucket, each distinct body held once).
Figures (read units each
surface costs, the peak units per partition key per second, the largest item) are per run; the
largest run's are unsuffixed, the others end in ``_at_<N>``; ``ratio_100k_to_1k`` is each surface's
read units at the largest run over the smallest's (``ratio_runs``). ``throttled_key_seconds``: the
key-seconds over DynamoDB's per-partition ceilings (reported, not enforced). Every recovery must
end stored and posted, the outage's RESUMED and the others OPEN; otherwise it counts as lost and
the benchmark exits non-zero. Last line: one JSON object.

**Cost.** ``cost_usd_per_1000_recoveries`` (and ``cost_usd_per_1000_recoveries_by_service``) prices
what each run counted at us-east-1's on-demand prices (benchmarks/_cost.py lists them with their
pages: DynamoDB $0.625 / $0.125 per million write / read request units; Lambda $0.20 per million
requests and $0.0000166667 per GB-second on x86_64; SQS $0.40 per million requests of 64 KB; Step
Functions $0.025 per 1,000 transitions; S3 $0.005 / $0.0004 per 1,000 PUT / GET and $0.023 per
GB-month, each object for the bucket's default expiry; EventBridge $1.00 per million custom
events of 64 KB, the archive $0.10 per GB taken in and $0.023 per GB-month, the last two
assumptions). DynamoDB: the accountant's total units,
table and indexes, for the arrival and one round of each surface above. Lambda: one collector
invocation per batch delivered (redeliveries included), at template.yaml's memory and architecture
for the collector; each invocation's duration is its measured time over the fakes on this machine
plus ``CALL_SECONDS`` per DynamoDB call and ``SLACK_CALL_SECONDS`` per Slack post it made (an
assumption). SQS: each contract message sent once alone (by the execution's
``.waitForTaskToken`` step), received in tens per delivery and deleted in tens, 64 KB chunks per
request. Step Functions: ``TRANSITIONS_PER_RECOVERY`` transitions a recovery adds to its execution (and
again for an execution that paused again), and self-healing's state machine's (SendTask* calls
are not billed apart). Self-healing's rounds: one invocation each, billed for its time on the
simulated clock (pace waits included), at the function's memory and architecture. The
chronicle: its invocations at ChronicleFunction's memory and architecture, each lasting its
measured time plus ``CALL_SECONDS`` per DynamoDB call and ``PUTEVENTS_CALL_SECONDS`` (an
assumption: 20 ms) per PutEvents call; its stream reads are free (Lambda's); its events billed per
64 KB chunk and archived for ``AuditArchiveRetentionDays``. ``cost_usd_per_1000_recoveries_chronicle``
is its part alone (its invocations, the chain's and the outbox's units, the events).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _chronicle import ChronicleRun, mapping_settings, peak_of  # noqa: E402
from _cost import Counted, FunctionUse, cost_per_1000, sqs_requests  # noqa: E402
from _support import Unit, Work, WorkLedger  # noqa: E402

from recovery_ops.service.breaker.circuit_breaker import BreakerSettings  # noqa: E402
from recovery_ops.service.handlers.self_healing import RESERVE_SECONDS  # noqa: E402
from recovery_ops.service.local.engine.cfn_template import load_template  # noqa: E402
from recovery_ops.service.observability import logger  # noqa: E402
from recovery_ops.service.recovery.access.authorization import AccessPolicy  # noqa: E402
from recovery_ops.service.recovery.access.routing_rules import RoutingRulesSource, parse_rules  # noqa: E402
from recovery_ops.service.recovery.access.team_access import TeamAccess  # noqa: E402
from recovery_ops.service.recovery.healing.ramp import RampSettings  # noqa: E402
from recovery_ops.service.recovery.healing.runs import Closure, HealingRuns  # noqa: E402
from recovery_ops.service.recovery.healing.self_healing import Pace, RoundReport, SelfHealing  # noqa: E402
from recovery_ops.service.recovery.intake.collect import IntakeReport, RecoveryIntake  # noqa: E402
from recovery_ops.service.recovery.lifecycle.actions import RecoveryActions, ThrottleBackoff  # noqa: E402
from recovery_ops.service.recovery.lifecycle.escalation import Escalations  # noqa: E402
from recovery_ops.service.recovery.lifecycle.overview import overview_for  # noqa: E402
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery  # noqa: E402
from recovery_ops.service.recovery.lifecycle.reconciler import Reconciler  # noqa: E402
from recovery_ops.service.recovery.lifecycle.reminders import Reminder, ReminderDigest, Reminders  # noqa: E402
from recovery_ops.service.recovery.model.contract import RecoveryRequest  # noqa: E402
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus  # noqa: E402
from recovery_ops.service.recovery.ports.notifier import (  # noqa: E402
    ChannelRouting,
    CircuitClosedNotice,
    HealingNotice,
    MessageRef,
    RecoveryGroup,
)
from recovery_ops.service.recovery.stepfunctions.tokens import StepFunctionsTokens  # noqa: E402
from recovery_ops.service.recovery.storage.audit_chain import LINKS, chain_id  # noqa: E402
from recovery_ops.service.recovery.storage.groups import GroupStore  # noqa: E402
from recovery_ops.service.recovery.storage.items import AUDIT, CHAIN_PREFIX, SLACK_TS, STATUS  # noqa: E402
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryStore  # noqa: E402
from recovery_ops.slack_app.views.listing import PAGE_SIZE  # noqa: E402
from tests.support.fakes import FakeChat, FakeDynamoDB  # noqa: E402
from tests.support.partition_load import PartitionLoad, template_indexes  # noqa: E402
from tests.support.sendtask_world import (  # noqa: E402
    SendTaskBucket,
    StepFunctionsClient,
    Vendor,
    VendorCircuit,
)
from tests.support.simulated_workers import SimulatedWorkers  # noqa: E402

TABLE = "recoveries"
ACCOUNT = "123456789012"
TEAMS = 20
MACHINES_PER_TEAM = 10
ADMIN = "UADMIN"
CALL_SECONDS = 0.005  # one DynamoDB call, as a process waits for it
BATCH_SIZE = 100  # the collector's SQS event source (template.yaml)
BATCH_WINDOW_S = 5.0
MAX_RECEIVES = 5  # the recovery queue's maxReceiveCount: past it, a message goes to the DLQ
INPUT_BUCKETS_KB = [1 + round(i * 255 / 15) for i in range(16)]  # 1 KB … 256 KB
OUTAGE_SHARE = 0.8  # of the recoveries, the payment provider's outage
OTHER_ERRORS = ("States.Timeout", "InvalidAddress", "CardDeclined")
FAILED_STATES = ("Charge card", "Check availability", "Reserve stock")
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
LATER = timedelta(hours=2)  # when escalation and reminders run: past their first levels
SLACK_CALL_SECONDS = 0.15  # an assumption: one Slack Web API call, as the collector waits for it
SQS_RECEIVE_BATCH = 10  # the Lambda poller receives and deletes up to ten messages a request
# The transitions a recovery adds to its execution (the `.waitForTaskToken` step, its resume and
# what the execution runs again): benchmarks/transitions.py's billed transitions per order in
# docs/contributing/benchmarks.md, `one_recovery` 30 against `happy_path` 22.
TRANSITIONS_PER_RECOVERY = 30 - 22
#: how long an input or cause kept apart is stored: the payloads bucket's default expiry, in months
PAYLOAD_MONTHS = int(load_template()["Parameters"]["RecoveryPayloadExpiryDays"]["Default"]) / 30.44
DEPENDENCY = "payments"  # the outage's dependency: its circuit closes after the surfaces
#: an assumption: the payment provider, back from its outage, bears 300 calls a second; the calls
#: past that in a second fail (and its circuit counts them)
VENDOR_PER_SECOND = 300
SENDTASK_CALL_SECONDS = 0.02  # an assumption: one SendTaskSuccess, as the round waits for it
MAX_ROUNDS = 200
# self-healing's state machine (infra/self_healing.asl.json): its start, "Settle" and "Done", and
# per round "Resume a round" and "Done?"
HEALING_TRANSITIONS, HEALING_TRANSITIONS_PER_ROUND = 3, 2
PUTEVENTS_CALL_SECONDS = 0.02  # an assumption: one PutEvents call, as the chronicle waits for it
#: the stream's records the chronicle may lag behind a long process before it is given its turn
#: (bounds the run's memory; the batches are cut by their stamps, not by this)
CHRONICLE_BACKLOG = 2000
#: how long the audit bus's archive keeps an event: AuditArchiveRetentionDays' default, in months
ARCHIVE_MONTHS = int(load_template()["Parameters"]["AuditArchiveRetentionDays"]["Default"]) / 30.44


class CountingPayloads:
    """The payloads bucket as the run uses it: each object's bytes held once per distinct body (the
    inputs come in 16 sizes), every upload and read counted, the bytes stored summed."""

    def __init__(self) -> None:
        self._bodies: dict[str, bytes] = {}  # sha-256 → body
        self._keys: dict[str, str] = {}  # key → sha-256
        self.puts = self.gets = self.stored_bytes = 0

    def put(self, key: str, body: bytes) -> None:
        digest = hashlib.sha256(body).hexdigest()
        self._bodies.setdefault(digest, body)
        if key not in self._keys:
            self.stored_bytes += len(body)
        self._keys[key] = digest
        self.puts += 1

    def get(self, key: str) -> bytes | None:
        self.gets += 1
        digest = self._keys.get(key)
        return self._bodies[digest] if digest is not None else None


@dataclass
class SimClock:
    """Simulated wall time; with ``per_call`` set, every DynamoDB call moves it on by that much."""

    now: datetime = START
    per_call: float = 0.0

    def __call__(self) -> datetime:
        return self.now

    def call(self) -> None:
        self.now += timedelta(seconds=self.per_call)

    def seconds(self) -> float:
        """The clock as epoch seconds (a round's monotonic time)."""
        return self.now.timestamp()

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Latency:
    """The fake DynamoDB as a process meets it: each call takes ``clock.per_call`` seconds; after
    each, ``after`` (the chronicle, when the stream has piled up) may run."""

    def __init__(self, dynamodb: FakeDynamoDB, clock: SimClock) -> None:
        self._dynamodb, self._clock = dynamodb, clock
        self.calls = 0
        self.after: Callable[[], None] = lambda: None

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._dynamodb, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self._clock.call()
            try:
                return method(*args, **kwargs)
            finally:
                self.after()

        return timed


class SlowCalls:
    """Another service as a process meets it: each call takes ``seconds`` of the clock."""

    def __init__(self, target: Any, clock: SimClock, seconds: float) -> None:
        self._target, self._clock, self._seconds = target, clock, seconds
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._target, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self._clock.sleep(self._seconds)
            return method(*args, **kwargs)

        return timed


@dataclass
class SlackCalls:
    """Self-healing's Slack updates (the group message, its thread, a recovery's own message),
    counted, each taking ``SLACK_CALL_SECONDS`` of the round's time."""

    clock: SimClock
    calls: int = 0

    def show(self, group: RecoveryGroup, channel: str, ts: str, notice: CircuitClosedNotice) -> None:
        self._call()

    def progress(self, channel: str, ts: str, text_of: HealingNotice, dependency: str) -> None:
        self._call()

    def show_outcome(self, recovery: Recovery) -> None:
        self._call()

    def show_open(self, recovery: Recovery, change: str) -> None:
        self._call()

    def _call(self) -> None:
        self.calls += 1
        self.clock.sleep(SLACK_CALL_SECONDS)


@dataclass
class Chat(FakeChat):
    """The fake chat, with the reminders' posts too."""

    reminders: list[str] = field(default_factory=list)

    def post_reminder(self, reminder: Reminder) -> None:
        self.reminders.append(reminder.recovery.recovery_id)

    def post_reminder_digest(self, digest: ReminderDigest) -> MessageRef:
        self.reminders.extend(r.recovery.recovery_id for r in digest.reminders)
        return self._post(digest.channel, None, None, "reminder-digest")


class NoHistory:
    """Step Functions' history as the reminders read it: no deadline known."""

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        return {"events": []}


def team(n: int) -> str:
    return f"team-{n:02d}"


def rules_document() -> str:
    """One rule per team: its state machines to its channel, escalating after 30 minutes."""
    return json.dumps(
        {
            "rules": [
                {
                    "name": team(t),
                    "match": {"state_machine": f"{team(t)}-*"},
                    "channel": f"C-{team(t).upper()}",
                    "escalation": [{"after_minutes": 30, "mention_user_group": f"S{t:02d}LEADS"}],
                    "self_healing": True,
                }
                for t in range(TEAMS)
            ]
        }
    )


def inputs() -> list[dict[str, str]]:
    """One input per size bucket, each a JSON object of about that size; shared by every recovery
    of its bucket."""
    return [{"payload": "x" * (kb * 1024 - 16)} for kb in INPUT_BUCKETS_KB]


def requests(count: int, seed: int) -> list[RecoveryRequest]:
    chooser = random.Random(seed)
    payloads = inputs()
    made = []
    for n in range(count):
        t = chooser.randrange(TEAMS)
        machine = f"{team(t)}-machine-{chooser.randrange(MACHINES_PER_TEAM):02d}"
        outage = chooser.random() < OUTAGE_SHARE
        made.append(
            RecoveryRequest(
                task_token=f"token-{seed}-{n}",
                execution_arn=f"arn:aws:states:us-east-1:{ACCOUNT}:execution:{machine}:run-{n}",
                execution_name=f"run-{n}",
                state_machine_arn=f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{machine}",
                failed_state=FAILED_STATES[0] if outage else chooser.choice(FAILED_STATES),
                input=chooser.choice(payloads),
                error="VendorUnavailable" if outage else chooser.choice(OTHER_ERRORS),
                cause="The payment provider answered 503 Service Unavailable" if outage else "See the logs",
                dependency="payments" if outage else None,
            )
        )
    return made


def batches(count: int, arrival_seconds: float) -> list[tuple[float, range]]:
    """(the moment the batch is delivered, the indexes of its messages): up to BATCH_SIZE messages
    or a BATCH_WINDOW_S window, whichever fills first, messages arriving evenly."""
    made: list[tuple[float, range]] = []
    first, opened = 0, 0.0
    for n in range(count):
        at = n * arrival_seconds / count
        if n > first and (n - first >= BATCH_SIZE or at - opened >= BATCH_WINDOW_S):
            made.append((at, range(first, n)))
            first, opened = n, at
    made.append((arrival_seconds, range(first, count)))
    return made


@dataclass
class HealingCount:
    """What self-healing's rounds did, as the phase counts it."""

    closed_at: datetime
    ceiling: float
    rounds: int = 0
    resumed: int = 0
    expired: int = 0
    sim_seconds: float = 0.0  # the rounds' time together: what the function is billed for
    longest_round_s: float = 0.0
    wall_s: float = 0.0
    dynamodb_calls: int = 0
    last: RoundReport | None = None
    first_resumed_at: datetime | None = None
    last_resumed_at: datetime | None = None

    def add(self, report: RoundReport, sim_seconds: float, wall_seconds: float) -> None:
        self.rounds += 1
        self.resumed += report.resumed
        self.expired += report.expired
        self.sim_seconds += sim_seconds
        self.longest_round_s = max(self.longest_round_s, sim_seconds)
        self.wall_s += wall_seconds
        self.last = report

    @property
    def resume_s(self) -> float | None:
        """From the circuit closing to the last resume accepted (the settle included)."""
        if self.last_resumed_at is None:
            return None
        return round((self.last_resumed_at - self.closed_at).total_seconds(), 1)

    @property
    def resumes_per_s(self) -> float:
        """The pace reached, first resume to last."""
        if self.first_resumed_at is None or self.last_resumed_at is None:
            return 0.0
        span = (self.last_resumed_at - self.first_resumed_at).total_seconds()
        return round(self.resumed / span, 1) if span > 0 else float(self.resumed)


@dataclass
class Run:
    """One simulated outage of ``count`` recoveries."""

    count: int
    arrival_seconds: float
    seed: int = 29
    clock: SimClock = field(default_factory=SimClock)

    def __post_init__(self) -> None:
        self.load = PartitionLoad(self.clock, indexes={TABLE: template_indexes()})
        self.fake = FakeDynamoDB(load=self.load)
        self.dynamodb = Latency(self.fake, self.clock)
        self.payloads = CountingPayloads()
        self.store = RecoveryStore(TABLE, self.dynamodb, payloads=self.payloads)
        self.groups = GroupStore(TABLE, self.dynamodb)
        self.chat = Chat(self.clock)
        self.rules = parse_rules(rules_document(), ChannelRouting(default="C-RECOVERIES"))
        self.routes = RoutingRulesSource(load=rules_document, fallback=ChannelRouting(default="C-RECOVERIES"))
        self.figures: dict[str, Any] = {}
        self.invocations = 0
        self.invocation_seconds = 0.0
        self.sqs_requests = 0
        self._body_sizes: dict[int, int] = {}
        self.chronicle = ChronicleRun(
            self.fake, TABLE, self.clock, mapping_settings(), CALL_SECONDS, PUTEVENTS_CALL_SECONDS
        )
        self._collecting = False  # a collector's invocation is being timed: the chronicle waits
        self.dynamodb.after = self._chronicle_keeps_up

    def _chronicle_keeps_up(self) -> None:
        """Between a process's calls, the chronicle takes the batches due once the stream has piled
        up (its own time: the process's clock is given back)."""
        if not self._collecting and len(self.chronicle.stream) >= CHRONICLE_BACKLOG:
            self.chronicle.drain()

    def arrive(self) -> list[RecoveryRequest]:
        made = requests(self.count, self.seed)
        self.sqs_requests += sum(sqs_requests(self._body_bytes(r)) for r in made)  # sent, one each
        for invocation, (at, indexes) in enumerate(batches(self.count, self.arrival_seconds)):
            self.clock.now = max(self.clock.now, START + timedelta(seconds=at))
            pending = [(made[i], 1) for i in indexes]
            while pending:
                report = self._invoke(invocation, pending)
                pending = [
                    (r, c + 1) for r, c in pending if r.recovery_id in report.retry and c < MAX_RECEIVES
                ]
            self.chronicle.drain()  # the batches the stream made meanwhile
        return made

    def _invoke(self, invocation: int, pending: list[tuple[RecoveryRequest, int]]) -> IntakeReport:
        """One collector invocation: its SQS receives and deletes counted, its duration estimated
        as its time here plus the waits of its DynamoDB calls and Slack posts."""
        bodies = [self._body_bytes(r) for r, _ in pending]
        for first in range(0, len(bodies), SQS_RECEIVE_BATCH):
            self.sqs_requests += sqs_requests(sum(bodies[first : first + SQS_RECEIVE_BATCH]))
        calls, posts, started = self.dynamodb.calls, len(self.chat.messages), time.perf_counter()
        self._collecting = True
        try:
            report = self._collector(invocation).receive(pending)
        finally:
            self._collecting = False
        waited = (self.dynamodb.calls - calls) * CALL_SECONDS
        waited += (len(self.chat.messages) - posts) * SLACK_CALL_SECONDS
        self.invocation_seconds += time.perf_counter() - started + waited
        self.invocations += 1
        deleted = len(pending) - len(report.retry)
        self.sqs_requests += -(-deleted // SQS_RECEIVE_BATCH)
        return report

    def _body_bytes(self, request: RecoveryRequest) -> int:
        """The contract message's size: its input (sized once per shared input) and the rest."""
        key = id(request.input)
        if key not in self._body_sizes:
            self._body_sizes[key] = len(json.dumps(request.input))
        rest = request.model_copy(update={"input": None}).model_dump_json()
        return self._body_sizes[key] + len(rest)

    def cost(self) -> dict[str, Any]:
        """Dollars per 1,000 recoveries for what this run counted."""
        memory_mb, architecture = collector_function()
        healing = self.healing
        rounds = FunctionUse(
            "SelfHealingFunction",
            healing.rounds,
            round(healing.sim_seconds, 3),
            self.healing_settings.memory_mb,
            self.healing_settings.architecture,
        )
        chronicle = self._chronicle_counted()
        everything = cost_per_1000(
            Counted(
                recoveries=self.count,
                write_units=self.load.total_write_units,
                read_units=self.load.total_read_units,
                invocations=self.invocations,
                invocation_seconds=round(self.invocation_seconds, 3),
                memory_mb=memory_mb,
                architecture=architecture,
                sqs_requests=self.sqs_requests,
                transitions_per_recovery=TRANSITIONS_PER_RECOVERY,
                other_functions=(rounds, *chronicle.other_functions),
                other_transitions=HEALING_TRANSITIONS
                + HEALING_TRANSITIONS_PER_ROUND * healing.rounds
                + TRANSITIONS_PER_RECOVERY * len(self.relapsed),
                s3_puts=self.payloads.puts,
                s3_gets=self.payloads.gets,
                s3_bytes=self.payloads.stored_bytes,
                s3_storage_months=PAYLOAD_MONTHS,
                eventbridge_events=chronicle.eventbridge_events,
                eventbridge_archived_bytes=chronicle.eventbridge_archived_bytes,
                eventbridge_archive_months=chronicle.eventbridge_archive_months,
            )
        )
        part = cost_per_1000(chronicle)
        total, share = everything["cost_usd_per_1000_recoveries"], part["cost_usd_per_1000_recoveries"]
        by_service = part["cost_usd_per_1000_recoveries_by_service"]
        return {
            **everything,
            "cost_usd_per_1000_recoveries_chronicle": share,
            "cost_usd_per_1000_recoveries_chronicle_by_service": by_service,
            "chronicle_share_of_cost": round(share / total, 4) if total else None,
        }

    def _chronicle_counted(self) -> Counted:
        """The chronicle's part alone: its invocations, the chain's and outbox's units, its events
        (the stream's reads by Lambda are free)."""
        chronicle = self.chronicle
        memory_mb, architecture = function_settings("ChronicleFunction")
        use = FunctionUse(
            "ChronicleFunction", chronicle.invocations, round(chronicle.seconds, 3), memory_mb, architecture
        )
        return Counted(
            recoveries=self.count,
            write_units=chronicle.write_units,
            read_units=chronicle.read_units,
            invocations=0,
            invocation_seconds=0.0,
            memory_mb=memory_mb,
            architecture=architecture,
            sqs_requests=0,
            transitions_per_recovery=0,
            other_functions=(use,),
            eventbridge_events=chronicle.events.chunks,
            eventbridge_archived_bytes=chronicle.events.bytes,
            eventbridge_archive_months=ARCHIVE_MONTHS,
        )

    def audit_units(self) -> list[Unit]:
        """Each item with an audit trail (read from the fake, not billed): every entry sealed in its
        chain and published (distinct event ids) at least once."""
        items = self.fake.items(TABLE)
        published = self.chronicle.events.event_ids
        ends = []
        for item_id, item in items.items():
            if AUDIT not in item or item_id.startswith(CHAIN_PREFIX):
                continue
            entries = len(item[AUDIT].get("L", []))
            links = len(items.get(chain_id(item_id), {}).get(LINKS, {}).get("L", []))
            sealed = "sealed" if links == entries else f"{links} of {entries} sealed"
            events = len(published.get(item_id, ()))
            told = "published" if events >= entries else f"{events} of {entries} published"
            ends.append(Unit(item_id, f"{sealed}, {told}"))
        return ends

    def surfaces(self) -> None:
        """Each surface once, one process each; the read units it cost."""
        self.clock.per_call = CALL_SECONDS
        machine = f"{team(3)}-machine-04"
        # the reconciler's minute: the counts' breakdown (read by the lists once the kinds are many)
        self._measure("rollup_run", lambda: self.store.roll_up(self.clock.now))
        self._measure(
            "list_page", lambda: self.store.list_by_status(RecoveryStatus.OPEN, limit=PAGE_SIZE + 1)
        )
        self._measure(
            "filter_page",
            lambda: self.store.list_by_status(
                RecoveryStatus.OPEN, ListFilter(state_machine=machine), limit=PAGE_SIZE + 1
            ),
        )
        self._measure("counts", lambda: self.store.counts(RecoveryStatus.OPEN))
        access = TeamAccess(AccessPolicy(allowed_users=frozenset({ADMIN})), rules=lambda: self.rules)
        self._measure("home", lambda: overview_for(self.store, access, ADMIN, RecoveryQuery()))
        self.clock.now += LATER
        escalations = Escalations(
            store=self.store,
            dynamodb=self.dynamodb,
            rules=lambda: self.rules,
            poster=self.chat,
            clock=self.clock,
            claimant="escalation-run",
        )
        self._measure("escalation_run", escalations.run)
        reminders = Reminders(
            self.store, self.dynamodb, NoHistory(), self.chat, timedelta(hours=1), self.clock
        )
        self._measure("reminders_run", reminders.run)

    def heal(self, made: list[RecoveryRequest], settings: HealingSettings, vendor_per_second: int) -> None:
        """The payments circuit closes; self-healing settles, then resumes its outage's recoveries
        round after round (each round one process, a fresh invocation) until a round says it is
        done, against a vendor that fails the calls past ``vendor_per_second``."""
        random.seed(self.seed)  # the throttle backoff's jitter
        self.healing_settings = settings
        self.clock.per_call = CALL_SECONDS
        closed_at = self.clock.now
        seconds = self.clock.seconds
        self.vendor = Vendor(seconds, vendor_per_second)
        self.circuit = VendorCircuit(seconds, closed_at.timestamp(), settings.breaker)
        self.sfn = StepFunctionsClient(SendTaskBucket(seconds), resumed=self._execution_goes_on)
        self.slack_updates = SlackCalls(self.clock)
        self._by_token = {r.task_token: r for r in made if r.dependency == DEPENDENCY}
        self.relapsed: list[RecoveryRequest] = []
        self.healing = HealingCount(closed_at=closed_at, ceiling=settings.ceiling)
        self.workers = SimulatedWorkers(settings.concurrency, seconds, self._set_clock)
        closure = Closure(DEPENDENCY, closed_at.timestamp())
        self.clock.sleep(settings.settle_seconds)
        calls = self.dynamodb.calls
        while self.healing.rounds < MAX_ROUNDS:
            started, wall = self.clock.now, time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # each resume's metric, printed as EMF
                report = self._self_healing(settings).round(closure, settings.round_seconds)
            self.healing.add(report, (self.clock.now - started).total_seconds(), time.perf_counter() - wall)
            if report.done:
                break
        self.healing.dynamodb_calls = self.dynamodb.calls - calls

    def _self_healing(self, settings: HealingSettings) -> SelfHealing:
        """What one round's invocation builds (composition.build_self_healing's parts, over the fakes)."""
        seconds = self.clock.seconds
        reconciler = Reconciler(self.store, self.sfn, self.slack_updates, clock=self.clock)
        tokens = StepFunctionsTokens(SlowCalls(self.sfn, self.clock, SENDTASK_CALL_SECONDS))
        actions = RecoveryActions(
            self.store,
            tokens,
            self.slack_updates,
            backoff=ThrottleBackoff(sleep=self.clock.sleep),
            clock=self.clock,
            settler=reconciler,
        )
        return SelfHealing(
            store=self.store,
            groups=self.groups,
            runs=HealingRuns(TABLE, self.dynamodb),
            actions=actions,
            circuits=self.circuit,
            rules=lambda: self.rules,
            outage_errors=settings.outage_errors,
            heals_by_default=False,  # the rules say: every team's heals itself
            display=self.slack_updates,
            pace=Pace(settings.ceiling, clock=seconds, sleep=self.clock.sleep),
            reconciler=reconciler,
            clock=self.clock,
            monotonic=seconds,
            ramp=RampSettings(),
            workers=self.workers,
        )

    def _set_clock(self, seconds: float) -> None:
        """The simulated workers' hold on the clock (each task runs from its own start)."""
        self.clock.now = datetime.fromtimestamp(seconds, UTC)

    def _execution_goes_on(self, token: str) -> None:
        """A resumed execution calls the vendor at once; a failed call is counted by the circuit
        and the execution pauses again (a new recovery, through the collector). The workers'
        resumes are stamped a little out of order: the first and last resumes are the extremes."""
        now, healing = self.clock.now, self.healing
        healing.last_resumed_at = max(healing.last_resumed_at or now, now)
        healing.first_resumed_at = min(healing.first_resumed_at or now, now)
        if self.vendor.call():
            return
        self.circuit.failure()
        original = self._by_token.get(token)
        if original is None:
            return
        again = original.model_copy(update={"task_token": f"{token}-again"})
        self._by_token[again.task_token] = again
        self.relapsed.append(again)
        self.sqs_requests += 3 * sqs_requests(self._body_bytes(again))  # sent, received, deleted
        per_call, self.clock.per_call = self.clock.per_call, 0.0  # the collector is another process
        try:
            self._collector(1_000_000 + len(self.relapsed)).receive([(again, 1)])
        finally:
            self.clock.per_call = per_call

    def _collector(self, invocation: int) -> RecoveryIntake:
        return RecoveryIntake(
            store=self.store,
            groups=self.groups,
            notifier=self.chat,
            routes=self.routes,
            clock=self.clock,
            claimant=f"collector-{invocation}",
        )

    def _measure(self, surface: str, work: Callable[[], Any]) -> None:
        """The surface's read units (the chronicle's, if it ran meanwhile, are its own)."""
        before, started = self.load.total_read_units, self.clock.now
        chronicle = self.chronicle.read_units
        work()
        read = self.load.total_read_units - before - (self.chronicle.read_units - chronicle)
        self.figures[f"read_units_{surface}"] = read
        self.figures[f"sim_seconds_{surface}"] = round((self.clock.now - started).total_seconds(), 3)

    def units(self, made: list[RecoveryRequest]) -> list[Unit]:
        """Each recovery's end state, read from the fake's items (not billed): an outage's
        recovery resumed by self-healing, any other still open for people."""
        items = self.fake.items(TABLE)
        ends = []
        for request in made:
            item = items.get(request.recovery_id)
            if item is None:
                ends.append(Unit(request.recovery_id, "missing", "never stored"))
                continue
            posted = "posted" if SLACK_TS in item else "not posted"
            ends.append(Unit(request.recovery_id, f"{item[STATUS]['S']}, {posted}"))
        return ends


def collector_function() -> tuple[int, str]:
    """The collector's memory (MB) and architecture, from template.yaml (its own, else Globals)."""
    return function_settings("CollectorFunction")


def function_settings(resource: str) -> tuple[int, str]:
    """A function's memory (MB) and architecture, from template.yaml (its own, else Globals)."""
    template = load_template()
    properties = template["Resources"][resource]["Properties"]
    defaults = template.get("Globals", {}).get("Function", {})
    memory = properties.get("MemorySize", defaults.get("MemorySize", 128))
    architectures = properties.get("Architectures", defaults.get("Architectures", ["x86_64"]))
    return int(memory), str(architectures[0])


@dataclass(frozen=True)
class HealingSettings:
    """Self-healing as template.yaml deploys it."""

    ceiling: float  # SelfHealingResumesPerSecond's default
    settle_seconds: float  # SelfHealingSettleSeconds's default
    round_seconds: float  # a round's budget: SELF_HEALING_ROUND_SECONDS, within the function's timeout
    concurrency: int  # SELF_HEALING_CONCURRENCY: the resumes a round runs at once
    timeout_seconds: float
    memory_mb: int
    architecture: str
    outage_errors: tuple[str, ...]
    breaker: BreakerSettings


def healing_settings() -> HealingSettings:
    template = load_template()
    parameters = {name: p.get("Default") for name, p in template["Parameters"].items()}
    properties = template["Resources"]["SelfHealingFunction"]["Properties"]
    defaults = template.get("Globals", {}).get("Function", {})
    timeout = float(properties.get("Timeout", defaults.get("Timeout", 3)))
    round_seconds = float(properties["Environment"]["Variables"]["SELF_HEALING_ROUND_SECONDS"])
    memory, architecture = function_settings("SelfHealingFunction")
    return HealingSettings(
        ceiling=float(parameters["SelfHealingResumesPerSecond"]),
        settle_seconds=float(parameters["SelfHealingSettleSeconds"]),
        round_seconds=max(1.0, min(round_seconds, timeout - RESERVE_SECONDS)),
        concurrency=int(properties["Environment"]["Variables"]["SELF_HEALING_CONCURRENCY"]),
        timeout_seconds=timeout,
        memory_mb=memory,
        architecture=architecture,
        outage_errors=tuple(str(parameters["CircuitOutageErrors"]).split(",")),
        breaker=BreakerSettings(
            threshold=int(parameters["CircuitBreakerFailureThreshold"]),
            window_seconds=int(parameters["CircuitBreakerWindowSeconds"]),
        ),
    )


def run(count: int, arrival_seconds: float, vendor_per_second: int) -> tuple[dict[str, Any], list[Work]]:
    started = time.monotonic()
    outage = Run(count, arrival_seconds)
    made = outage.arrive()
    arrived = time.monotonic() - started
    arrival_peak = outage.load.peak_writes()
    outage.surfaces()
    open_now = sum(1 for item in outage.fake.items(TABLE).values() if item.get(STATUS, {}).get("S") == "OPEN")
    healing_from = int(outage.clock.seconds())
    outage.heal(made, healing_settings(), vendor_per_second)
    outage.chronicle.drain(final=True)  # the last batches, as their windows close
    works = account(outage, made)
    load = outage.load.report()
    figures = {
        "open_recoveries": open_now,
        "lost": sum(len(work.ended_otherwise) + (work.started - work.accounted) for work in works),
        "double_sent": outage.sfn.double_sent,
        **{k: v for k, v in outage.figures.items() if k.startswith("read_units_")},
        "peak_write_units_per_partition_key_per_s": load["peak_write_units_per_partition_key_per_s"],
        "peak_read_units_per_partition_key_per_s": load["peak_read_units_per_partition_key_per_s"],
        "largest_item_kb": load["largest_item_kb"],
        **healing_figures(outage, healing_from),
        **outage.load.over_limits(),
        "peak_write_units_per_partition_key_per_s_arriving": arrival_peak.units,
        "peak_write_key_arriving": f"{arrival_peak.where} {arrival_peak.key}",
        "peak_write_units_by_table_and_index": load["peak_write_units_by_table_and_index"],
        "peak_read_units_by_table_and_index": load["peak_read_units_by_table_and_index"],
        "busiest_write_keys": load["busiest_write_keys"][:3],
        "busiest_read_keys": load["busiest_read_keys"][:3],
        "largest_item": load["largest_item"],
        "total_write_units": load["total_write_units"],
        "total_read_units": load["total_read_units"],
        "surface_sim_seconds": {
            k[len("sim_seconds_") :]: v for k, v in outage.figures.items() if "sim_" in k
        },
        **outage.chronicle.figures(count),
        "chronicle_chain_peak_write_units_per_partition_key_per_s": peak_of(outage.load.writes, CHAIN_PREFIX),
        "chronicle_chain_peak_read_units_per_partition_key_per_s": peak_of(outage.load.reads, CHAIN_PREFIX),
        **outage.cost(),
        "slack_posts": len(outage.chat.messages),
        "items": len(outage.fake.items(TABLE)),
        "arrival_wall_s": round(arrived, 1),
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(f"{count} recoveries: {json.dumps(figures)}", flush=True)
    return figures, works


def account(outage: Run, made: list[RecoveryRequest]) -> list[Work]:
    """The outage's recoveries (resumed by self-healing), the others (open for people), and those of
    executions that failed at the vendor again and paused again (resumed, or open if the run ended)."""
    ours = [r for r in made if r.dependency == DEPENDENCY]
    others = [r for r in made if r.dependency != DEPENDENCY]
    return [
        Work.of(f"{DEPENDENCY}'s outage ({len(ours)})", len(ours), outage.units(ours), "RESUMED, posted"),
        Work.of(f"other recoveries ({len(others)})", len(others), outage.units(others), "OPEN, posted"),
        Work.of(
            "paused again at the vendor",
            len(outage.relapsed),
            outage.units(outage.relapsed),
            ("RESUMED, posted", "OPEN, posted"),
        ),
        Work.of(
            f"audit trails sealed and published ({len(audited := outage.audit_units())})",
            len(audited),
            audited,
            "sealed, published",
        ),
    ]


def healing_figures(outage: Run, healing_from: int) -> dict[str, Any]:
    """Self-healing's phase: its time, the vendor's errors, Step Functions' throttles, its peaks."""
    healing, vendor, sfn = outage.healing, outage.vendor, outage.sfn
    writes, reads = outage.load.peak_writes(since=healing_from), outage.load.peak_reads(since=healing_from)
    last = healing.last
    return {
        "self_healing_resume_s": healing.resume_s,
        "self_healing_vendor_errors": vendor.errors,
        "self_healing_sendtask_throttles": sfn.throttled,
        "self_healing_resumed": healing.resumed,
        "self_healing_expired": healing.expired,
        "self_healing_paused_again": len(outage.relapsed),
        "self_healing_rounds": healing.rounds,
        "self_healing_ended": last.why if last is not None else "",
        "self_healing_circuit_opened_again": outage.circuit.opened_at is not None,
        "self_healing_ceiling_per_s": healing.ceiling,
        "self_healing_vendor_bears_per_s": vendor.per_second,
        "self_healing_resumes_per_s": healing.resumes_per_s,
        "self_healing_pace_at_end_per_s": last.per_second if last is not None else 0.0,
        "self_healing_vendor_busiest_second_calls": vendor.busiest_second,
        "self_healing_sendtask_bucket_lowest": round(sfn.bucket.lowest, 1),
        "self_healing_dynamodb_calls_per_resume": round(healing.dynamodb_calls / max(1, healing.resumed), 1),
        "self_healing_longest_round_s": round(healing.longest_round_s, 1),
        "self_healing_function_timeout_s": outage.healing_settings.timeout_seconds,
        "self_healing_round_budget_s": outage.healing_settings.round_seconds,
        "self_healing_concurrency": outage.healing_settings.concurrency,
        "self_healing_busiest_workers": outage.workers.busiest,
        "self_healing_slack_updates": outage.slack_updates.calls,
        "self_healing_sim_s": round(healing.sim_seconds, 1),
        "self_healing_wall_s": round(healing.wall_s, 1),
        "peak_write_units_per_partition_key_per_s_healing": writes.units,
        "peak_write_key_healing": f"{writes.where} {writes.key}",
        "peak_read_units_per_partition_key_per_s_healing": reads.units,
        "peak_read_key_healing": f"{reads.where} {reads.key}",
    }


SURFACES = ("list_page", "filter_page", "counts", "home", "escalation_run", "reminders_run")


def ratios(results: dict[int, dict[str, Any]]) -> dict[str, float | None]:
    """Each surface's read units at the largest run over those at the smallest (1,000 by default):
    a surface that reads a page, whatever the number open, stays near 1."""
    largest, smallest = max(results), min(results)
    made: dict[str, float | None] = {}
    for surface in SURFACES:
        small = results[smallest].get(f"read_units_{surface}")
        big = results[largest].get(f"read_units_{surface}")
        made[surface] = round(big / small, 2) if small and big is not None else None
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recoveries", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--arrival-seconds", type=float, default=600.0)
    parser.add_argument(
        "--vendor-per-second",
        type=int,
        default=VENDOR_PER_SECOND,
        help="the calls a second the vendor bears once back (past them, its calls fail)",
    )
    args = parser.parse_args()
    logger.setLevel("WARNING")  # a line per routed recovery would drown the figures
    ledger = WorkLedger("outage_at_scale")
    started = time.monotonic()
    results: dict[int, dict[str, Any]] = {}
    for count in sorted(args.recoveries):
        figures, works = run(count, args.arrival_seconds, args.vendor_per_second)
        for work in works:
            ledger.add(work)
        results[count] = figures
    largest = max(results)
    combined: dict[str, Any] = dict(results[largest])
    for count, figures in results.items():
        if count != largest:
            combined.update({f"{key}_at_{count}": value for key, value in figures.items()})
    combined["open_recoveries"] = results[largest]["open_recoveries"]
    combined["lost"] = sum(figures["lost"] for figures in results.values())
    combined["double_sent"] = sum(figures["double_sent"] for figures in results.values())
    combined["ratio_100k_to_1k"] = ratios(results)
    combined["ratio_runs"] = [min(results), largest]
    combined["runs"] = sorted(results)
    combined["wall_s"] = round(time.monotonic() - started, 1)
    ledger.finish(combined)


if __name__ == "__main__":
    main()
