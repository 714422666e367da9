"""The collector on the real queue messages of paused executions, with Slack as a local stand-in."""

from __future__ import annotations

import json
import time

import pytest

from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn, block_kit_problem
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.groups import GroupStore
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from recovery_ops.slack_app.ids import (
    EDIT_AND_RUN_AGAIN,
    REJECT,
    REJECT_ALL,
    RUN_AGAIN,
    RUN_AGAIN_ALL,
    TAKE,
    TAKE_ALL,
)
from tests.support.orders import item_execution_arn
from tests.support.stacks import BOT_TOKEN, ROUTED_CHANNELS
from tests.support.waiting import wait_until

ORDER = {"customer_id": "customer-1", "product_id": "sku-kettle", "quantity": 2}


@pytest.fixture
def stack_parameters(vendor_url: str) -> dict[str, str]:
    return {
        "VendorUrl": vendor_url,
        **ROUTED_CHANNELS,
        "CircuitBreakerEnabled": "false",
        "RecoveryGroupWindowSeconds": "86400",
    }


def store(stack: EmbeddedStack) -> RecoveryStore:
    return RecoveryStore(
        stack.physical("RecoveriesTable"), stack.client("dynamodb"), payloads=stack.payloads()
    )


def queued(stack: EmbeddedStack, count: int) -> None:
    """Wait until ``count`` recovery requests are on the recovery queue."""
    sqs = stack.client("sqs")

    def enough() -> bool:
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.physical("RecoveryQueue"), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) >= count

    wait_until(enough)


def pause_orders(
    stack: EmbeddedStack, api: LocalOrderApi, vendor: DummyVendor, orders: list[dict]
) -> list[str]:
    """Place one-item orders while the vendor is down; the paused (item) executions."""
    vendor.set_behaviour(VendorBehaviour(outage=True))
    arns = [item_execution_arn(stack, api.place(order).body["order_id"]) for order in orders]
    queued(stack, len(orders))
    return arns


