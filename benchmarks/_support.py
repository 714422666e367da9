"""What the benchmarks share: the stack with the Slack app at the Slack stand-in, signed requests to
its function, orders paused by a vendor outage, waits that poll gently, and the account of the work
each benchmark started (every unit by its end state, the ones that ended otherwise named, a non-zero
exit when it does not add up). Not a benchmark itself (``make bench`` runs the scripts whose names do
not start with ``_``)."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour  # noqa: E402
from recovery_ops.service.local.desk import send_to_slack_app  # noqa: E402
from recovery_ops.service.local.engine.collector_poller import poll_collector  # noqa: E402
from recovery_ops.service.local.engine.execution_history import history, nested_execution_arns  # noqa: E402
from recovery_ops.service.local.engine.stack import EmbeddedStack, embedded_stack  # noqa: E402
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi  # noqa: E402
from recovery_ops.service.local.programs.order_stock import stock_local_catalogue  # noqa: E402
from recovery_ops.service.local.programs.vendor_server import serve_dummy_vendor  # noqa: E402
from recovery_ops.service.local.standin.requests import SlackRequest, SlackRequests  # noqa: E402
from recovery_ops.service.local.standin.server import LOCAL_BOT_TOKEN, SlackStandIn, serve_slack_standin  # noqa: E402
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus  # noqa: E402
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore  # noqa: E402
from recovery_ops.slack_app.ids import BULK_SUBMIT, RUN_AGAIN_ALL  # noqa: E402

BOT_TOKEN = LOCAL_BOT_TOKEN
SIGNING_SECRET = "benchmark-signing-secret"
ALLOWED = "UALLOWED"
#: Between polls of moto: a tight loop starves its execution threads.
POLL_SECONDS = 1.0


@contextmanager
def slack_app_stack(
    slack: SlackStandIn, sleep_scale: float | None = None, **parameters: str
) -> Iterator[EmbeddedStack]:
    """template.yaml in moto with the Slack app at the stand-in; one person may act. ``sleep_scale``:
    the workflow's waits and the breaker's clock (default: the embedded stack's, 100 times real time)."""
    timing = {} if sleep_scale is None else {"sleep_scale": sleep_scale}
    with embedded_stack(
        **timing,
        parameters={"SlackDefaultChannel": "C-RECOVERIES", "SlackAllowedUserIds": ALLOWED, **parameters},
        secrets={
            "recovery-ops/slack-bot-token": BOT_TOKEN,
            "recovery-ops/slack-signing-secret": SIGNING_SECRET,
        },
        environment={"SLACK_API_URL": slack.base_url},
        quiet=True,
        prepare=stock_local_catalogue,
    ) as stack:
        yield stack


def send(stack: EmbeddedStack, request: SlackRequest) -> dict[str, Any]:
    """POST the request to the Slack app's function as API Gateway would; its HTTP answer."""
    return send_to_slack_app(stack, request)


def record_calls(stack: EmbeddedStack, operation: str) -> list[dict]:
    """Every ``operation`` call (e.g. SendTaskSuccess) the stack's clients make from now on."""
    calls: list[dict] = []
    stack.client("stepfunctions").meta.events.register(
        f"provide-client-params.states.{operation}", lambda params, **_: calls.append(dict(params))
    )
    return calls


def wait(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(every)


def running(stack: EmbeddedStack, machine: str = "OrderStateMachine") -> int:
    """How many executions of ``machine`` run. moto's page token names an execution of the list it
    paged; one that ended between two pages makes the token ``InvalidToken``: list again."""
    sfn = stack.client("stepfunctions")
    for _ in range(5):
        paginator = sfn.get_paginator("list_executions")
        pages = paginator.paginate(stateMachineArn=stack.arn(machine), statusFilter="RUNNING")
        try:
            return sum(len(page["executions"]) for page in pages)
        except sfn.exceptions.InvalidToken:
            time.sleep(POLL_SECONDS)
    raise RuntimeError(f"could not list the running executions of {machine}: the list kept changing")


def statuses(stack: EmbeddedStack, arns: list[str]) -> Counter[str]:
    sfn = stack.client("stepfunctions")
    return Counter(sfn.describe_execution(executionArn=arn)["status"] for arn in arns)


def pause_orders(stack: EmbeddedStack, count: int, timeout: float) -> list[str]:
    """Place ``count`` orders (the vendor is down) and collect their recoveries until all are OPEN."""
    api = LocalOrderApi()
    arns = []
    for index in range(count):
        answer = api.place({"customer_id": f"c-{index:04d}", "product_id": "sku-kettle", "quantity": 1})
        if answer.status != 202:
            raise RuntimeError(f"order {index} refused: {answer.status} {answer.body}")
        arns.append(answer.body["execution_arn"])
    store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
    deadline = time.monotonic() + timeout
    while len(store.count_by_status(RecoveryStatus.OPEN)) < count:
        if time.monotonic() > deadline:
            opened = len(store.count_by_status(RecoveryStatus.OPEN))
            raise TimeoutError(f"only {opened}/{count} recoveries open after {timeout:.0f}s")
        if not poll_collector(stack, batch_size=100).received:
            time.sleep(POLL_SECONDS)
    return arns


@contextmanager
def orders_paused_by_an_outage(
    count: int, timeout: float
) -> Iterator[tuple[EmbeddedStack, SlackStandIn, Any, list[str], float]]:
    """The Slack app's stack (breaker off, one group window) with ``count`` orders placed while the
    dummy vendor is down, every recovery collected; (stack, Slack stand-in, vendor, the orders'
    execution ARNs, seconds to place and pause them). The vendor is still down."""
    vendor = DummyVendor(VendorBehaviour(outage=True), seed=1)
    with (
        serve_slack_standin() as slack,
        serve_dummy_vendor(vendor) as vendor_url,
        slack_app_stack(
            slack, VendorUrl=vendor_url, CircuitBreakerEnabled="false", RecoveryGroupWindowSeconds="86400"
        ) as stack,
    ):
        began = time.perf_counter()
        arns = pause_orders(stack, count, timeout)
        yield stack, slack, vendor, arns, time.perf_counter() - began


def queue_depth(stack: EmbeddedStack, queue: str) -> int:
    """Messages in ``queue`` of the stack, visible or in flight."""
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.physical(queue),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def send_copies(
    stack: EmbeddedStack,
    model: dict,
    count: int,
    arrival_s: float,
    name_of: Callable[[int], str],
    changes: Callable[[int], dict[str, Any]] = lambda index: {},
) -> None:
    """``count`` copies of a paused execution's contract message on the recovery queue, at a steady
    rate over ``arrival_s``: each with its own task token and execution (named ``name_of(index)``),
    and ``changes(index)`` on top, as that many paused executions would send."""
    sqs = stack.client("sqs")
    began = time.perf_counter()
    for index in range(count):
        time.sleep(max(0.0, began + arrival_s * index / count - time.perf_counter()))
        name = name_of(index)
        message = {
            **model,
            "task_token": f"{model['task_token']}-{uuid.uuid4().hex}",
            "execution_name": name,
            "execution_arn": model["execution_arn"].rsplit(":", 1)[0] + ":" + name,
            "input": {**model["input"], "order_id": name},
            **changes(index),
        }
        sqs.send_message(QueueUrl=stack.physical("RecoveryQueue"), MessageBody=json.dumps(message))


def run_again_all(stack: EmbeddedStack, slack: SlackStandIn, group_id: str) -> tuple[float, float]:
    """Run again all on the group's message, then confirm in the modal, as a person would in Slack;
    (seconds until the modal opened, milliseconds until the submission was acknowledged)."""
    requests = SlackRequests(SIGNING_SECRET, response_url=slack.response_url)
    opened = len(slack.calls_of("views.open"))  # the modals of earlier clicks are not this one's
    clicked = time.perf_counter()
    answer = send(stack, requests.click(ALLOWED, RUN_AGAIN_ALL, group_id))
    if answer.get("statusCode") != 200:
        raise RuntimeError(f"Run again all was not acknowledged: {answer}")
    wait(lambda: len(slack.calls_of("views.open")) > opened, 120, "views.open after Run again all")
    view = slack.calls_of("views.open")[-1].body["view"]
    modal = json.loads(view) if isinstance(view, str) else view
    modal_s = time.perf_counter() - clicked
    submitted = time.perf_counter()
    answer = send(stack, requests.submit(ALLOWED, BULK_SUBMIT, modal["private_metadata"], {}))
    if answer.get("statusCode") != 200:
        raise RuntimeError(f"the bulk modal was not acknowledged: {answer}")
    return modal_s, (time.perf_counter() - submitted) * 1000


def bulk_finished_posts(slack: SlackStandIn) -> int:
    """How many bulk actions have posted their final summary in a thread so far."""
    return sum(1 for c in slack.calls_of("chat.postMessage") if "finished" in c.body.get("text", ""))


def run_again_until_done(stack: EmbeddedStack, slack: SlackStandIn, timeout: float) -> dict[str, int]:
    """Run again all, as support would, until no order execution runs: an item run again can fail
    at the vendor again and pause again (a new recovery, collected here), and is run again in the
    next round. Returns ``rounds`` (Run again all clicks) and ``paused_again`` (recoveries that
    arrived after the first round)."""
    store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
    deadline = time.monotonic() + timeout
    rounds, first_round_ids = 0, None
    seen: set[str] = set()
    while running(stack) and time.monotonic() < deadline:
        poll_collector(stack, batch_size=100)
        opened = store.list_by_status(RecoveryStatus.OPEN, limit=10_000)
        seen.update(r.recovery_id for r in opened)
        if first_round_ids is None:
            first_round_ids = {r.recovery_id for r in opened}
        groups = Counter(r.group_id for r in opened if r.group_id)
        if not groups:
            time.sleep(POLL_SECONDS)
            continue
        finished = bulk_finished_posts(slack)
        run_again_all(stack, slack, groups.most_common(1)[0][0])
        rounds += 1
        left = max(1.0, deadline - time.monotonic())
        wait(lambda before=finished: bulk_finished_posts(slack) > before, left, "the bulk summary")
    return {"rounds": rounds, "paused_again": len(seen - (first_round_ids or set()))}


# ------------------------------------------------------------ what became of the work a benchmark started

#: The end state of a unit the benchmark started and cannot find at the end.
MISSING = "MISSING"
#: How much of a cause or an audit entry's detail a listed unit shows.
DETAIL_CHARS = 160


@dataclass(frozen=True)
class Unit:
    """One unit of work a benchmark started (an execution, a recovery, a click) and how it ended.
    ``last``: what it did last (its last history event, the recovery's last audit entry); filled in
    for the units that did not end as expected."""

    id: str
    state: str
    last: str = ""


def expectation(expect: str | Iterable[str]) -> frozenset[str]:
    return frozenset([expect] if isinstance(expect, str) else expect)


@dataclass(frozen=True)
class Work:
    """The units of one kind a benchmark started, by end state, against the end it expects of them.

    ``expected``: the end states every unit may end in (success, for most); ``per_unit``: the ends of
    the units a benchmark expects to end otherwise (an order rejected on purpose), by unit id. The
    work adds up when every unit started is accounted for once; it is as expected when it adds up
    and every unit ended in an end state expected of it."""

    what: str
    started: int
    units: tuple[Unit, ...]
    expected: frozenset[str]
    per_unit: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        what: str,
        started: int,
        units: Iterable[Unit],
        expect: str | Iterable[str],
        per_unit: Mapping[str, str | Iterable[str]] | None = None,
    ) -> Work:
        ends = {unit_id: expectation(end) for unit_id, end in (per_unit or {}).items()}
        return cls(what, started, tuple(units), expectation(expect), ends)

    def expected_of(self, unit: Unit) -> frozenset[str]:
        return self.per_unit.get(unit.id, self.expected)

    @property
    def by_state(self) -> Counter[str]:
        return Counter(unit.state for unit in self.units)

    @property
    def accounted(self) -> int:
        """The sum of the end-state counts."""
        return len(self.units)

    @property
    def counted_twice(self) -> list[str]:
        return sorted(unit_id for unit_id, n in Counter(u.id for u in self.units).items() if n > 1)

    @property
    def adds_up(self) -> bool:
        return self.accounted == self.started and not self.counted_twice

    @property
    def ended_otherwise(self) -> list[Unit]:
        return [unit for unit in self.units if unit.state not in self.expected_of(unit)]

    @property
    def as_expected(self) -> bool:
        return self.adds_up and not self.ended_otherwise

    def lines(self) -> list[str]:
        """The account as a person reads it: the counts by end state, then every unit that ended
        otherwise, with what it did last."""
        counts = self.by_state
        order = sorted(counts, key=lambda state: (state not in self.expected, -counts[state], state))
        tally = ", ".join(f"{state} {counts[state]}" for state in order) or "nothing"
        ends = " or ".join(sorted(self.expected))
        if self.per_unit:
            ends += " (" + "; ".join(f"{u}: {' or '.join(sorted(e))}" for u, e in self.per_unit.items()) + ")"
        otherwise = self.ended_otherwise
        verdict = "as expected" if self.as_expected else "NOT AS EXPECTED"
        lines = [
            f"  {self.what}: {self.started} started; {tally}; {self.accounted} in all; "
            f"expected {ends}: {self.accounted - len(otherwise)} did; {verdict}"
        ]
        if self.accounted != self.started:
            lines.append(
                f"    DOES NOT ADD UP: {self.started} started, {self.accounted} accounted for "
                f"({self.started - self.accounted:+d} unaccounted)"
            )
        if self.counted_twice:
            lines.append(f"    DOES NOT ADD UP: counted more than once: {', '.join(self.counted_twice)}")
        for unit in otherwise:
            expected = " or ".join(sorted(self.expected_of(unit)))
            last = unit.last or "nothing more known"
            lines.append(f"    {unit.id}: {unit.state} (expected {expected}); {last}")
        return lines


class WorkLedger:
    """Every kind of work one benchmark started, accounted for at its end."""

    def __init__(self, benchmark: str) -> None:
        self.benchmark = benchmark
        self.works: list[Work] = []

    def add(self, work: Work) -> Work:
        self.works.append(work)
        return work

    @property
    def as_expected(self) -> bool:
        return all(work.as_expected for work in self.works)

    def end_states(self) -> dict[str, dict[str, int]]:
        return {work.what: dict(work.by_state.most_common()) for work in self.works}

    def lines(self) -> list[str]:
        lines = [f"{self.benchmark}: the work started, by end state"]
        for work in self.works:
            lines.extend(work.lines())
        if not self.as_expected:
            wrong = [w.what for w in self.works if not w.as_expected]
            lines.append(
                f"{self.benchmark}: FAILED: work that does not add up or did not end as expected: {wrong}"
            )
        return lines

    def finish(self, figures: dict[str, Any]) -> None:
        """Print the account of the work, then the figures with the end states (the last line, one
        JSON object); exit with status 1 when the work does not add up or did not end as expected."""
        print("\n".join(self.lines()))
        print(json.dumps({**figures, "end_states": self.end_states()}), flush=True)
        if not self.as_expected:
            sys.exit(1)


def _short(text: Any, limit: int = DETAIL_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_line(event: dict[str, Any]) -> str:
    """One history event as a person reads it: its time, type, state, resource, error and cause."""
    stamp = event.get("timestamp")
    parts = [stamp.strftime("%H:%M:%S.%f")[:-3] if hasattr(stamp, "strftime") else str(stamp or "?")]
    parts.append(str(event.get("type", "?")))
    for key, details in event.items():
        if not (key.endswith("EventDetails") and isinstance(details, dict)):
            continue
        if details.get("name"):
            parts.append(f"'{details['name']}'")
        if details.get("resource"):
            parts.append(f"{details.get('resourceType', '')}:{details['resource']}")
        if details.get("error"):
            parts.append(str(details["error"]))
        if details.get("cause"):
            parts.append(_short(details["cause"]))
    return " ".join(parts)


def audit_line(entry: AuditEntry) -> str:
    """One audit entry of a recovery: when, who, what, with what result (and its detail)."""
    detail = f" {_short(json.dumps(entry.detail, sort_keys=True, default=str))}" if entry.detail else ""
    return f"{entry.at} {entry.actor} {entry.action} -> {entry.result}{detail}"


def end_state(described: dict[str, Any]) -> str:
    """An execution's end state: its status; a SUCCEEDED order or item that did not finish or
    reserve carries its outcome ("SUCCEEDED (PARTIALLY_FINISHED)", "SUCCEEDED (REJECTED)"), a FAILED
    one its error ("FAILED (OrderFailed)")."""
    status = described["status"]
    if status == "SUCCEEDED":
        try:
            output = json.loads(described.get("output") or "null")
        except ValueError:
            output = None
        outcome = output.get("status") if isinstance(output, dict) else None
        if outcome and outcome not in ("FINISHED", "RESERVED"):
            return f"SUCCEEDED ({outcome})"
    if status == "FAILED" and described.get("error"):
        return f"FAILED ({described['error']})"
    return status


def execution_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def _failed_error(events: list[dict]) -> str | None:
    for event in reversed(events):
        details = event.get("executionFailedEventDetails")
        if details and details.get("error"):
            return details["error"]
    return None


def last_event(events: list[dict]) -> str:
    """The last event of a history, with the state it happened in (the last one entered)."""
    if not events:
        return "no history"
    entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    within = f" (in '{entered[-1]}')" if entered and "stateEnteredEventDetails" not in events[-1] else ""
    return f"last event {event_line(events[-1])}{within}"


def last_steps(sfn: Any, arn: str, events: list[dict] | None = None) -> str:
    """An execution's last history event, and those of the executions it started that did not
    succeed (an order stuck in its item action names the item's step)."""
    events = history(sfn, arn) if events is None else events
    text = last_event(events)
    for nested in nested_execution_arns(events):
        described = sfn.describe_execution(executionArn=nested)
        if described["status"] != "SUCCEEDED":
            text += f"; {execution_name(nested)} {described['status']}: {last_event(history(sfn, nested))}"
    return text


def execution_work(
    stack: EmbeddedStack,
    what: str,
    arns: list[str],
    expect: str | Iterable[str] = "SUCCEEDED",
    per_unit: Mapping[str, str | Iterable[str]] | None = None,
    started: int | None = None,
) -> Work:
    """The executions a benchmark started (``arns``), each by its end state (``end_state``), the
    ones that ended otherwise with their last history event. Units are named by execution name.
    ``started``: how many the benchmark started, where it counts them apart from ``arns`` (the
    item executions of the orders it placed); by default ``len(arns)``."""
    sfn = stack.client("stepfunctions")
    expected = expectation(expect)
    ends = {unit_id: expectation(end) for unit_id, end in (per_unit or {}).items()}
    units = []
    for arn in arns:
        name = execution_name(arn)
        try:
            described = sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            units.append(Unit(name, MISSING, f"no execution {arn}"))
            continue
        state = end_state(described)
        if state in ends.get(name, expected):
            units.append(Unit(name, state))
            continue
        events = history(sfn, arn)
        if state == "FAILED" and _failed_error(events):
            state = f"FAILED ({_failed_error(events)})"
        last = "" if state in ends.get(name, expected) else last_steps(sfn, arn, events)
        units.append(Unit(name, state, last))
    return Work(what, len(arns) if started is None else started, tuple(units), expected, ends)


def all_recoveries(stack: EmbeddedStack) -> list[Recovery]:
    """Every recovery in the stack's table, whatever its status."""
    store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
    return [r for status in RecoveryStatus for r in store.list_by_status(status, limit=10_000_000)]


def recovery_unit(recovery: Recovery, expected: frozenset[str], state: str | None = None) -> Unit:
    """A recovery as a unit of work (named by its id and its execution's name); its last audit entry
    when it did not end as expected."""
    state = state or recovery.status.value
    unit_id = f"{recovery.recovery_id} ({recovery.execution_name})"
    if state in expected:
        last = ""
    else:
        last = f"last audit entry {audit_line(recovery.audit[-1])}" if recovery.audit else "no audit entry"
    return Unit(unit_id, state, last)


def recovery_work(
    stack: EmbeddedStack,
    what: str,
    expect: str | Iterable[str] = RecoveryStatus.RESUMED.value,
    started: int | None = None,
) -> Work:
    """The recoveries in the stack (one for each pause of an execution), by status; the ones that
    ended otherwise with their last audit entry. ``started``: how many the benchmark started, where
    it knows (it seeded them); by default every one stored."""
    expected = expectation(expect)
    recoveries = all_recoveries(stack)
    units = tuple(recovery_unit(r, expected) for r in recoveries)
    return Work(what, len(recoveries) if started is None else started, units, expected)
