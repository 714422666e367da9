"""In-memory stand-ins for the recovery core's edges, for unit tests that run in milliseconds.

- ``FakeTaskTokens``: the task-token port, answering from a script and recording every call.
- ``FakeDynamoDB``: a table as the core's stores use it (``put_item``, ``get_item``,
  ``batch_get_item``, ``update_item`` with the subset of expressions they write, conditions
  included, ``ReturnValues`` ``ALL_NEW`` / ``ALL_OLD`` / ``UPDATED_NEW``, and ``query`` of the
  ``by-status`` and ``by-execution`` indexes in one page), keyed like the recoveries table. A
  failed condition raises botocore's ``ConditionalCheckFailedException``, as DynamoDB does, so the
  stores' own conditional writes decide; each call is atomic.
- ``LostAnswers``: a ``FakeDynamoDB`` whose next writes take effect and then raise, as a write
  whose answer was lost on the way back (a timeout) does.
- ``FakeChat``: the chat tool as the intake (``Notifier``) and the escalation ladder
  (``EscalationPoster``) use it, keeping every message with its mark and able to die around a post
  (``ProcessCrashed``) or to be unreadable.

The real stores (``RecoveryStore``, ``GroupStore``, ``AuditItems`` …) run over ``FakeDynamoDB``, so
a test exercises their writes and the codec, not a copy of them.
"""

from __future__ import annotations

import bisect
import io
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from recovery_ops.service.recovery.lifecycle.escalation import Escalation, EscalationDigest
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.ports.execution_record import TaskFate, TaskTruth
from recovery_ops.service.recovery.ports.notifier import (
    CircuitClosedNotice,
    MessageMark,
    MessageRef,
    NotifierUnavailableError,
    RecoveryBurst,
    RecoveryGroup,
    UnreadableMessage,
)
from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome
from recovery_ops.service.recovery.storage.items import (
    CREATED_SORT,
    DUE,
    DUE_AT,
    DUE_INDEX,
    EXECUTION_ARN,
    EXECUTION_INDEX,
    KEY,
    LANE,
    LANE_INDEX,
    LANE_SORT,
    STATUS,
    STATUS_INDEX,
)
from tests.support.partition_load import QUERY_PAGE_BYTES, IndexShape, PartitionLoad, item_size

#: the ``by-lane`` index as template.yaml declares it (what an entry projects)
_LANE_SHAPE = IndexShape(LANE_INDEX, LANE, LANE_SORT, "INCLUDE", ("of", "cell", "n_OPEN", "n_RESUMING"))

Item = dict[str, Any]


# ---------------------------------------------------------------------- the task-token port
@dataclass(frozen=True)
class TokenCall:
    kind: str  # "success" or "failure"
    token: str
    output: str | None = None
    error: str | None = None
    cause: str | None = None


@dataclass
class FakeTaskTokens:
    """Answers from ``script`` in order (then ACCEPTED); ``during_call`` runs inside each call, before
    it answers (to act while a call is in flight)."""

    script: list[TokenOutcome] = field(default_factory=list)
    during_call: Callable[[], None] | None = None
    calls: list[TokenCall] = field(default_factory=list)

    def send_success(self, token: str, output: str) -> TokenOutcome:
        return self._answer(TokenCall("success", token, output=output))

    def send_failure(self, token: str, error: str, cause: str) -> TokenOutcome:
        return self._answer(TokenCall("failure", token, error=error, cause=cause))

    def _answer(self, call: TokenCall) -> TokenOutcome:
        self.calls.append(call)
        if self.during_call is not None:
            hook, self.during_call = self.during_call, None  # once
            hook()
        return self.script.pop(0) if self.script else TokenOutcome.accepted()


# ---------------------------------------------------------------------- Step Functions, tokens and record
class Crash(RuntimeError):
    """The process died (a time limit, an out-of-memory) at this point of a call."""


@dataclass
class PausedStep:
    fate: TaskFate = TaskFate.WAITING
    output: str | None = None
    error: str | None = None
    execution_status: str = "RUNNING"


