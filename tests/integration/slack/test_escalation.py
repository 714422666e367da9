"""Escalation on the deployed stack: a routing rule's ladder, written to SSM, mentions its user
groups as a recovery stays open with nobody owning it, each level once, and stops once someone
takes it; the scheduled reminders function climbs it within its role."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters

from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.iam_check import Call
from recovery_ops.service.local.engine.stack import ACCOUNT_ID, REGION, EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackCall, SlackStandIn
from recovery_ops.service.recovery.access.rules_parameter import rules_source
from recovery_ops.service.recovery.lifecycle.escalation import Escalation, Escalations, FiredLevel
from recovery_ops.service.recovery.lifecycle.ownership import Owners
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.ports.notifier import ChannelRouting, MessageRef
from recovery_ops.service.recovery.storage.items import LANE_SORT, key
from recovery_ops.slack_app.notifier import SlackThreadPoster
from recovery_ops.slack_app.web import web_client
from tests.support.desk import ORDER, pause, store
from tests.support.slack_safety import unsafe_spots
from tests.support.stacks import ALLOWED, BOT_TOKEN, SLACK_APP_PARAMETERS

CHANNEL = SLACK_APP_PARAMETERS["SlackDefaultChannel"]
LEADS, ONCALL, HEADS = "S0LEADS", "S0ONCALL", "S0HEADS"
LADDER = [
    {"after_minutes": 30, "mention_user_group": LEADS},
    {"after_minutes": 120, "mention_user_group": ONCALL, "channel": "C-INCIDENT"},
    {"after_minutes": 240, "mention_user_group": HEADS},
]


def write_rules(stack: EmbeddedStack, *levels: dict[str, Any]) -> None:
    """One rule for the order items' recoveries with this ladder, as an operator writes it to SSM."""
    document = {
        "rules": [
            {
                "name": "order-items",
                "match": {"state_machine": "*OrderItemStateMachine*"},
                "channel": CHANNEL,
                "escalation": list(levels),
            }
        ]
    }
    stack.client("ssm").put_parameter(
        Name=stack.physical("RoutingRules"), Value=json.dumps(document), Type="String", Overwrite=True
    )
    parameters.clear_caches()  # as five minutes passing would: the rules are read again


def ladder_at(stack: EmbeddedStack, slack: SlackStandIn, moment: datetime, poster: Any = None) -> Escalations:
    """What the reminders function runs, at ``moment`` (Slack's clock says it too)."""
    rules = rules_source(stack.physical("RoutingRules"), ChannelRouting(default=CHANNEL))
    slack.clock = moment.timestamp
    return Escalations(
        store=store(stack),
        dynamodb=stack.client("dynamodb"),
        rules=rules.rules,
        poster=poster or SlackThreadPoster(web_client(BOT_TOKEN, base_url=slack.base_url)),
        clock=lambda: moment,
    )


class RunStopped(Exception):  # noqa: N818 - named for what it stands for
    """The reminders function's process ending here (a timeout, a kill)."""


class StoppingPoster(SlackThreadPoster):
    """Slack's poster in a run that stops once: ``before`` posting the level, or after it."""

    def __init__(self, slack: SlackStandIn, before: bool) -> None:
        super().__init__(web_client(BOT_TOKEN, base_url=slack.base_url))
        self._before = before

    def post_escalation(self, escalation: Escalation) -> MessageRef:
        if not self._before:
            super().post_escalation(escalation)
        raise RunStopped("the run's process ended here")


def escalation_posts(slack: SlackStandIn) -> list[SlackCall]:
    return [c for c in slack.calls_of("chat.postMessage") if "<!subteam^" in c.body.get("text", "")]


def opened_at(recovery: Recovery) -> datetime:
    return datetime.fromisoformat(recovery.created_at)


