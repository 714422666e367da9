"""Fault injection at every edge the recovery core meets: DynamoDB, Step Functions, the chat display.

Every call the product makes through these edges is numbered, in order, in one ``FaultPlan``
(DynamoDB, Step Functions and the display share the count: index 7 is the eighth call whatever it
went to). A schedule names call indexes and the fault each one gets; every other call answers as
the fakes underneath answer. The same schedule gives the same calls, so a failing schedule is a
reproduction.

A crash is a process dying: ``Crash`` is raised where the process dies, and every later call that
process would make raises ``Crash`` too (the plan is *dead* until the harness starts the next
process), so code that catches ``Exception`` cannot carry on as if it had lived.

The faults per edge:

- DynamoDB (``FaultyDynamoDB``): ``throttle`` (ProvisionedThroughputExceededException, not applied),
  ``error`` (InternalServerError, HTTP 500, not applied), ``lost`` (applied, then the answer is lost:
  botocore's ``ReadTimeoutError``), ``crash-before`` (the process dies before the call),
  ``crash-after`` (the call is applied, then the process dies);
- Step Functions' task-token calls (``FaultySteps``, through ``FakeStepFunctions.fault``):
  ``throttle``, ``refuse``, ``lost`` (landed, no answer), ``timeout`` (not landed, no answer),
  ``crash-before``, ``crash-after``; its record of an execution (``task_truth``, the history the
  reminders read): ``unknown`` (the record cannot be read: throttled) and ``crash``;
- the chat display (``FakeChat``): ``error`` (``NotifierUnavailableError``), ``crash-before``,
  ``crash-after`` (the message was updated, then the process died);
- the chat's posts (a recovery's or a group's message, an escalation level): ``error`` (not posted,
  ``NotifierUnavailableError``), ``lost`` (posted, and the answer lost: ``NotifierUnavailableError`` all the
  same, as a timeout is), ``crash-before``, ``crash-after`` (posted, then the process died);
- the chat's history (``find_posted``): ``error`` (it cannot be read: ``NotifierUnavailableError``),
  ``crash``;
- the circuit reading self-healing makes: ``error``, ``crash``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

from recovery_ops.service.breaker.circuit_board import CircuitReading
from recovery_ops.service.recovery.lifecycle.escalation import Escalation, EscalationDigest
from recovery_ops.service.recovery.lifecycle.reminders import Reminder, ReminderDigest
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.execution_record import TaskFate, TaskTruth
from recovery_ops.service.recovery.ports.notifier import (
    CircuitClosedNotice,
    HealingNotice,
    MessageMark,
    MessageRef,
    NotifierUnavailableError,
    RecoveryBurst,
    RecoveryGroup,
)
from recovery_ops.service.recovery.storage.items import KEY, STATUS
from tests.support.fakes import ChatMessage, Crash, FakeDynamoDB, FakeStepFunctions

DYNAMODB_ENDPOINT = "https://dynamodb.us-east-1.amazonaws.com"

#: the faults each kind of call can get
DYNAMODB_MODES = ("throttle", "error", "lost", "crash-before", "crash-after")
TOKEN_MODES = ("throttle", "refuse", "lost", "timeout", "crash-before", "crash-after")
RECORD_MODES = ("unknown", "crash")
DISPLAY_MODES = ("error", "crash-before", "crash-after")
POST_MODES = ("error", "lost", "crash-before", "crash-after")
HISTORY_MODES = ("error", "crash")
CIRCUIT_MODES = ("error", "crash")

#: the edge of each kind of call (the first word of the kind)
MODES_OF_EDGE = {
    "dynamodb": DYNAMODB_MODES,
    "sfn-token": TOKEN_MODES,
    "sfn-record": RECORD_MODES,
    "chat": DISPLAY_MODES,
    "chat-post": POST_MODES,
    "chat-history": HISTORY_MODES,
    "circuit": CIRCUIT_MODES,
}


def modes_for(kind: str) -> tuple[str, ...]:
    """The faults a call of ``kind`` (``"dynamodb.update_item"``, ``"chat.show_outcome"`` …) can get."""
    return MODES_OF_EDGE[kind.split(".", 1)[0]]


@dataclass
class FaultPlan:
    """The numbered calls of one schedule and the faults placed on them."""

    #: call index → fault; an int picks among the faults that call can get (random schedules)
    faults: dict[int, str | int] = field(default_factory=dict)
    armed: bool = True  # False: no fault fires (the setup, the final reconcile)
    dead: bool = False  # the process that made the last crash is gone: every call it makes dies
    count: int = 0
    trace: list[str] = field(default_factory=list)  # the kind of each numbered call
    fired: list[tuple[int, str, str]] = field(default_factory=list)  # (index, kind, mode)

    def next(self, kind: str) -> str | None:
        """Number one call of ``kind``: the fault it gets (None: it answers normally)."""
        if self.dead:
            raise Crash(f"{kind}: the process is gone")
        index = self.count
        self.count += 1
        self.trace.append(kind)
        planned = self.faults.get(index) if self.armed else None
        if isinstance(planned, int):
            planned = modes_for(kind)[planned % len(modes_for(kind))]
        if planned is None or planned not in modes_for(kind):
            return None
        mode: str = planned
        self.fired.append((index, kind, mode))
        if mode.startswith("crash"):
            self.dead = True
        return mode

    def revive(self) -> bool:
        """The next process starts (a Lambda invocation, a click); whether the last one died."""
        died, self.dead = self.dead, False
        return died

    def fired_modes(self) -> Counter[str]:
        return Counter(mode for _, _, mode in self.fired)


# ---------------------------------------------------------------------- DynamoDB
def _client_error(code: str, message: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


class TrackedDynamoDB(FakeDynamoDB):
    """``FakeDynamoDB`` that remembers every status change of a recovery as it lands (the claims and
    settlements the audit must account for)."""

    def __init__(self) -> None:
        super().__init__()
        self.transitions: list[tuple[str, str | None, str | None]] = []  # (id, from, to)

    def update_item(self, TableName: str, Key: dict, UpdateExpression: str, **request: Any) -> dict:  # noqa: N803
        before = self.items(TableName).get(Key[KEY]["S"], {}).get(STATUS, {}).get("S")
        answer = super().update_item(TableName, Key, UpdateExpression, **request)
        after = self.items(TableName).get(Key[KEY]["S"], {}).get(STATUS, {}).get("S")
        if before != after:
            self.transitions.append((Key[KEY]["S"], before, after))
        return answer

    def transact_write_items(self, TransactItems: list[dict], **request: Any) -> dict:  # noqa: N803
        updates = [
            (w["Update"]["TableName"], w["Update"]["Key"][KEY]["S"]) for w in TransactItems if "Update" in w
        ]
        before = {k: self.items(t).get(k, {}).get(STATUS, {}).get("S") for t, k in updates}
        answer = super().transact_write_items(TransactItems, **request)
        for table, item_id in updates:
            after = self.items(table).get(item_id, {}).get(STATUS, {}).get("S")
            if before[item_id] != after:
                self.transitions.append((item_id, before[item_id], after))
        return answer


class FaultyDynamoDB:
    """The DynamoDB client the stores call, over ``TrackedDynamoDB``, with the plan's faults."""

    def __init__(self, table: TrackedDynamoDB, plan: FaultPlan) -> None:
        self.table = table
        self._plan = plan

    def items(self, table: str) -> dict:
        return self.table.items(table)

    def put_item(self, **request: Any) -> dict:
        return self._call("put_item", "PutItem", self.table.put_item, request)

    def get_item(self, **request: Any) -> dict:
        return self._call("get_item", "GetItem", self.table.get_item, request)

    def update_item(self, **request: Any) -> dict:
        return self._call("update_item", "UpdateItem", self.table.update_item, request)

    def query(self, **request: Any) -> dict:
        return self._call("query", "Query", self.table.query, request)

    def batch_get_item(self, **request: Any) -> dict:
        return self._call("batch_get_item", "BatchGetItem", self.table.batch_get_item, request)

    def transact_write_items(self, **request: Any) -> dict:
        return self._call(
            "transact_write_items", "TransactWriteItems", self.table.transact_write_items, request
        )

    def _call(self, name: str, operation: str, call: Callable[..., dict], request: dict) -> dict:
        mode = self._plan.next(f"dynamodb.{name}")
        if mode == "throttle":
            raise _client_error(
                "ProvisionedThroughputExceededException", "injected: throttled", 400, operation
            )
        if mode == "error":
            raise _client_error("InternalServerError", "injected: internal server error", 500, operation)
        if mode == "crash-before":
            raise Crash(f"before {operation}")
        if mode in ("lost", "crash-after"):
            try:
                call(**request)  # applied (or its condition failed): either way the answer is lost
            except ClientError:
                pass
            if mode == "crash-after":
                raise Crash(f"after {operation}")
            raise ReadTimeoutError(endpoint_url=DYNAMODB_ENDPOINT)
        return call(**request)


