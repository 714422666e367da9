"""Burst grouping: which window a recovery falls in, and who belongs to a group, over an in-memory table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.recovery.contract import RecoveryRequest
from service.recovery.groups import LATEST_KEPT, GroupStore, group_id_for
from service.recovery.recovery import Recovery
from tests.support.fakes import FakeDynamoDB

WINDOW = 60
START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)  # on a window boundary


def paused(n: int, error: str = "VendorUnavailable", state: str = "Check availability") -> Recovery:
    request = RecoveryRequest(
        task_token=f"token-{n}",
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:orders:run-{n}",
        execution_name=f"run-{n}",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:orders",
        failed_state=state,
        input={"n": n},
        error=error,
    )
    return Recovery.from_request(request, START)


def test_recoveries_alike_within_one_window_share_a_group() -> None:
    # Given two recoveries of the same machine, state and error, at the start and end of one window
    first, second = paused(1), paused(2)

    # When each is given its group
    early = group_id_for(first, WINDOW, START)
    late = group_id_for(second, WINDOW, START + timedelta(seconds=WINDOW - 1))

    # Then it is the same group, named like a group
    assert early == late
    assert early.startswith("grp-") and len(early) == len("grp-") + 32


def test_the_next_window_starts_a_new_group() -> None:
    # Given the same kind of recovery, one window later
    recovery = paused(1)

    # When each moment is given its group
    now, next_window = (
        group_id_for(recovery, WINDOW, START),
        group_id_for(recovery, WINDOW, START + timedelta(seconds=WINDOW)),
    )

    # Then the groups differ
    assert now != next_window


def test_a_different_error_or_state_is_a_different_group() -> None:
    # Given recoveries that differ only in their error, or only in their failed state
    base, other_error, other_state = (
        paused(1),
        paused(2, error="VendorThrottled"),
        paused(3, state="Charge card"),
    )

    # When each is given its group at the same moment
    groups = {group_id_for(r, WINDOW, START) for r in (base, other_error, other_state)}

    # Then there are three groups
    assert len(groups) == 3


def test_a_window_of_zero_seconds_is_taken_as_one_second() -> None:
    # Given a window misconfigured to zero
    recovery = paused(1)

    # When recoveries are grouped half a second apart, and one second apart
    same = group_id_for(recovery, 0, START) == group_id_for(recovery, 0, START + timedelta(milliseconds=500))
    apart = group_id_for(recovery, 0, START) == group_id_for(recovery, 0, START + timedelta(seconds=1))

    # Then the window is one second (no division by zero)
    assert same and not apart


def test_members_from_several_batches_add_up_and_a_redelivered_one_counts_once() -> None:
    # Given a group that already has two members
    groups = GroupStore("recoveries", FakeDynamoDB())
    group = group_id_for(paused(1), WINDOW, START)
    groups.add_members(group, [paused(1), paused(2)], START)

    # When a later batch brings a new member and one of the first two again
    state = groups.add_members(group, [paused(2), paused(3)], START)

    # Then the group has three members, and the first member's machine, state and error
    assert state.count == 3 and state.member_ids == {paused(n).recovery_id for n in (1, 2, 3)}
    assert (state.state_machine_name, state.failed_state, state.error) == (
        "orders",
        "Check availability",
        "VendorUnavailable",
    )


def test_the_group_keeps_only_the_latest_members_of_the_last_batch() -> None:
    # Given a batch larger than the number of latest members shown
    groups = GroupStore("recoveries", FakeDynamoDB())
    batch = [paused(n) for n in range(LATEST_KEPT + 3)]

    # When it is added to a group
    state = groups.add_members("grp-test", batch, START)

    # Then all are members and the latest are the batch's last ones, in order
    assert state.count == len(batch)
    assert state.latest_ids == [r.recovery_id for r in batch[-LATEST_KEPT:]]


def test_one_collector_posts_the_groups_message() -> None:
    # Given a group with no message yet
    groups = GroupStore("recoveries", FakeDynamoDB())
    groups.add_members("grp-test", [paused(1)], START)

    # When two collectors claim the posting
    first, second = (
        groups.claim_posting("grp-test", "collector-a"),
        groups.claim_posting("grp-test", "collector-b"),
    )

    # Then only the first may post
    assert (first, second) == (True, False)


def test_a_released_claim_lets_another_collector_post_and_a_posted_message_ends_claims() -> None:
    # Given a collector that claimed the posting and gave it back
    groups = GroupStore("recoveries", FakeDynamoDB())
    groups.add_members("grp-test", [paused(1)], START)
    groups.claim_posting("grp-test", "collector-a")
    groups.release_posting("grp-test", "collector-a")

    # When another collector claims it and posts the message
    claimed = groups.claim_posting("grp-test", "collector-b")
    groups.set_message("grp-test", "C1", "1700000000.000100")

    # Then it could claim, the message is the group's, and nobody may post a second one
    assert claimed
    state = groups.get("grp-test")
    assert state is not None and (state.channel, state.ts) == ("C1", "1700000000.000100")
    assert not groups.claim_posting("grp-test", "collector-a")


def test_a_recovery_shares_its_message_only_when_its_group_has_others() -> None:
    # Given a group of one and a group of two
    groups = GroupStore("recoveries", FakeDynamoDB())
    alone, together = paused(1), paused(2)
    alone.group_id, together.group_id = "grp-alone", "grp-together"
    groups.add_members("grp-alone", [alone], START)
    groups.add_members("grp-together", [together, paused(3)], START)

    # When asked whether each one's message is a group message
    shared = (groups.shares_message(alone), groups.shares_message(together))

    # Then only the second is
    assert shared == (False, True)
