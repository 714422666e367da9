"""What a team's member sees of the recoveries, a page at a time: counted from the cells the
routing rules let them see, read from their state machines' lanes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.lifecycle.visible import visible_counts, visible_page
from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.service.recovery.storage.items import LANE_INDEX
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryStore
from tests.support.fakes import FakeDynamoDB

ADMIN, TEAMMATE, STRANGER = "U0ADMIN", "U0TEAM", "U0STRANGER"
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
OPEN = RecoveryStatus.OPEN
RULES = json.dumps(
    {
        "rules": [
            {
                "name": "refunds",
                "match": {"state_machine": "refunds"},
                "channel": "C-R",
                "team": {"user_ids": [TEAMMATE]},
            }
        ]
    }
)


def a_recovery(n: int, machine: str) -> Recovery:
    request = RecoveryRequest(
        task_token=f"token-{n}",
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:{machine}:run-{n}",
        execution_name=f"run-{n}",
        state_machine_arn=f"arn:aws:states:us-east-1:123456789012:stateMachine:{machine}",
        failed_state="Charge card",
        input={"n": n},
        error="VendorUnavailable",
    )
    return Recovery.from_request(request, START + timedelta(seconds=n))


def a_desk(orders: int, refunds: int) -> tuple[RecoveryStore, FakeDynamoDB, TeamAccess]:
    dynamodb = FakeDynamoDB()
    store = RecoveryStore("recoveries", dynamodb)
    for n in range(orders):
        store.create_if_absent(a_recovery(n, "orders"))
    for n in range(refunds):
        store.create_if_absent(a_recovery(10_000 + n, "refunds"))
    policy = AccessPolicy(allowed_users=frozenset({ADMIN}))
    access = TeamAccess(policy, lambda: parse_rules(RULES, ChannelRouting(default="C-DEFAULT")))
    return store, dynamodb, access


def test_a_team_member_counts_and_lists_only_their_rules_recoveries() -> None:
    # Given 300 open recoveries of orders (the admins') and 12 of refunds (the team's)
    store, _dynamodb, access = a_desk(300, 12)

    # When the team's member and a stranger count and list them
    counts, left_out = visible_counts(store, access, TEAMMATE, OPEN, ListFilter())
    page = visible_page(store, access, TEAMMATE, OPEN, ListFilter(), limit=25)

    # Then the member counts and lists the 12 of refunds, the rest left out; the stranger nothing
    assert (counts.total, left_out) == (12, 300)
    assert {r.state_machine_name for r in page} == {"refunds"} and len(page) == 12
    assert visible_page(store, access, STRANGER, OPEN, ListFilter(), limit=25) == []
    assert visible_counts(store, access, ADMIN, OPEN, ListFilter())[0].total == 312


def test_a_team_members_page_is_read_from_their_state_machines_lanes() -> None:
    # Given 300 open recoveries of orders and 12 of refunds, every query seen
    store, dynamodb, access = a_desk(300, 12)
    lanes: list[str] = []
    real = dynamodb.query

    def seen(**request: Any) -> dict[str, Any]:
        if request["IndexName"] == LANE_INDEX:
            lanes.append(request["ExpressionAttributeValues"][":lane"]["S"])
        return real(**request)

    dynamodb.query = seen  # type: ignore[method-assign]

    # When the team's member lists a page
    visible_page(store, access, TEAMMATE, OPEN, ListFilter(), limit=25)

    # Then only the counters' lanes and refunds' machine lanes were read, never a status lane
    assert lanes and all(lane.startswith(("c#", "m#")) for lane in lanes)
