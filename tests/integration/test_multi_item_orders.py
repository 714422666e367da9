"""Multi-item orders without Slack: the API's limits, and what a 50-item order carries between states."""

from __future__ import annotations

import json

from recovery_ops.service.local.engine.execution_history import (
    history,
    largest_payload_bytes,
    nested_execution_arns,
    wait_for_status,
)
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.programs.order_stock import LOCAL_STOCK

PAYLOAD_LIMIT = 256 * 1024


def test_more_than_fifty_items_get_a_clear_400_and_start_nothing(
    stack: EmbeddedStack, order_api: LocalOrderApi
) -> None:
    items = [{"product_id": "sku-lamp", "quantity": 1}] * 51

    answer = order_api.place({"order_id": "ord-too-big", "customer_id": "c", "items": items})

    assert answer.status == 400
    assert [e["field"] for e in answer.body["errors"]] == ["items"]
    assert "at most 50" in answer.body["errors"][0]["reason"]
    assert order_api.get("ord-too-big").status == 404


def test_a_fifty_item_order_passes_each_item_only_what_it_needs_and_stays_far_under_the_payload_limit(
    stack: EmbeddedStack, order_api: LocalOrderApi
) -> None:
    products = sorted(LOCAL_STOCK)
    items = [{"product_id": products[n % len(products)], "quantity": n + 1} for n in range(50)]
    placed = order_api.place({"order_id": "ord-fifty", "customer_id": "customer-50", "items": items}).body
    sfn = stack.client("stepfunctions")

    assert wait_for_status(sfn, placed["execution_arn"], timeout=240)["status"] == "SUCCEEDED"

    events = history(sfn, placed["execution_arn"])
    children = nested_execution_arns(events)
    assert sorted(arn.rsplit(":", 1)[-1] for arn in children) == sorted(
        f"ord-fifty-item-{n}" for n in range(1, 51)
    )
    child = sfn.describe_execution(executionArn=children[0])
    assert set(json.loads(child["input"])) == {
        "order_id",
        "customer_id",
        "item_number",
        "product_id",
        "quantity",
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID",
    }
    largest = max(
        [largest_payload_bytes(events)] + [largest_payload_bytes(history(sfn, arn)) for arn in children]
    )
    assert largest < PAYLOAD_LIMIT / 8, f"largest payload {largest} bytes"
    assert order_api.get("ord-fifty").body["status"] == "FINISHED"
