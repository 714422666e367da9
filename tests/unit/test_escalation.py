"""The escalation ladder over plain fakes: which level is due, that each fires once, what stops it
(an owner, a closed recovery), a changed rule, and a post that fails giving its level back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from recovery_ops.service.recovery.access.routing_rules import RoutingRules, parse_rules
from recovery_ops.service.recovery.lifecycle.escalation import Escalation, Escalations, FiredLevel
from recovery_ops.service.recovery.lifecycle.ownership import Owners
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import (
    ChannelRouting,
    MessageMark,
    MessageRef,
    NotifierUnavailableError,
)
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB
from tests.unit.slack.builders import a_recovery

TABLE = "recoveries"
OPENED = datetime.fromisoformat("2026-12-01T10:00:00.000+00:00")  # a_recovery's created_at
LEADS, ONCALL = "S0LEADS", "S0ONCALL"


def minutes(count: int) -> datetime:
    return OPENED + timedelta(minutes=count)


def ladder_rules(*levels: dict[str, Any], name: str = "orders", **match: str) -> RoutingRules:
    document = {
        "rules": [
            {
                "name": name,
                "match": match or {"state_machine": "orders"},
                "channel": "C-ORDERS",
                "escalation": list(levels),
            }
        ]
    }
    return parse_rules(json.dumps(document), ChannelRouting(default="C-DEFAULT"))


TWO_LEVELS = ladder_rules(
    {"after_minutes": 30, "mention_user_group": LEADS},
    {"after_minutes": 120, "mention_user_group": ONCALL, "channel": "C-INCIDENT"},
)


@dataclass
class RecordingPoster:
    """Records each escalation posted; ``failures`` posts fail first (the chat tool is down).
    ``find_posted`` finds what was posted here, by its mark."""

    failures: int = 0
    posted: list[Escalation] = field(default_factory=list)
    attempts: int = 0
    searches: int = 0

    def post_escalation(self, escalation: Escalation) -> MessageRef:
        self.attempts += 1
        if self.failures:
            self.failures -= 1
            raise NotifierUnavailableError("chat.postMessage: 503")
        self.posted.append(escalation)
        return MessageRef(escalation.channel, f"{len(self.posted)}.000000")

    def find_posted(
        self, channel: str, since: datetime, mark: MessageMark, thread_ts: str | None = None
    ) -> MessageRef | None:
        self.searches += 1
        return next(
            (MessageRef(p.channel, f"{n}.000000") for n, p in enumerate(self.posted, 1) if p.mark == mark),
            None,
        )


@dataclass
class Rig:
    """The escalations over fakes: a table, its store, a recording poster and the rules in force."""

    dynamodb: FakeDynamoDB
    store: RecoveryStore
    poster: RecordingPoster
    rules: RoutingRules
    logged: list[tuple[str, dict]] = field(default_factory=list)

    def run_at(self, moment: datetime, store: Any = None) -> list[FiredLevel]:
        return (
            Escalations(
                store=store or self.store,
                dynamodb=self.dynamodb,
                rules=lambda: self.rules,
                poster=self.poster,
                clock=lambda: moment,
                log=lambda message, **keys: self.logged.append((message, keys)),
            )
            .run()
            .fired
        )

    def recovery(self, recovery_id: str) -> Recovery:
        return self.store.get(recovery_id)


def a_rig(*recoveries: Recovery, rules: RoutingRules = TWO_LEVELS, failures: int = 0) -> Rig:
    dynamodb = FakeDynamoDB()
    store = RecoveryStore(TABLE, dynamodb)
    for recovery in recoveries or (a_recovery(),):
        store.create_if_absent(recovery)
        store.mark_posted(recovery.recovery_id, "C-ORDERS", f"ts-{recovery.execution_name}")
    return Rig(dynamodb, store, RecordingPoster(failures=failures), rules)


def escalations_audited(recovery: Recovery) -> list[AuditEntry]:
    return [entry for entry in recovery.audit if entry.actor == "escalation"]


RECOVERY_ID = a_recovery().recovery_id


# ------------------------------------------------------------------ due or not
def test_nothing_escalates_before_the_first_levels_minutes() -> None:
    # Given a recovery open for 29 minutes under a ladder whose first level is at 30
    rig = a_rig()

    # When the ladder runs
    fired = rig.run_at(minutes(29))

    # Then nothing is posted and nothing is claimed
    assert fired == [] and rig.poster.posted == []
    assert rig.recovery(RECOVERY_ID).escalated == 0


def test_the_first_level_fires_in_the_recovery_messages_thread_once_its_minutes_have_passed() -> None:
    # Given a recovery open for 31 minutes, nobody owning it
    rig = a_rig()

    # When the ladder runs
    fired = rig.run_at(minutes(31))

    # Then level 1 mentions the leads in the recovery message's thread, and the recovery says so
    assert fired == [FiredLevel(RECOVERY_ID, 1)]
    (posted,) = rig.poster.posted
    assert (posted.channel, posted.thread_ts, posted.user_group) == ("C-ORDERS", "ts-order-1", LEADS)
    assert (posted.rule, posted.level, posted.levels, posted.open_for) == (
        "orders",
        1,
        2,
        timedelta(minutes=31),
    )
    recovery = rig.recovery(RECOVERY_ID)
    assert recovery.escalated == 1
    (entry,) = escalations_audited(recovery)
    assert (entry.action, entry.result) == ("escalate", "LEVEL 1")
    assert entry.detail == {"rule": "orders", "user_group": LEADS, "channel": "C-ORDERS", "open_minutes": 31}


def test_each_level_fires_once_however_often_the_ladder_runs() -> None:
    # Given a recovery escalated to level 1
    rig = a_rig()
    rig.run_at(minutes(31))

    # When the ladder runs again before level 2 is due, and twice once it is
    again = rig.run_at(minutes(46))
    at_two_hours = rig.run_at(minutes(121))
    once_more = rig.run_at(minutes(136))

    # Then only level 2 fired, once, as a new message in its own channel
    assert again == [] and once_more == []
    assert at_two_hours == [FiredLevel(RECOVERY_ID, 2)]
    assert [(p.level, p.channel, p.thread_ts) for p in rig.poster.posted] == [
        (1, "C-ORDERS", "ts-order-1"),
        (2, "C-INCIDENT", None),
    ]
    assert rig.recovery(RECOVERY_ID).escalated == 2


def test_overlapping_runs_that_listed_the_same_recovery_fire_its_level_once() -> None:
    # Given a run that listed the recovery before another run escalated it
    rig = a_rig()
    listed_before = rig.store.list_by_status(RecoveryStatus.OPEN)
    rig.run_at(minutes(31))

    # When the slower run goes on with what it listed
    late = rig.run_at(minutes(31), store=StaleListing(rig.store, listed_before))

    # Then its claim fails: the level was posted once
    assert late == [] and len(rig.poster.posted) == 1


def test_levels_overdue_together_fire_in_order_in_the_same_run() -> None:
    # Given a recovery first seen by the ladder after both levels are due
    rig = a_rig()

    # When the ladder runs
    fired = rig.run_at(minutes(125))

    # Then level 1 and level 2 fire, in that order, each audited
    assert fired == [FiredLevel(RECOVERY_ID, 1), FiredLevel(RECOVERY_ID, 2)]
    assert [p.user_group for p in rig.poster.posted] == [LEADS, ONCALL]
    assert [e.result for e in escalations_audited(rig.recovery(RECOVERY_ID))] == ["LEVEL 1", "LEVEL 2"]


def test_a_recovery_not_posted_yet_escalates_in_its_rules_channel() -> None:
    # Given a recovery whose message the collector has not posted
    dynamodb = FakeDynamoDB()
    store = RecoveryStore(TABLE, dynamodb)
    store.create_if_absent(a_recovery())
    rig = Rig(dynamodb, store, RecordingPoster(), TWO_LEVELS)

    # When level 1 is due
    rig.run_at(minutes(31))

    # Then it goes to the rule's channel as a new message
    assert [(p.channel, p.thread_ts) for p in rig.poster.posted] == [("C-ORDERS", None)]


# ------------------------------------------------------------------ what stops it
def test_a_recovery_someone_owns_never_escalates() -> None:
    # Given a recovery someone took
    rig = a_rig()
    Owners(rig.store, rig.dynamodb).take(RECOVERY_ID, "U0ALICE")

    # When both levels are due
    fired = rig.run_at(minutes(125))

    # Then nothing fires
    assert fired == [] and rig.poster.posted == []
    assert escalations_audited(rig.recovery(RECOVERY_ID)) == []


def test_a_recovery_taken_between_the_listing_and_the_claim_does_not_escalate() -> None:
    # Given a run that listed the recovery unowned, then someone took it
    rig = a_rig()
    listed_unowned = rig.store.list_by_status(RecoveryStatus.OPEN)
    Owners(rig.store, rig.dynamodb).take(RECOVERY_ID, "U0ALICE")

    # When the run goes on
    fired = rig.run_at(minutes(31), store=StaleListing(rig.store, listed_unowned))

    # Then the claim's condition stops it
    assert fired == [] and rig.poster.posted == []
    assert rig.recovery(RECOVERY_ID).escalated == 0


def test_a_closed_recovery_never_escalates() -> None:
    # Given a recovery someone rejected, listed open just before by a run
    rig = a_rig()
    listed_open = rig.store.list_by_status(RecoveryStatus.OPEN)
    rig.store.transition(
        RECOVERY_ID,
        RecoveryStatus.OPEN,
        RecoveryStatus.REJECTED,
        AuditEntry("2026-12-01T10:10:00+00:00", "U0ALICE", "reject", "REJECTED"),
    )

    # When the ladder runs, fresh and with the stale listing
    fresh = rig.run_at(minutes(31))
    stale = rig.run_at(minutes(31), store=StaleListing(rig.store, listed_open))

    # Then nothing fires
    assert fresh == [] and stale == [] and rig.poster.posted == []


def test_recoveries_no_rule_escalates_and_rules_without_ladders_read_nothing() -> None:
    # Given rules without a ladder
    rig = a_rig(
        rules=parse_rules(
            json.dumps({"rules": [{"name": "all", "channel": "C-ALL"}]}), ChannelRouting(default="C-DEFAULT")
        )
    )
    queried = CountingQueries(rig.dynamodb)

    # When the ladder runs long after any level would be due
    fired = rig.run_at(minutes(600), store=RecoveryStore(TABLE, queried))

    # Then it did not even list the open recoveries
    assert fired == [] and queried.queries == 0


def test_a_recovery_of_no_rule_with_a_ladder_does_not_escalate() -> None:
    # Given a ladder on another state machine's rule only
    rig = a_rig(
        rules=ladder_rules({"after_minutes": 30, "mention_user_group": LEADS}, state_machine="payments")
    )

    # When it is due
    fired = rig.run_at(minutes(31))

    # Then the order recovery, routed by the fallback, does not escalate
    assert fired == []


# ------------------------------------------------------------------ a changed rule
def test_the_ladder_of_the_rule_the_recovery_matches_now_applies() -> None:
    # Given a recovery that fired level 1 of a one-level ladder
    rig = a_rig(rules=ladder_rules({"after_minutes": 30, "mention_user_group": LEADS}))
    rig.run_at(minutes(31))
    nothing_left = rig.run_at(minutes(200))

    # When the rules change: another rule matches it now, with a longer ladder
    rig.rules = ladder_rules(
        {"after_minutes": 30, "mention_user_group": "S0PAYLEADS"},
        {"after_minutes": 180, "mention_user_group": "S0PAYONCALL"},
        name="orders-by-state",
        failed_state="Check *",
    )
    fired = rig.run_at(minutes(201))

    # Then its level 2 fires next (level 1 counts as fired), named by the new rule
    assert nothing_left == []
    assert fired == [FiredLevel(RECOVERY_ID, 2)]
    assert (rig.poster.posted[-1].rule, rig.poster.posted[-1].user_group) == (
        "orders-by-state",
        "S0PAYONCALL",
    )


# ------------------------------------------------------------------ the chat tool down
def test_a_post_that_fails_gives_the_level_back_and_the_next_run_posts_it() -> None:
    # Given Slack failing the first post
    rig = a_rig(failures=1)

    # When the ladder runs while Slack is down, and again once it answers
    during_outage = rig.run_at(minutes(31))
    after = rig.recovery(RECOVERY_ID)
    next_run = rig.run_at(minutes(46))

    # Then the level was given back (audited and logged) and posted by the next run, once
    assert during_outage == [] and after.escalated == 0
    assert [e.result for e in escalations_audited(after)] == ["LEVEL 1", "LEVEL 1 NOT POSTED"]
    assert rig.logged[0][0].startswith("escalation not posted: the level is given back")
    assert next_run == [FiredLevel(RECOVERY_ID, 1)]
    assert rig.poster.attempts == 2 and len(rig.poster.posted) == 1
    assert rig.recovery(RECOVERY_ID).escalated == 1


def test_a_failed_post_leaves_the_levels_above_it_for_later() -> None:
    # Given both levels due and Slack failing the first post
    rig = a_rig(failures=1)

    # When the ladder runs
    fired = rig.run_at(minutes(125))

    # Then level 2 was not tried
    assert fired == [] and rig.poster.attempts == 1
    assert rig.recovery(RECOVERY_ID).escalated == 0


def test_several_recoveries_escalate_each_by_its_own_age() -> None:
    # Given one recovery open 40 minutes and one open 10
    old = a_recovery(1)
    young = a_recovery(2, created_at=minutes(30).isoformat(timespec="milliseconds"))
    rig = a_rig(old, young)

    # When the ladder runs
    fired = rig.run_at(minutes(40))

    # Then only the older one escalates
    assert fired == [FiredLevel(old.recovery_id, 1)]


# ------------------------------------------------------------------ stand-ins of this file
class StaleListing:
    """A store whose listing is what an earlier read returned (a run that listed, then was slow)."""

    def __init__(self, store: RecoveryStore, listed: list[Recovery]) -> None:
        self._store = store
        self._listed = [replace(r) for r in listed]

    @property
    def table_name(self) -> str:
        return self._store.table_name

    def list_by_status(self, *args: Any, **kwargs: Any) -> list[Recovery]:
        return self._listed


class CountingQueries:
    """``FakeDynamoDB`` that counts its queries."""

    def __init__(self, dynamodb: FakeDynamoDB) -> None:
        self._dynamodb = dynamodb
        self.queries = 0

    def query(self, **request: Any) -> dict[str, Any]:
        self.queries += 1
        return self._dynamodb.query(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dynamodb, name)
