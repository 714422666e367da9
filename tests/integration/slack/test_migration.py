"""A deployment updated from the release before lanes, end to end: its recoveries (stored then,
in the ``by-status`` index, uncounted) are missing from the list until the ReconcilerFunction the
template deploys moves them (every call held against its role), a click on one not moved yet moves
it and resumes it once, and nothing is counted twice."""

from __future__ import annotations

import json
from typing import Any

from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.items import (
    COUNT_PREFIX,
    CREATED_SORT,
    ENTRY_PREFIX,
    LANE,
    LANE_SORT,
    PAIR_PREFIX,
)
from recovery_ops.slack_app.ids import RUN_AGAIN
from tests.support.desk import ORDER, count_calls, pause, requests_for, send, store, wait_for_status
from tests.support.stacks import ALLOWED


def reconcile(stack: EmbeddedStack) -> dict[str, Any]:
    answer = stack.client("lambda").invoke(
        FunctionName=stack.physical("ReconcilerFunction"), Payload=json.dumps({"source": "aws.events"})
    )
    return json.loads(answer["Payload"].read())


def as_the_earlier_release_stored_them(stack: EmbeddedStack) -> None:
    """Every recovery as the release before lanes wrote it: ``created_sort``, no lane, no entry
    items, no counters."""
    dynamodb, table = stack.client("dynamodb"), stack.physical("RecoveriesTable")
    for item in dynamodb.scan(TableName=table)["Items"]:
        item_id = item["recovery_id"]["S"]
        if item_id.startswith((ENTRY_PREFIX, COUNT_PREFIX, PAIR_PREFIX)):
            dynamodb.delete_item(TableName=table, Key={"recovery_id": {"S": item_id}})
        elif item_id.startswith("rec-"):
            dynamodb.update_item(
                TableName=table,
                Key={"recovery_id": {"S": item_id}},
                UpdateExpression=f"SET {CREATED_SORT} = {LANE_SORT} REMOVE {LANE}, {LANE_SORT}",
            )


def test_a_running_stack_moves_an_earlier_releases_recoveries_into_lanes(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given three paused orders, stored as the release before lanes stored them
    recoveries: list[Recovery] = pause(
        stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{n}"} for n in range(3)]
    )
    as_the_earlier_release_stored_them(stack)
    assert store(stack).list_by_status(RecoveryStatus.OPEN) == []  # not in a lane yet
    resumes = count_calls(stack, "SendTaskSuccess")

    # When someone runs one of them again before anything moved it
    first = recoveries[0]
    send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, first.recovery_id))
    wait_for_status(stack, first.recovery_id, RecoveryStatus.RESUMED)

    # Then it was moved and resumed, once
    assert len(resumes) == 1

    # And when the reconciler runs, it moves the other two, and has nothing left the next time
    assert reconcile(stack)["migrated"] == 2
    assert reconcile(stack)["migrated"] == 0
    listed = store(stack).list_by_status(RecoveryStatus.OPEN)
    assert {r.recovery_id for r in listed} == {r.recovery_id for r in recoveries[1:]}
    assert store(stack).counts(RecoveryStatus.OPEN).total == 2
    assert store(stack).counts(RecoveryStatus.RESUMING).total == 0
    by_status = [
        c for c in stack.iam.calls if c.principal == "ReconcilerFunction" and "index/by-status" in c.resource
    ]
    assert by_status  # it found them in the earlier index, under its own role
