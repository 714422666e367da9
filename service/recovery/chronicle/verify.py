"""`recovery-ops audit verify`: each audit trail recomputed against its chain, and against the
published copy of its hashes.

For a subject, the trail the table holds is checked against its chain item (``chain.check``):
a changed, removed or reordered entry, or a chain whose links do not follow each other, is a
finding; entries not sealed yet are *pending* (the chronicle seals within seconds). Someone who
can write the table could rewrite both the trail and the chain; the events published for the
entries (the audit bus's archive, or its copy in S3) cannot be rewritten from the table, so
``published`` hashes (``seq`` → hash, from ``published_hashes``) are checked too: an entry whose
hash, recomputed from the trail alone, is not the one published is a finding.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from recovery_ops.service.recovery.chronicle.chain import Finding, Link, Problem, check, check_against
from recovery_ops.service.recovery.chronicle.events import ALTERED
from recovery_ops.service.recovery.storage.audit_chain import ChainItems


@dataclass(frozen=True)
class Verified:
    subject_id: str
    entries: int
    sealed: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def tampered(self) -> list[Finding]:
        return [f for f in self.findings if f.is_tampering]

    @property
    def pending(self) -> int:
        return sum(1 for f in self.findings if f.problem is Problem.PENDING)


@dataclass
class AuditVerifier:
    chains: ChainItems
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def verify(self, subject_id: str, published: Mapping[int, str] | None = None) -> Verified:
        chain = self.chains.read(subject_id)
        links = [Link.of(data) for data in chain.links]
        entries = self.chains.trail(subject_id)
        if entries is None:
            if not links and not published:
                return Verified(subject_id, 0, 0, [Finding(subject_id, 0, Problem.REMOVED, "no such item")])
            if chain.expires_at is not None and chain.expires_at <= self.clock().timestamp():
                return Verified(subject_id, 0, len(links))  # expired with its chain: kept no longer
            gone = max([len(links), *(seq + 1 for seq in (published or {}))])
            return Verified(
                subject_id,
                0,
                len(links),
                [Finding(subject_id, seq, Problem.REMOVED, "the item is gone") for seq in range(gone)],
            )
        findings = check(subject_id, entries, links)
        if published:
            findings += [
                f
                for f in check_against(subject_id, entries, published)
                if not any(same.seq == f.seq and same.is_tampering for same in findings)
            ]
        return Verified(subject_id, len(entries), len(links), findings)

    def subjects(self) -> Iterator[str]:
        """Every subject with a chain, a page at a time."""
        start = None
        while True:
            found, start = self.chains.subjects(start)
            yield from found
            if not start:
                return


def published_hashes(lines: Iterable[str]) -> dict[str, dict[int, str]]:
    """Subject id → ``seq`` → hash, from events as JSON lines (each an EventBridge event, as the
    archive or an S3 copy holds it, or its detail alone); ``audit altered`` events are not copies."""
    found: dict[str, dict[int, str]] = {}
    for line in lines:
        if not line.strip():
            continue
        event = json.loads(line)
        detail = event.get("detail", event)
        if not isinstance(detail, dict) or detail.get("kind") == ALTERED or not detail.get("chain"):
            continue
        subject_id = str(detail["subject"]["id"])
        found.setdefault(subject_id, {})[int(detail["entry"]["seq"])] = str(detail["chain"]["hash"])
    return found