def action_ids(blocks: list[dict]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_one_paused_execution_becomes_one_item_and_one_slack_message_without_its_token(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (arn,) = pause_orders(stack, order_api, vendor, [ORDER])

    result = poll_collector(stack)

    assert result.received == 1 and result.failed == []
    (recovery,) = store(stack).list_by_status(RecoveryStatus.OPEN)
    assert recovery.execution_arn == arn
    assert recovery.failed_state == "Check availability"
    assert recovery.error == "VendorUnavailable"
    (post,) = slack.calls_of("chat.postMessage")
    assert post.token == BOT_TOKEN
    assert post.body["channel"] == "C-TECH"
    assert action_ids(post.body["blocks"]) == [RUN_AGAIN, EDIT_AND_RUN_AGAIN, REJECT, TAKE]
    assert {e["value"] for b in post.body["blocks"] if b["type"] == "actions" for e in b["elements"]} == {
        recovery.recovery_id
    }
    assert recovery.task_token not in json.dumps(post.body)  # a secret capability, never in Slack
    assert (recovery.slack_channel, recovery.slack_ts) == ("C-TECH", next(iter(slack.posted_messages()))[1])


def test_a_redelivered_message_creates_no_second_item_and_no_second_post(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    pause_orders(stack, order_api, vendor, [ORDER])
    sqs = stack.client("sqs")
    (message,) = sqs.receive_message(QueueUrl=stack.physical("RecoveryQueue"))["Messages"]
    sqs.change_message_visibility(
        QueueUrl=stack.physical("RecoveryQueue"), ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    # SQS delivers at least once: the same message a second time
    sqs.send_message(QueueUrl=stack.physical("RecoveryQueue"), MessageBody=message["Body"])

    poll_collector(stack)
    poll_collector(stack)

    assert len(store(stack).list_by_status(RecoveryStatus.OPEN)) == 1
    assert len(slack.calls_of("chat.postMessage")) == 1


def test_slack_failing_then_recovering_posts_once_and_loses_nothing(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    pause_orders(stack, order_api, vendor, [ORDER])
    slack.fail_next(3, status=503)  # the first call and both retries of slack_sdk's handler

    first = poll_collector(stack)

    # The recovery is stored (OPEN, not posted) and the record is left for SQS to deliver again
    assert len(first.failed) == 1
    (stored,) = store(stack).list_by_status(RecoveryStatus.OPEN)
    assert stored.slack_ts is None

    second = poll_collector(stack)

    assert second.failed == []
    assert len(slack.calls_of("chat.postMessage")) == 1
    assert store(stack).get(stored.recovery_id).slack_ts is not None


def test_a_malformed_message_goes_to_the_dlq_with_its_reason_and_spares_the_batch(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    pause_orders(stack, order_api, vendor, [ORDER])
    sqs = stack.client("sqs")
    queue = stack.physical("RecoveryQueue")
    sqs.send_message(QueueUrl=queue, MessageBody="this is not json")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"execution_arn": "arn:aws:states:x"}))

    result = poll_collector(stack)

    assert result.received == 3 and result.failed == []
    assert len(store(stack).list_by_status(RecoveryStatus.OPEN)) == 1
    posts = slack.calls_of("chat.postMessage")  # the recovery's message and a notice per malformed one
    assert [bool(action_ids(p.body["blocks"])) for p in posts].count(True) == 1 and len(posts) == 3
    dead = sqs.receive_message(
        QueueUrl=stack.physical("RecoveryDeadLetterQueue"),
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )["Messages"]
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in dead)
    assert len(reasons) == 2
    assert "task_token: Field required" in reasons[0] or "task_token: Field required" in reasons[1]
    assert any("Invalid JSON" in reason for reason in reasons)
    assert sqs.receive_message(QueueUrl=queue).get("Messages") is None


def test_a_huge_cause_and_input_still_make_a_valid_slack_message(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    pause_orders(stack, order_api, vendor, [ORDER])
    sqs = stack.client("sqs")
    queue = stack.physical("RecoveryQueue")
    (message,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    contract = json.loads(message["Body"])
    huge_input = {**contract["input"], "notes": "x" * 200_000}
    sqs.send_message(
        QueueUrl=queue, MessageBody=json.dumps({**contract, "cause": "y" * 10_000, "input": huge_input})
    )

    assert poll_collector(stack).failed == []

    (post,) = slack.calls_of("chat.postMessage")
    assert block_kit_problem(post.body["blocks"]) is None
    assert post.status == 200
    (listed,) = store(stack).list_by_status(RecoveryStatus.OPEN)
    assert listed.input is None  # a listing reads no input: it is kept apart (storage/payloads.py)
    assert store(stack).get(listed.recovery_id).input == huge_input  # the full input is kept


def test_client_data_problems_go_to_their_own_channel(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    order_api.place({**ORDER, "product_id": "sku-unknown!"})
    queued(stack, 1)

    poll_collector(stack)

    (post,) = slack.calls_of("chat.postMessage")
    assert post.body["channel"] == "C-DATA"


def test_a_burst_becomes_one_message_per_group_kept_current(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    pause_orders(stack, order_api, vendor, [ORDER])
    poll_collector(stack)  # a lone failure: its own message
    (lone,) = store(stack).list_by_status(RecoveryStatus.OPEN)
    pause_orders(stack, order_api, vendor, [ORDER] * 12)

    poll_collector(stack)

    assert len(store(stack).list_by_status(RecoveryStatus.OPEN)) == 13
    (post,) = slack.calls_of("chat.postMessage")
    (update,) = slack.calls_of("chat.update")
    assert (update.body["channel"], update.body["ts"]) == (lone.slack_channel, lone.slack_ts)
    assert post.body["channel"] == lone.slack_channel
    assert "13 ×" in update.body["blocks"][0]["text"]["text"]
    assert action_ids(update.body["blocks"]) == [RUN_AGAIN_ALL, REJECT_ALL, TAKE_ALL]
    assert block_kit_problem(update.body["blocks"]) is None


def two_branch_definition(queue_url: str) -> str:
    """A state machine the service has never seen: a Parallel whose two branches both pause."""

    def branch(name: str) -> dict:
        return {
            "StartAt": name,
            "States": {
                name: {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {
                        "QueueUrl": queue_url,
                        "MessageBody": {
                            "contract_version": 1,
                            "task_token.$": "$$.Task.Token",
                            "execution_arn.$": "$$.Execution.Id",
                            "execution_name.$": "$$.Execution.Name",
                            "state_machine_arn.$": "$$.StateMachine.Id",
                            "failed_state": name,
                            "input.$": "$",
                            "error": "PaymentDeclined",
                            "cause": f"{name} failed",
                            "routing": "technical",
                            "requested_at.$": "$$.State.EnteredTime",
                        },
                    },
                    "TimeoutSeconds": 3600,
                    "End": True,
                }
            },
        }

    return json.dumps(
        {
            "StartAt": "Both",
            "States": {
                "Both": {"Type": "Parallel", "Branches": [branch("Charge card"), branch("Ship")], "End": True}
            },
        }
    )


def test_two_failing_branches_of_one_execution_are_two_recoveries(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    sfn = stack.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="checkout",
        definition=two_branch_definition(stack.physical("RecoveryQueue")),
        roleArn="arn:aws:iam::123456789012:role/checkout",
    )["stateMachineArn"]
    sfn.start_execution(stateMachineArn=machine, name="checkout-1", input=json.dumps({"cart": 7}))
    queued(stack, 2)

    poll_collector(stack)

    recoveries = store(stack).list_by_status(RecoveryStatus.OPEN)
    assert sorted(r.failed_state for r in recoveries) == ["Charge card", "Ship"]
    assert len({r.recovery_id for r in recoveries}) == 2
    assert {r.execution_name for r in recoveries} == {"checkout-1"}
    # different states: two messages, each with its own buttons
    assert len(slack.calls_of("chat.postMessage")) == 2


def test_a_dynamodb_failure_fails_only_that_record_and_nothing_is_lost(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    from botocore.exceptions import ClientError

    from recovery_ops.service.recovery.storage import recoveries as store_module

    pause_orders(stack, order_api, vendor, [ORDER, ORDER])
    original = store_module.RecoveryStore.create_if_absent
    calls = {"n": 0}

    def flaky_create(self: RecoveryStore, recovery: object) -> bool:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "PutItem")
        return original(self, recovery)

    store_module.RecoveryStore.create_if_absent = flaky_create  # type: ignore[method-assign]
    try:
        first = poll_collector(stack)
    finally:
        store_module.RecoveryStore.create_if_absent = original  # type: ignore[method-assign]

    assert first.received == 2 and len(first.failed) == 1  # the other record went through
    assert len(store(stack).list_by_status(RecoveryStatus.OPEN)) == 1
    assert poll_collector(stack).failed == []
    assert len(store(stack).list_by_status(RecoveryStatus.OPEN)) == 2


def test_a_recovery_slack_never_accepts_ends_in_the_dlq_and_still_shows_as_open(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    pause_orders(stack, order_api, vendor, [ORDER])
    slack.fail_next(100, status=500)

    for _ in range(5):  # the recovery queue's maxReceiveCount
        assert len(poll_collector(stack).failed) == 1
    poll_collector(stack)

    sqs = stack.client("sqs")
    (dead,) = sqs.receive_message(QueueUrl=stack.physical("RecoveryDeadLetterQueue"))["Messages"]
    assert json.loads(dead["Body"])["failed_state"] == "Check availability"
    (recovery,) = store(stack).list_by_status(RecoveryStatus.OPEN)
    assert recovery.slack_ts is None  # stored, listed, waiting for a redrive to post it


def test_a_collector_that_dies_after_posting_leaves_one_message_which_the_next_delivery_records(
    stack: EmbeddedStack,
    order_api: LocalOrderApi,
    vendor: DummyVendor,
    slack: SlackStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a paused execution, a short posting lease, and a collector that dies once it has
    # posted the group's message, before recording it
    pause_orders(stack, order_api, vendor, [ORDER])
    monkeypatch.setenv("RECOVERY_POSTING_LEASE_SECONDS", "0.5")
    record_message = GroupStore.set_message
    dying = {"once": True}

    def die_before_recording(self: GroupStore, group_id: str, channel: str, ts: str) -> None:
        if dying.pop("once", False):
            raise RuntimeError("the collector's process ended here")
        record_message(self, group_id, channel, ts)

    monkeypatch.setattr(GroupStore, "set_message", die_before_recording)

    # When the collector runs, and SQS delivers the record again once the lease has run out
    first = poll_collector(stack)
    time.sleep(0.6)
    second = poll_collector(stack)

    # Then the first run failed with its message posted; the second found it in the channel's
    # history (by its metadata) and recorded it: one message, the recovery pointing to it
    assert len(first.failed) == 1 and second.failed == []
    (post,) = slack.calls_of("chat.postMessage")
    ((_, posted_ts),) = slack.posted_messages()
    (history,) = slack.calls_of("conversations.history")
    assert history.body["channel"] == "C-TECH" and history.body["include_all_metadata"] in ("1", "true")
    (recovery,) = store(stack).list_by_status(RecoveryStatus.OPEN)
    assert (recovery.slack_channel, recovery.slack_ts) == ("C-TECH", posted_ts)
    assert post.body["metadata"] == {
        "event_type": "recovery_ops_message",
        "event_payload": {"kind": "group", "key": recovery.group_id},
    }


def test_forty_distinct_failures_in_one_channel_fold_into_one_burst_message(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    # Given forty paused executions, each failed differently, all routed to one channel
    from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
    from recovery_ops.service.recovery.storage.groups import NEW_MESSAGES_BEFORE_FOLDING
    from recovery_ops.service.recovery.storage.recoveries import ListFilter
    from recovery_ops.slack_app.ids import BURST_LIST

    sqs = stack.client("sqs")
    for n in range(40):
        body = {
            "contract_version": 1,
            "task_token": f"token-{n}",
            "execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:orders:run-{n}",
            "execution_name": f"run-{n}",
            "state_machine_arn": "arn:aws:states:us-east-1:123456789012:stateMachine:orders",
            "failed_state": "Check availability",
            "error": f"VendorError{n}",
            "routing": "technical",
        }
        sqs.send_message(QueueUrl=stack.physical("RecoveryQueue"), MessageBody=json.dumps(body))
    queued(stack, 40)

    # When the collector takes them in, ten at a time
    while poll_collector(stack, batch_size=10).received:
        pass

    # Then the channel got at most the threshold's messages and one burst message, every payload
    # within Slack's rules, and every recovery is stored and posted on one of them
    posts = slack.calls_of("chat.postMessage")
    assert {post.body["channel"] for post in posts} == {"C-TECH"}
    assert len(posts) == NEW_MESSAGES_BEFORE_FOLDING + 1
    for call in (*posts, *slack.calls_of("chat.update")):
        assert block_kit_problem(call.body["blocks"]) is None
    recoveries = store(stack).list_by_status(RecoveryStatus.OPEN, limit=100)
    assert len(recoveries) == 40 and all(r.slack_ts for r in recoveries)
    (burst,) = [post for post in posts if BURST_LIST in action_ids(post.body["blocks"])]
    burst_id = burst.body["metadata"]["event_payload"]["key"]
    folded = store(stack).list_by_status(RecoveryStatus.OPEN, ListFilter(group_id=burst_id), limit=100)
    assert len(folded) == 40 - NEW_MESSAGES_BEFORE_FOLDING and len({r.slack_ts for r in folded}) == 1
    assert len({r.slack_ts for r in recoveries}) == NEW_MESSAGES_BEFORE_FOLDING + 1
    # "List all" lists exactly the folded recoveries
    (value,) = [e["value"] for b in burst.body["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert RecoveryQuery.from_json(value).list_filter() == ListFilter(group_id=burst_id)
