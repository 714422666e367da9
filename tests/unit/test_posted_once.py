"""Posted once: a process that dies between posting a Slack message and recording it never leaves
two live messages, and a claim on posting is never held by a dead process longer than its lease.

The collector's group message and the escalation ladder's levels, over ``FakeDynamoDB`` and a chat
tool that can die around a post (``FakeChat``), with the clock in the test's hands."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from recovery_ops.service.recovery.access.routing_rules import RoutingRulesSource, parse_rules
from recovery_ops.service.recovery.intake.collect import IntakeReport, RecoveryIntake
from recovery_ops.service.recovery.lifecycle.escalation import EscalationReport, Escalations, FiredLevel
from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting, MessageMark
from recovery_ops.service.recovery.storage.groups import GroupStore, group_id_for
from recovery_ops.service.recovery.storage.items import ESCALATION_POSTS, key
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeChat, FakeDynamoDB, LostAnswers, ProcessCrashed
from tests.unit.slack.builders import a_recovery

TABLE = "recoveries"
START = datetime.fromisoformat("2026-12-01T10:00:00.000+00:00")
LEASE = 60
WINDOW = 3600
ROUTING = ChannelRouting(default="C-DEFAULT", technical="C-TECH")


class Clock:
    """The time every part of a test reads; the test moves it."""

    def __init__(self, at: datetime) -> None:
        self.now = at

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def a_request(n: int = 1) -> tuple[RecoveryRequest, int]:
    return (
        RecoveryRequest(
            task_token=f"token-{n}",
            execution_arn=f"arn:aws:states:eu-west-1:123456789012:execution:orders:run-{n}",
            execution_name=f"run-{n}",
            state_machine_arn="arn:aws:states:eu-west-1:123456789012:stateMachine:orders",
            failed_state="Check availability",
            error="VendorUnavailable",
        ),
        1,
    )


class Collectors:
    """Collectors sharing one table and one chat tool, each a process of its own (its own claimant)."""

    def __init__(self) -> None:
        self.clock = Clock(START)
        self.dynamodb = FakeDynamoDB()
        self.chat = FakeChat(self.clock)
        self.store = RecoveryStore(TABLE, self.dynamodb)

    def collector(self, name: str, dynamodb: object = None) -> RecoveryIntake:
        table = dynamodb or self.dynamodb
        return RecoveryIntake(
            store=RecoveryStore(TABLE, table),
            groups=GroupStore(TABLE, table),
            notifier=self.chat,
            routes=RoutingRulesSource(load=lambda: None, fallback=ROUTING),
            group_window_seconds=WINDOW,
            clock=self.clock,
            claimant=name,
            posting_lease_seconds=LEASE,
        )

    def deliver(self, name: str, *numbers: int) -> IntakeReport:
        return self.collector(name).receive([a_request(n) for n in numbers or (1,)])

    def crash(self, name: str, *numbers: int) -> None:
        with pytest.raises(ProcessCrashed):
            self.deliver(name, *numbers)

    @property
    def group_id(self) -> str:
        recovery = Recovery.from_request(a_request(1)[0], START)
        return group_id_for(recovery, WINDOW, START)

    def group_messages(self) -> list:
        return self.chat.marked(MessageMark.group(self.group_id))

    def recovery(self, n: int = 1) -> Recovery:
        return self.store.get(a_request(n)[0].recovery_id)


# ---------------------------------------------------------------------- the collector
def test_the_first_claim_posts_at_once_without_reading_history() -> None:
    # Given a new recovery
    desk = Collectors()

    # When a collector takes it in
    report = desk.deliver("collector-a")

    # Then it posted one marked message and recorded it, and read no history
    (message,) = desk.group_messages()
    assert report.posted == [desk.recovery().recovery_id] and desk.chat.searches == []
    assert (desk.recovery().slack_channel, desk.recovery().slack_ts) == ("C-TECH", message.ts)


def test_a_collector_that_died_after_claiming_is_taken_over_once_its_lease_ends_and_posts_once() -> None:
    # Given a collector that claimed the group's message and died before posting it
    desk = Collectors()
    desk.chat.crash_before_post = True
    desk.crash("collector-a")

    # When the message is delivered again within the lease, and once more after it
    within = desk.deliver("collector-b")
    desk.clock.advance(seconds=LEASE + 1)
    after = desk.deliver("collector-c")

    # Then the first redelivery waits; the second looks in the channel since the claim, finds
    # nothing, and posts the one message, which the recovery points to
    assert within.posted == [] and list(within.retry.values()) == [
        "another collector is posting this group's message"
    ]
    assert after.posted == [desk.recovery().recovery_id] and after.retry == {}
    assert [(channel, since) for channel, since, _, _ in desk.chat.searches] == [
        ("C-TECH", START - timedelta(seconds=60))
    ]
    (message,) = desk.group_messages()
    assert desk.recovery().slack_ts == message.ts


def test_a_collector_that_died_after_posting_leaves_one_message_found_by_the_next_delivery() -> None:
    # Given a collector that posted the group's message and died before recording it
    desk = Collectors()
    desk.chat.crash_after_post = True
    desk.crash("collector-a")
    (posted,) = desk.group_messages()

    # When the message is delivered again after the lease
    desk.clock.advance(minutes=3)
    report = desk.deliver("collector-b")

    # Then nothing more is posted: the message in the channel is recorded as the group's
    assert desk.group_messages() == [posted]
    assert report.found == [desk.group_id] and report.posted == [desk.recovery().recovery_id]
    assert (desk.recovery().slack_channel, desk.recovery().slack_ts) == (posted.channel, posted.ts)
    group = GroupStore(TABLE, desk.dynamodb).get(desk.group_id)
    assert group is not None and group.ts == posted.ts


def test_a_message_found_after_the_group_grew_is_updated_to_show_the_whole_group() -> None:
    # Given a collector that posted a lone recovery's message and died before recording it
    desk = Collectors()
    desk.chat.crash_after_post = True
    desk.crash("collector-a", 1)

    # When that recovery comes again with two more of its kind, after the lease
    desk.clock.advance(minutes=3)
    report = desk.deliver("collector-b", 1, 2, 3)

    # Then the one message is found and turned into the group's message, none posted
    (message,) = desk.group_messages()
    assert report.found == [desk.group_id] and len(report.posted) == 3
    assert (message.what, message.updates) == ("group", 1)
    assert {desk.recovery(n).slack_ts for n in (1, 2, 3)} == {message.ts}


def test_a_message_delivered_again_in_the_next_window_finds_the_one_its_first_delivery_posted() -> None:
    # Given a collector that posted the group's message just before the group's window ended, and
    # died before recording it
    desk = Collectors()
    desk.clock.advance(seconds=WINDOW - 10)
    desk.chat.crash_after_post = True
    desk.crash("collector-a")
    (posted,) = desk.chat.messages

    # When SQS delivers the message again, past the lease: in the next window
    desk.clock.advance(seconds=LEASE + 1)
    report = desk.deliver("collector-b")

    # Then it is still its first delivery's group: the message posted then is found and recorded,
    # and no second one is posted
    assert desk.chat.messages == [posted]
    assert report.found == [desk.group_id] and report.posted == [desk.recovery().recovery_id]
    assert (desk.recovery().slack_ts, desk.recovery().group_id) == (posted.ts, desk.group_id)


def test_history_that_cannot_be_read_posts_nothing_and_the_delivery_is_tried_again() -> None:
    # Given a collector that posted the group's message and died before recording it
    desk = Collectors()
    desk.chat.crash_after_post = True
    desk.crash("collector-a")

    # When the next delivery, after the lease, cannot read the channel's history
    desk.clock.advance(minutes=3)
    desk.chat.history_down = True
    unread = desk.deliver("collector-b")

    # Then it posts nothing, records nothing and asks for the record again
    assert len(desk.group_messages()) == 1 and desk.recovery().slack_ts is None
    assert unread.posted == [] and list(unread.retry.values())[0].startswith("chat unavailable")

    # When the delivery after it can read the history (at once: the claim was given back)
    desk.chat.history_down = False
    again = desk.deliver("collector-c")

    # Then the one message is found and recorded
    (message,) = desk.group_messages()
    assert again.found == [desk.group_id] and desk.recovery().slack_ts == message.ts


def test_after_a_post_that_failed_the_next_delivery_looks_before_posting() -> None:
    # Given Slack failing the first post (a failure that may have reached Slack all the same)
    desk = Collectors()
    desk.chat.down = True
    failed = desk.deliver("collector-a")

    # When Slack answers again and the record comes back
    desk.chat.down = False
    desk.clock.advance(seconds=5)
    posted = desk.deliver("collector-b")

    # Then it was looked for since the first claim, and posted once
    assert failed.posted == [] and posted.posted == [desk.recovery().recovery_id]
    assert [since for _, since, _, _ in desk.chat.searches] == [START - timedelta(seconds=60)]
    assert len(desk.group_messages()) == 1


def test_a_claim_whose_answer_was_lost_is_held_and_posts_once() -> None:
    # Given a collector whose claim is written but whose answer is lost
    desk = Collectors()
    collector = desk.collector("collector-a", dynamodb=LostAnswers(desk.dynamodb, of="posting_by"))

    # When it takes the recovery in, and another collector gets the record again
    report = collector.receive([a_request(1)])
    desk.clock.advance(seconds=LEASE + 1)
    later = desk.deliver("collector-b")

    # Then the table names it: it holds the claim, posts once (no history needed: its own claim)
    assert report.posted == [desk.recovery().recovery_id] and desk.chat.searches == []
    assert later.posted == [] and len(desk.group_messages()) == 1


# ---------------------------------------------------------------------- the escalation ladder
LEADS, ONCALL = "S0LEADS", "S0ONCALL"
RULES = parse_rules(
    json.dumps(
        {
            "rules": [
                {
                    "name": "orders",
                    "match": {"state_machine": "orders"},
                    "channel": "C-ORDERS",
                    "escalation": [
                        {"after_minutes": 30, "mention_user_group": LEADS},
                        {"after_minutes": 120, "mention_user_group": ONCALL, "channel": "C-INCIDENT"},
                    ],
                }
            ]
        }
    ),
    ChannelRouting(default="C-DEFAULT"),
)
RECOVERY = a_recovery()  # opened at START, posted below in C-ORDERS
THREAD = "1796112000.000100"


class Ladder:
    """Reminders runs over one table and one chat tool, each run a process of its own."""

    def __init__(self, status: RecoveryStatus = RecoveryStatus.OPEN) -> None:
        self.clock = Clock(START)
        self.dynamodb = FakeDynamoDB()
        self.chat = FakeChat(self.clock)
        self.store = RecoveryStore(TABLE, self.dynamodb)
        self.store.create_if_absent(RECOVERY)
        self.store.mark_posted(RECOVERY.recovery_id, "C-ORDERS", THREAD)
        if status is not RecoveryStatus.OPEN:
            self.store.transition(
                RECOVERY.recovery_id,
                RecoveryStatus.OPEN,
                status,
                AuditEntry("x", "U1", "run again", str(status)),
            )
        self.logged: list[str] = []
        self.runs = 0

    def run(self, at_minutes: float, dynamodb: object = None) -> EscalationReport:
        self.clock.now = START + timedelta(minutes=at_minutes)
        self.runs += 1
        return Escalations(
            store=self.store,
            dynamodb=dynamodb or self.dynamodb,
            rules=lambda: RULES,
            poster=self.chat,
            clock=self.clock,
            log=lambda message, **_: self.logged.append(message),
            lease_seconds=LEASE,
            claimant=f"run-{self.runs}",
        ).run()

    def crash(self, at_minutes: float) -> None:
        with pytest.raises(ProcessCrashed):
            self.run(at_minutes)

    def level_messages(self, level: int) -> list:
        return self.chat.marked(MessageMark.escalation(RECOVERY.recovery_id, level))

    def recovery(self) -> Recovery:
        return self.store.get(RECOVERY.recovery_id)

    def trail(self) -> list[str]:
        return [e.result for e in self.recovery().audit if e.actor == "escalation"]

    def posts(self) -> list[dict]:
        item = self.dynamodb.items(TABLE)[key(RECOVERY.recovery_id)["recovery_id"]["S"]]
        return [
            {name: next(iter(value.values())) for name, value in post["M"].items()}
            for post in item.get(ESCALATION_POSTS, {}).get("L", [])
        ]


def test_a_level_posted_in_the_normal_way_is_recorded_with_its_message() -> None:
    # Given a recovery past its first level
    ladder = Ladder()

    # When the ladder runs
    report = ladder.run(31)

    # Then level 1 is posted once in the recovery's thread, marked, and its ts recorded
    (message,) = ladder.level_messages(1)
    assert report.fired == [FiredLevel(RECOVERY.recovery_id, 1)] and ladder.chat.searches == []
    assert (message.channel, message.thread_ts) == ("C-ORDERS", THREAD)
    assert ladder.posts() == [{"level": "1", "channel": "C-ORDERS", "ts": message.ts}]
    assert ladder.trail() == ["LEVEL 1"]


def test_a_level_claimed_by_a_run_that_died_before_posting_is_posted_once_by_a_later_run() -> None:
    # Given a run that claimed level 1 and died before posting it
    ladder = Ladder()
    ladder.chat.crash_before_post = True
    ladder.crash(31)

    # When another run comes while the claim's lease runs, and one after it ran out
    within = ladder.run(31.5)
    posted_within = ladder.level_messages(1)
    after = ladder.run(46)

    # Then the first leaves it alone; the second looks in the thread, finds nothing, posts it once
    assert within == EscalationReport() and posted_within == []
    assert after.fired == [FiredLevel(RECOVERY.recovery_id, 1)]
    (message,) = ladder.level_messages(1)
    assert ladder.chat.searches[0][3] == THREAD  # the thread's replies: they are not in the channel's history
    assert ladder.trail() == ["LEVEL 1", "LEVEL 1 POSTED LATE"]
    assert ladder.posts() == [{"level": "1", "channel": "C-ORDERS", "ts": message.ts}]

    # When the ladder runs again before level 2 is due
    assert ladder.run(61) == EscalationReport()
    # Then nothing more was posted
    assert len(ladder.level_messages(1)) == 1 and ladder.recovery().escalated == 1


def test_a_level_posted_by_a_run_that_died_before_recording_it_is_found_and_not_posted_again() -> None:
    # Given a run that posted level 1 and died before recording it
    ladder = Ladder()
    ladder.chat.crash_after_post = True
    ladder.crash(31)
    (posted,) = ladder.level_messages(1)

    # When the next run comes after the claim's lease
    report = ladder.run(46)

    # Then it finds the message in the thread and records it: one message
    assert ladder.level_messages(1) == [posted]
    assert report.found == [FiredLevel(RECOVERY.recovery_id, 1)] and report.fired == []
    assert ladder.trail() == ["LEVEL 1", "LEVEL 1 FOUND POSTED"]
    assert ladder.posts() == [{"level": "1", "channel": "C-ORDERS", "ts": posted.ts}]


def test_the_levels_above_an_unsettled_level_wait_for_it() -> None:
    # Given a run that claimed level 1 with both levels due, and died before posting
    ladder = Ladder()
    ladder.chat.crash_before_post = True
    ladder.crash(125)

    # When a run comes within the lease, then one after it
    within = ladder.run(125.5)
    after = ladder.run(140)

    # Then level 2 waited for level 1, and then both were posted once, in order
    assert within == EscalationReport()
    assert after.fired == [FiredLevel(RECOVERY.recovery_id, 1), FiredLevel(RECOVERY.recovery_id, 2)]
    assert [len(ladder.level_messages(n)) for n in (1, 2)] == [1, 1]
    assert ladder.level_messages(2)[0].channel == "C-INCIDENT"


def test_a_level_whose_history_cannot_be_read_is_not_posted_and_is_settled_by_the_next_run() -> None:
    # Given a run that posted level 1 and died before recording it
    ladder = Ladder()
    ladder.chat.crash_after_post = True
    ladder.crash(31)

    # When the next run cannot read the thread, and the run after it can
    ladder.chat.history_down = True
    unread = ladder.run(46)
    ladder.chat.history_down = False
    settled = ladder.run(61)

    # Then the first posted nothing and gave the level back; the second found the one message
    assert unread.given_back == [FiredLevel(RECOVERY.recovery_id, 1)] and unread.fired == []
    assert settled.found == [FiredLevel(RECOVERY.recovery_id, 1)] and settled.fired == []
    assert len(ladder.level_messages(1)) == 1
    assert ladder.trail() == ["LEVEL 1", "LEVEL 1 NOT POSTED", "LEVEL 1", "LEVEL 1 FOUND POSTED"]
    assert ladder.recovery().escalated == 1


def test_a_claim_whose_answer_was_lost_posts_its_level_once() -> None:
    # Given a table that applies the level's claim but loses its answer
    ladder = Ladder()
    losing = LostAnswers(ladder.dynamodb, of="escalating_level")

    # When the run claims and goes on, and later runs come
    first = ladder.run(31, dynamodb=losing)
    later = [ladder.run(46), ladder.run(61)]

    # Then the claim was read back as this run's: posted once, by it, and recorded
    assert first.fired == [FiredLevel(RECOVERY.recovery_id, 1)]
    assert later == [EscalationReport(), EscalationReport()]
    assert len(ladder.level_messages(1)) == 1 and ladder.trail() == ["LEVEL 1"]
    assert len(ladder.posts()) == 1


def test_a_claim_the_sdk_retried_after_its_answer_was_lost_is_held_and_posts_once() -> None:
    # Given a table that applies the level's claim, loses its answer, and fails the SDK's retry of
    # it on its condition (the level is claimed: by this very write)
    ladder = Ladder()
    retried = LostAnswers(ladder.dynamodb, of="escalating_level", error="ConditionalCheckFailedException")

    # When the run claims, and a later run comes
    first = ladder.run(31, dynamodb=retried)
    later = ladder.run(46)

    # Then the item names the run: it held the level and posted it once
    assert first.fired == [FiredLevel(RECOVERY.recovery_id, 1)] and later == EscalationReport()
    assert len(ladder.level_messages(1)) == 1 and ladder.trail() == ["LEVEL 1"]


def test_a_claim_retried_after_its_answer_was_lost_does_not_post_twice() -> None:
    # Given a run whose claim was applied, whose answer was lost, and which then died
    ladder = Ladder()
    ladder.chat.crash_before_post = True
    with pytest.raises(ProcessCrashed):
        ladder.run(31, dynamodb=LostAnswers(ladder.dynamodb, of="escalating_level"))

    # When runs come again, the same minute (the run retried) and after the lease
    again = ladder.run(31)
    after = ladder.run(46)

    # Then the retry found the level claimed and left it; the later run posted it once
    assert again == EscalationReport()
    assert after.fired == [FiredLevel(RECOVERY.recovery_id, 1)]
    assert len(ladder.level_messages(1)) == 1


def test_a_recovery_resuming_with_nobody_owning_it_escalates() -> None:
    # Given a recovery someone clicked, still resuming, that nobody took
    ladder = Ladder(RecoveryStatus.RESUMING)

    # When its first level is due
    report = ladder.run(31)

    # Then it escalates as an open one would
    assert report.fired == [FiredLevel(RECOVERY.recovery_id, 1)] and len(ladder.level_messages(1)) == 1
