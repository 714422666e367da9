"""The message of one recovery, rendered from a recovery built in memory."""

from __future__ import annotations

from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.slack_app.ids import EDIT_AND_RUN_AGAIN, REJECT, RELEASE, RUN_AGAIN, TAKE
from recovery_ops.slack_app.views.limits import MAX_BLOCKS, SECTION_TEXT_LIMIT
from recovery_ops.slack_app.views.recovery_message import (
    outcome_blocks,
    outcome_text,
    recovery_blocks,
    recovery_fallback_text,
)
from tests.unit.slack.builders import (
    ESCAPED_MENTIONS,
    MENTIONS,
    TOKEN,
    a_closed_recovery,
    a_recovery,
    buttons,
    rich_texts,
    sent,
    texts,
)


def test_an_open_recovery_offers_run_again_edit_reject_and_take_it_on_its_own_id() -> None:
    # Given
    recovery = a_recovery()

    # When
    blocks = recovery_blocks(recovery)

    # Then
    assert buttons(blocks) == [
        (RUN_AGAIN, recovery.recovery_id),
        (EDIT_AND_RUN_AGAIN, recovery.recovery_id),
        (REJECT, recovery.recovery_id),
        (TAKE, recovery.recovery_id),
    ]
    shown = texts(sent(blocks))
    assert "orders: Check availability failed" in shown and "`VendorUnavailable`" in shown
    assert "vendor down" in shown  # the cause's errorMessage, not its JSON


def test_mentions_in_what_the_failed_execution_carries_come_out_escaped() -> None:
    # Given
    recovery = a_recovery(error=f"Boom {MENTIONS}", execution_name=f"order {MENTIONS}", cause=MENTIONS)

    # When
    blocks = sent(recovery_blocks(recovery))
    shown = texts(blocks, with_rich_text=False) + recovery_fallback_text(recovery)

    # Then: escaped wherever Slack parses; the cause as written in a rich_text block, where it parses nothing
    assert MENTIONS not in shown
    assert "<!channel>" not in shown and "<@U123>" not in shown
    assert ESCAPED_MENTIONS in shown
    assert MENTIONS in rich_texts(blocks)


def test_the_task_token_is_never_shown_neither_in_the_input_nor_in_the_cause() -> None:
    # Given
    recovery = a_recovery(cause=f"token {TOKEN} refused")

    # When
    payload = str(sent(recovery_blocks(recovery)))

    # Then
    assert TOKEN not in payload
    assert "[redacted]" in payload


def test_a_huge_input_and_cause_stay_within_slack_limits() -> None:
    # Given
    recovery = a_recovery(input={"items": ["x" * 100] * 500}, cause="c" * 50_000)

    # When
    blocks = sent(recovery_blocks(recovery))

    # Then
    assert len(blocks) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= SECTION_TEXT_LIMIT for b in blocks if b["type"] == "section")
    assert "… (truncated)" in texts(blocks)


def test_a_rejected_recovery_loses_its_buttons_and_says_who_rejected_it_and_why() -> None:
    # Given
    recovery = a_closed_recovery(RecoveryStatus.REJECTED, "U0ALICE", {"reason": f"bad data {MENTIONS}"})

    # When
    blocks = outcome_blocks(recovery, outcome_text(recovery))

    # Then
    assert buttons(blocks) == []
    shown = texts(sent(blocks))
    assert "🛑 *Rejected* by <@U0ALICE>" in shown
    assert f"*Reason:* bad data {ESCAPED_MENTIONS}" in shown


def test_an_actor_that_is_not_a_slack_user_is_named_not_mentioned() -> None:
    # Given
    recovery = a_closed_recovery(RecoveryStatus.RESUMED, "<@U123> cli:alice")

    # When
    text = outcome_text(recovery)

    # Then
    assert text.startswith("✅ *Run again* by &lt;@U123&gt; cli:alice at ")


def test_an_owned_recovery_shows_its_owner_and_offers_release_instead_of_take_it() -> None:
    # Given
    recovery = a_recovery(owner="U0BOB", owned_at="2026-12-01T10:05:00.000+00:00")

    # When
    blocks = recovery_blocks(recovery)

    # Then
    assert buttons(blocks)[-1] == (RELEASE, recovery.recovery_id)
    assert TAKE not in [action for action, _ in buttons(blocks)]
    assert "*Owner:* <@U0BOB> since 2026-12-01T10:05:00.000+00:00" in texts(sent(blocks))
