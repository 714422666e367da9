"""Audit events: one per sealed audit entry, in a documented, versioned schema.

The schema is ``recovery-event.v1.schema.json`` beside this module (shipped in the package,
included on the docs page). An event says what happened to which subject, the entry as audited and
its link in the chain (``prev``, ``hash``), so a copy of the events (an EventBridge archive, an S3
export) can check the table's trail independently. Its ``event_id`` is a hash of the subject and
the entry's place: the same entry published twice (a redelivered stream record, an outbox carried
on) has the same id, so a consumer dedupes on it.

An event never carries a task token nor a durable callback id: the subject is built from named
fields of the item, never copied whole, and any detail key that names a token is left out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from recovery_ops.service.recovery.chronicle.chain import Link, canonical
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.service.recovery.ports.audit_events import MAX_BATCH_BYTES, BusEvent
from recovery_ops.service.recovery.storage.items import (
    DLQ_AUDIT_PREFIX,
    FAILURE_PREFIX,
    HEALING_PREFIX,
    RECOVERY_PREFIX,
)

SCHEMA_VERSION = "1"
SCHEMA_FILE = "recovery-event.v1.schema.json"

# the kinds, from the entries' results (and actions where a result says less)
OPENED = "opened"
CLAIMED = "claimed"
RESUMED = "resumed"
REJECTED = "rejected"
EXPIRED = "expired"
CLOSED = "closed"
REOPENED = "reopened"
REFUSED = "refused"
REDRIVE_CLAIMED = "redrive claimed"
REDRIVEN = "redriven"
NOT_REDRIVABLE = "not redrivable"
OWNERSHIP_TAKEN = "ownership taken"
OWNERSHIP_RELEASED = "ownership released"
ESCALATED = "escalated"
APPROVAL_REQUESTED = "approval requested"
APPROVED = "approved"
DENIED = "denied"
WITHDRAWN = "withdrawn"
APPROVAL_EXPIRED = "approval expired"
RECORDED = "recorded"  # any other entry: its action says what
ALTERED = "audit altered"  # a sealed entry was changed, removed or reordered in the table

BY_RESULT = {
    "RESUMING": CLAIMED,
    "RESUMED": RESUMED,
    "REJECTED": REJECTED,
    "EXPIRED": EXPIRED,
    "ABORTED": CLOSED,
    "DENIED": REFUSED,
    "REDRIVING": REDRIVE_CLAIMED,
    "REDRIVEN": REDRIVEN,
    "STARTED": REDRIVEN,  # a DLQ's redrive started
    "NOT_REDRIVABLE": NOT_REDRIVABLE,
    "OWNED": OWNERSHIP_TAKEN,
    "UNOWNED": OWNERSHIP_RELEASED,
    "APPROVAL_PENDING": APPROVAL_REQUESTED,
    "APPROVED": APPROVED,
    "APPROVAL_DENIED": DENIED,
    "APPROVAL_WITHDRAWN": WITHDRAWN,
    "APPROVAL_EXPIRED": APPROVAL_EXPIRED,
}
KINDS = (
    OPENED,
    CLAIMED,
    RESUMED,
    REJECTED,
    EXPIRED,
    CLOSED,
    REOPENED,
    REFUSED,
    REDRIVE_CLAIMED,
    REDRIVEN,
    NOT_REDRIVABLE,
    OWNERSHIP_TAKEN,
    OWNERSHIP_RELEASED,
    ESCALATED,
    APPROVAL_REQUESTED,
    APPROVED,
    DENIED,
    WITHDRAWN,
    APPROVAL_EXPIRED,
    RECORDED,
    ALTERED,
)

# the subjects, by the item's id
RECOVERY = "recovery"
FAILED_EXECUTION = "failed execution"
DEAD_LETTER_QUEUE = "dead-letter queue"
SELF_HEALING_RUN = "self-healing run"
OTHER = "other"  # an access trail (``access#…``), or any other item with an audit
SUBJECT_KINDS = (RECOVERY, FAILED_EXECUTION, DEAD_LETTER_QUEUE, SELF_HEALING_RUN, OTHER)
#: what of an item's own attributes an event names, per subject kind (never the whole item)
SUBJECT_FIELDS = ("execution_arn", "state_machine_arn", "failed_state", "error")
#: detail keys never published (a token has no place in an audit, and is kept out if one got there)
SECRET_KEYS = frozenset({"task_token", "taskToken", "token", "callback_id", "callbackId"})


def kind_of(subject_kind: str, entry: AuditEntry) -> str:
    """The kind of an entry's event: from its result, and its action where the result says less."""
    result = str(entry.result)
    if subject_kind == FAILED_EXECUTION and entry.action == "execution ended":
        return OPENED  # the outermost catch's record of the failed execution
    if entry.action == "opened" and result == "OPEN":
        return OPENED
    if result in BY_RESULT:
        return BY_RESULT[result]
    if result.startswith("LEVEL ") and not result.endswith("NOT POSTED"):
        return ESCALATED
    if result in ("OPEN", "FAILED_EXECUTION"):
        return REOPENED  # open again after a claim (the reconciler, a refused call)
    return RECORDED