def open_since(stack: EmbeddedStack, recovery: Recovery, moment: datetime) -> None:
    """Backdate the recovery in the table: as if it had been opened at ``moment`` (its place in its
    status lane too)."""
    created = moment.isoformat(timespec="milliseconds")
    stack.client("dynamodb").update_item(
        TableName=stack.physical("RecoveriesTable"),
        Key=key(recovery.recovery_id),
        UpdateExpression="SET created_at = :created, #sort = :sort",
        ExpressionAttributeNames={"#sort": LANE_SORT},
        ExpressionAttributeValues={
            ":created": {"S": created},
            ":sort": {"S": f"{created}#{recovery.recovery_id}"},
        },
    )


def test_escalation_fires_once_per_level_and_stops_when_taken(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a paused order item, nobody owning it, and a three-level ladder for its rule
    write_rules(stack, *LADDER)
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    start = opened_at(recovery)

    # When the ladder runs at +31 min, again at +31 min (an overlapping run) and at +2 h 1 min
    first = ladder_at(stack, slack, start + timedelta(minutes=31)).run()
    overlapping = ladder_at(stack, slack, start + timedelta(minutes=31)).run()
    second = ladder_at(stack, slack, start + timedelta(minutes=121)).run()

    # Then level 1 went to the recovery's thread and level 2 to its own channel, each once
    assert first.fired == [FiredLevel(recovery.recovery_id, 1)]
    assert overlapping.fired == []
    assert second.fired == [FiredLevel(recovery.recovery_id, 2)]
    level_1, level_2 = escalation_posts(slack)
    assert (level_1.body["channel"], level_1.body["thread_ts"]) == (CHANNEL, recovery.slack_ts)
    assert level_1.body["text"].startswith(f"🚨 <!subteam^{LEADS}> ")
    assert "has been open for 31 min and nobody owns it" in level_1.body["text"]
    assert level_2.body["channel"] == "C-INCIDENT" and "thread_ts" not in level_2.body
    assert f"<!subteam^{ONCALL}>" in level_2.body["text"] and recovery.recovery_id in level_2.body["text"]

    # When someone takes it before the third level, which then comes due
    Owners(store(stack), stack.client("dynamodb")).take(recovery.recovery_id, ALLOWED)
    third = ladder_at(stack, slack, start + timedelta(minutes=241)).run()

    # Then nothing more is posted, and the audit trail tells the whole story
    assert third.fired == [] and len(escalation_posts(slack)) == 2
    trail = [(e.actor, e.action, e.result) for e in store(stack).get(recovery.recovery_id).audit]
    assert trail[-3:] == [
        ("escalation", "escalate", "LEVEL 1"),
        ("escalation", "escalate", "LEVEL 2"),
        (ALLOWED, "take", "OWNED"),
    ]
    assert store(stack).get(recovery.recovery_id).escalated == 2
    assert all(unsafe_spots(c.body, users=[ALLOWED], user_groups=[LEADS, ONCALL]) == [] for c in slack.calls)


def test_a_level_slack_could_not_take_is_posted_by_the_next_run(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a recovery past its first level and Slack failing (retries included)
    write_rules(stack, *LADDER)
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    start = opened_at(recovery)
    slack.fail_next(10, 500, method="chat.postMessage")

    # When the ladder runs during the outage, and again once Slack answers
    during = ladder_at(stack, slack, start + timedelta(minutes=31)).run()
    slack.stop_failing()
    after = ladder_at(stack, slack, start + timedelta(minutes=46)).run()

    # Then the level was given back and posted once, by the next run
    assert during.fired == [] and during.given_back == [FiredLevel(recovery.recovery_id, 1)]
    assert after.fired == [FiredLevel(recovery.recovery_id, 1)]
    assert len(escalation_posts(slack)) == 1
    results = [e.result for e in store(stack).get(recovery.recovery_id).audit if e.actor == "escalation"]
    assert results == ["LEVEL 1", "LEVEL 1 NOT POSTED", "LEVEL 1"]


def test_a_level_whose_run_stopped_before_posting_it_is_posted_once_by_a_later_run(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a recovery past its first level, and a run that claims the level and stops before posting
    write_rules(stack, *LADDER)
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    start = opened_at(recovery)
    with pytest.raises(RunStopped):
        ladder_at(stack, slack, start + timedelta(minutes=31), StoppingPoster(slack, before=True)).run()

    # When a run comes while the claim's lease runs, and one after it ran out
    within = ladder_at(stack, slack, start + timedelta(minutes=31, seconds=30)).run()
    after = ladder_at(stack, slack, start + timedelta(minutes=46)).run()

    # Then the first leaves the level alone; the second looks in the recovery's thread (its
    # replies), finds nothing and posts the level once, marked with it
    assert within.fired == [] and after.fired == [FiredLevel(recovery.recovery_id, 1)]
    (search,) = slack.calls_of("conversations.replies")
    assert (search.body["channel"], search.body["ts"]) == (CHANNEL, recovery.slack_ts)
    (posted,) = escalation_posts(slack)
    assert posted.body["thread_ts"] == recovery.slack_ts
    assert posted.body["metadata"]["event_payload"] == {
        "kind": "escalation",
        "key": f"{recovery.recovery_id}#1",
    }
    results = [e.result for e in store(stack).get(recovery.recovery_id).audit if e.actor == "escalation"]
    assert results == ["LEVEL 1", "LEVEL 1 POSTED LATE"]


def test_a_level_whose_run_stopped_after_posting_it_is_found_and_not_posted_again(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a recovery past its first level, and a run that posts the level and stops before recording it
    write_rules(stack, *LADDER)
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    start = opened_at(recovery)
    with pytest.raises(RunStopped):
        ladder_at(stack, slack, start + timedelta(minutes=31), StoppingPoster(slack, before=False)).run()

    # When the next run comes after the claim's lease
    after = ladder_at(stack, slack, start + timedelta(minutes=46)).run()

    # Then it finds the level's message in the thread and records it: one message
    assert after.fired == [] and after.found == [FiredLevel(recovery.recovery_id, 1)]
    assert len(escalation_posts(slack)) == 1
    results = [e.result for e in store(stack).get(recovery.recovery_id).audit if e.actor == "escalation"]
    assert results == ["LEVEL 1", "LEVEL 1 FOUND POSTED"]


def test_the_reminders_function_escalates_with_the_rules_in_ssm_within_its_role(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given the ladder in SSM and a recovery nobody owns, open for 45 minutes
    write_rules(stack, *LADDER)
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    open_since(stack, recovery, datetime.now(UTC) - timedelta(minutes=45))

    # When the scheduled function runs, twice
    function = stack.physical("ReminderFunction")
    first = json.loads(stack.client("lambda").invoke(FunctionName=function, Payload=b"{}")["Payload"].read())
    second = json.loads(stack.client("lambda").invoke(FunctionName=function, Payload=b"{}")["Payload"].read())

    # Then the first run escalated level 1 in the recovery's thread, and the second nothing
    assert first["escalated"] == [recovery.recovery_id] and second["escalated"] == []
    (posted,) = escalation_posts(slack)
    assert posted.body["thread_ts"] == recovery.slack_ts and f"<!subteam^{LEADS}>" in posted.body["text"]
    assert store(stack).get(recovery.recovery_id).escalated == 1
    # and it read the rules and claimed the level within its role
    assert stack.iam is not None
    parameter_arn = f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{stack.physical('RoutingRules')}"
    assert Call("ReminderFunction", "ssm:GetParameter", parameter_arn) in stack.iam.calls
    assert Call("ReminderFunction", "dynamodb:UpdateItem", stack.arn("RecoveriesTable")) in stack.iam.calls
    assert stack.iam.denied == []


def test_without_ladders_the_reminders_function_escalates_nothing(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given the stack's rules (none) and a recovery open for five hours
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    open_since(stack, recovery, datetime.now(UTC) - timedelta(hours=5))

    # When the scheduled function runs
    answer = stack.client("lambda").invoke(FunctionName=stack.physical("ReminderFunction"), Payload=b"{}")

    # Then it reminds as before and escalates nothing
    result = json.loads(answer["Payload"].read())
    assert result["reminded"] == [recovery.recovery_id] and result["escalated"] == []
    assert escalation_posts(slack) == []