@dataclass
class FakeStepFunctions:
    """Step Functions as the core meets it: the task-token port (``send_success`` / ``send_failure``)
    and the execution record (``task_truth``), kept consistent: a call that lands consumes its
    step's token and the record says so.

    Real Step Functions refuses a consumed token; with ``accepts_twice`` this one accepts it again
    (and counts it), so a test proves the product never sends twice rather than relying on a
    refusal. ``fault`` decides each call's fault, given ``(kind, token)``:
    None (no fault), ``"throttle"`` (not landed, THROTTLED), ``"refuse"`` (not landed, REFUSED),
    ``"lost"`` (landed, the answer lost: UNKNOWN), ``"timeout"`` (not landed, UNKNOWN),
    ``"crash-before"`` (the caller dies before the call), ``"crash-after"`` (it lands, then the
    caller dies). ``record_fault`` makes ``task_truth`` answer UNKNOWN while it returns True."""

    accepts_twice: bool = False
    steps: dict[str, PausedStep] = field(default_factory=dict)
    landed: list[TokenCall] = field(default_factory=list)
    calls: int = 0
    fault: Callable[[str, str], str | None] = lambda kind, token: None
    record_fault: Callable[[str], bool] = lambda token: False

    def step(self, token: str) -> PausedStep:
        return self.steps.setdefault(token, PausedStep())

    def end_execution(self, token: str, status: str = "SUCCEEDED") -> None:
        """The execution of ``token``'s step ended (with the step consumed or not)."""
        self.step(token).execution_status = status

    def landed_for(self, token: str) -> list[TokenCall]:
        return [c for c in self.landed if c.token == token]

    def send_success(self, token: str, output: str) -> TokenOutcome:
        return self._call(TokenCall("success", token, output=output))

    def send_failure(self, token: str, error: str, cause: str) -> TokenOutcome:
        return self._call(TokenCall("failure", token, error=error, cause=cause))

    def task_truth(self, execution_arn: str, task_token: str) -> TaskTruth:
        if self.record_fault(task_token):
            return TaskTruth(TaskFate.UNKNOWN, detail="ThrottlingException: injected")
        step = self.step(task_token)
        if step.fate is TaskFate.WAITING and step.execution_status != "RUNNING":
            return TaskTruth(TaskFate.ENDED, step.execution_status)
        return TaskTruth(step.fate, step.execution_status, error=step.error, output=step.output)

    def _call(self, call: TokenCall) -> TokenOutcome:
        self.calls += 1
        fault = self.fault(call.kind, call.token)
        if fault == "crash-before":
            raise Crash("before the call")
        if fault == "throttle":
            return TokenOutcome.throttled()
        if fault == "refuse":
            return TokenOutcome.refused("AccessDeniedException", "injected")
        if fault == "timeout":
            return TokenOutcome.unknown("ReadTimeoutError", "injected: never landed")
        step = self.step(call.token)
        if step.execution_status != "RUNNING" and step.fate is TaskFate.WAITING:
            return TokenOutcome.dead("InvalidToken", "the execution has ended")
        if step.fate is not TaskFate.WAITING and not self.accepts_twice:
            return TokenOutcome.dead("TaskTimedOut", "Provided task does not exist anymore")
        self.landed.append(call)
        if step.fate is TaskFate.WAITING:
            if call.kind == "success":
                step.fate, step.output = TaskFate.SUCCEEDED, call.output
            else:
                step.fate, step.error = TaskFate.FAILED, call.error
        if fault == "crash-after":
            raise Crash("after the call")
        if fault == "lost":
            return TokenOutcome.unknown("ReadTimeoutError", "injected: landed, answer lost")
        return TokenOutcome.accepted()


# ---------------------------------------------------------------------- the chat tool
class ProcessCrashed(Exception):  # noqa: N818 - named for what it stands for
    """A process dying at this point (a Lambda timeout, a kill): nothing after it runs. Nothing in
    the product catches it, as nothing would catch the real thing."""


@dataclass
class ChatMessage:
    channel: str
    ts: str
    mark: MessageMark | None
    thread_ts: str | None = None  # a reply in this thread (None: in the channel)
    what: str = ""  # "recovery", "group", "burst", "escalation", "unreadable"
    updates: int = 0
    burst: RecoveryBurst | None = None  # a burst message: what it shows now


