"""The modals: edit an input, confirm a rejection, confirm a bulk action."""

from __future__ import annotations

import json

from recovery_ops.slack_app.ids import BULK_SUBMIT, EDIT_SUBMIT, REJECT_SUBMIT
from recovery_ops.slack_app.views.limits import TEXT_INPUT_LIMIT
from recovery_ops.slack_app.views.modals import (
    INPUT_ACTION,
    INPUT_BLOCK,
    REASON_ACTION,
    REASON_BLOCK,
    ModalOrigin,
    bulk_modal,
    edit_modal,
    editable,
    edited_input,
    reject_modal,
    submitted_value,
)
from tests.unit.slack.builders import ESCAPED_MENTIONS, MENTIONS, TOKEN, a_recovery, sent, texts

ORIGIN = ModalOrigin(channel="C-RECOVERIES", message_ts="1700000000.000100")


def test_the_edit_modal_shows_the_input_without_its_token_and_remembers_where_it_came_from() -> None:
    # Given
    recovery = a_recovery()

    # When
    view = sent(edit_modal(recovery, ORIGIN))

    # Then
    assert view["callback_id"] == EDIT_SUBMIT
    field = view["blocks"][1]
    assert field["block_id"] == INPUT_BLOCK and field["element"]["action_id"] == INPUT_ACTION
    shown = json.loads(field["element"]["initial_value"])
    assert shown == {"order_id": "order-1", "task_token": "[redacted]"}
    assert TOKEN not in json.dumps(view)
    metadata = json.loads(view["private_metadata"])
    assert (metadata["recovery_id"], metadata["channel"], metadata["message_ts"]) == (
        recovery.recovery_id,
        "C-RECOVERIES",
        "1700000000.000100",
    )


def test_a_submitted_input_gets_its_redacted_token_back() -> None:
    recovery = a_recovery()

    assert edited_input(recovery, {"order_id": "fixed", "task_token": "[redacted]"}) == {
        "order_id": "fixed",
        "task_token": TOKEN,
    }


def test_an_input_larger_than_a_slack_text_field_is_not_editable_in_a_modal() -> None:
    assert editable(a_recovery())
    assert not editable(a_recovery(input={"blob": "x" * TEXT_INPUT_LIMIT}))


def test_the_reject_modal_asks_for_an_optional_reason_and_escapes_the_names() -> None:
    # Given
    recovery = a_recovery(execution_name=f"order {MENTIONS}", error=MENTIONS)

    # When
    view = sent(reject_modal(recovery, ORIGIN))

    # Then
    assert view["callback_id"] == REJECT_SUBMIT
    reason = view["blocks"][-1]
    assert (reason["block_id"], reason["element"]["action_id"], reason["optional"]) == (
        REASON_BLOCK,
        REASON_ACTION,
        True,
    )
    shown = texts(view["blocks"])
    assert "<!channel>" not in shown and ESCAPED_MENTIONS in shown
    assert "<" not in view["private_metadata"]  # the names are in it, as JSON escapes


def test_a_bulk_reject_says_how_many_and_asks_for_a_reason_a_bulk_run_again_does_not() -> None:
    # When
    reject = sent(bulk_modal("reject", 12, "orders / Check availability", {"group_id": "grp-1"}))
    run_again = sent(bulk_modal("run_again", 1, "orders / Check availability", {"group_id": "grp-1"}))

    # Then
    assert reject["callback_id"] == run_again["callback_id"] == BULK_SUBMIT
    assert reject["title"]["text"] == "Reject 12?" and run_again["submit"]["text"] == "Run again all"
    assert "*12* open recoveries will be affected" in texts(reject["blocks"])
    assert "*1* open recovery will be affected" in texts(run_again["blocks"])
    assert [b["type"] for b in reject["blocks"]] == ["section", "input"]
    assert [b["type"] for b in run_again["blocks"]] == ["section"]
    assert json.loads(reject["private_metadata"]) == {"group_id": "grp-1", "kind": "reject"}


def test_what_was_typed_is_read_back_from_the_submitted_view() -> None:
    view = {"state": {"values": {REASON_BLOCK: {REASON_ACTION: {"value": "duplicate order"}}}}}

    assert submitted_value(view, REASON_BLOCK, REASON_ACTION) == "duplicate order"
    assert submitted_value({}, REASON_BLOCK, REASON_ACTION) is None
