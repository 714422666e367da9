"""Reminders: recoveries open too long are brought up in their thread, with the token's time left."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.lifecycle.ownership import Owners
from recovery_ops.service.recovery.lifecycle.reminders import DIGEST_THRESHOLD, Reminders
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.storage.items import key
from recovery_ops.slack_app.ids import DIGEST_LIST, ROW_MENU
from recovery_ops.slack_app.notifier import SlackThreadPoster
from recovery_ops.slack_app.web import web_client
from tests.support.desk import ORDER, pause, store
from tests.support.slack_safety import unsafe_spots
from tests.support.stacks import ALLOWED, BOT_TOKEN


def reminders_at(stack: EmbeddedStack, slack: SlackStandIn, moment: datetime) -> Reminders:
    return Reminders(
        store=store(stack),
        dynamodb=stack.client("dynamodb"),
        sfn=stack.client("stepfunctions"),
        poster=SlackThreadPoster(web_client(BOT_TOKEN, base_url=slack.base_url)),
        after=timedelta(hours=1),
        clock=lambda: moment,
    )


def test_a_recovery_open_too_long_is_reminded_once_per_period_with_its_tokens_time_left(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    now = datetime.now(UTC)

    early = reminders_at(stack, slack, now + timedelta(minutes=30)).run()
    two_hours = reminders_at(stack, slack, now + timedelta(hours=2)).run()
    overlapping = reminders_at(stack, slack, now + timedelta(hours=2, minutes=5)).run()
    later = reminders_at(stack, slack, now + timedelta(hours=3, minutes=10)).run()

    assert early.reminded == [] and early.open_count == 1
    assert two_hours.reminded == [recovery.recovery_id] and two_hours.oldest_age_seconds >= 7200
    assert overlapping.reminded == []  # at most once per period
    assert later.reminded == [recovery.recovery_id]
    replies = [c.body for c in slack.calls_of("chat.postMessage") if c.body.get("thread_ts")]
    assert len(replies) == 2 and all(r["thread_ts"] == recovery.slack_ts for r in replies)
    assert "paused 2 h 0 min ago" in replies[0]["text"]
    # RecoveryTimeoutSeconds is 7 days: about 6 d 22 h are left two hours in
    assert "task token has 6 d 21 h left" in replies[0]["text"] or "6 d 22 h left" in replies[0]["text"]


def test_the_reminder_of_a_recovery_someone_took_mentions_its_owner(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a paused order someone took
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    Owners(store(stack), stack.client("dynamodb")).take(recovery.recovery_id, ALLOWED)

    # When it is reminded two hours later
    report = reminders_at(stack, slack, datetime.now(UTC) + timedelta(hours=2)).run()

    # Then the reminder in its thread is addressed to its owner
    assert report.reminded == [recovery.recovery_id]
    (reply,) = [c.body for c in slack.calls_of("chat.postMessage") if c.body.get("thread_ts")]
    assert reply["thread_ts"] == recovery.slack_ts
    assert reply["text"].startswith(f"⏰ <@{ALLOWED}> owns this: ")
    assert unsafe_spots(reply, users=[ALLOWED]) == []


def test_the_scheduled_function_reports_the_open_count_and_reminds_nothing_fresh(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    pause(stack, order_api, vendor, [ORDER])

    answer = stack.client("lambda").invoke(FunctionName=stack.physical("ReminderFunction"), Payload=b"{}")

    result = json.loads(answer["Payload"].read())
    assert result["open"] == 1 and result["reminded"] == [] and result["escalated"] == []
    assert result["oldest_age_s"] < 600


def test_the_scheduled_function_gathers_more_than_a_few_reminders_of_one_channel_in_one_digest(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given more than a few recoveries of one channel, open for two hours
    count = DIGEST_THRESHOLD + 2
    recoveries = pause(stack, order_api, vendor, [ORDER] * count)
    for recovery in recoveries:
        opened_two_hours_ago(stack, recovery)
    posted_before = len(slack.calls_of("chat.postMessage"))

    # When the scheduled reminders function runs
    answer = stack.client("lambda").invoke(FunctionName=stack.physical("ReminderFunction"), Payload=b"{}")

    # Then it posted one digest at the top of that channel, no reply in any thread, and reminded them all
    result = json.loads(answer["Payload"].read())
    assert sorted(result["reminded"]) == sorted(r.recovery_id for r in recoveries)
    assert result["digests"] == 1
    (digest,) = [c.body for c in slack.calls_of("chat.postMessage")[posted_before:]]
    assert digest["channel"] == recoveries[0].slack_channel and not digest.get("thread_ts")
    blocks = digest["blocks"]
    menus = [b for b in blocks if (b.get("accessory") or {}).get("action_id") == ROW_MENU]
    assert len(menus) == count
    assert any(e.get("action_id") == DIGEST_LIST for b in blocks for e in b.get("elements") or [])


def opened_two_hours_ago(stack: EmbeddedStack, recovery: Recovery) -> None:
    """The recovery as if it had been open two hours (its place in its status lane too)."""
    opened = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="milliseconds")
    stack.client("dynamodb").update_item(
        TableName=stack.physical("RecoveriesTable"),
        Key=key(recovery.recovery_id),
        UpdateExpression="SET created_at = :opened, lane_sort = :sort",
        ExpressionAttributeValues={
            ":opened": {"S": opened},
            ":sort": {"S": f"{opened}#{recovery.recovery_id}"},
        },
    )
