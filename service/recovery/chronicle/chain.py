"""The hash chain of an audit trail: each entry sealed with the hash of the one before.

A link is what the chain keeps of one entry: its place (``seq``), who did what when and with what
result, the hash of the link before it (``prev``; the first one's is ``GENESIS``) and its own
hash, ``sha256(prev + canonical JSON of {subject, seq, at, actor, action, result, detail})``. The
subject's id is hashed in, so an entry cannot be moved to another trail; ``prev`` is, so an entry
cannot be moved within one. The detail is hashed but not kept in the link: the link proves it.

``check`` compares a trail as the table holds it with its chain: an entry that no longer hashes
to its link is *changed*, or *reordered* when it is an entry sealed at another place; a link
without its entry is *removed*; entries past the chain are *pending* (not sealed yet: the
chronicle seals them within seconds of the write), which is not a finding. A chain whose own links
do not follow each other (an edited chain item) is a finding too. ``check_against`` compares the
trail with an independent copy of the hashes (the published events), which catches a rewrite of
both the trail and the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from recovery_ops.service.recovery.model.recovery import AuditEntry

GENESIS = "0" * 64  # the ``prev`` of a trail's first link


@dataclass(frozen=True)
class Link:
    seq: int
    at: str
    actor: str
    action: str
    result: str
    prev: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> Link:
        return cls(
            seq=int(data["seq"]),
            at=str(data["at"]),
            actor=str(data["actor"]),
            action=str(data["action"]),
            result=str(data["result"]),
            prev=str(data["prev"]),
            hash=str(data["hash"]),
        )

    def shows(self, entry: AuditEntry) -> bool:
        """Whether ``entry``'s who, what and when are this link's (its detail aside)."""
        return (self.at, self.actor, self.action, self.result) == (
            entry.at,
            entry.actor,
            entry.action,
            str(entry.result),
        )


def canonical(value: Any) -> str:
    """The one JSON text of ``value``: keys sorted, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(subject: str, seq: int, entry: AuditEntry, prev: str) -> str:
    body = {
        "subject": subject,
        "seq": seq,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "result": str(entry.result),
        "detail": entry.detail,
    }
    return hashlib.sha256((prev + canonical(body)).encode()).hexdigest()


def link(subject: str, seq: int, entry: AuditEntry, prev: str) -> Link:
    digest = entry_hash(subject, seq, entry, prev)
    return Link(seq, entry.at, entry.actor, entry.action, str(entry.result), prev, digest)


def extend(subject: str, links: Sequence[Link], entries: Sequence[AuditEntry]) -> list[Link]:
    """The links of ``entries`` past the chain ``links`` (those already sealed are not redone)."""
    added: list[Link] = []
    prev = links[-1].hash if links else GENESIS
    for seq in range(len(links), len(entries)):
        new = link(subject, seq, entries[seq], prev)
        added.append(new)
        prev = new.hash
    return added


def hashes(subject: str, entries: Sequence[AuditEntry]) -> list[str]:
    """The hash each entry of a trail would have, chained from ``GENESIS`` (the trail alone)."""
    return [new.hash for new in extend(subject, [], entries)]


class Problem(StrEnum):
    CHANGED = "changed"
    REMOVED = "removed"
    REORDERED = "reordered"
    BROKEN = "chain broken"  # the chain's own links do not follow each other
    UNPUBLISHED = "differs from the published copy"
    PENDING = "pending"  # not sealed yet: not a finding


@dataclass(frozen=True)
class Finding:
    subject: str
    seq: int
    problem: Problem
    what: str

    @property
    def is_tampering(self) -> bool:
        return self.problem is not Problem.PENDING

    def __str__(self) -> str:
        return f"{self.subject} #{self.seq}: {self.problem}: {self.what}"


def check(subject: str, entries: Sequence[AuditEntry], links: Sequence[Link]) -> list[Finding]:
    """Every difference between a trail and its chain (pending entries included, as such)."""
    found: list[Finding] = []
    prev = GENESIS
    for seq, sealed in enumerate(links):
        if sealed.seq != seq or sealed.prev != prev:
            found.append(Finding(subject, seq, Problem.BROKEN, "the link does not follow the one before"))
        prev = sealed.hash
        if seq >= len(entries):
            found.append(Finding(subject, seq, Problem.REMOVED, _said(sealed)))
            continue
        entry = entries[seq]
        if entry_hash(subject, seq, entry, sealed.prev) == sealed.hash:
            continue
        elsewhere = next((other.seq for other in links if other.seq != seq and other.shows(entry)), None)
        if elsewhere is not None:
            found.append(Finding(subject, seq, Problem.REORDERED, f"holds the entry sealed as #{elsewhere}"))
        elif sealed.shows(entry):
            found.append(Finding(subject, seq, Problem.CHANGED, f"its detail changed ({_said(sealed)})"))
        else:
            found.append(Finding(subject, seq, Problem.CHANGED, f"was {_said(sealed)}, now {_said(entry)}"))
    found.extend(
        Finding(subject, seq, Problem.PENDING, _said(entries[seq])) for seq in range(len(links), len(entries))
    )
    return found


def check_against(subject: str, entries: Sequence[AuditEntry], published: Mapping[int, str]) -> list[Finding]:
    """Differences between a trail and the hashes published for it (``seq`` → hash)."""
    own = hashes(subject, entries)
    found = []
    for seq in sorted(published):
        if seq >= len(own):
            found.append(Finding(subject, seq, Problem.REMOVED, "published, not in the table"))
        elif own[seq] != published[seq]:
            found.append(Finding(subject, seq, Problem.UNPUBLISHED, _said(entries[seq])))
    return found


def _said(entry: AuditEntry | Link) -> str:
    return f"{entry.at} {entry.actor} {entry.action} → {entry.result}"