# ---------------------------------------------------------------------- Step Functions
class FaultySteps(FakeStepFunctions):
    """``FakeStepFunctions`` (accepting a consumed token again, so a second send is counted, not
    refused) whose task-token calls and record reads get the plan's faults."""

    def __init__(self, plan: FaultPlan) -> None:
        super().__init__(accepts_twice=True)
        self._plan = plan
        self.fault = self._token_fault

    def _token_fault(self, kind: str, token: str) -> str | None:
        return self._plan.next(f"sfn-token.send_{kind}")

    def task_truth(self, execution_arn: str, task_token: str) -> TaskTruth:
        mode = self._plan.next("sfn-record.task_truth")
        if mode == "crash":
            raise Crash("reading the execution's record")
        if mode == "unknown":
            return TaskTruth(TaskFate.UNKNOWN, detail="ThrottlingException: injected")
        return super().task_truth(execution_arn, task_token)

    def get_execution_history(self, **request: Any) -> dict:
        """The history the reminders read for a step's timeout (none is known here)."""
        mode = self._plan.next("sfn-record.get_execution_history")
        if mode == "crash":
            raise Crash("reading the execution's history")
        if mode == "unknown":
            raise _client_error("ThrottlingException", "injected: rate exceeded", 400, "GetExecutionHistory")
        return {"events": []}


