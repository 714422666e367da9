"""Recoveries in flight (claimed, their outcome not stored) are never out of sight: the query that
lists them, the Home's overview, the reminders and their counts, and `recovery-ops list / show`,
all over the real ``RecoveryStore`` on ``FakeDynamoDB``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from unittest.mock import Mock

import pytest

from recovery_ops.service.cli.operate import _query
from recovery_ops.service.cli.parser import build_parser
from recovery_ops.service.operator import OperationError, Operator
from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.lifecycle.in_flight import IN_FLIGHT, in_flight, longest_first
from recovery_ops.service.recovery.lifecycle.overview import overview_for
from recovery_ops.service.recovery.lifecycle.query import QueryError, RecoveryQuery
from recovery_ops.service.recovery.lifecycle.reminders import Reminder, Reminders
from recovery_ops.service.recovery.model.recovery import AuditEntry, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB
from tests.support.recoveries import claim, opened_recovery

TABLE = "recoveries"
ADMIN = "U0ADMIN"
ALICE = "U0ALICE"
BOB = "U0BOB"
TEAMMATE = "U0TEAM"


@pytest.fixture
def dynamodb() -> FakeDynamoDB:
    return FakeDynamoDB()


@pytest.fixture
def store(dynamodb: FakeDynamoDB) -> RecoveryStore:
    return RecoveryStore(TABLE, dynamodb)


def posted(store: RecoveryStore, n: int) -> str:
    """Open recovery ``n``, with its Slack message; its id."""
    recovery = opened_recovery(store, n)
    store.mark_posted(recovery.recovery_id, "C-RECOVERIES", f"1700000000.{n:06d}")
    return recovery.recovery_id


def admins_only() -> TeamAccess:
    policy = AccessPolicy(allowed_users=frozenset({ADMIN}))
    return TeamAccess(policy, lambda: parse_rules('{"rules": []}', ChannelRouting(default="C-DEFAULT")))


def a_team_for(machine: str) -> TeamAccess:
    rules = {
        "rules": [
            {
                "name": machine,
                "match": {"state_machine": machine},
                "channel": "C-X",
                "team": {"user_ids": [TEAMMATE]},
            }
        ]
    }
    policy = AccessPolicy(allowed_users=frozenset({ADMIN}))
    return TeamAccess(policy, lambda: parse_rules(json.dumps(rules), ChannelRouting(default="C-DEFAULT")))


# ---------------------------------------------------------------------- what in flight is
def test_a_claimed_recovery_is_in_flight_since_its_claim_and_names_who_claimed_it(
    store: RecoveryStore,
) -> None:
    # Given a recovery Alice claimed 25 minutes ago, whose outcome was never stored
    now = datetime.now(UTC)
    recovery = claim(store, posted(store, 1), ALICE, now - timedelta(minutes=25))

    # When it is read as in flight
    flight = in_flight(recovery)

    # Then it is in flight since the claim (its updated_at), by Alice
    assert flight is not None
    claimed_at = now - timedelta(minutes=25)
    assert flight.since == datetime.fromisoformat(claimed_at.isoformat(timespec="milliseconds"))
    assert flight.claimed_by == ALICE
    assert timedelta(minutes=25) <= flight.age(now) < timedelta(minutes=25, seconds=1)


def test_an_open_recovery_is_not_in_flight(store: RecoveryStore) -> None:
    # Given / When / Then
    assert in_flight(store.get(posted(store, 1))) is None


def test_those_in_flight_come_longest_in_flight_first(store: RecoveryStore) -> None:
    # Given three claims at different moments
    now = datetime.now(UTC)
    for n, minutes in ((1, 5), (2, 40), (3, 15)):
        claim(store, posted(store, n), ALICE, now - timedelta(minutes=minutes))

    # When they are ordered
    claims = longest_first(store.list_by_status(RecoveryStatus.RESUMING))

    # Then the one claimed 40 minutes ago comes first
    assert [c.recovery.execution_name for c in claims] == ["run-2", "run-3", "run-1"]


# ---------------------------------------------------------------------- the filter
@pytest.mark.parametrize(
    "word", ["status=in-flight", "status=IN-FLIGHT", "status=resuming", "status=inflight"]
)
def test_status_in_flight_is_a_filter_beside_the_others(word: str) -> None:
    # Given / When
    query = RecoveryQuery.from_words([word, "error=VendorUnavailable"])

    # Then it lists those in flight, narrowed by the other filters, and survives a button's trip
    assert query.in_flight and query.listed_status is RecoveryStatus.RESUMING
    assert query.status == IN_FLIGHT and query.error == "VendorUnavailable"
    assert RecoveryQuery.from_json(query.to_json()) == query


def test_a_status_other_than_in_flight_is_refused() -> None:
    # Given / When / Then
    with pytest.raises(QueryError, match="is not a status to list: use status=in-flight"):
        RecoveryQuery.from_words(["status=closed"])
    with pytest.raises(QueryError):
        RecoveryQuery.from_json('{"status":"RESUMED"}')


def test_the_command_lines_in_flight_option_builds_the_same_query_as_slacks_words() -> None:
    # Given
    args = build_parser().parse_args(["list", "--in-flight", "--error", "VendorUnavailable", "--table", "t"])

    # When / Then
    assert _query(args) == RecoveryQuery.from_words(["status=in-flight", "error=VendorUnavailable"])


# ---------------------------------------------------------------------- the Home's overview
def test_the_overview_shows_those_in_flight_beside_the_open_ones_longest_first(store: RecoveryStore) -> None:
    # Given two open recoveries and two in flight, claimed 3 and 30 minutes ago
    now = datetime.now(UTC)
    ids = [posted(store, n) for n in range(1, 5)]
    claim(store, ids[2], BOB, now - timedelta(minutes=3))
    claim(store, ids[3], ALICE, now - timedelta(minutes=30))

    # When the admin's overview is built
    overview = overview_for(store, admins_only(), ADMIN, RecoveryQuery())

    # Then the open ones are listed and counted as before, and those in flight beside them
    assert overview.total == 2 and {r.recovery_id for r in overview.page} == set(ids[:2])
    assert overview.in_flight_total == 2
    assert [(c.claimed_by, c.recovery.recovery_id) for c in overview.in_flight] == [
        (ALICE, ids[3]),
        (BOB, ids[2]),
    ]


def test_the_in_flight_filter_pages_through_those_in_flight_and_offers_no_action(
    store: RecoveryStore,
) -> None:
    # Given one open recovery and one in flight
    now = datetime.now(UTC)
    posted(store, 1)
    claimed = claim(store, posted(store, 2), ALICE, now - timedelta(minutes=12))

    # When the Home is filtered to those in flight
    overview = overview_for(store, admins_only(), ADMIN, RecoveryQuery(status=IN_FLIGHT))

    # Then its page is the one in flight, with no action on it and nothing beside it
    assert [r.recovery_id for r in overview.page] == [claimed.recovery_id]
    assert overview.listing_in_flight and overview.total == 1
    assert overview.actionable == frozenset() and overview.owned == []
    assert overview.in_flight == [] and overview.in_flight_total == 0


def test_a_team_member_sees_only_their_rules_recoveries_in_flight(store: RecoveryStore) -> None:
    # Given a recovery of "orders" in flight, and a team whose rule is for another state machine
    claim(store, posted(store, 1), ALICE, datetime.now(UTC))

    # When that team's member opens the Home, and an orders team's member does
    others = overview_for(store, a_team_for("payments"), TEAMMATE, RecoveryQuery())
    ours = overview_for(store, a_team_for("orders"), TEAMMATE, RecoveryQuery())

    # Then only the orders team's member sees it in flight
    assert others.in_flight_total == 0
    assert ours.in_flight_total == 1


# ---------------------------------------------------------------------- reminders and the age metric
@dataclass
class Posted:
    reminders: list[Reminder] = field(default_factory=list)

    def post_reminder(self, reminder: Reminder) -> None:
        self.reminders.append(reminder)


def reminders_at(store: RecoveryStore, dynamodb: FakeDynamoDB, poster: Posted, moment: datetime) -> Reminders:
    sfn = Mock()
    sfn.get_execution_history.return_value = {"events": []}
    return Reminders(store, dynamodb, sfn, poster, after=timedelta(hours=1), clock=lambda: moment)


def test_a_recovery_in_flight_longer_than_the_threshold_is_reminded_once_per_period_as_in_flight(
    store: RecoveryStore, dynamodb: FakeDynamoDB
) -> None:
    # Given a recovery Alice claimed, whose process stopped before the outcome was stored
    now = datetime.now(UTC)
    recovery_id = posted(store, 1)
    claim(store, recovery_id, ALICE, now)
    poster = Posted()

    # When the reminders run 30 minutes, 70 minutes, 75 minutes and 2 h 15 min after the claim
    early = reminders_at(store, dynamodb, poster, now + timedelta(minutes=30)).run()
    due = reminders_at(store, dynamodb, poster, now + timedelta(minutes=70)).run()
    overlapping = reminders_at(store, dynamodb, poster, now + timedelta(minutes=75)).run()
    later = reminders_at(store, dynamodb, poster, now + timedelta(hours=2, minutes=15)).run()

    # Then it is counted every time, and reminded once per hour, as in flight since the claim, by Alice
    assert [r.in_flight_count for r in (early, due, overlapping, later)] == [1, 1, 1, 1]
    assert (early.reminded, due.reminded, overlapping.reminded) == ([], [recovery_id], [])
    assert later.reminded == [recovery_id]
    first = poster.reminders[0]
    assert first.in_flight is not None and first.in_flight.claimed_by == ALICE
    assert first.in_flight_for is not None and timedelta(minutes=70) <= first.in_flight_for < timedelta(
        minutes=71
    )
    assert store.get(recovery_id).status is RecoveryStatus.RESUMING  # a reminder changes nothing else


def test_the_report_gives_the_longest_in_flight_beside_the_oldest_open(
    store: RecoveryStore, dynamodb: FakeDynamoDB
) -> None:
    # Given one open recovery and two claimed 2 and 14 minutes ago
    now = datetime.now(UTC)
    posted(store, 1)
    claim(store, posted(store, 2), ALICE, now - timedelta(minutes=2))
    claim(store, posted(store, 3), BOB, now - timedelta(minutes=14))

    # When the reminders run
    report = reminders_at(store, dynamodb, Posted(), now).run()

    # Then the open count is the open one, and the in-flight age is the 14-minute claim's
    assert report.open_count == 1 and report.in_flight_count == 2
    assert 14 * 60 <= report.oldest_in_flight_age_seconds < 14 * 60 + 1
    assert report.reminded == []  # 14 minutes is within the hour


class ClaimedAgainWhileRead(RecoveryStore):
    """The table as a run reads it while the recovery it is about to remind is given back and
    claimed again by someone else (a reminders run overlapping a click)."""

    def __init__(self, dynamodb: FakeDynamoDB, recovery_id: str, at: datetime) -> None:
        super().__init__(TABLE, dynamodb)
        self._recovery_id, self._at = recovery_id, at

    def list_by_status(self, status=RecoveryStatus.OPEN, *args, **kwargs):  # type: ignore[no-untyped-def]
        found = super().list_by_status(status, *args, **kwargs)
        if status is RecoveryStatus.RESUMING and self._recovery_id:
            given_back = AuditEntry(self._at.isoformat(), ALICE, "run again", "FAILED")
            self.transition(self._recovery_id, RecoveryStatus.RESUMING, RecoveryStatus.OPEN, given_back)
            claim(self, self._recovery_id, BOB, self._at)
            self._recovery_id = ""
        return found


def test_a_claim_replaced_while_the_run_read_it_is_not_reminded(dynamodb: FakeDynamoDB) -> None:
    # Given a recovery Alice claimed two hours ago, given back and claimed again by Bob while the
    # reminders run reads it
    now = datetime.now(UTC)
    recovery_id = posted(RecoveryStore(TABLE, dynamodb), 1)
    claim(RecoveryStore(TABLE, dynamodb), recovery_id, ALICE, now - timedelta(hours=2))
    poster = Posted()
    store = ClaimedAgainWhileRead(dynamodb, recovery_id, now)

    # When the run reminds what it read
    report = reminders_at(store, dynamodb, poster, now).run()

    # Then nothing is reminded: the claim it read is not the one in flight any more
    assert report.reminded == [] and poster.reminders == []
    assert in_flight(store.get(recovery_id)).claimed_by == BOB  # type: ignore[union-attr]


def test_the_age_in_flight_counts_from_the_latest_claim(store: RecoveryStore, dynamodb: FakeDynamoDB) -> None:
    # Given a recovery paused two hours ago, claimed by Alice two minutes ago
    now = datetime.now(UTC)
    recovery_id = posted(store, 1)
    claim(store, recovery_id, ALICE, now - timedelta(minutes=2))
    poster = Posted()

    # When the reminders run two hours after it was paused
    report = reminders_at(store, dynamodb, poster, now + timedelta(hours=2)).run()

    # Then it was in flight for 2 h 2 min: reminded as in flight, not as open
    assert report.reminded == [recovery_id] and report.open_count == 0
    assert poster.reminders[0].in_flight is not None


# ---------------------------------------------------------------------- recovery-ops list / show
def an_operator(store: RecoveryStore, now: datetime) -> tuple[Operator, list[str]]:
    printed: list[str] = []
    return Operator(store, Mock(), Mock(), "cli:alice", printed.append, clock=lambda: now), printed


def test_recovery_ops_list_shows_the_open_ones_then_those_in_flight_with_age_and_claimer(
    store: RecoveryStore,
) -> None:
    # Given one open recovery and one Alice claimed 7 minutes ago
    now = datetime.now(UTC)
    open_id = posted(store, 1)
    claimed_id = claim(store, posted(store, 2), ALICE, now - timedelta(minutes=7)).recovery_id
    operator, printed = an_operator(store, now)

    # When the operator lists
    listed = operator.list(RecoveryQuery())

    # Then the open one is listed as before, and the one in flight in a section of its own
    assert [r.recovery_id for r in listed] == [open_id]
    assert printed[0] == "1 open recoveries (all)"
    assert "1 in flight (claimed, outcome not stored yet), longest first:" in printed
    (row,) = [line for line in printed if line.startswith(claimed_id)]
    assert "in flight 7 min" in row and f"claimed by {ALICE}" in row


def test_recovery_ops_list_in_flight_lists_only_those_in_flight(store: RecoveryStore) -> None:
    # Given one open recovery and one in flight
    now = datetime.now(UTC)
    posted(store, 1)
    claimed_id = claim(store, posted(store, 2), BOB, now - timedelta(seconds=40)).recovery_id
    operator, printed = an_operator(store, now)

    # When the operator lists with --in-flight
    listed = operator.list(RecoveryQuery(status=IN_FLIGHT))

    # Then only the one in flight, with its age in seconds
    assert [r.recovery_id for r in listed] == [claimed_id]
    assert printed[0] == "1 recoveries in flight (all): claimed, outcome not stored yet"
    assert any(line.startswith(claimed_id) and "in flight 40 s" in line for line in printed)


def test_recovery_ops_show_says_a_recovery_is_in_flight_since_when_and_by_whom(store: RecoveryStore) -> None:
    # Given a recovery Alice claimed 3 hours ago
    now = datetime.now(UTC)
    recovery_id = claim(store, posted(store, 1), ALICE, now - timedelta(hours=3)).recovery_id
    operator, printed = an_operator(store, now)

    # When the operator shows it
    operator.show(recovery_id)

    # Then its second line says it is in flight, for how long and by whom
    assert printed[0] == f"{recovery_id}  RESUMING"
    assert printed[1].startswith("  in flight:  3 h 0 min, since ")
    assert printed[1].endswith(f"claimed by {ALICE}: its outcome is not stored yet")


def test_nothing_runs_again_the_recoveries_in_flight(store: RecoveryStore) -> None:
    # Given / When / Then
    operator, _ = an_operator(store, datetime.now(UTC))
    with pytest.raises(OperationError, match="in flight are being resumed already"):
        operator.retry_matching(RecoveryQuery(status=IN_FLIGHT), confirm=lambda n: True)
