"""Ownership over the recoveries table's conditional writes (an in-memory table): take, take over
with the owner that was shown, release by the owner or an admin, and nothing for a closed one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from recovery_ops.service.recovery.lifecycle.ownership import Owners, Ownership
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB
from tests.unit.slack.builders import a_recovery

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
MOMENT = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def owners_of(*recoveries) -> tuple[Owners, RecoveryStore]:
    dynamodb = FakeDynamoDB()
    store = RecoveryStore("recoveries", dynamodb)
    for recovery in recoveries:
        store.create_if_absent(recovery)
    return Owners(store, dynamodb, clock=lambda: MOMENT), store


def test_the_first_person_to_take_an_open_recovery_owns_it_and_the_take_is_audited() -> None:
    # Given
    owners, store = owners_of(a_recovery())

    # When
    result = owners.take("rec-00000000000000000000000000000001", ALICE)

    # Then
    assert (result.outcome, result.owner) == (Ownership.TAKEN, ALICE)
    stored = store.get("rec-00000000000000000000000000000001")
    assert (stored.owner, stored.owned_at) == (ALICE, "2026-12-02T09:30:00.000+00:00")
    assert [(e.actor, e.action, e.result) for e in stored.audit][-1] == (ALICE, "take", "OWNED")
    assert stored.last_actor is None  # taking it is not handling it: a second clicker is not told so


def test_a_second_person_taking_it_is_told_who_owns_it_and_the_owner_stays() -> None:
    # Given
    owners, store = owners_of(a_recovery())
    owners.take("rec-00000000000000000000000000000001", ALICE)

    # When
    second = owners.take("rec-00000000000000000000000000000001", BOB)
    again = owners.take("rec-00000000000000000000000000000001", ALICE)

    # Then
    assert (second.outcome, second.owner) == (Ownership.OWNED_BY_OTHER, ALICE)
    assert again.outcome is Ownership.ALREADY_YOURS
    assert store.get("rec-00000000000000000000000000000001").owner == ALICE


def test_a_take_over_lands_only_on_the_owner_the_person_was_shown_and_names_them_in_the_audit() -> None:
    # Given Alice owns it, Bob was shown Alice, and meanwhile Carol took it over
    owners, store = owners_of(a_recovery())
    recovery_id = "rec-00000000000000000000000000000001"
    owners.take(recovery_id, ALICE)
    owners.take_over(recovery_id, CAROL, from_owner=ALICE)

    # When Bob confirms taking it over from Alice
    stale = owners.take_over(recovery_id, BOB, from_owner=ALICE)

    # Then he is told Carol owns it now, and only Carol's takeover is in the trail
    assert (stale.outcome, stale.owner) == (Ownership.OWNED_BY_OTHER, CAROL)
    trail = store.get(recovery_id).audit
    assert [(e.actor, e.action, e.detail) for e in trail if e.action == "take over"] == [
        (CAROL, "take over", {"previous_owner": ALICE})
    ]


def test_release_is_for_the_owner_or_an_admin_and_gives_it_back_to_nobody() -> None:
    # Given
    owners, store = owners_of(a_recovery(), a_recovery(2))
    first, second = "rec-00000000000000000000000000000001", "rec-00000000000000000000000000000002"
    owners.take(first, ALICE)
    owners.take(second, ALICE)

    # When
    by_stranger = owners.release(first, BOB)
    by_owner = owners.release(first, ALICE)
    by_admin = owners.release(second, CAROL, is_admin=True)
    nothing = owners.release(first, ALICE)

    # Then
    assert (by_stranger.outcome, by_stranger.owner) == (Ownership.NOT_THE_OWNER, ALICE)
    assert (by_owner.outcome, by_owner.previous) == (Ownership.RELEASED, ALICE)
    assert by_admin.outcome is Ownership.RELEASED
    assert store.get(second).audit[-1].detail == {"previous_owner": ALICE}
    assert nothing.outcome is Ownership.NOT_OWNED
    assert store.get(first).owner is None and store.get(first).owned_at is None


def test_a_closed_or_unknown_recovery_cannot_be_taken() -> None:
    # Given
    owners, _ = owners_of(replace(a_recovery(), status=RecoveryStatus.RESUMED))

    # When / Then
    assert owners.take("rec-00000000000000000000000000000001", ALICE).outcome is Ownership.CLOSED
    assert owners.take("rec-00000000000000000000000000000009", ALICE).outcome is Ownership.NOT_FOUND
