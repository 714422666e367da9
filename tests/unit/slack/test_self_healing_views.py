"""Self-healing in Slack over plain values: the group message's notice while its paused executions
resume by themselves (with Stop) and once that ended, the replies in its thread, and the display
that sends them."""

from __future__ import annotations

from unittest.mock import Mock

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from recovery_ops.service.recovery.healing.runs import HealingState
from recovery_ops.service.recovery.ports.notifier import NotifierUnavailableError
from recovery_ops.slack_app.ids import REJECT_ALL, RUN_AGAIN_ALL, STOP_HEALING, TAKE_ALL
from recovery_ops.slack_app.notifier import SlackHealingDisplay
from recovery_ops.slack_app.views.group_message import group_blocks
from recovery_ops.slack_app.views.healing import healing_progress_text
from tests.support.slack_safety import hostile, unsafe_spots
from tests.unit.slack.builders import (
    HEALING_ID,
    MENTIONS,
    a_group,
    a_healing_circuit_notice,
    a_healing_notice,
    buttons,
    sent,
    texts,
)

STOPPER = "U0ALICE"
ENDED = [HealingState.FINISHED, HealingState.STOPPED, HealingState.REOPENED, HealingState.INTERRUPTED]


def notice_section(blocks: list) -> dict:
    """The block on top of the group message's summary: the notice."""
    return sent(blocks)[1]


def test_a_resuming_run_offers_stop_with_its_id_and_a_confirmation_beside_the_bulk_buttons() -> None:
    # Given
    notice = a_healing_circuit_notice(a_healing_notice())

    # When
    blocks = group_blocks(a_group(), notice)

    # Then Stop sits beside the notice and carries the run's id; the bulk buttons stay
    assert buttons(blocks) == [
        (STOP_HEALING, HEALING_ID),
        (RUN_AGAIN_ALL, "grp-1"),
        (REJECT_ALL, "grp-1"),
        (TAKE_ALL, "grp-1"),
    ]
    stop = notice_section(blocks)["accessory"]
    assert stop["style"] == "danger"
    assert stop["confirm"]["title"]["text"] == "Stop self-healing?"
    assert "stay open for people" in stop["confirm"]["text"]["text"]
    assert (stop["confirm"]["confirm"]["text"], stop["confirm"]["deny"]["text"]) == ("Stop", "Keep resuming")


def test_a_resuming_run_says_how_many_it_resumes_how_fast_and_how_far_it_is() -> None:
    # Given one notice at the start and one later
    starting = a_healing_circuit_notice(a_healing_notice(selected=12, per_second=2.0))
    later = a_healing_circuit_notice(a_healing_notice(selected=12, resumed=4, expired=1, per_second=0.5))

    # When
    first, second = (notice_section(group_blocks(a_group(), n))["text"]["text"] for n in (starting, later))

    # Then
    assert first == (
        "🔄 The circuit for `vendor` closed at 2026-12-01T11:00:00+00:00: resuming 12 paused executions "
        "of this message automatically, oldest first, at most 2 a second. Stop leaves the rest for people."
    )
    assert "resumed so far" not in first
    assert "at most 0.5 a second. 4 resumed so far, 1 expired. Stop leaves the rest for people." in second


@pytest.mark.parametrize(
    ("state", "changes", "expected"),
    [
        (
            HealingState.FINISHED,
            {"resumed": 3, "expired": 1},
            "✅ Resumed 3 paused executions automatically after the circuit for `vendor` closed "
            "(1 expired, 1 left for people).",
        ),
        (
            HealingState.STOPPED,
            {"resumed": 2, "stopped_by": STOPPER, "ended_why": f"stopped by {STOPPER}"},
            f"⏹️ Self-healing stopped by <@{STOPPER}>: 2 resumed, 3 left open for people.",
        ),
        (
            HealingState.REOPENED,
            {"resumed": 1, "ended_why": "the circuit opened again"},
            "⚠️ The circuit for `vendor` opened again: self-healing stopped after 1 resumed; "
            "4 left open, untouched.",
        ),
        (
            HealingState.INTERRUPTED,
            {"resumed": 1, "expired": 1, "ended_why": "rounds failed 3 times"},
            "⚠️ Self-healing stopped after an error (rounds failed 3 times): 1 resumed, 1 expired, "
            "3 left open for people.",
        ),
    ],
)
def test_an_ended_run_has_no_stop_and_shows_its_final_count(
    state: HealingState, changes: dict, expected: str
) -> None:
    # Given
    notice = a_healing_circuit_notice(a_healing_notice(state, **changes))

    # When
    blocks = group_blocks(a_group(), notice)

    # Then
    assert STOP_HEALING not in [action_id for action_id, _ in buttons(blocks)]
    assert "accessory" not in notice_section(blocks)
    assert notice_section(blocks)["text"]["text"] == expected
    assert healing_progress_text(notice.healing, notice.dependency) == expected  # its last thread reply