@dataclass
class FakeChat:
    """Slack as the core sees it, in memory. Each message is stamped by ``clock`` (its ts) and kept
    with its mark; ``find_posted`` reads them back as the channel's history (or a thread's replies)
    would. Faults, each for the next post only: ``crash_before_post`` (the process dies about to
    post), ``crash_after_post`` (Slack has the message, the process dies before hearing back); and
    while set: ``down`` (nothing can be posted), ``history_down`` (no history can be read)."""

    clock: Callable[[], datetime]
    messages: list[ChatMessage] = field(default_factory=list)
    crash_before_post: bool = False
    crash_after_post: bool = False
    down: bool = False
    history_down: bool = False
    searches: list[tuple[str, datetime, MessageMark, str | None]] = field(default_factory=list)
    _last: int = 0

    # ------------------------------------------------------------------ what the core calls
    def post_recovery(self, recovery: Recovery, channel: str, mark: MessageMark | None = None) -> MessageRef:
        return self._post(channel, mark, None, "recovery")

    def post_group(self, group: RecoveryGroup, channel: str) -> MessageRef:
        return self._post(channel, MessageMark.group(group.group_id), None, "group")

    def update_group(
        self, group: RecoveryGroup, message: MessageRef, notice: CircuitClosedNotice | None = None
    ) -> None:
        if self.down:
            raise NotifierUnavailableError("chat.update: 503")
        (shown,) = [m for m in self.messages if (m.channel, m.ts) == (message.channel, message.ts)]
        shown.what, shown.updates = "group", shown.updates + 1

    def post_unreadable(self, message: UnreadableMessage, channel: str) -> MessageRef:
        return self._post(channel, None, None, "unreadable")

    def post_burst(self, burst: RecoveryBurst, channel: str) -> MessageRef:
        posted = self._post(channel, MessageMark.group(burst.group_id), None, "burst")
        self.messages[-1].burst = burst
        return posted

    def update_burst(self, burst: RecoveryBurst, message: MessageRef) -> None:
        if self.down:
            raise NotifierUnavailableError("chat.update: 503")
        (shown,) = [m for m in self.messages if (m.channel, m.ts) == (message.channel, message.ts)]
        shown.what, shown.updates, shown.burst = "burst", shown.updates + 1, burst

    def post_escalation(self, escalation: Escalation) -> MessageRef:
        return self._post(escalation.channel, escalation.mark, escalation.thread_ts, "escalation")

    def post_escalation_digest(self, digest: EscalationDigest) -> MessageRef:
        return self._post(digest.channel, digest.mark, None, "escalation-digest")

    def find_posted(
        self, channel: str, since: datetime, mark: MessageMark, thread_ts: str | None = None
    ) -> MessageRef | None:
        self.searches.append((channel, since, mark, thread_ts))
        if self.history_down:
            raise NotifierUnavailableError("conversations.history: internal_error")
        oldest = since.timestamp()
        for message in self.messages:
            where = (message.channel, message.thread_ts) == (channel, thread_ts)
            if where and float(message.ts) > oldest and message.mark == mark:
                return MessageRef(message.channel, message.ts)
        return None

    # ------------------------------------------------------------------ what tests read
    def marked(self, mark: MessageMark) -> list[ChatMessage]:
        """The live messages carrying ``mark``."""
        return [m for m in self.messages if m.mark == mark]

    def _post(self, channel: str, mark: MessageMark | None, thread_ts: str | None, what: str) -> MessageRef:
        if self.down:
            raise NotifierUnavailableError("chat.postMessage: 503")
        if self.crash_before_post:
            self.crash_before_post = False
            raise ProcessCrashed("about to post")
        micros = max(int(self.clock().timestamp() * 1_000_000), self._last + 1)
        self._last = micros
        message = ChatMessage(
            channel, f"{micros // 1_000_000}.{micros % 1_000_000:06d}", mark, thread_ts, what
        )
        self.messages.append(message)
        if self.crash_after_post:
            self.crash_after_post = False
            raise ProcessCrashed("posted, not yet answered")
        return MessageRef(channel, message.ts)


