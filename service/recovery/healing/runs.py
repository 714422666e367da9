"""Self-healing runs as stored: one item per circuit closing and recovery group.

A run is what self-healing does for one group message after one closing of one circuit: how many
of its recoveries it set out to resume, how many it resumed or found expired, whether someone
stopped it and why it ended. It lives in the recoveries table (id ``heal-…``, no ``status``, so it
stays out of the listing index). Every change is a conditional write: the run is created once
(two rounds racing agree on one), stopped once (of two clicks on Stop only the first counts), and
ended once.

**The item stays the same small size whatever the number of recoveries** (DynamoDB bills each
write by the whole item, and stops an item at 400 KB). It holds counters, not the recoveries: a
resume is counted through a *pending claim*, a mark that lives on the run only while the claim's
outcome is not counted yet:

- before a recovery is claimed, the run notes a pending claim, an attribute ``claim#<mark>`` whose
  value is the recovery's id (``note_claim``, the write that stores the ramp's pace anyway), and
  the claim itself carries the same ``mark`` in its audit entry (``healing_claim``), in the write
  that claims the recovery: the recovery says which claim of which run made its outcome;
- its outcome is counted by one conditional write that removes that attribute and adds one to
  ``resumed`` or ``expired`` (``count``): counted once, whoever retries it (a second count finds
  the mark gone). A claim that ends without an outcome to count (reopened, someone else's click
  won) is released (``release``), so the run keeps no mark for it;
- what a cut-off round left pending (resumed but not counted, or still in flight) is found by the
  next round on the run itself, without a query: ``pending`` lists at most the claims in flight,
  which self-healing keeps under ``MAX_PENDING_CLAIMS`` (a round stops claiming for a run whose
  answers are lost that often). Each is counted from the recovery's stored outcome when the
  recovery's last claim bears its mark, and released otherwise.

Why not marks on the recoveries instead (a ``healing_counted`` attribute set in a transaction with
the run's counter, found again through an index): that adds a write of the recovery item (billed
by its whole size, twice in a transaction) to every resume, and an index to the table; this design
adds no write and no index: the note and the count were made before, on an item that grew with
every recovery, and are now made on one that does not. Runs stored before (with the string sets
``claimed_ids`` and ``counted_ids``) are read and finished as they were counted: their uncounted
claims are counted under the old condition (``count_legacy``), and the sets grow no further.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from recovery_ops.service.conditional_writes import if_condition_holds
from recovery_ops.service.recovery.healing.ramp import RampState
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.service.recovery.ports.notifier import HealingNotice
from recovery_ops.service.recovery.storage.items import (
    HEALING_PREFIX,
    audit_entries,
    audit_trail,
    item_id,
    key,
    number,
    string,
)


class HealingState(StrEnum):
    RESUMING = "RESUMING"  # resuming its recoveries, paced
    STOPPED = "STOPPED"  # a person pressed Stop: the rest stay open for people
    REOPENED = "REOPENED"  # the circuit opened again: the rest stay open, untouched
    FINISHED = "FINISHED"  # nothing it may resume is left
    INTERRUPTED = "INTERRUPTED"  # it failed again and again: the rest stay open for people

    @property
    def ended(self) -> bool:
        return self is not HealingState.RESUMING


@dataclass(frozen=True)
class Closure:
    """One closing of one circuit: what a self-healing run works for. ``closed_at`` is the breaker
    item's ``changed_at`` when it closed (epoch seconds), so a circuit that opens and closes again
    is a new closure, and the run of the old one sees the circuit is not its closure any more."""

    dependency: str
    closed_at: float

    @property
    def id(self) -> str:
        return f"{self.dependency}@{self.closed_at:.3f}"


#: a pending claim's attribute on the run: ``claim#<mark>``, its value the recovery's id
PENDING_PREFIX = "claim#"
#: the audit detail of a self-healing claim that carries its mark
CLAIM_MARK = "healing_claim"
#: the most claims a run keeps pending (answers lost): past it, a round claims nothing more for the
#: run until a later round has settled them, so the item stays small (about 60 bytes each)
MAX_PENDING_CLAIMS = 50
#: runs read in one BatchGetItem (DynamoDB's most), and how often its unprocessed keys are asked again
BATCH_GET_RUNS = 100
BATCH_GET_ATTEMPTS = 3


def new_claim_mark() -> str:
    """A mark naming one claim of one recovery by one run (unique among the run's claims)."""
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class PendingClaim:
    """A claim the run noted whose outcome it has not counted yet."""

    recovery_id: str
    mark: str


def healing_id_for(closure: Closure, group_id: str) -> str:
    return HEALING_PREFIX + hashlib.sha256(f"{closure.id}|{group_id}".encode()).hexdigest()[:32]


def closure_item_id(closure: Closure) -> str:
    """The item listing a closure's runs (one per group), so they are found without a scan."""
    return HEALING_PREFIX + "closure-" + hashlib.sha256(closure.id.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class HealingRun:
    healing_id: str
    closure_id: str
    dependency: str
    group_id: str
    state: HealingState
    selected: int  # recoveries it set out to resume
    resumed: int = 0
    expired: int = 0
    stopped_by: str | None = None
    ended_why: str = ""
    channel: str | None = None
    ts: str | None = None
    audit: tuple[AuditEntry, ...] = ()
    announced: bool = False  # its group message and thread have been told it began
    pending: tuple[PendingClaim, ...] = ()  # claims noted whose outcome is not counted yet
    ramp: RampState | None = None  # the pace its closing's last claim on this run was made at
    # a run stored before pending claims: every recovery it set out to resume, and those counted
    claimed_ids: frozenset[str] = frozenset()
    counted_ids: frozenset[str] = frozenset()

    @property
    def uncounted(self) -> frozenset[str]:
        """A run stored before pending claims: claimed but not counted (a round cut off between a
        resume and its count)."""
        return self.claimed_ids - self.counted_ids

    @property
    def left(self) -> int:
        """What it did not resume (nor find expired): open for people."""
        return max(0, self.selected - self.resumed - self.expired)

    def notice(self, per_second: float = 0.0) -> HealingNotice:
        """What the views show of this run, at ``per_second`` resumes a second (0: not known here,
        nor shown once it stopped)."""
        return HealingNotice(
            healing_id=self.healing_id,
            state=str(self.state),
            selected=self.selected,
            resumed=self.resumed,
            expired=self.expired,
            per_second=per_second,
            ended_why=self.ended_why,
            stopped_by=self.stopped_by,
        )


class HealingRuns:
    def __init__(self, table_name: str, client: Any, retention_seconds: int = 90 * 86400) -> None:
        self._table = table_name
        self._client = client
        self._retention = retention_seconds

    def start(
        self,
        closure: Closure,
        group_id: str,
        selected: int,
        message: tuple[str, str] | None,
        at: datetime,
    ) -> tuple[HealingRun, bool]:
        """The group's run for ``closure``, created with ``selected`` recoveries if it is new (the
        second value: whether this call created it). The closure's index of runs is written first
        (an idempotent set add), so a run whose creation's answer was lost is still found, ended
        and stoppable; whether it was announced is on the run (``mark_announced``)."""
        healing_id = healing_id_for(closure, group_id)
        item: dict[str, Any] = {
            "recovery_id": string(healing_id),
            "closure_id": string(closure.id),
            "dependency": string(closure.dependency),
            "group_id": string(group_id),
            "healing_state": string(HealingState.RESUMING),
            "selected": number(selected),
            "resumed": number(0),
            "expired": number(0),
            "started_at": string(at.isoformat(timespec="seconds")),
            "expires_at": number(int(at.timestamp()) + self._retention),
            "audit": audit_entries(),
        }
        if message is not None:
            item["slack_channel"], item["slack_ts"] = string(message[0]), string(message[1])
        # the closing lists the run before the run exists (adding to a set is idempotent): a round
        # that dies between the two writes, or loses an answer, leaves no run the closing cannot end
        self._client.update_item(
            TableName=self._table,
            Key=key(closure_item_id(closure)),
            UpdateExpression="ADD run_ids :id SET expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeValues={":id": {"SS": [healing_id]}, ":expires": item["expires_at"]},
        )
        created = if_condition_holds(
            self._client.put_item,
            TableName=self._table,
            Item=item,
            ConditionExpression="attribute_not_exists(recovery_id)",
        )
        run = self.get(healing_id)
        assert run is not None  # just written, or written by the round that won
        return run, created is not None

    def mark_announced(self, healing_id: str) -> None:
        """Its group message and thread were told it began (a retried round does not tell again)."""
        self._client.update_item(
            TableName=self._table,
            Key=key(healing_id),
            UpdateExpression="SET announced = :yes",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )

    def get_for(self, closure: Closure, group_id: str) -> HealingRun | None:
        return self.get(healing_id_for(closure, group_id))

    def of_closure(self, closure: Closure) -> dict[str, HealingRun]:
        """Every run of ``closure``, by group id."""
        item = self._client.get_item(
            TableName=self._table, Key=key(closure_item_id(closure)), ConsistentRead=True
        ).get("Item", {})
        runs = [self.get(healing_id) for healing_id in sorted(item.get("run_ids", {}).get("SS", []))]
        return {run.group_id: run for run in runs if run is not None}

    def get(self, healing_id: str) -> HealingRun | None:
        item = self._client.get_item(TableName=self._table, Key=key(healing_id), ConsistentRead=True).get(
            "Item"
        )
        return run_from_item(item) if item else None

    def add_selected(self, healing_id: str, more: int) -> None:
        """Recoveries of the group that paused after the run began and it resumes too."""
        self._client.update_item(
            TableName=self._table,
            Key=key(healing_id),
            UpdateExpression="ADD selected :more",
            ExpressionAttributeValues={":more": number(more)},
        )

    def note_claim(self, healing_id: str, recovery_id: str, mark: str, ramp: RampState | None = None) -> None:
        """``recovery_id`` is about to be claimed by this run under ``mark`` (before the claim:
        nothing it resumes goes uncounted, whatever cuts the round off), at the pace ``ramp``
        (stored with it, in the same write, so the next round goes on from it)."""
        update = "SET #claim = :id"
        values: dict[str, Any] = {":id": string(recovery_id)}
        if ramp is not None:
            update += (
                ", ramp_per_second = :rate, ramp_failures = :failures, ramp_window = :window, "
                "ramp_seq = :seq" + (", ramp_threshold = :threshold" if ramp.threshold is not None else "")
            )
            values |= {
                ":rate": _decimal(ramp.per_second),
                ":failures": number(ramp.failures_seen),
                ":window": _decimal(ramp.window_started_at),
                ":seq": number(ramp.seq),
            }
            if ramp.threshold is not None:
                values[":threshold"] = _decimal(ramp.threshold)
        self._client.update_item(
            TableName=self._table,
            Key=key(healing_id),
            UpdateExpression=update,
            ExpressionAttributeNames={"#claim": PENDING_PREFIX + mark},
            ExpressionAttributeValues=values,
        )

    def count(self, healing_id: str, recovery_id: str, mark: str, resumed: bool) -> bool:
        """The outcome of the claim ``mark`` of ``recovery_id``: resumed, or found expired. Counted
        once whatever retries it: the count goes up only in the write that takes the pending claim
        off (False: it was counted, or released, before)."""
        counted = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(healing_id),
            UpdateExpression="REMOVE #claim ADD #outcome :one",
            ConditionExpression="#claim = :rid",
            ExpressionAttributeNames={
                "#claim": PENDING_PREFIX + mark,
                "#outcome": "resumed" if resumed else "expired",
            },
            ExpressionAttributeValues={":one": number(1), ":rid": string(recovery_id)},
        )
        return counted is not None

    def release(self, healing_id: str, mark: str) -> None:
        """The claim ``mark`` ended with nothing to count (reopened, not made, someone else's):
        the run keeps no mark for it."""
        self._client.update_item(
            TableName=self._table,
            Key=key(healing_id),
            UpdateExpression="REMOVE #claim",
            ExpressionAttributeNames={"#claim": PENDING_PREFIX + mark},
        )

    def count_legacy(self, healing_id: str, recovery_id: str, resumed: bool) -> None:
        """A run stored before pending claims: ``recovery_id``'s outcome, counted once as it was then
        (while its id is claimed and not yet among those counted)."""
        if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(healing_id),
            UpdateExpression="ADD counted_ids :id, #outcome :one",
            ConditionExpression="contains(claimed_ids, :rid) AND NOT contains(counted_ids, :rid)",
            ExpressionAttributeNames={"#outcome": "resumed" if resumed else "expired"},
            ExpressionAttributeValues={
                ":id": {"SS": [recovery_id]},
                ":one": number(1),
                ":rid": string(recovery_id),
            },
        )

    def stop(self, healing_id: str, actor: str, at: str) -> bool:
        """RESUMING → STOPPED by ``actor``; False when it is not resuming any more (stopped already,
        ended). The stop lands in the run's audit."""
        return self._end(
            healing_id,
            HealingState.STOPPED,
            f"stopped by {actor}",
            AuditEntry(at, actor, "stop self-healing", HealingState.STOPPED),
            stopped_by=actor,
        )

    def end(self, healing_id: str, state: HealingState, why: str, at: str) -> bool:
        """RESUMING → ``state`` (REOPENED, FINISHED, INTERRUPTED); False when it had ended already."""
        return self._end(healing_id, state, why, AuditEntry(at, "auto:circuit-closed", "end", state))

    def record_denied(self, healing_id: str, entry: AuditEntry) -> None:
        """A Stop by someone who may not act on the group: audited on the run, nothing else."""
        self._client.update_item(
            TableName=self._table,
            Key=key(healing_id),
            UpdateExpression="SET audit = list_append(if_not_exists(audit, :none), :entry)",
            ExpressionAttributeValues={":entry": audit_entries(entry), ":none": audit_entries()},
        )

    def _end(
        self, healing_id: str, state: HealingState, why: str, entry: AuditEntry, stopped_by: str | None = None
    ) -> bool:
        values = {
            ":state": string(state),
            ":resuming": string(HealingState.RESUMING),
            ":why": string(why),
            ":at": string(entry.at),
            ":entry": audit_entries(entry),
            ":none": audit_entries(),
        }
        update = (
            "SET healing_state = :state, ended_why = :why, ended_at = :at, "
            "audit = list_append(if_not_exists(audit, :none), :entry)"
        )
        if stopped_by:
            update += ", stopped_by = :by"
            values[":by"] = string(stopped_by)
        ended = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(healing_id),
            UpdateExpression=update,
            ConditionExpression="healing_state = :resuming",
            ExpressionAttributeValues=values,
        )
        return ended is not None

    def get_many(self, healing_ids: list[str]) -> dict[str, HealingRun]:
        """The runs of ``healing_ids`` (those that exist), by id, read as ``get`` reads one
        (consistently) but up to ``BATCH_GET_RUNS`` a call: a round looks for Stop every second on
        every group's run, and a large outage has hundreds of groups. Keys DynamoDB leaves
        unprocessed are asked for again, and read one by one at the last."""
        found: dict[str, HealingRun] = {}
        for first in range(0, len(healing_ids), BATCH_GET_RUNS):
            wanted = [key(i) for i in healing_ids[first : first + BATCH_GET_RUNS]]
            for _ in range(BATCH_GET_ATTEMPTS):
                answer = self._client.batch_get_item(
                    RequestItems={self._table: {"Keys": wanted, "ConsistentRead": True}}
                )
                for item in answer.get("Responses", {}).get(self._table, []):
                    run = run_from_item(item)
                    found[run.healing_id] = run
                wanted = answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not wanted:
                    break
            for left in wanted:
                run_or_none = self.get(item_id(left))
                if run_or_none is not None:
                    found[run_or_none.healing_id] = run_or_none
        return found


