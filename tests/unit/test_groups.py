"""Burst grouping: which window a recovery falls in, and who belongs to a group, over an in-memory table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.group_state import GroupState
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.storage.groups import LATEST_KEPT, GroupStore, PostingClaim, group_id_for
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB, LostAnswers

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


def add(groups: GroupStore, group_id: str, members: list[Recovery], at: datetime) -> GroupState:
    """``members`` stored (as the collector stores each before its group counts it), then added."""
    store = RecoveryStore("recoveries", groups._client)
    for member in members:
        store.create_if_absent(member)
    return groups.add_members(group_id, members, at)


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
    add(groups, group, [paused(1), paused(2)], START)

    # When a later batch brings a new member and one of the first two again
    state = add(groups, group, [paused(2), paused(3)], START)

    # Then the group has three members, and the first member's machine, state and error
    assert state.count == 3 and state.latest_ids == [paused(n).recovery_id for n in (2, 3)]
    assert (state.state_machine_name, state.failed_state, state.error) == (
        "orders",
        "Check availability",
        "VendorUnavailable",
    )


def test_a_batch_holding_one_message_twice_counts_it_once() -> None:
    # Given a batch in which SQS delivered one message twice
    groups = GroupStore("recoveries", FakeDynamoDB())
    group = group_id_for(paused(1), WINDOW, START)

    # When the batch joins the group
    state = add(groups, group, [paused(1), paused(2), paused(1)], START)

    # Then each recovery is counted once
    assert state.count == 2


def test_the_group_keeps_only_the_latest_members_of_the_last_batch() -> None:
    # Given a batch larger than the number of latest members shown
    groups = GroupStore("recoveries", FakeDynamoDB())
    batch = [paused(n) for n in range(LATEST_KEPT + 3)]

    # When it is added to a group
    state = add(groups, "grp-test", batch, START)

    # Then all are members and the latest are the batch's last ones, in order
    assert state.count == len(batch)
    assert state.latest_ids == [r.recovery_id for r in batch[-LATEST_KEPT:]]


LEASE = timedelta(seconds=60)


def claim(
    groups: GroupStore, claimant: str, at: datetime = START, channel: str = "C1"
) -> PostingClaim | None:
    return groups.claim_posting("grp-test", claimant, channel, at, LEASE, earliest=START)


def test_one_collector_posts_the_groups_message() -> None:
    # Given a group with no message yet
    groups = GroupStore("recoveries", FakeDynamoDB())
    add(groups, "grp-test", [paused(1)], START)

    # When two collectors claim the posting
    first, second = claim(groups, "collector-a"), claim(groups, "collector-b")

    # Then only the first may post, at once (nobody claimed before it), until its lease ends
    assert first == PostingClaim(channel="C1", since=None, until=START + LEASE)
    assert second is None


def test_a_released_claim_lets_another_collector_post_and_a_posted_message_ends_claims() -> None:
    # Given a collector that claimed the posting and gave it back
    groups = GroupStore("recoveries", FakeDynamoDB())
    add(groups, "grp-test", [paused(1)], START)
    claim(groups, "collector-a")
    groups.release_posting("grp-test", "collector-a")

    # When another collector claims it (in another channel, by then) and posts the message
    claimed = claim(groups, "collector-b", START + timedelta(seconds=5), channel="C2")
    groups.set_message("grp-test", "C1", "1700000000.000100")

    # Then it could claim, in the first claim's channel, told to look there since the first claim
    assert claimed == PostingClaim(channel="C1", since=START, until=START + timedelta(seconds=5) + LEASE)
    # and the message is the group's, and nobody may post a second one
    state = groups.get("grp-test")
    assert state is not None and (state.channel, state.ts) == ("C1", "1700000000.000100")
    assert claim(groups, "collector-a", START + timedelta(hours=1)) is None


def test_a_claim_holds_until_its_lease_ends_then_another_collector_takes_it_over() -> None:
    # Given a collector that claimed the posting and then stopped
    groups = GroupStore("recoveries", FakeDynamoDB())
    add(groups, "grp-test", [paused(1)], START)
    claim(groups, "collector-a")

    # When another collector claims within the lease, at its last moment, and just after it
    within = claim(groups, "collector-b", START + timedelta(seconds=30))
    at_the_end = claim(groups, "collector-b", START + LEASE)
    after = claim(groups, "collector-b", START + LEASE + timedelta(milliseconds=1))

    # Then only the last one holds it, told that an earlier claim may have posted since START
    assert within is None and at_the_end is None
    assert after is not None and after.since == START and after.after_another


def test_a_claim_written_before_leases_counts_as_run_out_and_is_searched_from_its_windows_start() -> None:
    # Given a group claimed by a collector of the version without leases (no until, no since)
    dynamodb = FakeDynamoDB()
    groups = GroupStore("recoveries", dynamodb)
    add(groups, "grp-test", [paused(1)], START)
    dynamodb.items("recoveries")["grp-test"]["posting_by"] = {"S": "old-collector"}

    # When a collector of this version claims it
    claimed = claim(groups, "collector-a", START + timedelta(seconds=10))

    # Then it holds it, and looks for a message since the group's window started
    assert claimed is not None and claimed.since == START


def test_a_claim_whose_answer_was_lost_is_read_back_and_held() -> None:
    # Given a table whose next write happens but whose answer is lost
    dynamodb = FakeDynamoDB()
    add(GroupStore("recoveries", dynamodb), "grp-test", [paused(1)], START)
    groups = GroupStore("recoveries", LostAnswers(dynamodb))

    # When a collector claims, and then another one does
    mine = claim(groups, "collector-a")
    theirs = claim(groups, "collector-b")

    # Then the first holds it (the table names it), as its own first claim; the second does not
    assert mine == PostingClaim(channel="C1", since=None, until=START + LEASE)
    assert theirs is None


def test_a_claim_whose_answer_was_lost_and_that_did_not_happen_is_not_held() -> None:
    # Given another collector's claim, and a table whose next write's answer is lost
    dynamodb = FakeDynamoDB()
    groups = GroupStore("recoveries", dynamodb)
    add(groups, "grp-test", [paused(1)], START)
    claim(groups, "collector-b")

    # When a collector claims through the table that loses the answer (the write's condition failed)
    claimed = claim(GroupStore("recoveries", LostAnswersOfFailures(dynamodb)), "collector-a")

    # Then the read shows the other collector's claim: not held
    assert claimed is None


class LostAnswersOfFailures:
    """A table whose next write fails (its condition) and whose answer is lost: an error, not the
    condition's failure, reaches the caller."""

    def __init__(self, dynamodb: FakeDynamoDB) -> None:
        self._dynamodb = dynamodb

    def update_item(self, **request: object) -> dict:
        try:
            self._dynamodb.update_item(**request)
        except ClientError:
            pass
        raise ClientError({"Error": {"Code": "RequestTimeout", "Message": "lost"}}, "UpdateItem")

    def __getattr__(self, name: str) -> object:
        return getattr(self._dynamodb, name)


def test_a_recovery_shares_its_message_only_when_its_group_has_others() -> None:
    # Given a group of one and a group of two
    groups = GroupStore("recoveries", FakeDynamoDB())
    alone, together = paused(1), paused(2)
    alone.group_id, together.group_id = "grp-alone", "grp-together"
    add(groups, "grp-alone", [alone], START)
    add(groups, "grp-together", [together, paused(3)], START)

    # When asked whether each one's message is a group message
    shared = (groups.shares_message(alone), groups.shares_message(together))

    # Then only the second is
    assert shared == (False, True)