# ---------------------------------------------------------------------- a DynamoDB table
class FakeDynamoDB:
    """One or more tables in memory, each keyed by ``recovery_id`` (the recoveries table's key).

    Given a ``load`` (``tests.support.partition_load.PartitionLoad``), every call reports the units
    DynamoDB would bill for it, per partition key, indexes included, and a ``by-status`` query is
    answered in pages of at most 1 MB read, as DynamoDB pages it."""

    def __init__(self, key: str = KEY, load: PartitionLoad | None = None) -> None:
        self._key = key
        self.tables: dict[str, dict[str, Item]] = {}
        self._lock = threading.Lock()
        self.load = load
        self._version = 0  # moves at every write: what a cached index order was made from
        self._orders: dict[tuple[Any, ...], tuple[int, list[Item]]] = {}
        self._lanes: dict[tuple[str, str], list[tuple[str, str]]] = {}  # at scale: by-lane, kept
        #: at scale: by-execution, kept (execution ARN: item ids), with every id it has seen written
        self._executions: dict[tuple[str, str], dict[str, None]] = {}  # ids in the order first written
        self._written: dict[str, set[str]] = {}
        #: set to a list to record every write as a stream record (NEW_AND_OLD_IMAGES), in order
        self.stream: list[dict[str, Any]] | None = None

    def items(self, table: str) -> dict[str, Item]:
        return self.tables.setdefault(table, {})

    def put_item(self, TableName: str, Item: Item, **request: Any) -> dict[str, Any]:  # noqa: N803
        with self._lock:
            items = self.items(TableName)
            item_id = Item[self._key]["S"]
            before = items.get(item_id)
            self._checked(TableName, before, request)
            items[item_id] = _clone(Item)
            self._wrote(TableName, before, items[item_id])
            return {}

    def get_item(self, TableName: str, Key: Item, **_: Any) -> dict[str, Any]:  # noqa: N803
        with self._lock:
            found = self.items(TableName).get(Key[self._key]["S"])
            if self.load is not None:
                consistent = bool(_.get("ConsistentRead", False))
                self.load.got(TableName, found, Key[self._key]["S"], consistent)
            return {"Item": _clone(found)} if found is not None else {}

    def batch_get_item(self, RequestItems: dict[str, Any], **_: Any) -> dict[str, Any]:  # noqa: N803
        """Every key found, in one answer (no ``UnprocessedKeys``); projections are ignored."""
        with self._lock:
            answer: dict[str, list[Item]] = {}
            for table, request in RequestItems.items():
                items = self.items(table)
                found = [items.get(k[self._key]["S"]) for k in request["Keys"]]
                if self.load is not None:
                    for k, item in zip(request["Keys"], found, strict=True):
                        self.load.got(table, item, k[self._key]["S"], bool(request.get("ConsistentRead")))
                answer[table] = [_clone(item) for item in found if item is not None]
            return {"Responses": answer, "UnprocessedKeys": {}}

    def delete_item(self, TableName: str, Key: Item, **request: Any) -> dict[str, Any]:  # noqa: N803
        with self._lock:
            items = self.items(TableName)
            item_id = Key[self._key]["S"]
            current = items.get(item_id)
            self._checked(TableName, current, request)
            if current is not None:
                del items[item_id]
                self._wrote(TableName, current, None)
            return {}

    def scan(self, TableName: str, **request: Any) -> dict[str, Any]:  # noqa: N803
        """Every item in one page; a ``FilterExpression`` of ``begins_with(<key>, :prefix)`` only."""
        with self._lock:
            found = list(self.items(TableName).values())
        if "FilterExpression" in request:
            prefix = request["ExpressionAttributeValues"][":prefix"]["S"]
            found = [i for i in found if i[self._key]["S"].startswith(prefix)]
        return {"Items": _clone(found)}

    def update_item(self, TableName: str, Key: Item, UpdateExpression: str, **request: Any) -> dict[str, Any]:  # noqa: N803
        with self._lock:
            items = self.items(TableName)
            item_id = Key[self._key]["S"]
            current = items.get(item_id)
            self._checked(TableName, current, request)
            names = request.get("ExpressionAttributeNames", {})
            values = request.get("ExpressionAttributeValues", {})
            new = _clone(current) if current is not None else _clone(Key)
            touched = _apply(new, UpdateExpression, names, values)
            items[item_id] = new
            self._wrote(TableName, current, new)
            answer: dict[str, Any] = {}
            returned = request.get("ReturnValues", "NONE")
            if returned == "ALL_NEW":
                answer["Attributes"] = _clone(new)
            elif returned == "ALL_OLD" and current is not None:
                answer["Attributes"] = _clone(current)
            elif returned == "UPDATED_OLD" and current is not None:
                answer["Attributes"] = {n: _clone(current[n]) for n in touched if n in current}
            elif returned == "UPDATED_NEW":
                answer["Attributes"] = {n: _clone(new[n]) for n in touched if n in new}
            return answer

    def query(  # noqa: N803
        self, TableName: str, IndexName: str, KeyConditionExpression: str, **request: Any
    ) -> dict[str, Any]:
        """The ``by-status`` index: its items that meet the key condition and the filter, in
        ``created_sort`` order (``ScanIndexForward``), a page at a time (at most 1 MB read, and
        ``Limit`` items, before the filter; the 1 MB only with a ``load``); projections are
        ignored. The ``by-execution`` index: the keys of an execution's items."""
        if IndexName == EXECUTION_INDEX:
            arn = request["ExpressionAttributeValues"][":arn"]
            with self._lock:
                found = self._of_execution(TableName, arn)
                keys = [{KEY: _clone(item[KEY])} for item in found]
                if self.load is not None:
                    entries = [{KEY: i[KEY], EXECUTION_ARN: i[EXECUTION_ARN]} for i in found]
                    self.load.queried(TableName, IndexName, arn["S"], entries)
            return {"Items": keys}
        if IndexName == DUE_INDEX:
            return self._query_due(TableName, KeyConditionExpression, request)
        if IndexName == LANE_INDEX:
            return self._query_lanes(TableName, {**request, "KeyConditionExpression": KeyConditionExpression})
        if IndexName != STATUS_INDEX or "BETWEEN" in KeyConditionExpression:
            raise NotImplementedError(f"{IndexName}: {KeyConditionExpression}")
        names = request.get("ExpressionAttributeNames", {})
        values = request.get("ExpressionAttributeValues", {})
        filtered = request.get("FilterExpression", f"attribute_exists({KEY})")
        newest_first = not request.get("ScanIndexForward", True)
        with self._lock:
            ordered = self._status_order(TableName, KeyConditionExpression, names, values, newest_first)
            start = request.get("ExclusiveStartKey")
            at = 0
            if start:
                after = start[CREATED_SORT]["S"]
                at = (
                    _after_desc(ordered, after)
                    if newest_first
                    else bisect.bisect_right(ordered, after, key=lambda i: i[CREATED_SORT]["S"])
                )
            page: list[Item] = []
            read, limit = 0, request.get("Limit", len(ordered))
            while at + len(page) < len(ordered) and len(page) < limit:
                item = ordered[at + len(page)]
                if self.load is not None:  # pages of at most 1 MB read, as billed
                    size = item_size(item)
                    if page and read + size > QUERY_PAGE_BYTES:
                        break
                    read += size
                page.append(item)
            found = [_clone(i) for i in page if _Condition(filtered, i, names, values).holds()]
            if self.load is not None:
                key = values[next(iter(re.findall(r":\w+", KeyConditionExpression)))]["S"]
                self.load.queried(TableName, IndexName, key, page)
        answer: dict[str, Any] = {"Items": found}
        if at + len(page) < len(ordered) and page:
            last = page[-1]
            answer["LastEvaluatedKey"] = {
                KEY: last[KEY],
                STATUS: last[STATUS],
                CREATED_SORT: last[CREATED_SORT],
            }
        return answer

    def _status_order(
        self,
        table: str,
        key_condition: str,
        names: dict[str, str],
        values: dict[str, Any],
        newest_first: bool,
    ) -> list[Item]:
        """The ``by-status`` entries meeting ``key_condition``, in index order. With a ``load`` (a
        simulation at scale) it is kept until the next write, so that paging through a large index
        does not sort it again for every page; tests that change ``items`` directly get no cache."""
        used = sorted(set(re.findall(r":\w+", key_condition)))
        cache_key = (
            table,
            key_condition,
            tuple(sorted(names.items())),
            tuple((v, values[v]["S"]) for v in used),
            newest_first,
        )
        cached = self._orders.get(cache_key)
        if cached is not None and cached[0] == self._version and self.load is not None:
            return cached[1]
        ordered = [
            item
            for item in self.items(table).values()
            if STATUS in item
            and CREATED_SORT in item
            and _Condition(key_condition, item, names, values).holds()
        ]
        ordered.sort(key=lambda item: item[CREATED_SORT]["S"], reverse=newest_first)
        self._orders = {cache_key: (self._version, ordered)}
        return ordered

    def _query_due(self, table: str, key_condition: str, request: dict[str, Any]) -> dict[str, Any]:
        """The sparse ``by-due`` index: keys in ``due_at`` order, ``Limit`` per page."""
        values = request.get("ExpressionAttributeValues", {})
        with self._lock:
            due = [
                i
                for i in self.items(table).values()
                if DUE in i and DUE_AT in i and _Condition(key_condition, i, {}, values).holds()
            ]
        due.sort(key=lambda i: (i[DUE_AT]["S"], i[KEY]["S"]))
        start = request.get("ExclusiveStartKey")
        if start:
            after = (start[DUE_AT]["S"], start[KEY]["S"])
            due = [i for i in due if (i[DUE_AT]["S"], i[KEY]["S"]) > after]
        limit = request.get("Limit", len(due) or 1)
        page = due[:limit]
        entries = [{KEY: i[KEY], DUE: i[DUE], DUE_AT: i[DUE_AT]} for i in page]
        if self.load is not None:
            self.load.queried(table, DUE_INDEX, values[":kind"]["S"], entries)
        answer: dict[str, Any] = {"Items": _clone(entries)}
        if len(due) > limit:
            last = page[-1]
            answer["LastEvaluatedKey"] = {KEY: last[KEY], DUE: last[DUE], DUE_AT: last[DUE_AT]}
        return answer

    def transact_write_items(self, TransactItems: list[dict[str, Any]], **_: Any) -> dict[str, Any]:  # noqa: N803
        """All the writes or none: every condition is checked first; one that fails cancels the
        transaction (``TransactionCanceledException`` with a reason per write, as DynamoDB answers);
        two writes on one item are refused, as DynamoDB refuses them. Billed as DynamoDB bills a
        transaction: twice a write's units on the table."""
        with self._lock:
            targets = []
            for write in TransactItems:
                ((kind, request),) = write.items()
                item_key = (request["Key"] if kind != "Put" else request["Item"])[self._key]["S"]
                targets.append((kind, request, item_key))
            keys = [(request["TableName"], item_key) for _, request, item_key in targets]
            if len(set(keys)) != len(keys):
                raise ClientError(
                    {"Error": {"Code": "ValidationException", "Message": "two operations on one item"}},
                    "TransactWriteItems",
                )
            reasons, failed = [], False
            for _kind, request, item_key in targets:
                try:
                    _check(self.items(request["TableName"]).get(item_key), request)
                    reasons.append({"Code": "None"})
                except ClientError:
                    failed = True
                    reasons.append(
                        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
                    )
            if failed:
                if self.load is not None:
                    for _kind, request, item_key in targets:
                        current = self.items(request["TableName"]).get(item_key)
                        self.load.wrote(
                            request["TableName"], current, current, failed=True, transactional=True
                        )
                error = ClientError(
                    {"Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}},
                    "TransactWriteItems",
                )
                error.response["CancellationReasons"] = reasons  # type: ignore[typeddict-unknown-key]
                raise error
            for kind, request, item_key in targets:
                table = request["TableName"]
                items = self.items(table)
                before = items.get(item_key)
                if kind == "Put":
                    items[item_key] = _clone(request["Item"])
                elif kind == "Delete":
                    items.pop(item_key, None)
                elif kind == "Update":
                    new = _clone(before) if before is not None else _clone(request["Key"])
                    _apply(
                        new,
                        request["UpdateExpression"],
                        request.get("ExpressionAttributeNames", {}),
                        request.get("ExpressionAttributeValues", {}),
                    )
                    items[item_key] = new
                else:  # ConditionCheck: nothing written
                    continue
                self._version += 1
                self._index_lanes(table, item_key, before, items.get(item_key))
                self._index_executions(table, item_key, before, items.get(item_key))
                if self.load is not None:
                    self.load.wrote(table, before, items.get(item_key), transactional=True)
                self._streamed(item_key, before, items.get(item_key))
            return {}

    def _query_lanes(self, table: str, request: dict[str, Any]) -> dict[str, Any]:
        """The ``by-lane`` index: one lane's entries in ``lane_sort`` order (``ScanIndexForward``),
        between the key condition's bounds, ``Limit`` and (with a ``load``) 1 MB a page; each entry
        projected as template.yaml says (keys, ``of``, the counters' cell and numbers)."""
        values = request["ExpressionAttributeValues"]
        condition = request.get("KeyConditionExpression", "")
        lane = values[":lane"]["S"]
        lower = values[":from"]["S"] if ":from" in values else None
        upper = values[":to"]["S"] if ":to" in values else None
        below = "<" in condition and "BETWEEN" not in condition  # lane_sort < :to
        forward = request.get("ScanIndexForward", True)
        with self._lock:
            ordered = self._lane_order(table, lane)
            chosen = [
                (sort, item_id)
                for sort, item_id in ordered
                if (lower is None or sort >= lower)
                and (upper is None or (sort < upper if below else sort <= upper))
            ]
            if not forward:
                chosen.reverse()
            start = request.get("ExclusiveStartKey")
            if start:
                mark = (start[LANE_SORT]["S"], start[KEY]["S"])
                chosen = [c for c in chosen if (c > mark if forward else c < mark)]
            items = self.items(table)
            page: list[Item] = []
            read, limit = 0, request.get("Limit", len(chosen))
            for _sort, item_id in chosen:
                if len(page) >= limit:
                    break
                entry = _LANE_SHAPE.entry(items[item_id], KEY)
                assert entry is not None
                size = item_size(entry)
                if self.load is not None and page and read + size > QUERY_PAGE_BYTES:
                    break
                read += size
                page.append(entry)
            if self.load is not None:
                self.load.queried(table, LANE_INDEX, lane, page)
        answer: dict[str, Any] = {"Items": _clone(page)}
        if len(page) < len(chosen) and page:
            last = page[-1]
            answer["LastEvaluatedKey"] = {KEY: last[KEY], LANE: last[LANE], LANE_SORT: last[LANE_SORT]}
        return answer

    def _lane_order(self, table: str, lane: str) -> list[tuple[str, str]]:
        """One lane's (lane_sort, id), in order, kept up to date at every write (a test that
        changes an item directly changes no lane attribute)."""
        return self._lanes.get((table, lane), [])

    def _of_execution(self, table: str, arn: Item) -> list[Item]:
        """The items of one execution: from the kept index when every item of the table was written
        through the fake (else, items placed directly, by looking at each)."""
        items = self.items(table)
        if len(self._written.get(table, ())) != len(items):
            return [item for item in items.values() if item.get(EXECUTION_ARN) == arn]
        ids = self._executions.get((table, arn["S"]), {})
        return [items[i] for i in ids if i in items and items[i].get(EXECUTION_ARN) == arn]

    def _index_executions(self, table: str, item_id: str, before: Item | None, after: Item | None) -> None:
        written = self._written.setdefault(table, set())
        if after is None:
            written.discard(item_id)
        else:
            written.add(item_id)
        for item, adding in ((before, False), (after, True)):
            if item is not None and EXECUTION_ARN in item:
                ids = self._executions.setdefault((table, item[EXECUTION_ARN]["S"]), {})
                if adding:
                    ids.setdefault(item_id)
                elif after is None or after.get(EXECUTION_ARN) != item[EXECUTION_ARN]:
                    ids.pop(item_id, None)

    def _index_lanes(self, table: str, item_id: str, before: Item | None, after: Item | None) -> None:
        for item, adding in ((before, False), (after, True)):
            if item is None or LANE not in item or LANE_SORT not in item:
                continue
            entries = self._lanes.setdefault((table, item[LANE]["S"]), [])
            mark = (item[LANE_SORT]["S"], item_id)
            at = bisect.bisect_left(entries, mark)
            present = at < len(entries) and entries[at] == mark
            if adding and not present:
                entries.insert(at, mark)
            elif not adding and present:
                del entries[at]

    def _checked(self, table: str, current: Item | None, request: dict[str, Any]) -> None:
        """``_check``, a failed condition billed as DynamoDB bills it."""
        try:
            _check(current, request)
        except ClientError:
            if self.load is not None:
                self.load.wrote(table, current, current, failed=True)
            raise

    def _wrote(self, table: str, before: Item | None, after: Item | None) -> None:
        self._version += 1
        item_id = (after or before or {}).get(self._key, {}).get("S", "")
        self._index_lanes(table, item_id, before, after)
        self._index_executions(table, item_id, before, after)
        if self.load is not None:
            self.load.wrote(table, before, after)
        self._streamed(item_id, before, after)

    def _streamed(self, item_id: str, before: Item | None, after: Item | None) -> None:
        if self.stream is not None and before != after:
            change: dict[str, Any] = {"Keys": {self._key: {"S": item_id}}}
            if before is not None:
                change["OldImage"] = _clone(before)
            if after is not None:
                change["NewImage"] = _clone(after)
            name = "REMOVE" if after is None else "INSERT" if before is None else "MODIFY"
            self.stream.append({"eventName": name, "dynamodb": change})


def _after_desc(ordered: list[Item], after: str) -> int:
    """In a newest-first order, the position of the first entry older than ``after``."""
    low, high = 0, len(ordered)
    while low < high:
        middle = (low + high) // 2
        if ordered[middle][CREATED_SORT]["S"] >= after:
            low = middle + 1
        else:
            high = middle
    return low


class LostAnswers:
    """``FakeDynamoDB`` whose next ``count`` writes (``update_item``; only those whose update
    expression names ``of``, if given) take effect and then raise ``error`` (``InternalServerError``):
    the write happened, its answer never came back. With ``error="ConditionalCheckFailedException"``
    it is what an SDK retry of such a write meets: the write itself made its condition fail."""

    def __init__(
        self,
        dynamodb: FakeDynamoDB,
        count: int = 1,
        of: str | None = None,
        error: str = "InternalServerError",
    ) -> None:
        self._dynamodb = dynamodb
        self.count = count
        self._of = of
        self._error = error

    def update_item(self, **request: Any) -> dict[str, Any]:
        answer = self._dynamodb.update_item(**request)
        if self.count and (self._of is None or self._of in request["UpdateExpression"]):
            self.count -= 1
            raise ClientError(
                {"Error": {"Code": self._error, "Message": "the answer was lost"}}, "UpdateItem"
            )
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dynamodb, name)


