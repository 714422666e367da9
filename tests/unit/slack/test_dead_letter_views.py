"""`/recoveries dlq` and the confirmation its Redrive DLQ button asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from recovery_ops.service.recovery.dead_letters.preview import DeadLetter
from recovery_ops.service.recovery.dead_letters.queues import RECOVERY, DeadLetterReport, standard_queues
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.slack_app.ids import DLQ_REDRIVE, DLQ_REDRIVE_CANCEL, DLQ_REDRIVE_CONFIRM
from recovery_ops.slack_app.views.dead_letters import (
    dead_letter_blocks,
    dead_letters_text,
    redrive_prompt_blocks,
    redrive_prompt_text,
)
from recovery_ops.slack_app.views.limits import MAX_BLOCKS
from tests.unit.slack.builders import ESCAPED_MENTIONS, MENTIONS, buttons, sent, texts

PREFIX = "https://sqs.eu-west-1.amazonaws.com/123456789012/"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ORDERS_QUEUE, RECOVERY_QUEUE = standard_queues(
    PREFIX + "orders-dlq", PREFIX + "recovery-dlq", PREFIX + "recovery-queue"
)


def test_only_a_redrivable_queue_that_holds_messages_gets_a_redrive_button() -> None:
    # Given
    reports = [
        DeadLetterReport(ORDERS_QUEUE, visible=4),
        DeadLetterReport(RECOVERY_QUEUE, visible=2, in_flight=1),
    ]

    # When
    blocks = dead_letter_blocks(reports, {}, NOW)

    # Then
    assert buttons(blocks) == [(DLQ_REDRIVE, RECOVERY)]
    shown = texts(sent(blocks))
    assert "*3* messages (2 visible, 1 in flight)" in shown and "Not redrivable" in shown
    assert dead_letters_text(reports) == "7 dead letters"


def test_an_empty_redrivable_queue_has_no_button() -> None:
    assert buttons(dead_letter_blocks([DeadLetterReport(RECOVERY_QUEUE, visible=0)], {}, NOW)) == []


def test_message_reasons_and_excerpts_come_out_escaped_and_the_last_redrive_is_shown() -> None:
    # Given
    letter = DeadLetter("m-1", NOW - timedelta(hours=2), 3, f"body {MENTIONS}", reason=f"bad {MENTIONS}")
    last = AuditEntry("2026-12-01T11:00:00", "U0ALICE", "redrive", "STARTED", {"task_handle": "h-1"})

    # When
    report = DeadLetterReport(RECOVERY_QUEUE, 1, oldest=[letter])
    shown = texts(sent(dead_letter_blocks([report], {RECOVERY: last}, NOW)))

    # Then
    assert "<!channel>" not in shown and "<@U123>" not in shown
    assert f"*Reason:* bad {ESCAPED_MENTIONS}" in shown
    assert "Last redrive: <@U0ALICE> at 2026-12-01T11:00:00 (task `h-1`)" in shown


def test_many_old_messages_on_both_queues_stay_within_fifty_blocks() -> None:
    letters = [DeadLetter(f"m-{i}", NOW - timedelta(days=i), 1, "x" * 5000) for i in range(30)]
    reports = [DeadLetterReport(q, visible=30, oldest=letters) for q in (ORDERS_QUEUE, RECOVERY_QUEUE)]

    assert len(dead_letter_blocks(reports, {}, NOW)) <= MAX_BLOCKS


def test_the_redrive_confirmation_says_how_many_where_and_how_long() -> None:
    # When
    blocks = redrive_prompt_blocks(RECOVERY_QUEUE, visible=25, rate=10)

    # Then
    assert buttons(blocks) == [(DLQ_REDRIVE_CONFIRM, RECOVERY), (DLQ_REDRIVE_CANCEL, RECOVERY)]
    assert "Move *25* messages from `recovery-dlq` back to `recovery-queue` at 10 a second" in texts(
        sent(blocks)
    )
    assert redrive_prompt_text(RECOVERY_QUEUE, 25) == "Redrive 25 messages from recovery-dlq?"
