"""In flight: a recovery that was claimed (``OPEN → RESUMING``) and whose outcome is not stored yet.

A person's click, a bulk action or self-healing claims a recovery with a conditional write, then
calls Step Functions, then stores the outcome. Between the claim and the outcome the recovery is
RESUMING: normally for the length of one call. A process that dies in between leaves it RESUMING
until the reconciler settles it from the execution. Until then every listing, the Home tab, the
reminders and the age metric show it as *in flight*, with since when and who claimed it, so that
nobody takes it for gone.

The claim's time is the recovery's ``updated_at`` (the claim is the last write that set it); who
claimed it is the actor of the last audit entry that moved it to RESUMING.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryStore

IN_FLIGHT = "in-flight"  # the status a filter names them by: /recoveries status=in-flight
SELECTION_LIMIT = 10_000  # the in-flight recoveries read for one listing (normally a handful)


@dataclass(frozen=True)
class InFlight:
    """A RESUMING recovery, with its claim: since when, and by whom."""

    recovery: Recovery
    since: datetime
    claimed_by: str | None

    def age(self, now: datetime) -> timedelta:
        """How long it has been in flight at ``now`` (never negative)."""
        return max(timedelta(0), now - self.since)


def in_flight(recovery: Recovery) -> InFlight | None:
    """``recovery``'s claim when it is in flight (RESUMING); None otherwise."""
    if recovery.status is not RecoveryStatus.RESUMING:
        return None
    claim = next((e for e in reversed(recovery.audit) if e.result == RecoveryStatus.RESUMING), None)
    since = _moment(recovery.updated_at) or _moment(claim.at if claim else "") or _moment(recovery.created_at)
    claimed_by = claim.actor if claim else recovery.last_actor
    return InFlight(recovery, since or datetime.now(UTC), claimed_by)


def longest_first(recoveries: Iterable[Recovery]) -> list[InFlight]:
    """The in-flight ones of ``recoveries``, the longest in flight first."""
    claims = [claim for claim in map(in_flight, recoveries) if claim is not None]
    return sorted(claims, key=lambda claim: (claim.since, claim.recovery.recovery_id))


def in_flight_matching(
    store: RecoveryStore, where: ListFilter, limit: int = SELECTION_LIMIT
) -> list[Recovery]:
    """The RESUMING recoveries ``where`` selects, paused earliest first (at most ``limit``)."""
    return store.list_by_status(RecoveryStatus.RESUMING, where, limit=limit, oldest_first=True)


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