def subject_kind(item_id: str) -> str:
    for prefix, kind in (
        (RECOVERY_PREFIX, RECOVERY),
        (FAILURE_PREFIX, FAILED_EXECUTION),
        (DLQ_AUDIT_PREFIX, DEAD_LETTER_QUEUE),
        (HEALING_PREFIX, SELF_HEALING_RUN),
    ):
        if item_id.startswith(prefix):
            return kind
    return OTHER


def subject(item_id: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    """What an event says of its subject: its kind, id and, for an execution's, the execution."""
    kind = subject_kind(item_id)
    said: dict[str, Any] = {"kind": kind, "id": item_id}
    if kind in (RECOVERY, FAILED_EXECUTION):
        for name in SUBJECT_FIELDS:
            value = attributes.get(name)
            if isinstance(value, str) and value:
                said[name] = value
    return said


def event_id(subject_id: str, seq: int, kind: str = "") -> str:
    """The same entry's event, whenever published: a consumer's dedupe key."""
    text = f"{subject_id}\x1f{seq}" + (f"\x1f{kind}" if kind == ALTERED else "")
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def safe_detail(detail: Any) -> Any:
    """``detail`` without any key that names a token, at any depth."""
    if isinstance(detail, dict):
        return {k: safe_detail(v) for k, v in detail.items() if k not in SECRET_KEYS}
    if isinstance(detail, list):
        return [safe_detail(v) for v in detail]
    return detail


@dataclass(frozen=True)
class AuditEvent:
    """One event: the detail as published (a dict valid against the schema)."""

    detail: dict[str, Any]

    @property
    def event_id(self) -> str:
        return str(self.detail["event_id"])

    @property
    def detail_type(self) -> str:
        return detail_type(str(self.detail["kind"]))

    def as_bus_event(self) -> BusEvent:
        """As the bus takes it; an event over EventBridge's size has its entry's detail cut (said in
        ``entry.detail_cut``: the table's trail holds it, and the chain's hash proves it)."""
        event = BusEvent(self.event_id, self.detail_type, json.dumps(self.detail, ensure_ascii=False))
        if event.size <= MAX_BATCH_BYTES:
            return event
        entry = dict(self.detail["entry"])
        entry["detail"] = {}
        entry["detail_cut"] = len(canonical(self.detail["entry"]["detail"]).encode())
        cut = {**self.detail, "entry": entry}
        return BusEvent(self.event_id, self.detail_type, json.dumps(cut, ensure_ascii=False))


def detail_type(kind: str) -> str:
    """The event's DetailType: its kind, as a sentence starts (``Approval requested``)."""
    return kind[:1].upper() + kind[1:]


def entry_event(about: Mapping[str, Any], entry: AuditEntry, sealed: Link) -> AuditEvent:
    """The event of one sealed entry (``about``: the event's subject, from ``subject``)."""
    kind = kind_of(str(about["kind"]), entry)
    return AuditEvent(
        {
            "schema_version": SCHEMA_VERSION,
            "event_id": event_id(str(about["id"]), sealed.seq),
            "kind": kind,
            "subject": dict(about),
            "entry": _entry(sealed.seq, entry),
            "chain": {"prev": sealed.prev, "hash": sealed.hash},
        }
    )


def altered_event(
    about: Mapping[str, Any], seq: int, problem: str, sealed: Link | None, entry: AuditEntry | None
) -> AuditEvent:
    """A sealed entry found changed, removed or reordered in the table (``entry``: as written now,
    None when removed); the event carries the link as sealed."""
    return AuditEvent(
        {
            "schema_version": SCHEMA_VERSION,
            "event_id": event_id(str(about["id"]), seq, ALTERED),
            "kind": ALTERED,
            "subject": dict(about),
            "entry": _entry(seq, entry) if entry is not None else None,
            "chain": {"prev": sealed.prev, "hash": sealed.hash} if sealed is not None else None,
            "finding": {"seq": seq, "problem": problem},
        }
    )


def _entry(seq: int, entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": seq,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "result": str(entry.result),
        "detail": safe_detail(entry.detail),
    }


def schema() -> dict[str, Any]:
    """The JSON Schema of an event's detail (version ``SCHEMA_VERSION``)."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