_SETS = frozenset({"SS", "NS", "BS"})


def _clone(value: Any) -> Any:
    """A copy of an item or value in DynamoDB's wire form, as ``copy.deepcopy`` makes it, sooner:
    strings, numbers and bytes are immutable and shared (a large input is held once), a set's
    members are copied as one list."""
    if isinstance(value, dict):
        return {k: list(v) if k in _SETS and isinstance(v, list) else _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _conditional_check_failed() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ConditionalCheckFailedException", "Message": "The conditional request failed"}},
        "UpdateItem",
    )


def _check(item: Item | None, request: dict[str, Any]) -> None:
    condition = request.get("ConditionExpression")
    if condition is None:
        return
    names = request.get("ExpressionAttributeNames", {})
    values = request.get("ExpressionAttributeValues", {})
    if not _Condition(condition, item or {}, names, values).holds():
        raise _conditional_check_failed()


# ---------------------------------------------------------------------- update expressions
_CLAUSE = re.compile(r"\b(SET|ADD|REMOVE)\b")


def _apply(item: Item, expression: str, names: dict[str, str], values: dict[str, Any]) -> list[str]:
    """Apply SET / ADD / REMOVE clauses to ``item``; the attribute names touched."""
    parts = _CLAUSE.split(expression)
    touched: list[str] = []
    for keyword, body in zip(parts[1::2], parts[2::2], strict=True):
        for action in _split_top(body.strip()):
            if keyword == "SET":
                path, value = (s.strip() for s in action.split("=", 1))
                name = names.get(path, path)
                item[name] = _value(value, item, names, values)
            elif keyword == "ADD":
                path, operand = action.split()
                name = names.get(path, path)
                item[name] = _add(item.get(name), values[operand])
            else:
                name = names.get(action, action)
                item.pop(name, None)
            touched.append(name)
    return touched


