"""The sealer: the recoveries table's stream → each new audit entry sealed in its chain, and its
event published.

The stream is the outbox of the audit: every write that adds an entry to an item's ``audit`` list
reaches the sealer as a record with the item's old and new images, in the order of the writes to
that item. For each record whose audit changed the sealer reads the item's chain
(``storage/audit_chain.py``) and

- seals the entries past it, from the record's NEW image (what was written, not what the table
  holds later), with one write conditioned on the chain's length: a redelivered or duplicated
  batch finds the links there and skips them when they agree;
- publishes the events of the entries the record added (again on a redelivery: at least once,
  deduped by event id);
- when the record shows a sealed entry changed, removed or reordered (the images against each
  other and against the links), publishes an ``audit altered`` event, logs an error and counts
  ``AuditAltered``; it never seals over it.

Records without an audit, or whose audit did not change (counters, lanes, paces, a message's ts),
are skipped before anything is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from recovery_ops.service import observability
from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.chronicle.chain import Finding, Link, Problem, check, extend
from recovery_ops.service.recovery.chronicle.events import (
    SUBJECT_FIELDS,
    AuditEvent,
    altered_event,
    entry_event,
    subject,
)
from recovery_ops.service.recovery.chronicle.publisher import Published, Publisher
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.service.recovery.storage.audit_chain import ChainItems
from recovery_ops.service.recovery.storage.items import AUDIT, EXPIRES_AT, KEY, json_value

CHAIN_WRITE_ATTEMPTS = 3
_deserializer = TypeDeserializer()


class ChainConflictError(RecoveryOpsError, RuntimeError):
    """The chain kept changing under the sealer (another sealer on the same item): the batch is
    delivered again."""


@dataclass(frozen=True)
class AuditChange:
    """One stream record's audit: the subject, its trail before and after the write."""

    subject_id: str
    entries: list[AuditEntry]  # the NEW image's
    before: list[AuditEntry] | None  # the OLD image's (None: no old image, or none kept)
    attributes: dict[str, Any]  # the subject's own fields an event names
    expires_at: int | None


def audit_change(record: Mapping[str, Any]) -> AuditChange | None:
    """The record's audit change; None for a record the chronicle has nothing to do with."""
    change = record.get("dynamodb") or {}
    new = change.get("NewImage") or {}
    if AUDIT not in new:
        return None
    old = change.get("OldImage")
    if old is not None and old.get(AUDIT) == new[AUDIT]:
        return None
    subject_id = str((change.get("Keys") or new).get(KEY, {}).get("S", ""))
    if not subject_id:
        return None
    entries = _entries(new)
    if entries is None:
        observability.count_by("AuditUnreadable")
        logger.error("audit entries unreadable: not sealed", subject=subject_id)
        return None
    before = _entries(old) if old is not None and AUDIT in old else ([] if old is not None else None)
    attributes = {name: new[name]["S"] for name in SUBJECT_FIELDS if "S" in new.get(name, {})}
    expires = new.get(EXPIRES_AT, {}).get("N")
    return AuditChange(subject_id, entries, before, attributes, int(expires) if expires else None)


def _entries(image: Mapping[str, Any]) -> list[AuditEntry] | None:
    try:
        raw = json_value(_deserializer.deserialize(image[AUDIT]))
        return [
            AuditEntry(
                at=str(e["at"]),
                actor=str(e["actor"]),
                action=str(e["action"]),
                result=str(e["result"]),
                detail=dict(e.get("detail") or {}),
            )
            for e in raw
        ]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


@dataclass
class SealReport:
    sealed: int = 0
    altered: int = 0
    events: Published = field(default_factory=Published)


@dataclass
class Sealer:
    chains: ChainItems
    publisher: Publisher
    retention: timedelta = timedelta(days=90)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def seal_records(self, records: Iterable[Mapping[str, Any]]) -> SealReport:
        """Seal every record's new entries, in order, then publish their events together."""
        report = SealReport()
        events: list[AuditEvent] = []
        for record in records:
            change = audit_change(record)
            if change is not None:
                events.extend(self.seal(change, report))
        report.events = self.publisher.publish([event.as_bus_event() for event in events])
        if report.sealed or report.altered:
            observability.count_by("AuditEntriesSealed", report.sealed)
        return report

    def seal(self, change: AuditChange, report: SealReport | None = None) -> list[AuditEvent]:
        """Seal one change; the events it owes (its entries', or an alteration's)."""
        report = report if report is not None else SealReport()
        about = subject(change.subject_id, change.attributes)
        for _ in range(CHAIN_WRITE_ATTEMPTS):
            links = [Link.of(data) for data in self.chains.read(change.subject_id).links]
            findings = alterations(change, links)
            if findings:
                report.altered += len(findings)
                return self._altered(about, change, links, findings)
            added = extend(change.subject_id, links, change.entries)
            if added and not self.chains.write(
                change.subject_id,
                [link.as_dict() for link in links + added],
                sealed_before=len(links),
                expires_at=self._expires_at(change),
            ):
                continue  # another sealer wrote meanwhile: read its links and compare again
            report.sealed += len(added)
            chain = links + added
            first = min(len(links), len(change.before) if change.before is not None else 0)
            owed = range(first, len(change.entries))
            return [entry_event(about, change.entries[seq], chain[seq]) for seq in owed]
        raise ChainConflictError(f"the chain of {change.subject_id} kept changing")

    def _altered(
        self,
        about: Mapping[str, Any],
        change: AuditChange,
        links: Sequence[Link],
        findings: Sequence[Finding],
    ) -> list[AuditEvent]:
        observability.count_by("AuditAltered", len(findings))
        for finding in findings:
            logger.error(
                "sealed audit entry altered",
                subject=finding.subject,
                seq=finding.seq,
                problem=str(finding.problem),
                what=finding.what,
            )
        return [
            altered_event(
                about,
                finding.seq,
                str(finding.problem),
                links[finding.seq] if finding.seq < len(links) else None,
                change.entries[finding.seq] if finding.seq < len(change.entries) else None,
            )
            for finding in findings
        ]

    def _expires_at(self, change: AuditChange) -> int:
        """Its subject's expiry (the retention from now when the subject has none yet)."""
        if change.expires_at is not None:
            return change.expires_at
        return int((self.clock() + self.retention).timestamp())


def alterations(change: AuditChange, links: Sequence[Link]) -> list[Finding]:
    """What the record shows altered: a sealed entry that no longer hashes to its link (changed,
    reordered, a broken chain), or entries the write took away (the old image against the new).
    A record older than the chain (a redelivery) is no alteration: its entries agree as far as
    they go."""
    found = [
        f
        for f in check(change.subject_id, change.entries, links)
        if f.problem in (Problem.CHANGED, Problem.REORDERED, Problem.BROKEN)
    ]
    if change.before is not None and len(change.entries) < len(change.before):
        found.extend(
            Finding(change.subject_id, seq, Problem.REMOVED, "taken out of the trail")
            for seq in range(len(change.entries), min(len(change.before), len(links)))
        )
    return found