# ---------------------------------------------------------------------- the chat display
def _epoch() -> datetime:
    return datetime.fromtimestamp(0, UTC)


@dataclass
class FakeChat:
    """Where people see recoveries: each message's last shown status (``SettledDisplay``,
    ``OutcomeDisplay``), the reminders posted (``ReminderPoster``), self-healing's group notices
    (``HealingDisplay``), and the messages posted with their Slack metadata mark (the collector's
    ``Notifier``, the escalation ladder's ``EscalationPoster``): each call numbered in the plan.

    A posted message is stamped by ``clock`` (its ts, as Slack stamps it) and stays: nothing the
    product does deletes one, so every message posted is a live message. ``find_posted`` answers
    from the messages held, as the channel's history (or a thread's replies) would."""

    plan: FaultPlan
    clock: Callable[[], datetime] = _epoch
    shown: dict[str, str] = field(default_factory=dict)  # recovery id → the status its message shows
    history: list[tuple[str, str]] = field(default_factory=list)  # (recovery id, status shown)
    reminders: list[Reminder] = field(default_factory=list)
    notices: list[HealingNotice | None] = field(default_factory=list)
    messages: list[ChatMessage] = field(default_factory=list)  # every message posted, in order
    _last: int = 0

    def posted(self, recovery: Recovery) -> None:
        """The message the collector posted (the setup): it shows the recovery open."""
        self.shown[recovery.recovery_id] = str(recovery.status)

    def show_outcome(self, recovery: Recovery) -> None:
        self._show(recovery, str(recovery.status), "show_outcome")

    def show_open(self, recovery: Recovery, change: str) -> None:
        self._show(recovery, RecoveryStatus.OPEN, "show_open")

    def post_reminder(self, reminder: Reminder) -> None:
        self._do("post_reminder", lambda: self.reminders.append(reminder))

    def post_reminder_digest(self, digest: ReminderDigest) -> MessageRef:
        self._do("post_reminder_digest", lambda: self.reminders.extend(digest.reminders))
        return MessageRef(digest.channel, f"{len(self.reminders)}.000000")

    def post_escalation_digest(self, digest: EscalationDigest) -> MessageRef:
        return self._post("post_escalation_digest", digest.channel, digest.mark, None, "escalation-digest")

    def show(self, group: RecoveryGroup, channel: str, ts: str, notice: CircuitClosedNotice) -> None:
        self._do("show_group", lambda: self.notices.append(notice.healing))

    def progress(self, channel: str, ts: str, text_of: HealingNotice, dependency: str) -> None:
        self._do("progress", lambda: self.notices.append(text_of))

    # ------------------------------------------------------------------ posts (marked) and history
    def post_recovery(self, recovery: Recovery, channel: str, mark: MessageMark | None = None) -> MessageRef:
        def shows() -> None:
            self.shown[recovery.recovery_id] = str(recovery.status)

        return self._post("post_recovery", channel, mark, None, "recovery", shows)

    def post_group(self, group: RecoveryGroup, channel: str) -> MessageRef:
        return self._post("post_group", channel, MessageMark.group(group.group_id), None, "group")

    def post_burst(self, burst: RecoveryBurst, channel: str) -> MessageRef:
        """A channel's burst message (distinct failures folded), marked as a group's is."""
        return self._post("post_burst", channel, MessageMark.group(burst.group_id), None, "burst")

    def update_burst(self, burst: RecoveryBurst, message: MessageRef) -> None:
        def update() -> None:
            (shown,) = [m for m in self.messages if (m.channel, m.ts) == (message.channel, message.ts)]
            shown.what, shown.updates = "burst", shown.updates + 1

        self._do("update_burst", update)

    def post_escalation(self, escalation: Escalation) -> MessageRef:
        return self._post(
            "post_escalation", escalation.channel, escalation.mark, escalation.thread_ts, "escalation"
        )

    def update_group(
        self, group: RecoveryGroup, message: MessageRef, notice: CircuitClosedNotice | None = None
    ) -> None:
        def update() -> None:
            (shown,) = [m for m in self.messages if (m.channel, m.ts) == (message.channel, message.ts)]
            shown.what, shown.updates = "group", shown.updates + 1

        self._do("update_group", update)

    def find_posted(
        self, channel: str, since: datetime, mark: MessageMark, thread_ts: str | None = None
    ) -> MessageRef | None:
        mode = self.plan.next("chat-history.find_posted")
        if mode == "crash":
            raise Crash("reading the channel's history")
        if mode == "error":
            raise NotifierUnavailableError("conversations.history: injected")
        oldest = since.timestamp()
        for message in self.messages:
            where = (message.channel, message.thread_ts) == (channel, thread_ts)
            if where and float(message.ts) > oldest and message.mark == mark:
                return MessageRef(message.channel, message.ts)
        return None

    def marked(self, mark: MessageMark) -> list[ChatMessage]:
        """The live messages carrying ``mark``."""
        return [m for m in self.messages if m.mark == mark]

    def _post(
        self,
        call: str,
        channel: str,
        mark: MessageMark | None,
        thread_ts: str | None,
        what: str,
        shows: Callable[[], None] = lambda: None,
    ) -> MessageRef:
        mode = self.plan.next(f"chat-post.{call}")
        if mode == "error":
            raise NotifierUnavailableError(f"{call}: injected")
        if mode == "crash-before":
            raise Crash(f"before {call}")
        micros = max(int(self.clock().timestamp() * 1_000_000), self._last + 1)
        self._last = micros
        ts = f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
        self.messages.append(ChatMessage(channel, ts, mark, thread_ts, what))
        shows()
        if mode == "crash-after":
            raise Crash(f"after {call}")
        if mode == "lost":
            raise NotifierUnavailableError(f"{call}: injected timeout (posted)")
        return MessageRef(channel, ts)

    # ------------------------------------------------------------------ the numbered call
    def _show(self, recovery: Recovery, status: str, call: str) -> None:
        if not (recovery.slack_channel and recovery.slack_ts):
            return  # no message to update (as the Slack display does)

        def update() -> None:
            self.shown[recovery.recovery_id] = status
            self.history.append((recovery.recovery_id, status))

        self._do(call, update)

    def _do(self, call: str, effect: Callable[[], None]) -> None:
        mode = self.plan.next(f"chat.{call}")
        if mode == "error":
            raise NotifierUnavailableError(f"{call}: injected")
        if mode == "crash-before":
            raise Crash(f"before {call}")
        effect()
        if mode == "crash-after":
            raise Crash(f"after {call}")


# ---------------------------------------------------------------------- the circuit self-healing reads
@dataclass
class FaultyCircuits:
    """The breaker table as self-healing reads it: one reading, always the same closing."""

    plan: FaultPlan
    reading_of: Callable[[str], CircuitReading]

    def reading(self, dependency: str) -> CircuitReading:
        mode = self.plan.next("circuit.reading")
        if mode == "crash":
            raise Crash("reading the circuit")
        if mode == "error":
            raise _client_error("InternalServerError", "injected", 500, "GetItem")
        return self.reading_of(dependency)
