"""Ownership: a person says "I'm on it" (Take it), and everyone sees who.

An owner is stored on the recovery (``owner``, ``owned_at``) with conditional writes, so of two
people taking the same open recovery at once only one becomes its owner; the other is told who
did. Taking over someone else's recovery is a separate, deliberate step (the Slack app asks for a
confirmation first) and names the previous owner, so it cannot happen by a race either: it only
succeeds while the owner is still the one the person was shown. Releasing gives it back to
nobody; only its owner or an admin may release it. Every change is audited on the recovery.

Ownership changes nothing about who may act: it stops the escalation ladder and tells reminders
whom to mention. A closed recovery cannot be taken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.items import OWNED_AT, OWNER, audit_entries, key
from recovery_ops.service.recovery.storage.recoveries import RecoveryNotFoundError, RecoveryStore

TAKE = "take"
TAKE_OVER = "take over"
RELEASE = "release"


class Ownership(StrEnum):
    TAKEN = "TAKEN"  # the person owns it now
    ALREADY_YOURS = "ALREADY_YOURS"
    OWNED_BY_OTHER = "OWNED_BY_OTHER"  # someone else owns it: take it over, with a confirmation
    TAKEN_OVER = "TAKEN_OVER"
    RELEASED = "RELEASED"
    NOT_OWNED = "NOT_OWNED"  # release: nobody owns it (any more)
    NOT_THE_OWNER = "NOT_THE_OWNER"  # release: someone else owns it and the person is no admin
    CLOSED = "CLOSED"  # handled already: nothing to own
    NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True)
class OwnershipResult:
    outcome: Ownership
    recovery: Recovery | None
    owner: str | None  # who owns it after the attempt (or who kept it)
    previous: str | None = None  # taken over or released: who owned it before

    @property
    def changed(self) -> bool:
        return self.outcome in (Ownership.TAKEN, Ownership.TAKEN_OVER, Ownership.RELEASED)


class Owners:
    """Take, take over and release recoveries in the recoveries table."""

    def __init__(
        self,
        store: RecoveryStore,
        client: Any,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._client = client
        self._clock = clock

    def take(self, recovery_id: str, person: str) -> OwnershipResult:
        """``person`` owns the open recovery now, unless someone does already."""
        now = self._now()
        if self._write(
            recovery_id,
            "SET #owner = :person, #owned_at = :now",
            "#status = :open AND attribute_not_exists(#owner)",
            {":person": {"S": person}, ":now": {"S": now}},
            AuditEntry(now, person, TAKE, "OWNED"),
        ):
            return self._result(Ownership.TAKEN, recovery_id)
        return self._why_not(recovery_id, person)

    def take_over(self, recovery_id: str, person: str, from_owner: str) -> OwnershipResult:
        """``person`` owns it instead of ``from_owner``, if ``from_owner`` still owns it (the owner
        the person was shown and confirmed taking it from)."""
        if from_owner == person:
            return self.take(recovery_id, person)
        now = self._now()
        if self._write(
            recovery_id,
            "SET #owner = :person, #owned_at = :now",
            "#status = :open AND #owner = :previous",
            {":person": {"S": person}, ":now": {"S": now}, ":previous": {"S": from_owner}},
            AuditEntry(now, person, TAKE_OVER, "OWNED", {"previous_owner": from_owner}),
        ):
            return self._result(Ownership.TAKEN_OVER, recovery_id, previous=from_owner)
        return self._why_not(recovery_id, person)

    def release(self, recovery_id: str, person: str, is_admin: bool = False) -> OwnershipResult:
        """Nobody owns it any more: done by its owner, or by an admin (``is_admin``)."""
        for _ in range(3):  # it may change hands between the read and the write: decide again
            try:
                current = self._store.get(recovery_id)
            except RecoveryNotFoundError:
                return OwnershipResult(Ownership.NOT_FOUND, None, None)
            if current.owner is None:
                return OwnershipResult(Ownership.NOT_OWNED, current, None)
            if current.owner != person and not is_admin:
                return OwnershipResult(Ownership.NOT_THE_OWNER, current, current.owner)
            now = self._now()
            detail = {"previous_owner": current.owner} if current.owner != person else {}
            if self._write(
                recovery_id,
                "REMOVE #owner, #owned_at",
                "#owner = :previous",
                {":previous": {"S": current.owner}},
                AuditEntry(now, person, RELEASE, "UNOWNED", detail),
                needs_open=False,
            ):
                return self._result(Ownership.RELEASED, recovery_id, previous=current.owner)
        latest = self._store.get(recovery_id)  # taken and taken over faster than it could be released
        return OwnershipResult(Ownership.OWNED_BY_OTHER, latest, latest.owner)

    # ------------------------------------------------------------------ steps
    def _write(
        self,
        recovery_id: str,
        change: str,
        condition: str,
        values: dict[str, Any],
        entry: AuditEntry,
        needs_open: bool = True,
    ) -> bool:
        """Apply ``change`` (``SET owner …`` or ``REMOVE owner …``) and audit ``entry``, if
        ``condition`` holds (and, with ``needs_open``, the recovery is open)."""
        audit = "audit = list_append(if_not_exists(audit, :none), :entry)"
        expression = f"{change}, {audit}" if change.startswith("SET ") else f"SET {audit} {change}"
        values = {**values, ":entry": audit_entries(entry), ":none": {"L": []}}
        kwargs: dict[str, Any] = {
            "TableName": self._store.table_name,
            "Key": key(recovery_id),
            "UpdateExpression": expression,
            "ConditionExpression": f"attribute_exists(recovery_id) AND {condition}",
        }
        # every change sets or removes both (OWNER is a reserved word)
        names = {"#owner": OWNER, "#owned_at": OWNED_AT}
        if needs_open:
            values[":open"] = {"S": RecoveryStatus.OPEN}
            names["#status"] = "status"
        kwargs["ExpressionAttributeNames"] = names
        kwargs["ExpressionAttributeValues"] = values
        owner = values[":person"]["S"] if change.startswith("SET ") else None
        return self._store.change_owner(recovery_id, kwargs, owner)

    def _why_not(self, recovery_id: str, person: str) -> OwnershipResult:
        try:
            current = self._store.get(recovery_id)
        except RecoveryNotFoundError:
            return OwnershipResult(Ownership.NOT_FOUND, None, None)
        if current.status is not RecoveryStatus.OPEN:
            return OwnershipResult(Ownership.CLOSED, current, current.owner)
        if current.owner == person:
            return OwnershipResult(Ownership.ALREADY_YOURS, current, person)
        if current.owner is None:  # released between the write and the read: try once more
            return self.take(recovery_id, person)
        return OwnershipResult(Ownership.OWNED_BY_OTHER, current, current.owner)

    def _result(self, outcome: Ownership, recovery_id: str, previous: str | None = None) -> OwnershipResult:
        recovery = self._store.get(recovery_id)
        return OwnershipResult(outcome, recovery, recovery.owner, previous)

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds")