def test_a_closed_circuit_without_self_healing_keeps_its_plain_notice_and_no_stop() -> None:
    # Given
    notice = a_healing_circuit_notice(a_healing_notice())
    plain = type(notice)(notice.dependency, notice.closed_at, waiting=3)

    # When
    blocks = group_blocks(a_group(), plain)

    # Then
    assert notice_section(blocks)["text"]["text"].startswith("✅ The circuit for `vendor` closed at")
    assert STOP_HEALING not in [action_id for action_id, _ in buttons(blocks)]


@pytest.mark.parametrize("state", [HealingState.RESUMING, *ENDED])
def test_a_hostile_dependency_reason_and_actor_come_out_escaped_in_every_state(state: HealingState) -> None:
    # Given a dependency, a reason and a stopper that try every trick Slack parses
    healing = a_healing_notice(
        state,
        resumed=1,
        ended_why=hostile("why"),
        stopped_by=MENTIONS if state is HealingState.STOPPED else None,
    )
    notice = a_healing_circuit_notice(healing, dependency=hostile("vendor"))

    # When
    payload = {
        "text": healing_progress_text(healing, notice.dependency),
        "blocks": sent(group_blocks(a_group(), notice)),
    }

    # Then nothing in it is a mention, a link or a control character; the text is shown, escaped
    assert unsafe_spots(payload) == []
    assert "&lt;!channel&gt;" in texts(payload["blocks"])


def test_the_person_who_stopped_a_run_is_named_from_its_reason_when_the_notice_does_not_say() -> None:
    # Given a STOPPED notice as the run's reason gives it, without ``stopped_by``
    healing = a_healing_notice(HealingState.STOPPED, resumed=1, ended_why=f"stopped by {STOPPER}")

    # When
    text = healing_progress_text(healing, "vendor")

    # Then
    assert text.startswith(f"⏹️ Self-healing stopped by <@{STOPPER}>:")
    assert unsafe_spots({"text": text}, users=[STOPPER]) == []


def test_a_resuming_reply_in_the_thread_says_how_far_the_run_is() -> None:
    # Given
    healing = a_healing_notice(selected=12, resumed=4, expired=1)

    # When
    text = healing_progress_text(healing, "vendor")

    # Then
    assert text == "🔄 Self-healing: 4 of 12 resumed so far (1 expired)."


def test_the_display_updates_the_group_message_and_replies_in_its_thread() -> None:
    # Given
    client = Mock(spec=WebClient)
    client.chat_postMessage.return_value = Mock(data={"channel": "C-RECOVERIES", "ts": "2.2"})
    client.chat_update.return_value = Mock(data={"ok": True})
    healing = a_healing_notice(resumed=2)
    display = SlackHealingDisplay(client)

    # When
    display.show(a_group(), "C-RECOVERIES", "1.1", a_healing_circuit_notice(healing))
    display.progress("C-RECOVERIES", "1.1", healing, "vendor")

    # Then
    update = client.chat_update.call_args.kwargs
    assert (update["channel"], update["ts"]) == ("C-RECOVERIES", "1.1")
    assert update["text"].startswith("3 recoveries needed")
    assert (STOP_HEALING, HEALING_ID) in buttons(update["blocks"])
    reply = client.chat_postMessage.call_args.kwargs
    assert reply == {
        "channel": "C-RECOVERIES",
        "thread_ts": "1.1",
        "text": "🔄 Self-healing: 2 of 5 resumed so far (0 expired).",
        "metadata": {
            "event_type": "recovery_ops_message",
            "event_payload": {"kind": "healing", "key": HEALING_ID},
        },
    }


@pytest.mark.parametrize("method", ["chat_update", "chat_postMessage"])
def test_a_slack_failure_of_the_display_is_notifier_unavailable(method: str) -> None:
    # Given Slack refusing
    client = Mock(spec=WebClient)
    getattr(client, method).side_effect = SlackApiError(
        "ratelimited", Mock(status_code=429, get=lambda _: None)
    )
    display = SlackHealingDisplay(client)
    healing = a_healing_notice()

    # When / Then
    with pytest.raises(NotifierUnavailableError):
        if method == "chat_update":
            display.show(a_group(), "C-RECOVERIES", "1.1", a_healing_circuit_notice(healing))
        else:
            display.progress("C-RECOVERIES", "1.1", healing, "vendor")
