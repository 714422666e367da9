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

It measures today's design honestly: the status index has one partition key per status (``OPEN``)
and projects whole items, and the surfaces read every matching item. Figures (read units each
surface costs, the peak units per partition key per second, the largest item) are per run; the
largest run's are unsuffixed, the others end in ``_at_<N>``. Every recovery must end stored, OPEN
and posted; otherwise it counts as lost and the benchmark exits non-zero. Last line: one JSON object.

**Cost.** ``cost_usd_per_1000_recoveries`` (and ``cost_usd_per_1000_recoveries_by_service``) prices
what each run counted at us-east-1's on-demand prices (benchmarks/_cost.py lists them with their
pages: DynamoDB $0.625 / $0.125 per million write / read request units; Lambda $0.20 per million
requests and $0.0000166667 per GB-second on x86_64; SQS $0.40 per million requests of 64 KB; Step
Functions $0.025 per 1,000 transitions; S3 none today). DynamoDB: the accountant's total units,
table and indexes, for the arrival and one round of each surface above. Lambda: one collector
invocation per batch delivered (redeliveries included), at template.yaml's memory and architecture
for the collector; each invocation's duration is its measured time over the fakes on this machine
plus ``CALL_SECONDS`` per DynamoDB call and ``SLACK_CALL_SECONDS`` per Slack post it made (an
assumption). SQS: each contract message sent once alone (by the execution's
``.waitForTaskToken`` step), received in tens per delivery and deleted in tens, 64 KB chunks per
request. Step Functions: ``TRANSITIONS_PER_RECOVERY`` transitions a recovery adds to its execution.
"""

from __future__ import annotations

import argparse
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

from _cost import Counted, cost_per_1000, sqs_requests  # noqa: E402
from _support import Unit, Work, WorkLedger  # noqa: E402

from recovery_ops.service.local.engine.cfn_template import load_template  # noqa: E402
from recovery_ops.service.observability import logger  # noqa: E402
from recovery_ops.service.recovery.access.authorization import AccessPolicy  # noqa: E402
from recovery_ops.service.recovery.access.routing_rules import RoutingRulesSource, parse_rules  # noqa: E402
from recovery_ops.service.recovery.access.team_access import TeamAccess  # noqa: E402
from recovery_ops.service.recovery.intake.collect import IntakeReport, RecoveryIntake  # noqa: E402
from recovery_ops.service.recovery.lifecycle.escalation import Escalations  # noqa: E402
from recovery_ops.service.recovery.lifecycle.overview import overview_for  # noqa: E402
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery  # noqa: E402
from recovery_ops.service.recovery.lifecycle.reminders import Reminder, ReminderDigest, Reminders  # noqa: E402
from recovery_ops.service.recovery.model.contract import RecoveryRequest  # noqa: E402
from recovery_ops.service.recovery.model.recovery import RecoveryStatus  # noqa: E402
from recovery_ops.service.recovery.ports.notifier import ChannelRouting, MessageRef  # noqa: E402
from recovery_ops.service.recovery.storage.groups import GroupStore  # noqa: E402
from recovery_ops.service.recovery.storage.items import SLACK_TS, STATUS  # noqa: E402
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryStore  # noqa: E402
from recovery_ops.slack_app.views.listing import PAGE_SIZE  # noqa: E402
from tests.support.fakes import FakeChat, FakeDynamoDB  # noqa: E402
from tests.support.partition_load import PartitionLoad, template_indexes  # noqa: E402

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


@dataclass
class SimClock:
    """Simulated wall time; with ``per_call`` set, every DynamoDB call moves it on by that much."""

    now: datetime = START
    per_call: float = 0.0

    def __call__(self) -> datetime:
        return self.now

    def call(self) -> None:
        self.now += timedelta(seconds=self.per_call)


class Latency:
    """The fake DynamoDB as a process meets it: each call takes ``clock.per_call`` seconds."""

    def __init__(self, dynamodb: FakeDynamoDB, clock: SimClock) -> None:
        self._dynamodb, self._clock = dynamodb, clock
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._dynamodb, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self._clock.call()
            return method(*args, **kwargs)

        return timed


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
        self.store = RecoveryStore(TABLE, self.dynamodb)
        self.groups = GroupStore(TABLE, self.dynamodb)
        self.chat = Chat(self.clock)
        self.rules = parse_rules(rules_document(), ChannelRouting(default="C-RECOVERIES"))
        self.routes = RoutingRulesSource(load=rules_document, fallback=ChannelRouting(default="C-RECOVERIES"))
        self.figures: dict[str, Any] = {}
        self.invocations = 0
        self.invocation_seconds = 0.0
        self.sqs_requests = 0
        self._body_sizes: dict[int, int] = {}

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
        return made

    def _invoke(self, invocation: int, pending: list[tuple[RecoveryRequest, int]]) -> IntakeReport:
        """One collector invocation: its SQS receives and deletes counted, its duration estimated
        as its time here plus the waits of its DynamoDB calls and Slack posts."""
        bodies = [self._body_bytes(r) for r, _ in pending]
        for first in range(0, len(bodies), SQS_RECEIVE_BATCH):
            self.sqs_requests += sqs_requests(sum(bodies[first : first + SQS_RECEIVE_BATCH]))
        calls, posts, started = self.dynamodb.calls, len(self.chat.messages), time.perf_counter()
        report = self._collector(invocation).receive(pending)
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
        return cost_per_1000(
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
            )
        )

    def surfaces(self) -> None:
        """Each surface once, one process each; the read units it cost."""
        self.clock.per_call = CALL_SECONDS
        machine = f"{team(3)}-machine-04"
        self._measure(
            "list_page", lambda: self.store.list_by_status(RecoveryStatus.OPEN, limit=PAGE_SIZE + 1)
        )
        self._measure(
            "filter_page",
            lambda: self.store.list_by_status(
                RecoveryStatus.OPEN, ListFilter(state_machine=machine), limit=PAGE_SIZE + 1
            ),
        )
        self._measure("counts", lambda: self.store.count_by_status(RecoveryStatus.OPEN))
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
        before, started = self.load.total_read_units, self.clock.now
        work()
        self.figures[f"read_units_{surface}"] = self.load.total_read_units - before
        self.figures[f"sim_seconds_{surface}"] = round((self.clock.now - started).total_seconds(), 3)

    def units(self, made: list[RecoveryRequest]) -> list[Unit]:
        """Each recovery's end state, read from the fake's items (not billed)."""
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
    template = load_template()
    properties = template["Resources"]["CollectorFunction"]["Properties"]
    defaults = template.get("Globals", {}).get("Function", {})
    memory = properties.get("MemorySize", defaults.get("MemorySize", 128))
    architectures = properties.get("Architectures", defaults.get("Architectures", ["x86_64"]))
    return int(memory), str(architectures[0])


def run(count: int, arrival_seconds: float) -> tuple[dict[str, Any], Work]:
    started = time.monotonic()
    outage = Run(count, arrival_seconds)
    made = outage.arrive()
    arrived = time.monotonic() - started
    arrival_peak = outage.load.peak_writes()
    outage.surfaces()
    units = outage.units(made)
    work = Work.of(f"recoveries ({count})", count, units, "OPEN, posted")
    open_now = sum(1 for item in outage.fake.items(TABLE).values() if item.get(STATUS, {}).get("S") == "OPEN")
    load = outage.load.report()
    figures = {
        "open_recoveries": open_now,
        "lost": len(work.ended_otherwise) + (count - work.accounted),
        **{k: v for k, v in outage.figures.items() if k.startswith("read_units_")},
        "peak_write_units_per_partition_key_per_s": load["peak_write_units_per_partition_key_per_s"],
        "peak_read_units_per_partition_key_per_s": load["peak_read_units_per_partition_key_per_s"],
        "largest_item_kb": load["largest_item_kb"],
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
        **outage.cost(),
        "slack_posts": len(outage.chat.messages),
        "items": len(outage.fake.items(TABLE)),
        "arrival_wall_s": round(arrived, 1),
        "wall_s": round(time.monotonic() - started, 1),
    }
    print(f"{count} recoveries: {json.dumps(figures)}", flush=True)
    return figures, work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recoveries", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--arrival-seconds", type=float, default=600.0)
    args = parser.parse_args()
    logger.setLevel("WARNING")  # a line per routed recovery would drown the figures
    ledger = WorkLedger("outage_at_scale")
    started = time.monotonic()
    results: dict[int, dict[str, Any]] = {}
    for count in sorted(args.recoveries):
        figures, work = run(count, args.arrival_seconds)
        ledger.add(work)
        results[count] = figures
    largest = max(results)
    combined: dict[str, Any] = dict(results[largest])
    for count, figures in results.items():
        if count != largest:
            combined.update({f"{key}_at_{count}": value for key, value in figures.items()})
    combined["open_recoveries"] = results[largest]["open_recoveries"]
    combined["lost"] = sum(figures["lost"] for figures in results.values())
    combined["runs"] = sorted(results)
    combined["wall_s"] = round(time.monotonic() - started, 1)
    ledger.finish(combined)


if __name__ == "__main__":
    main()
