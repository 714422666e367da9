"""Marks and history: every group message and escalation level carries its mark in Slack's message
metadata, and ``find_posted`` finds it again in the channel's history or the thread's replies, page
by page, or says it cannot prove anything. Against the Slack stand-in on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.errors import SlackApiError

from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.ports.notifier import MessageMark, NotifierUnavailableError
from recovery_ops.slack_app import notifier as slack_notifier
from recovery_ops.slack_app.notifier import SlackNotifier, SlackThreadPoster
from recovery_ops.slack_app.web import web_client
from tests.unit.slack.builders import TOKEN, a_group, a_recovery
from tests.unit.slack.test_escalation_message import an_escalation

BOT_TOKEN = "xoxb-find-posted"
BEFORE = datetime.now(UTC) - timedelta(minutes=1)


def chat(slack: SlackStandIn, retries: int = 2) -> SlackNotifier:
    return SlackNotifier(web_client(BOT_TOKEN, base_url=slack.base_url, retries=retries))


def test_a_groups_messages_carry_its_mark_and_no_token(slack: SlackStandIn) -> None:
    # When a group's first recovery and a group message are posted
    chat(slack).post_recovery(a_recovery(), "C-TECH", MessageMark.group("grp-1"))
    chat(slack).post_group(a_group(group_id="grp-2"), "C-TECH")

    # Then each carries its group's mark as metadata, and nothing of the recovery's token
    posts = slack.calls_of("chat.postMessage")
    assert [p.body["metadata"] for p in posts] == [
        {"event_type": "recovery_ops_message", "event_payload": {"kind": "group", "key": key}}
        for key in ("grp-1", "grp-2")
    ]
    assert all(TOKEN not in json.dumps(p.body["metadata"]) for p in posts)


def test_an_escalation_level_carries_its_recoverys_id_and_level(slack: SlackStandIn) -> None:
    # When level 2 of a recovery is posted
    SlackThreadPoster(web_client(BOT_TOKEN, base_url=slack.base_url)).post_escalation(
        an_escalation(level=2, channel="C-INCIDENT", thread_ts=None)
    )

    # Then its metadata names the recovery and the level
    (post,) = slack.calls_of("chat.postMessage")
    assert post.body["metadata"]["event_payload"] == {
        "kind": "escalation",
        "key": f"{a_recovery().recovery_id}#2",
    }


# ---------------------------------------------------------------------- finding it again
def test_a_marked_message_is_found_in_the_channels_history(slack: SlackStandIn) -> None:
    # Given an unmarked message, a group's message and another group's, in one channel
    client = chat(slack)
    web_client(BOT_TOKEN, base_url=slack.base_url).chat_postMessage(channel="C-TECH", text="hello")
    ours = client.post_group(a_group(group_id="grp-1"), "C-TECH")
    client.post_group(a_group(group_id="grp-2"), "C-TECH")

    # When each group's mark is looked for, and one that was never posted
    found = client.find_posted("C-TECH", BEFORE, MessageMark.group("grp-1"))
    missing = client.find_posted("C-TECH", BEFORE, MessageMark.group("grp-3"))

    # Then the group's own message is found, and the absent one proved absent
    assert found == ours and missing is None
    (read, _) = slack.calls_of("conversations.history")
    assert read.body["include_all_metadata"] in ("1", "true")


def test_a_message_posted_before_the_moment_looked_from_is_not_found(slack: SlackStandIn) -> None:
    # Given a group's message
    client = chat(slack)
    client.post_group(a_group(group_id="grp-1"), "C-TECH")

    # When it is looked for from a moment after it was posted
    found = client.find_posted("C-TECH", datetime.now(UTC) + timedelta(seconds=1), MessageMark.group("grp-1"))

    # Then it is not found
    assert found is None


def test_a_reply_in_a_thread_is_found_in_the_thread_and_not_in_the_channel(slack: SlackStandIn) -> None:
    # Given a recovery's message and an escalation level posted in its thread
    client = chat(slack)
    parent = client.post_recovery(a_recovery(), "C-ORDERS", MessageMark.group("grp-1"))
    poster = SlackThreadPoster(web_client(BOT_TOKEN, base_url=slack.base_url))
    level = poster.post_escalation(an_escalation(channel="C-ORDERS", thread_ts=parent.ts))
    mark = MessageMark.escalation(a_recovery().recovery_id, 1)

    # When the level is looked for in the channel's history, and in the thread
    in_channel = poster.find_posted("C-ORDERS", BEFORE, mark)
    in_thread = poster.find_posted("C-ORDERS", BEFORE, mark, thread_ts=parent.ts)

    # Then only the thread has it (as on Slack: replies are not in conversations.history)
    assert in_channel is None and in_thread == level


def test_a_long_history_is_read_page_by_page(slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a group's message followed by four others, and pages of two messages
    monkeypatch.setattr(slack_notifier, "HISTORY_PAGE", 2)
    client = chat(slack)
    ours = client.post_group(a_group(group_id="grp-1"), "C-TECH")
    for n in range(2, 6):
        client.post_group(a_group(group_id=f"grp-{n}"), "C-TECH")

    # When it is looked for
    found = client.find_posted("C-TECH", BEFORE, MessageMark.group("grp-1"))

    # Then it was on the third page, newest first
    assert found == ours and len(slack.calls_of("conversations.history")) == 3


def test_more_history_than_is_read_proves_nothing(
    slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three messages, and a search that reads at most two pages of one
    monkeypatch.setattr(slack_notifier, "HISTORY_PAGE", 1)
    monkeypatch.setattr(slack_notifier, "HISTORY_PAGES", 2)
    client = chat(slack)
    for n in range(1, 4):
        client.post_group(a_group(group_id=f"grp-{n}"), "C-TECH")

    # When a mark that is not there is looked for
    # Then the search says it could not read everything, rather than that it is absent
    with pytest.raises(NotifierUnavailableError, match="more history"):
        client.find_posted("C-TECH", BEFORE, MessageMark.group("grp-9"))


def test_history_slack_will_not_give_proves_nothing(slack: SlackStandIn) -> None:
    # Given a channel the bot cannot read (unknown to Slack), and Slack failing every read
    client = chat(slack, retries=0)
    client.post_group(a_group(group_id="grp-1"), "C-TECH")

    # When a mark is looked for in each case
    with pytest.raises(NotifierUnavailableError, match="channel_not_found"):
        client.find_posted("C-NOWHERE", BEFORE, MessageMark.group("grp-1"))
    slack.fail_next(1, 500, method="conversations.history")
    with pytest.raises(NotifierUnavailableError):
        client.find_posted("C-TECH", BEFORE, MessageMark.group("grp-1"))


# ---------------------------------------------------------------------- the stand-in, as Slack
def test_the_stand_in_refuses_metadata_slack_refuses(slack: SlackStandIn) -> None:
    client = web_client(BOT_TOKEN, base_url=slack.base_url)
    for metadata in (
        {"event_type": "has spaces", "event_payload": {}},
        {"event_type": "x" * 256, "event_payload": {}},
        {"event_type": "recovery_ops_message", "event_payload": "not an object"},
        {"event_payload": {}},
    ):
        with pytest.raises(SlackApiError) as refused:
            client.chat_postMessage(channel="C1", text="t", metadata=metadata)
        assert refused.value.response["error"] == "invalid_metadata_format"
    assert slack.posted_messages() == {}


def test_the_stand_in_shows_metadata_only_when_asked_and_broadcast_replies_in_the_channel(
    slack: SlackStandIn,
) -> None:
    # Given a marked message, a reply in its thread, and a reply broadcast to the channel
    client = web_client(BOT_TOKEN, base_url=slack.base_url)
    metadata = {"event_type": "recovery_ops_message", "event_payload": {"kind": "group", "key": "g"}}
    parent = client.chat_postMessage(channel="C1", text="parent", metadata=metadata)["ts"]
    client.chat_postMessage(channel="C1", text="reply", thread_ts=parent)
    client.chat_postMessage(channel="C1", text="broadcast", thread_ts=parent, reply_broadcast=True)

    # When the history is read without and with metadata, and the thread
    plain = client.conversations_history(channel="C1")["messages"]
    marked = client.conversations_history(channel="C1", include_all_metadata=True)["messages"]
    thread = client.conversations_replies(channel="C1", ts=parent)["messages"]

    # Then the channel shows the parent and the broadcast, newest first; the thread all three
    assert [m["text"] for m in plain] == ["broadcast", "parent"]
    assert "metadata" not in plain[1] and marked[1]["metadata"] == metadata
    assert [m["text"] for m in thread] == ["parent", "reply", "broadcast"]
    with pytest.raises(SlackApiError, match="thread_not_found"):
        client.conversations_replies(channel="C1", ts="1.000001")


def test_the_stand_in_stamps_messages_with_its_clock() -> None:
    # Given a stand-in whose clock says a moment
    standin = SlackStandIn(clock=lambda: 1796112000.5)

    # When two messages are posted at that moment
    first = standin.answer("chat.postMessage", {"channel": "C1", "text": "a"}, BOT_TOKEN)[1]["ts"]
    second = standin.answer("chat.postMessage", {"channel": "C1", "text": "b"}, BOT_TOKEN)[1]["ts"]

    # Then they carry that moment, each its own ts
    assert (first, second) == ("1796112000.500000", "1796112000.500001")
