"""Distinct failures fold sooner: past a few new messages per channel and window, the collector
gathers further distinct failures into one burst message, posted once, whatever the burst.

Over ``FakeDynamoDB`` and ``FakeChat`` (which can die around a post or be down), with the clock in
the test's hands and each collector a process of its own."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from recovery_ops.service.recovery.access.routing_rules import RoutingRulesSource
from recovery_ops.service.recovery.intake.collect import IntakeReport, RecoveryIntake
from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting, MessageMark
from recovery_ops.service.recovery.storage.groups import (
    NEW_MESSAGES_BEFORE_FOLDING,
    GroupStore,
    burst_id_for,
)
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryStore
from tests.support.fakes import ChatMessage, FakeChat, FakeDynamoDB, ProcessCrashed

TABLE = "recoveries"
START = datetime.fromisoformat("2026-12-01T10:00:00.000+00:00")  # on a window boundary
LEASE = 60
WINDOW = 600
CHANNEL = "C-TECH"
FOLD_AFTER = NEW_MESSAGES_BEFORE_FOLDING


class Clock:
    def __init__(self, at: datetime) -> None:
        self.now = at

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def failure(error: int, run: int = 0) -> tuple[RecoveryRequest, int]:
    """A paused execution (``run``) of the distinct failure ``error`` (its own error name)."""
    name = f"run-{error}-{run}"
    return (
        RecoveryRequest(
            task_token=f"token-{name}",
            execution_arn=f"arn:aws:states:eu-west-1:123456789012:execution:orders:{name}",
            execution_name=name,
            state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:orders",
            failed_state="Check availability",
            error=f"VendorError{error}",
        ),
        1,
    )


class Desk:
    """Collectors sharing one table and one chat tool."""

    def __init__(self) -> None:
        self.clock = Clock(START)
        self.dynamodb = FakeDynamoDB()
        self.chat = FakeChat(self.clock)
        self.store = RecoveryStore(TABLE, self.dynamodb)
        self.groups = GroupStore(TABLE, self.dynamodb)

    def collector(self, name: str) -> RecoveryIntake:
        return RecoveryIntake(
            store=RecoveryStore(TABLE, self.dynamodb),
            groups=GroupStore(TABLE, self.dynamodb),
            notifier=self.chat,
            routes=RoutingRulesSource(
                load=lambda: None, fallback=ChannelRouting(default="C-DEFAULT", technical=CHANNEL)
            ),
            group_window_seconds=WINDOW,
            clock=self.clock,
            claimant=name,
            posting_lease_seconds=LEASE,
        )

    def deliver(self, name: str, *failures: tuple[RecoveryRequest, int]) -> IntakeReport:
        return self.collector(name).receive(list(failures))

    def distinct(self, name: str, errors: range) -> IntakeReport:
        return self.deliver(name, *(failure(e) for e in errors))

    def recovery(self, error: int, run: int = 0) -> Recovery:
        return self.store.get(failure(error, run)[0].recovery_id)

    @property
    def burst_id(self) -> str:
        return burst_id_for(CHANNEL, WINDOW, START)

    def top_level(self) -> list[ChatMessage]:
        return [m for m in self.chat.messages if m.thread_ts is None]

    def bursts(self) -> list[ChatMessage]:
        return self.chat.marked(MessageMark.group(self.burst_id))


def test_the_first_few_distinct_failures_get_messages_of_their_own_and_the_next_folds() -> None:
    # Given a channel that had as many distinct failures as it shows one by one
    desk = Desk()
    desk.distinct("collector-a", range(FOLD_AFTER))
    assert [m.what for m in desk.top_level()] == ["recovery"] * FOLD_AFTER

    # When one more distinct failure comes
    report = desk.distinct("collector-a", range(FOLD_AFTER, FOLD_AFTER + 1))

    # Then it is posted as the channel's burst message, and recorded on it under the burst's id
    (burst,) = desk.bursts()
    assert len(desk.top_level()) == FOLD_AFTER + 1 and burst.what == "burst"
    folded = desk.recovery(FOLD_AFTER)
    assert report.posted == [folded.recovery_id]
    assert (folded.slack_channel, folded.slack_ts, folded.group_id) == (CHANNEL, burst.ts, desk.burst_id)
    assert burst.burst is not None and (burst.burst.count, burst.burst.failures) == (1, 1)


def test_forty_distinct_failures_post_at_most_one_more_message_than_the_threshold() -> None:
    # Given forty distinct failures in one channel, in batches of ten
    desk = Desk()

    # When the collector takes them in
    reports = [desk.distinct("collector-a", range(start, start + 10)) for start in range(0, 40, 10)]

    # Then the channel got the threshold's messages and one burst message showing the other 37
    assert len(desk.top_level()) == FOLD_AFTER + 1
    (burst,) = desk.bursts()
    assert burst.burst is not None and (burst.burst.count, burst.burst.failures) == (37, 37)
    assert len(burst.burst.top) == 5 and len(burst.burst.latest) == 5
    # one chat call per batch for the burst: three updates after its post
    assert burst.updates == 3
    # every recovery is posted, and the folded ones are listed by the burst's id
    assert sum(len(r.posted) for r in reports) == 40 and all(not r.retry for r in reports)
    listed = desk.store.list_by_status(RecoveryStatus.OPEN, ListFilter(group_id=desk.burst_id), limit=100)
    assert len(listed) == 37 and {r.slack_ts for r in listed} == {burst.ts}


def test_the_count_of_new_messages_is_shared_by_two_collectors() -> None:
    # Given two collectors that each took in two distinct failures of the same channel
    desk = Desk()
    desk.distinct("collector-a", range(0, 2))
    desk.distinct("collector-b", range(2, 4))

    # When each takes in one more
    desk.distinct("collector-a", range(4, 5))
    desk.distinct("collector-b", range(5, 6))

    # Then the channel had the threshold's messages in all, and one burst message for the rest
    assert len(desk.top_level()) == FOLD_AFTER + 1
    (burst,) = desk.bursts()
    assert burst.burst is not None and burst.burst.count == 6 - FOLD_AFTER
    assert {desk.recovery(e).slack_ts for e in range(FOLD_AFTER, 6)} == {burst.ts}


def test_a_failure_like_an_earlier_one_still_joins_its_group_message() -> None:
    # Given a channel past its threshold, whose first failure has a message of its own
    desk = Desk()
    desk.distinct("collector-a", range(FOLD_AFTER + 2))
    first = desk.recovery(0)

    # When more executions fail the same way as the first, and as a folded one
    desk.deliver("collector-a", failure(0, run=1), failure(0, run=2), failure(FOLD_AFTER, run=1))

    # Then the first's message became their group message; the folded one's kin updated the burst
    assert {desk.recovery(0, run).slack_ts for run in (1, 2)} == {first.slack_ts}
    own = next(m for m in desk.top_level() if m.ts == first.slack_ts)
    assert (own.what, own.updates) == ("group", 1)
    (burst,) = desk.bursts()
    assert desk.recovery(FOLD_AFTER, run=1).slack_ts == burst.ts
    assert burst.burst is not None and burst.burst.count == 3
    assert burst.burst.top[0].error == f"VendorError{FOLD_AFTER}" and burst.burst.top[0].count == 2
    assert len(desk.top_level()) == FOLD_AFTER + 1


def test_a_burst_message_is_shared_even_with_one_recovery() -> None:
    # Given a burst message holding one recovery
    desk = Desk()
    desk.distinct("collector-a", range(FOLD_AFTER + 1))

    # When its outcome is to be shown
    shared = desk.groups.shares_message(desk.recovery(FOLD_AFTER))

    # Then it goes to the burst message's thread (the message is never that recovery's own)
    assert shared and not desk.groups.shares_message(desk.recovery(0))


def test_a_collector_that_died_before_posting_the_burst_message_is_taken_over_and_it_is_posted_once() -> None:
    # Given a channel past its threshold, and a collector that dies about to post the burst message
    desk = Desk()
    desk.distinct("collector-a", range(FOLD_AFTER))
    desk.chat.crash_before_post = True
    with pytest.raises(ProcessCrashed):
        desk.distinct("collector-a", range(FOLD_AFTER, FOLD_AFTER + 1))

    # When the record comes again within the lease, and once more after it
    within = desk.distinct("collector-b", range(FOLD_AFTER, FOLD_AFTER + 1))
    desk.clock.advance(seconds=LEASE + 1)
    after = desk.distinct("collector-c", range(FOLD_AFTER, FOLD_AFTER + 1))

    # Then the first waits for the claim; the second looks in the channel, finds nothing and posts
    # the burst message once; still no new message of its own
    assert within.posted == [] and list(within.retry) == [desk.recovery(FOLD_AFTER).recovery_id]
    assert after.posted == [desk.recovery(FOLD_AFTER).recovery_id]
    assert [(channel, mark) for channel, _, mark, _ in desk.chat.searches] == [
        (CHANNEL, MessageMark.group(desk.burst_id))
    ]
    (burst,) = desk.bursts()
    assert len(desk.top_level()) == FOLD_AFTER + 1 and desk.recovery(FOLD_AFTER).slack_ts == burst.ts


def test_a_burst_message_posted_by_a_collector_that_died_is_found_by_the_redelivery() -> None:
    # Given a collector that posted the burst message and died before recording it
    desk = Desk()
    desk.distinct("collector-a", range(FOLD_AFTER))
    desk.chat.crash_after_post = True
    with pytest.raises(ProcessCrashed):
        desk.distinct("collector-a", range(FOLD_AFTER, FOLD_AFTER + 1))

    # When SQS delivers it again after the lease, in the next window, with another distinct failure
    desk.clock.advance(seconds=WINDOW)
    report = desk.deliver("collector-b", failure(FOLD_AFTER))

    # Then the burst message in the channel is recorded (and brought up to date), none posted again
    (burst,) = desk.bursts()
    assert report.found == [desk.burst_id] and burst.updates == 1
    assert len(desk.top_level()) == FOLD_AFTER + 1
    folded = desk.recovery(FOLD_AFTER)
    assert (folded.slack_ts, folded.group_id) == (burst.ts, desk.burst_id)
    stored = desk.groups.get(desk.burst_id)
    assert stored is not None and stored.ts == burst.ts and stored.burst


def test_slack_down_leaves_the_folded_recoveries_stored_for_the_next_delivery() -> None:
    # Given a channel past its threshold and Slack down
    desk = Desk()
    desk.distinct("collector-a", range(FOLD_AFTER))
    desk.chat.down = True

    # When two more distinct failures come, and come again once Slack answers
    failed = desk.distinct("collector-a", range(FOLD_AFTER, FOLD_AFTER + 2))
    desk.chat.down = False
    again = desk.distinct("collector-b", range(FOLD_AFTER, FOLD_AFTER + 2))

    # Then nothing was lost: the first delivery is retried (stored, not posted); the second posts
    # one burst message, after looking for one in the channel
    folded = [desk.recovery(e).recovery_id for e in (FOLD_AFTER, FOLD_AFTER + 1)]
    assert failed.posted == [] and sorted(failed.retry) == sorted(folded)
    assert failed.stored == folded
    assert sorted(again.posted) == sorted(folded) and len(desk.chat.searches) == 1
    (burst,) = desk.bursts()
    assert burst.burst is not None and burst.burst.count == 2
    assert len(desk.top_level()) == FOLD_AFTER + 1


def test_the_burst_shows_its_largest_failures_first() -> None:
    # Given a channel past its threshold, then folded failures of different sizes
    desk = Desk()
    desk.distinct("collector-a", range(FOLD_AFTER))
    small, large = FOLD_AFTER, FOLD_AFTER + 1

    # When one folded failure has one recovery and another three
    desk.deliver("collector-a", failure(small), *(failure(large, run) for run in range(3)))

    # Then the burst breaks them down, largest first
    (burst,) = desk.bursts()
    assert burst.burst is not None
    assert [(f.error, f.count) for f in burst.burst.top] == [
        (f"VendorError{large}", 3),
        (f"VendorError{small}", 1),
    ]
    assert burst.burst.count == 4 and burst.burst.failures == 2


def test_each_window_counts_afresh() -> None:
    # Given a channel past its threshold in one window
    desk = Desk()
    desk.distinct("collector-a", range(FOLD_AFTER + 1))

    # When new distinct failures come in the next window
    desk.clock.advance(seconds=WINDOW)
    desk.distinct("collector-a", range(100, 100 + FOLD_AFTER))

    # Then they get messages of their own again
    assert [m.what for m in desk.top_level()].count("recovery") == 2 * FOLD_AFTER


def test_a_group_claimed_before_placements_existed_keeps_its_own_message() -> None:
    # Given a group whose message a collector claimed before groups were placed
    desk = Desk()
    group = "grp-" + "0" * 32
    desk.groups.claim_posting(group, "collector-old", CHANNEL, START, timedelta(seconds=LEASE))

    # When a collector would fold it
    placed = desk.groups.place(group, desk.burst_id)

    # Then it keeps its own message (it may be in the channel already), and says so every time
    assert placed == "own" and desk.groups.place(group, desk.burst_id) == "own"


def test_the_first_placement_of_a_group_wins() -> None:
    # Given a group placed in its own message
    desk = Desk()
    group = "grp-" + "1" * 32
    desk.groups.place(group, "own")

    # When another collector, counting later, would fold it
    placed = desk.groups.place(group, desk.burst_id)

    # Then the first placement stands
    assert placed == "own"
