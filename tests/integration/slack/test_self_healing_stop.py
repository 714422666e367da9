"""Stop on a group message whose paused executions resume by themselves, through the Slack app's
real function: only people who may act on the group's recoveries stop it, exactly once; the
message then shows the final count without Stop and its thread says so."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.healing.runs import Closure, HealingRun, HealingRuns, HealingState
from recovery_ops.service.recovery.ports.notifier import CircuitClosedNotice, HealingNotice, RecoveryGroup
from recovery_ops.service.recovery.storage.groups import GroupStore, group_id_for
from recovery_ops.slack_app.ids import STOP_HEALING
from recovery_ops.slack_app.notifier import SlackHealingDisplay, SlackNotifier
from recovery_ops.slack_app.web import web_client
from tests.support.desk import requests_for, send, store
from tests.support.recoveries import opened_recovery
from tests.support.slack_safety import unsafe_spots
from tests.support.stacks import ALLOWED, BOT_TOKEN, SECOND, STRANGER
from tests.support.waiting import wait_until

DEPENDENCY = "vendor <!channel> <@U123>"  # a circuit's name is data: shown escaped, never a mention


@dataclass(frozen=True)
class Resuming:
    """A group message of two open recoveries whose run resumes them, with Stop on it."""

    run: HealingRun
    channel: str
    ts: str


def a_resuming_group(stack: EmbeddedStack, slack: SlackStandIn) -> Resuming:
    """Two open recoveries of one group, its message posted and showing a RESUMING run (as
    self-healing shows it), all written straight into the recoveries table."""
    table, dynamodb = stack.physical("RecoveriesTable"), stack.client("dynamodb")
    recoveries, groups, runs = store(stack), GroupStore(table, dynamodb), HealingRuns(table, dynamodb)
    now = datetime.now(UTC)
    members = [opened_recovery(recoveries, n) for n in (1, 2)]
    group_id = group_id_for(members[0], 86400, now)
    group = groups.add_members(group_id, members, now)
    client = web_client(BOT_TOKEN, base_url=slack.base_url)
    view = RecoveryGroup(group_id, group.state_machine_arn, group.failed_state, group.error, 2, members)
    message = SlackNotifier(client).post_group(view, "C-RECOVERIES")
    groups.set_message(group_id, message.channel, message.ts)
    for member in members:
        recoveries.mark_posted(member.recovery_id, message.channel, message.ts, group_id)
    run, _ = runs.start(Closure(DEPENDENCY, now.timestamp()), group_id, 2, (message.channel, message.ts), now)
    healing = HealingNotice(run.healing_id, str(run.state), 2, 0, 0, per_second=2.0)
    notice = CircuitClosedNotice(DEPENDENCY, now.isoformat(timespec="seconds"), waiting=2, healing=healing)
    SlackHealingDisplay(client).show(view, message.channel, message.ts, notice)
    return Resuming(run, message.channel, message.ts)


def run_of(stack: EmbeddedStack, healing_id: str) -> HealingRun:
    run = HealingRuns(stack.physical("RecoveriesTable"), stack.client("dynamodb")).get(healing_id)
    assert run is not None
    return run


def action_ids(message: dict) -> list[str]:
    blocks = message["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    found = [b["accessory"]["action_id"] for b in blocks if (b.get("accessory") or {}).get("action_id")]
    return found + [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def response_saying(slack: SlackStandIn, text: str) -> dict:
    wait_until(lambda: any(text in r.get("text", "") for r in slack.responses))
    return next(r for r in slack.responses if text in r.get("text", ""))


def click_stop(stack: EmbeddedStack, slack: SlackStandIn, user: str, group: Resuming) -> None:
    click = requests_for(slack).click(user, STOP_HEALING, group.run.healing_id, group.channel, group.ts)
    assert send(stack, click)["statusCode"] == 200


def test_a_strangers_stop_is_denied_audited_on_the_run_and_the_run_goes_on(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    # Given a group message whose run resumes its recoveries, with Stop on it
    group = a_resuming_group(stack, slack)
    assert STOP_HEALING in action_ids(slack.messages[(group.channel, group.ts)])
    updates = len(slack.calls_of("chat.update"))

    # When someone who may not act on the group's recoveries presses Stop
    click_stop(stack, slack, STRANGER, group)

    # Then they are told why not, the attempt is audited on the run, and the run goes on
    told = response_saying(slack, "🚫 You cannot stop self-healing")
    assert told["response_type"] == "ephemeral"
    run = run_of(stack, group.run.healing_id)
    assert run.state is HealingState.RESUMING and run.stopped_by is None
    denial = run.audit[-1]
    assert (denial.actor, denial.action, denial.result) == (STRANGER, "stop self-healing", "DENIED")
    assert denial.detail["why"]
    assert len(slack.calls_of("chat.update")) == updates
    assert STOP_HEALING in action_ids(slack.messages[(group.channel, group.ts)])


def test_an_allowed_stop_stops_the_run_once_shows_the_final_count_and_a_second_is_told_who_stopped_it(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    # Given a group message whose run resumes its recoveries, with Stop on it
    group = a_resuming_group(stack, slack)

    # When a person who may act on the group's recoveries presses Stop (and confirms)
    click_stop(stack, slack, ALLOWED, group)

    # Then the run is stopped by them, audited
    response_saying(slack, "⏹️ Stopped: 0 resumed, 2 left open for you.")
    run = run_of(stack, group.run.healing_id)
    assert (run.state, run.stopped_by) == (HealingState.STOPPED, ALLOWED)
    stop = run.audit[-1]
    assert (stop.actor, stop.action, stop.result) == (ALLOWED, "stop self-healing", "STOPPED")
    # the group message lost Stop (the bulk buttons stay) and shows the final count
    message = slack.messages[(group.channel, group.ts)]
    assert STOP_HEALING not in action_ids(message)
    final = f"⏹️ Self-healing stopped by <@{ALLOWED}>: 0 resumed, 2 left open for people."
    assert final in json.dumps(message["blocks"], ensure_ascii=False)
    # and its thread says so
    thread = [c.body for c in slack.calls_of("chat.postMessage") if c.body.get("thread_ts") == group.ts]
    assert [reply["text"] for reply in thread] == [final]

    # When another person who may act presses Stop a moment later
    click_stop(stack, slack, SECOND, group)

    # Then they are told who stopped it, and nothing changed
    response_saying(slack, f"Self-healing was already stopped by <@{ALLOWED}>")
    assert run_of(stack, group.run.healing_id) == run
    assert len([c for c in slack.calls_of("chat.postMessage") if c.body.get("thread_ts") == group.ts]) == 1

    # and nothing Slack was sent holds a mention, a link or markup it should not
    spots = [f"{c.method} {s}" for c in slack.calls for s in unsafe_spots(c.body, users=[ALLOWED])]
    assert spots == []
    assert "&lt;!channel&gt;" in json.dumps([c.body for c in slack.calls], ensure_ascii=False)
