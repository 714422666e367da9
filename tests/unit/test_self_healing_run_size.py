"""A self-healing run's item stays small whatever the number of recoveries it resumes, and every
outcome is counted on it exactly once: through pending claims, and for a run stored before them
through the sets it kept."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from recovery_ops.service.recovery.healing.runs import MAX_PENDING_CLAIMS, HealingState, new_claim_mark
from recovery_ops.service.recovery.healing.self_healing import AUTO_ACTOR
from recovery_ops.service.recovery.model.recovery import AuditEntry, RecoveryStatus
from recovery_ops.service.recovery.storage.items import EXECUTION_ARN, EXECUTION_INDEX, HEALING_PREFIX, KEY
from tests.unit.test_self_healing import (
    NOW,
    TABLE,
    VENDOR,
    Rig,
    StepFunctionsTokens,
    a_rig,
    heal_until_done,
    outage_recovery,
)

#: what a run item may weigh: its counters, audit, ramp and message, and a few claims in flight
RUN_ITEM_LIMIT = 1024


# ---------------------------------------------------------------------- the item as DynamoDB sizes it
def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: each attribute's name and value in bytes (UTF-8
    strings, numbers by their digits, sets by their members, lists and maps with their overhead)."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(raw.encode())
    if kind == "N":
        return len(Decimal(raw).as_tuple().digits) // 2 + 2
    if kind in ("SS", "NS"):
        return sum(len(member.encode()) for member in raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in raw)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in raw.items())
    raise ValueError(kind)


def test_the_size_of_an_item_counts_names_and_values() -> None:
    item = {"recovery_id": {"S": "heal-1"}, "ids": {"SS": ["ab", "cd"]}, "n": {"N": "12"}}

    assert item_size(item) == (11 + 6) + (3 + 4) + (1 + 3)


# ---------------------------------------------------------------------- the rig, measured
def largest_run_item(rig: Rig) -> list[int]:
    """Watch every write to a run item: the largest size it had after each (a one-element list)."""
    dynamodb: Any = rig.dynamodb
    largest = [0]
    for name in ("update_item", "put_item"):
        write = getattr(dynamodb, name)

        def measured(_write: Any = write, **request: Any) -> dict[str, Any]:
            answer = _write(**request)
            item_id = (request.get("Key") or request["Item"])[KEY]["S"]
            item = dynamodb.items(TABLE).get(item_id, {})
            if "healing_state" in item:
                largest[0] = max(largest[0], item_size(item))
            return answer

        setattr(dynamodb, name, measured)
    return largest


def executions_looked_up_at_once(rig: Rig) -> None:
    """The in-memory table answers the by-execution index by reading every item; at thousands of
    recoveries (one look-up each) that is read once into a map instead."""
    dynamodb: Any = rig.dynamodb
    query = dynamodb.query
    by_arn: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in dynamodb.items(TABLE).values():
        if EXECUTION_ARN in item:
            by_arn[item[EXECUTION_ARN]["S"]].append({KEY: item[KEY]})

    def indexed(**request: Any) -> dict[str, Any]:
        if request["IndexName"] != EXECUTION_INDEX:
            return query(**request)
        return {"Items": list(by_arn[request["ExpressionAttributeValues"][":arn"]["S"]])}

    dynamodb.query = indexed


def the_run(rig: Rig, group: str = "grp-vendor") -> Any:
    run = rig.runs.get_for(VENDOR, group)
    assert run is not None
    return run


# ---------------------------------------------------------------------- the size
@pytest.mark.slow  # thousands of resumes over the in-memory table: seconds, not milliseconds
def test_a_run_over_three_thousand_recoveries_keeps_its_item_under_a_fixed_small_size() -> None:
    # Given 3,000 recoveries of the vendor's outage, resumed by one run (with one id set per run, as
    # before, its item would have grown to about 216 KB)
    rig = a_rig(*(outage_recovery(n) for n in range(1, 3_001)), per_second=500.0)
    executions_looked_up_at_once(rig)
    largest = largest_run_item(rig)

    # When self-healing resumes them all
    heal_until_done(rig, budget_seconds=600.0)

    # Then each was resumed and counted once, and the run's item never weighed 1 KB
    run = the_run(rig)
    assert len(rig.tokens.accepted) == len(set(rig.tokens.accepted)) == 3_000
    assert (run.state, run.selected, run.resumed, run.left, run.pending) == (
        HealingState.FINISHED,
        3_000,
        3_000,
        0,
        (),
    )
    assert 0 < largest[0] < RUN_ITEM_LIMIT
    assert item_size(rig.dynamodb.items(TABLE)[run.healing_id]) < RUN_ITEM_LIMIT  # type: ignore[attr-defined]


def test_when_every_answer_is_lost_a_round_stops_claiming_at_the_pending_limit() -> None:
    # Given recoveries whose resumes all go unanswered the first time (the calls did not land)
    count = MAX_PENDING_CLAIMS * 3
    tokens = StepFunctionsTokens(unanswered={f"token-{n}" for n in range(1, count + 1)})
    rig = a_rig(*(outage_recovery(n) for n in range(1, count + 1)), tokens=tokens)
    largest = largest_run_item(rig)

    # When the first round runs
    first = rig.healing.round(VENDOR, budget_seconds=600.0)

    # Then it leaves no more claims in flight than the limit, and the run holds no more than those
    assert not first.done and first.in_flight == MAX_PENDING_CLAIMS
    assert len(the_run(rig).pending) == MAX_PENDING_CLAIMS
    assert largest[0] < RUN_ITEM_LIMIT + MAX_PENDING_CLAIMS * 64

    # And the rounds after settle them from the record and resume every recovery once
    heal_until_done(rig, budget_seconds=600.0, rounds=20)
    run = the_run(rig)
    assert sorted(rig.tokens.accepted) == sorted(f"token-{n}" for n in range(1, count + 1))
    assert (run.state, run.resumed, run.left, run.pending) == (HealingState.FINISHED, count, 0, ())


# ---------------------------------------------------------------------- exactly once
def test_a_count_made_twice_counts_once() -> None:
    rig = a_rig(outage_recovery(1))
    run, _ = rig.runs.start(VENDOR, "grp-vendor", 1, None, NOW)
    mark = new_claim_mark()
    rig.runs.note_claim(run.healing_id, outage_recovery(1).recovery_id, mark)

    first = rig.runs.count(run.healing_id, outage_recovery(1).recovery_id, mark, resumed=True)
    again = rig.runs.count(run.healing_id, outage_recovery(1).recovery_id, mark, resumed=True)

    counted = the_run(rig)
    assert (first, again) == (True, False)
    assert (counted.resumed, counted.pending) == (1, ())


def test_a_stale_note_of_a_recovery_already_counted_is_released_not_counted_again() -> None:
    # Given a run that resumed and counted three recoveries, and a round racing it that noted the
    # first again from a listing read before (its claim then fails: the recovery is closed)
    rig = a_rig(
        *(outage_recovery(n) for n in range(1, 4)), *(outage_recovery(n, group="grp-b") for n in (4, 5))
    )
    rig.healing.round(VENDOR, budget_seconds=0.25)  # grp-vendor's three, not yet grp-b's
    run = the_run(rig)
    assert run.resumed == 3 and run.state is HealingState.RESUMING
    rig.runs.note_claim(run.healing_id, outage_recovery(1).recovery_id, new_claim_mark())

    # When the rounds go on to the end
    heal_until_done(rig)

    # Then that note counted nothing: three, not four, and nothing pending
    run = the_run(rig)
    assert (run.state, run.resumed, run.left, run.pending) == (HealingState.FINISHED, 3, 0, ())


def test_a_claim_noted_by_a_round_that_died_before_claiming_is_released_once_the_recovery_resumed() -> None:
    # Given a round that noted its claim of the first recovery and died before claiming it
    rig = a_rig(*(outage_recovery(n) for n in range(1, 4)))
    run, _ = rig.runs.start(VENDOR, "grp-vendor", 3, None, NOW)
    rig.runs.note_claim(run.healing_id, outage_recovery(1).recovery_id, new_claim_mark())

    # When the rounds run to the end
    heal_until_done(rig)

    # Then the recovery resumed under a claim of its own, counted once, and the dead note is gone
    run = the_run(rig)
    assert sorted(rig.tokens.accepted) == ["token-1", "token-2", "token-3"]
    assert (run.state, run.resumed, run.left, run.pending) == (HealingState.FINISHED, 3, 0, ())


# ---------------------------------------------------------------------- a run stored before
def test_a_run_stored_with_the_sets_of_ids_is_finished_with_the_exact_count() -> None:
    # Given a run stored by the earlier version: five selected, three claimed (their ids in
    # ``claimed_ids``), the first counted (``counted_ids``); the second resumed but its round died
    # before counting it; the third's call landed and its round died before storing the outcome
    recoveries = [outage_recovery(n) for n in range(1, 6)]
    rig = a_rig(*recoveries)
    run, _ = rig.runs.start(VENDOR, "grp-vendor", 5, None, NOW)
    old_claim = {"closure": VENDOR.id}
    for recovery in recoveries[:2]:
        rig.healing.actions.run_again(recovery.recovery_id, AUTO_ACTOR, show=False, audit_detail=old_claim)
    entry = AuditEntry(NOW.isoformat(), AUTO_ACTOR, "run again", RecoveryStatus.RESUMING, old_claim)
    rig.store.claim(recoveries[2].recovery_id, entry, "claim-old", NOW + timedelta(seconds=120), at=NOW)
    rig.tokens.accepted.append(recoveries[2].task_token)
    ids = [r.recovery_id for r in recoveries]
    rig.dynamodb.update_item(  # type: ignore[attr-defined]
        TableName=TABLE,
        Key={KEY: {"S": run.healing_id}},
        UpdateExpression="ADD claimed_ids :claimed, counted_ids :counted, resumed :one",
        ExpressionAttributeValues={
            ":claimed": {"SS": ids[:3]},
            ":counted": {"SS": ids[:1]},
            ":one": {"N": "1"},
        },
    )
    assert run.healing_id.startswith(HEALING_PREFIX)

    # When this version's rounds run to the end
    heal_until_done(rig)

    # Then every recovery resumed once, the run counts five, and its sets grew by what was counted
    # from them only
    run = the_run(rig)
    assert sorted(rig.tokens.accepted) == sorted(r.task_token for r in recoveries)
    assert len(rig.tokens.accepted) == 5
    assert (run.state, run.resumed, run.expired, run.left) == (HealingState.FINISHED, 5, 0, 0)
    assert run.claimed_ids == run.counted_ids == frozenset(ids[:3])
    assert run.pending == ()
