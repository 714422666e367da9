"""What people see of a durable function's recovery: its function and its step, never its callback id.

The Slack message, the /recoveries row and full view, and the command line's list and show say
"function" and "step" where a state machine's recovery names its execution and failed state;
``function=`` (as ``machine=``) finds a durable function's recoveries by name.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from unittest.mock import Mock

from recovery_ops.service.operator import Operator
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from recovery_ops.slack_app.views.listing import recovery_row, show_blocks
from recovery_ops.slack_app.views.recovery_message import (
    outcome_text,
    recovery_blocks,
    recovery_fallback_text,
)
from tests.support.fakes import FakeDynamoDB
from tests.support.recoveries import DURABLE_FUNCTION, opened_durable_recovery, opened_recovery

CALLBACK_ID = "Y2FsbGJhY2st0"  # opened_durable_recovery's callback id for recovery 0
FUNCTION_PAGE = (
    "https://us-east-1.console.aws.amazon.com/lambda/home?region=us-east-1#/functions/order-item-check"
)


def text_of(blocks: list) -> str:
    return json.dumps([block.to_dict() for block in blocks], ensure_ascii=False)


def durable() -> tuple[RecoveryStore, Recovery]:
    store = RecoveryStore("recoveries", FakeDynamoDB())
    return store, opened_durable_recovery(store, cause=f"callback {CALLBACK_ID} failed")


def test_the_message_of_a_durable_recovery_names_its_function_step_and_durable_execution() -> None:
    # Given a durable recovery whose cause quotes its callback id
    _, recovery = durable()

    # When its message is built
    message = text_of(recovery_blocks(recovery))

    # Then it names the function (linked to its console page), the step and the durable execution
    assert f"*Function:* <{FUNCTION_PAGE}|order-item-check>" in message
    assert "*Step:* `check stock`" in message
    assert "*Durable execution:* `order-0`" in message
    assert "order-item-check: check stock failed" in message
    assert "*Execution:*" not in message
    assert CALLBACK_ID not in message
    assert CALLBACK_ID not in recovery_fallback_text(recovery)


def test_a_resumed_durable_recovery_says_the_function_continues_from_its_step() -> None:
    _, recovery = durable()
    resumed = replace(recovery, status=RecoveryStatus.RESUMED)
    assert "The function continues from step *check stock*." in outcome_text(resumed)


def test_a_state_machines_message_still_names_its_execution() -> None:
    # Given a Step Functions recovery
    recovery = opened_recovery(RecoveryStore("recoveries", FakeDynamoDB()))

    # Then its message and row read as they always have
    message = text_of(recovery_blocks(recovery))
    assert f"*Execution:* <{recovery.console_url}|run-0>\\n*Error:*" in message
    assert "*Function:*" not in message and "*Step:*" not in message
    assert "  ·  orders / Check availability\\n" in json.dumps(
        recovery_row(recovery).to_dict(), ensure_ascii=False
    )


def test_the_list_row_and_the_full_view_name_the_function_and_step() -> None:
    # Given
    _, recovery = durable()

    # When
    row = json.dumps(recovery_row(recovery).to_dict(), ensure_ascii=False)
    shown = text_of(show_blocks(recovery, datetime.now(UTC)))

    # Then
    assert "function order-item-check / step check stock" in row
    assert f"*Function:* <{FUNCTION_PAGE}|order-item-check>" in shown
    assert "*Step:* `check stock`" in shown
    assert CALLBACK_ID not in row and CALLBACK_ID not in shown


def test_the_command_line_lists_and_shows_the_function_and_step() -> None:
    # Given a durable recovery, listed by function= and shown
    store, recovery = durable()
    printed: list[str] = []
    operator = Operator(store, Mock(), Mock(), "cli:alice", printed.append)

    # When
    listed = operator.list(RecoveryQuery.from_words(["function=order-item-check"]))
    operator.show(recovery.recovery_id)
    out = "\n".join(printed)

    # Then the list row and the show name the function and its step, never the callback id
    assert [r.recovery_id for r in listed] == [recovery.recovery_id]
    assert "function order-item-check / step check stock  VendorUnavailable  order-0" in out
    assert f"  function:   {DURABLE_FUNCTION}" in out
    assert "  step:       check stock with VendorUnavailable" in out
    assert "failed at:" not in out
    assert CALLBACK_ID not in out


def test_machine_and_function_filters_find_a_function_by_name() -> None:
    store, recovery = durable()
    opened_recovery(store, 1)
    for word in ("machine=order-item-check", "function=order-item-check", f"function={DURABLE_FUNCTION}"):
        where = RecoveryQuery.from_words([word]).list_filter()
        found = store.list_by_status(RecoveryStatus.OPEN, where, limit=10)
        assert [r.recovery_id for r in found] == [recovery.recovery_id], word