def _split_top(text: str) -> list[str]:
    """``text`` split at the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


def _value(text: str, item: Item, names: dict[str, str], values: dict[str, Any]) -> Any:
    text = text.strip()
    call = re.fullmatch(r"(\w+)\((.*)\)", text)
    if call:
        function, arguments = call.group(1), _split_top(call.group(2))
        if function == "if_not_exists":
            name = names.get(arguments[0], arguments[0])
            return item[name] if name in item else _value(arguments[1], item, names, values)
        if function == "list_append":
            first, second = (_value(a, item, names, values) for a in arguments)
            return {"L": first["L"] + second["L"]}
        raise NotImplementedError(function)
    if text.startswith(":"):
        return _clone(values[text])
    return _clone(item[names.get(text, text)])


def _add(current: Any, operand: dict[str, Any]) -> dict[str, Any]:
    if "N" in operand:
        return {"N": str(Decimal(current["N"] if current else "0") + Decimal(operand["N"]))}
    kind = next(iter(operand))  # SS, NS, BS
    merged = list(current[kind]) if current else []
    present = set(merged)
    merged += [v for v in operand[kind] if v not in present and not present.add(v)]
    return {kind: merged}


# ---------------------------------------------------------------------- condition expressions
class _Condition:
    """A recursive-descent reading of the conditions the stores write (AND, OR, NOT, parentheses,
    attribute_exists / attribute_not_exists, contains, comparisons)."""

    _TOKEN = re.compile(r"\s*(<>|<=|>=|=|<|>|\(|\)|,|[#:]?[A-Za-z_][\w.]*)")

    def __init__(self, text: str, item: Item, names: dict[str, str], values: dict[str, Any]) -> None:
        self._tokens = self._TOKEN.findall(text)
        if "".join(self._tokens) != re.sub(r"\s+", "", text):
            raise NotImplementedError(text)
        self._at = 0
        self._item, self._names, self._values = item, names, values

    def holds(self) -> bool:
        result = self._or()
        if self._at != len(self._tokens):
            raise NotImplementedError(" ".join(self._tokens))
        return result

    def _peek(self) -> str | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _take(self) -> str:
        token = self._tokens[self._at]
        self._at += 1
        return token

    def _or(self) -> bool:
        result = self._and()
        while self._peek() == "OR":
            self._take()
            result = self._and() or result
        return result

    def _and(self) -> bool:
        result = self._term()
        while self._peek() == "AND":
            self._take()
            result = self._term() and result
        return result

    def _term(self) -> bool:
        token = self._take()
        if token == "NOT":
            return not self._term()
        if token == "contains":
            self._take()  # "("
            whole = self._operand(self._take())
            self._take()  # ","
            part = self._operand(self._take())
            self._take()  # ")"
            if whole is None or part is None:
                return False
            ((kind, raw),) = whole.items()
            return next(iter(part.values())) in raw
        if token == "size":
            self._take()  # "("
            measured = self._operand(self._take())
            self._take()  # ")"
            operator = self._take()
            right = self._operand(self._take())
            if measured is None or right is None:
                return False
            ((_kind, raw),) = measured.items()
            return _compare({"N": str(len(raw))}, operator, right)
        if token == "(":
            result = self._or()
            self._take()  # ")"
            return result
        if token in ("attribute_exists", "attribute_not_exists"):
            self._take()  # "("
            name = self._name(self._take())
            self._take()  # ")"
            return (name in self._item) == (token == "attribute_exists")
        left = self._operand(token)
        operator = self._take()
        right = self._operand(self._take())
        if left is None or right is None:
            return False
        return _compare(left, operator, right)

    def _name(self, token: str) -> str:
        return self._names.get(token, token)

    def _operand(self, token: str) -> Any:
        if token.startswith(":"):
            return self._values[token]
        head, *rest = token.split(".")  # a map's member: ``approval.request_id``
        found = self._item.get(self._name(head))
        for part in rest:
            found = (found or {}).get("M", {}).get(self._name(part))
        return found


def _compare(left: dict[str, Any], operator: str, right: dict[str, Any]) -> bool:
    def plain(value: dict[str, Any]) -> Any:
        ((kind, raw),) = value.items()
        return Decimal(raw) if kind == "N" else raw

    a, b = plain(left), plain(right)
    return {
        "=": a == b,
        "<>": a != b,
        "<": a < b,
        "<=": a <= b,
        ">": a > b,
        ">=": a >= b,
    }[operator]


# ---------------------------------------------------------------------- the object store
class FakeS3:
    """An S3 client as ``S3Payloads`` uses it (``put_object``, ``get_object``), buckets in memory.

    Every upload is kept with the arguments it came with (``puts``), so a test can see what was
    asked (encryption included); ``fail_puts`` makes the next uploads raise as S3 does when it
    refuses one (``ServiceUnavailable``); a missing key raises ``NoSuchKey``."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.puts: list[dict[str, Any]] = []
        self.gets: list[tuple[str, str]] = []
        self.fail_puts = 0

    def put_object(self, Bucket: str, Key: str, Body: bytes, **request: Any) -> dict[str, Any]:  # noqa: N803
        if self.fail_puts:
            self.fail_puts -= 1
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "Please reduce your request rate."}},
                "PutObject",
            )
        self.objects[(Bucket, Key)] = bytes(Body)
        self.puts.append({"Bucket": Bucket, "Key": Key, **request})
        return {"ETag": '"local"'}

    def get_object(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:  # noqa: N803
        self.gets.append((Bucket, Key))
        if (Bucket, Key) not in self.objects:
            raise ClientError(
                {"Error": {"Code": "NoSuchKey", "Message": "The specified key does not exist."}}, "GetObject"
            )
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}
