"""When the vendor's circuit closes again, the group message of the recoveries its outage left says so."""

from __future__ import annotations

import json

from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.dynamodb_stream import DynamoDBStreamPoller
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.slack_app.ids import RUN_AGAIN_ALL
from tests.support.desk import ORDER, execution_status, pause
from tests.support.stacks import slack_app_stack
from tests.support.waiting import wait_until


def test_a_closed_circuit_tells_the_waiting_group_and_offers_run_again_all(
    vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    with slack_app_stack(
        vendor_url,
        slack,
        CircuitBreakerEnabled="true",
        CircuitBreakerFailureThreshold="3",
        CircuitBreakerWindowSeconds="3600",
        CircuitBreakerMaxWaitSeconds="100",
    ) as stack:
        paused = pause(stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{i}"} for i in range(3)])
        watcher = DynamoDBStreamPoller(stack, "CircuitBreakerTable", "CircuitWatcherFunction")
        assert watcher.poll() == []  # nothing has changed yet
        updates_before = len(slack.calls_of("chat.update"))

        # the vendor is back: the next order's probe closes the circuit
        probe = order_api.place({**ORDER, "customer_id": "c-probe"}).body
        wait_until(lambda: execution_status(stack, probe["execution_arn"]) == "SUCCEEDED", 60)
        answers = watcher.poll()

        assert answers and len([group for answer in answers for group in answer["announced"]]) == 1
        news = slack.calls_of("chat.update")[updates_before:]
        assert len(news) == 1
        blocks = news[0].body["blocks"]
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        text = json.dumps(blocks)
        assert "The circuit for `vendor` closed" in text and "3 paused executions" in text
        buttons = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
        assert RUN_AGAIN_ALL in buttons
        assert {r.error for r in paused} <= {"VendorUnavailable", "CircuitOpen"}


def test_a_circuit_reopening_right_after_closing_reaches_the_watcher_as_each_change_in_order(
    vendor_url: str, slack: SlackStandIn
) -> None:
    with slack_app_stack(vendor_url, slack, CircuitBreakerEnabled="true") as stack:
        # Given the watcher reading the breaker table's stream
        watcher = DynamoDBStreamPoller(stack, "CircuitBreakerTable", "CircuitWatcherFunction")
        dynamodb, table = stack.client("dynamodb"), stack.physical("CircuitBreakerTable")

        # When the circuit opens, closes and opens again back to back, before the watcher reads
        for state in ("OPEN", "CLOSED", "OPEN"):
            dynamodb.put_item(TableName=table, Item={"dependency": {"S": "vendor"}, "state": {"S": state}})
        answers = watcher.poll()

        # Then the watcher gets one record per change, in order, in the shape Lambda sends
        assert len(answers) == 1 and answers[0] == {"announced": [], "self_healing": []}  # nobody waited
        records = [record for event in watcher.delivered for record in event["Records"]]
        assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "MODIFY"]
        assert [r["dynamodb"]["NewImage"]["state"]["S"] for r in records] == ["OPEN", "CLOSED", "OPEN"]
        assert [r["dynamodb"].get("OldImage", {}).get("state", {}).get("S") for r in records] == [
            None,
            "OPEN",
            "CLOSED",
        ]
        assert {r["eventSourceARN"] for r in records} == {
            stack.context.get_att("CircuitBreakerTable", "StreamArn")
        }
        assert all(r["eventSource"] == "aws:dynamodb" and r["dynamodb"]["Keys"] for r in records)
        assert watcher.poll() == []  # each change is delivered once