def run_from_item(item: dict[str, Any]) -> HealingRun:
    def text(name: str) -> str | None:
        value: str | None = item.get(name, {}).get("S")  # a string attribute, or none
        return value

    def count(name: str) -> int:
        return int(item.get(name, {}).get("N", 0))

    return HealingRun(
        healing_id=item["recovery_id"]["S"],
        closure_id=text("closure_id") or "",
        dependency=text("dependency") or "",
        group_id=text("group_id") or "",
        state=HealingState(item["healing_state"]["S"]),  # written by every run, from its start
        selected=count("selected"),
        resumed=count("resumed"),
        expired=count("expired"),
        stopped_by=text("stopped_by"),
        ended_why=text("ended_why") or "",
        channel=text("slack_channel"),
        ts=text("slack_ts"),
        audit=tuple(audit_trail(item)),
        announced=item.get("announced", {}).get("BOOL", False),
        pending=pending_claims(item),
        ramp=ramp_from_item(item),
        claimed_ids=frozenset(item.get("claimed_ids", {}).get("SS", [])),
        counted_ids=frozenset(item.get("counted_ids", {}).get("SS", [])),
    )


def pending_claims(item: dict[str, Any]) -> tuple[PendingClaim, ...]:
    """The run's pending claims, by recovery id."""
    found = (
        PendingClaim(value["S"], name.removeprefix(PENDING_PREFIX))
        for name, value in item.items()
        if name.startswith(PENDING_PREFIX)
    )
    return tuple(sorted(found, key=lambda claim: (claim.recovery_id, claim.mark)))


def _decimal(value: float) -> dict[str, Any]:
    return {"N": repr(float(value))}


def ramp_from_item(item: dict[str, Any]) -> RampState | None:
    """The ramp stored with a run's last claim (None: a run resumed at a fixed pace, or not yet)."""
    if "ramp_per_second" not in item:
        return None
    threshold = item.get("ramp_threshold", {}).get("N")
    return RampState(
        per_second=float(item["ramp_per_second"]["N"]),
        threshold=float(threshold) if threshold is not None else None,
        failures_seen=int(item.get("ramp_failures", {}).get("N", 0)),
        window_started_at=float(item.get("ramp_window", {}).get("N", 0)),
        seq=int(item.get("ramp_seq", {}).get("N", 0)),
    )
