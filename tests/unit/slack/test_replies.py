"""What only the clicker sees (ephemeral replies) and what is posted in a message's thread."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, ActionResult
from recovery_ops.service.recovery.lifecycle.bulk import BulkReport
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.lifecycle.reminders import Reminder
from recovery_ops.slack_app.ids import BULK_CANCEL, BULK_CONFIRM
from recovery_ops.slack_app.views.ephemeral import (
    USAGE,
    action_result_text,
    bulk_retry_prompt_blocks,
    denied_text,
    failure_report_text,
)
from recovery_ops.slack_app.views.thread_replies import (
    bulk_finished_text,
    bulk_started_text,
    bulk_summary,
    grouped_outcome_text,
    reminder_text,
)
from tests.unit.slack.builders import ESCAPED_MENTIONS, MENTIONS, a_recovery, buttons, sent, texts

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_a_click_someone_else_already_handled_says_by_whom_and_that_nothing_was_sent() -> None:
    # Given
    result = ActionResult(ActionOutcome.ALREADY_HANDLED, a_recovery(), "was already resumed", "U0BOB")

    # Then
    assert action_result_text(result) == "👋 `order-1` was already resumed by <@U0BOB>. Nothing was sent."


def test_a_successful_click_on_a_message_needs_no_reply_but_one_from_the_list_does() -> None:
    result = ActionResult(ActionOutcome.RESUMED, a_recovery())

    assert action_result_text(result) is None  # the message itself shows the outcome
    assert action_result_text(result, always=True) == "✅ Run again: `order-1`."


def test_a_failure_detail_from_step_functions_comes_out_escaped() -> None:
    result = ActionResult(ActionOutcome.FAILED, a_recovery(), f"refused {MENTIONS}")

    assert action_result_text(result) == f"⚠️ `order-1`: refused {ESCAPED_MENTIONS}"


def test_refusals_and_failure_reports_escape_the_reason_and_point_to_the_log() -> None:
    assert denied_text("reject", f"not in {MENTIONS}") == (
        f"🚫 You cannot reject: not in {ESCAPED_MENTIONS}. Nothing was sent; "
        "your attempt is in the audit trail."
    )
    report = failure_report_text("Reject", "DynamoDB is unavailable", "abc123")
    assert "reference `abc123`" in report and "`/recoveries show &lt;id&gt;`" in report


def test_the_usage_shows_its_placeholder_escaped() -> None:
    assert "<id>" not in USAGE and "`/recoveries show &lt;id&gt;` one in full" in USAGE


def test_a_typed_retry_asks_to_confirm_with_the_count_and_carries_the_query_not_ids() -> None:
    # Given
    query = RecoveryQuery(error=f"Vendor {MENTIONS}")

    # When
    blocks = bulk_retry_prompt_blocks(7, query)

    # Then
    assert buttons(blocks) == [(BULK_CONFIRM, query.to_json()), (BULK_CANCEL, "cancel")]
    shown = texts(sent(blocks))
    assert shown.startswith("*7* open recoveries match") and ESCAPED_MENTIONS in shown


def test_a_reminder_says_how_long_it_waited_and_how_long_its_token_has_left() -> None:
    reminder = Reminder(a_recovery(), timedelta(hours=2), NOW + timedelta(hours=1), NOW)

    assert reminder_text(reminder) == (
        "⏰ Still waiting for a person: `order-1` paused 2 h 0 min ago. Its task token has 1 h 0 min left "
        "(until 2026-12-01T13:00+00:00); then the workflow gives up on it."
    )


def test_a_reminder_of_a_recovery_someone_owns_mentions_its_owner() -> None:
    # Given a recovery Bob took
    reminder = Reminder(a_recovery(owner="U0BOB"), timedelta(hours=2), NOW + timedelta(hours=1), NOW)

    # Then its reminder is addressed to him
    assert reminder_text(reminder).startswith(
        "⏰ <@U0BOB> owns this: `order-1` still waits, paused 2 h 0 min ago."
    )


def test_an_owner_who_is_no_slack_user_is_named_in_plain_text() -> None:
    reminder = Reminder(a_recovery(owner="cli:<!here>"), timedelta(hours=2), None, NOW)

    assert reminder_text(reminder).startswith("⏰ cli:&lt;!here&gt; owns this:")


def test_bulk_progress_names_the_starter_and_escapes_the_description() -> None:
    # Given
    report = BulkReport(total=3, outcomes=Counter({"RESUMED": 3}), wall_s=1.25)

    # Then
    assert bulk_started_text("U0ALICE", "reject", 3, f"orders {MENTIONS}") == (
        f"<@U0ALICE> started *Reject all* on 3 open recoveries (orders {ESCAPED_MENTIONS})."
    )
    assert bulk_finished_text("run_again", report) == "*Run again all* finished: 3/3: 3 resumed in 1.2 s."
    assert bulk_summary("U0ALICE", "run_again", report) == "Run again all by <@U0ALICE>: 3/3: 3 resumed"


def test_the_outcome_of_a_grouped_recovery_in_its_thread_names_the_execution_escaped() -> None:
    recovery = a_recovery(execution_name=f"order {MENTIONS}")

    assert grouped_outcome_text(recovery, "done").startswith(f"`order {ESCAPED_MENTIONS}`: done")
