"""The answers of `/recoveries`: a page of the open list, and one recovery in full."""

from __future__ import annotations

from collections import Counter

from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.model.recovery import AuditEntry, RecoveryStatus
from recovery_ops.slack_app.ids import (
    EDIT_AND_RUN_AGAIN,
    NEXT_PAGE,
    REJECT,
    RELEASE,
    ROW_MENU,
    RUN_AGAIN,
    TAKE,
)
from recovery_ops.slack_app.views.limits import MAX_BLOCKS
from recovery_ops.slack_app.views.listing import (
    PAGE_SIZE,
    list_blocks,
    parse_row_menu_value,
    row_menu_value,
    show_blocks,
)
from tests.unit.slack.builders import (
    ESCAPED_MENTIONS,
    MENTIONS,
    a_closed_recovery,
    a_recovery,
    buttons,
    sent,
    texts,
)


def a_page(size: int = PAGE_SIZE) -> tuple[list, Counter]:
    page = [a_recovery(n) for n in range(1, size + 1)]
    return page, Counter({("orders", "VendorUnavailable"): size})


def test_a_full_page_has_one_row_menu_per_recovery_and_a_next_button_within_fifty_blocks() -> None:
    # Given
    page, counts = a_page()

    # When
    blocks = list_blocks(page, counts, RecoveryQuery(), next_cursor=page[-1].sort_key, page_number=3)

    # Then
    assert len(blocks) <= MAX_BLOCKS
    menus = [b["accessory"] for b in sent(blocks) if (b.get("accessory") or {}).get("action_id") == ROW_MENU]
    assert len(menus) == PAGE_SIZE
    assert [parse_row_menu_value(o["value"]) for o in menus[0]["options"]] == [
        (RUN_AGAIN, page[0].recovery_id),
        (EDIT_AND_RUN_AGAIN, page[0].recovery_id),
        (REJECT, page[0].recovery_id),
        (TAKE, page[0].recovery_id),
    ]
    [(action_id, value)] = buttons(blocks)
    assert action_id == NEXT_PAGE and value.startswith("4|")
    assert "Page 3 · newest first · `/recoveries show &lt;id&gt;` for one in full" in texts(sent(blocks))


def test_the_last_page_has_no_next_button() -> None:
    page, counts = a_page(2)

    assert buttons(list_blocks(page, counts, RecoveryQuery(), next_cursor=None)) == []


def test_an_empty_list_says_nothing_is_waiting() -> None:
    blocks = list_blocks([], Counter(), RecoveryQuery(), next_cursor=None)

    assert "0 open recoveries" in texts(sent(blocks))
    assert "Nothing is waiting for a person. 🎉" in texts(sent(blocks))


def test_the_typed_filter_and_hostile_rows_come_out_escaped() -> None:
    # Given
    page = [a_recovery(execution_name=f"order {MENTIONS}", error=MENTIONS)]
    counts = Counter({("orders", MENTIONS): 1})

    # When
    shown = texts(sent(list_blocks(page, counts, RecoveryQuery(error=MENTIONS), next_cursor=None)))

    # Then
    assert "<!channel>" not in shown and "<@U123>" not in shown
    assert ESCAPED_MENTIONS in shown


def test_a_row_menu_value_reads_back_as_the_action_and_the_recovery() -> None:
    assert parse_row_menu_value(row_menu_value(REJECT, "rec-1")) == (REJECT, "rec-1")


def test_an_open_recovery_in_full_has_its_buttons_and_its_history() -> None:
    # Given
    recovery = a_recovery()

    # When
    blocks = show_blocks(recovery)

    # Then
    assert [action for action, _ in buttons(blocks)] == [RUN_AGAIN, EDIT_AND_RUN_AGAIN, REJECT, TAKE]
    assert "*Status:* OPEN" in texts(sent(blocks)) and "History" in texts(sent(blocks))


def test_a_closed_recovery_in_full_shows_its_outcome_instead_of_buttons() -> None:
    recovery = a_closed_recovery(RecoveryStatus.REJECTED, "U0ALICE", {"reason": "duplicate"})

    blocks = show_blocks(recovery)

    assert buttons(blocks) == []
    assert "🛑 *Rejected* by <@U0ALICE>" in texts(sent(blocks))


def test_a_long_history_keeps_the_view_within_fifty_blocks() -> None:
    # Given
    entries = [AuditEntry(f"2026-12-01T10:{n % 60:02d}", "U0ALICE", "retry", "FAILED") for n in range(200)]
    recovery = a_recovery(audit=entries)

    # Then
    assert len(show_blocks(recovery)) <= MAX_BLOCKS


def test_an_owned_row_names_its_owner_and_its_menu_offers_release() -> None:
    # Given
    page = [a_recovery(owner="U0BOB")]

    # When
    blocks = sent(list_blocks(page, Counter({("orders", "VendorUnavailable"): 1}), RecoveryQuery(), None))

    # Then
    (menu,) = [b["accessory"] for b in blocks if (b.get("accessory") or {}).get("action_id") == ROW_MENU]
    assert parse_row_menu_value(menu["options"][-1]["value"]) == (RELEASE, page[0].recovery_id)
    assert "owner <@U0BOB>" in texts(blocks)
