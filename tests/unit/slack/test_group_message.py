"""One message for many recoveries of the same failure, and that message once a bulk action closed it."""

from __future__ import annotations

from recovery_ops.service.recovery.ports.notifier import CircuitClosedNotice
from recovery_ops.slack_app.ids import REJECT_ALL, RUN_AGAIN_ALL, TAKE_ALL
from recovery_ops.slack_app.views.group_message import group_blocks, group_closed_blocks, group_fallback_text
from recovery_ops.slack_app.views.limits import MAX_BLOCKS
from tests.unit.slack.builders import (
    ESCAPED_MENTIONS,
    MENTIONS,
    a_group,
    a_group_state,
    a_recovery,
    buttons,
    sent,
    texts,
)


def test_a_group_offers_run_again_all_and_reject_all_on_the_group() -> None:
    # Given
    group = a_group(count=40)

    # When
    blocks = group_blocks(group)

    # Then
    assert buttons(blocks) == [(RUN_AGAIN_ALL, "grp-1"), (REJECT_ALL, "grp-1"), (TAKE_ALL, "grp-1")]
    assert "40 × orders: Check availability failed" in texts(sent(blocks))
    assert group_fallback_text(group).startswith("40 recoveries needed")


def test_a_closed_circuit_is_announced_first_with_the_dependency_escaped() -> None:
    # Given
    notice = CircuitClosedNotice(dependency=f"vendor {MENTIONS}", closed_at="2026-12-01T11:00", waiting=1)

    # When
    blocks = sent(group_blocks(a_group(), notice))

    # Then
    assert blocks[1]["text"]["text"].startswith(f"✅ The circuit for `vendor {ESCAPED_MENTIONS}` closed")
    assert "1 paused execution of this message" in blocks[1]["text"]["text"]


def test_hostile_execution_names_in_the_latest_list_come_out_escaped() -> None:
    # Given
    group = a_group(latest=[a_recovery(execution_name=f"order {MENTIONS}")], error=MENTIONS)

    # When
    shown = texts(sent(group_blocks(group))) + group_fallback_text(group)

    # Then
    assert "<!channel>" not in shown and "<@U123>" not in shown
    assert ESCAPED_MENTIONS in shown


def test_a_group_message_stays_within_fifty_blocks() -> None:
    assert len(group_blocks(a_group(count=10_000))) <= MAX_BLOCKS


def test_a_group_closed_by_a_bulk_action_has_no_buttons_and_shows_the_summary() -> None:
    # Given
    state = a_group_state(error=MENTIONS)

    # When
    blocks = group_closed_blocks(state, "Run again all by <@U0ALICE>: 3/3: 3 resumed")

    # Then
    assert buttons(blocks) == []
    shown = texts(sent(blocks))
    assert f"*Error:* `{ESCAPED_MENTIONS}`\n✅ Run again all by <@U0ALICE>: 3/3: 3 resumed" in shown
