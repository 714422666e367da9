"""The integration contract as the docs show it (docs/integrate/contract.md includes these files):
each definition of docs/snippets/ pauses through the recovery queue when its Task still fails after
its retries, and a click in Slack runs the Task again with its input or ends the execution through
the definition's own Catch, beside the recovery service of template.yaml (the pytest plugin's
fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recovery_ops.service.local.desk import Desk
from recovery_ops.service.local.testing.recovery_stack import RecoveryStack

SNIPPETS = Path(__file__).resolve().parents[2] / "docs" / "snippets"
CONTRACT_SNIPPETS = ["contract_jsonpath.asl.json", "contract_jsonata.asl.json"]


class CardDeclined(Exception):
    pass


CHARGED: list[Any] = []
CARD = {"accepted": False}


def charge_card(event: dict, context: Any) -> dict:
    """The Lambda function Charge card calls, answered in-process: declines until the card is accepted."""
    CHARGED.append(event)
    if not CARD["accepted"]:
        raise CardDeclined(f"card of order {event['order_id']} declined")
    return {"charged": event["amount"]}


@pytest.fixture(autouse=True)
def _card_declined() -> None:
    CHARGED.clear()
    CARD["accepted"] = False


def start_payment(recovery_stack: RecoveryStack, snippet: str, order: dict) -> Any:
    machine = recovery_stack.deploy_state_machine(
        SNIPPETS / snippet, functions={"ChargeCardFunction": charge_card}, name="payments"
    )
    is_jsonpath = "jsonpath" in snippet
    return machine.start({"original": order} if is_jsonpath else order)


@pytest.mark.parametrize("snippet", CONTRACT_SNIPPETS)
def test_the_docs_contract_pauses_a_failed_step_and_run_again_charges_with_its_input(
    recovery_stack: RecoveryStack, desk: Desk, snippet: str
) -> None:
    # Given the docs' definition, its card declined at every retry
    order = {"order_id": "o-1", "amount": 100}
    execution = start_payment(recovery_stack, snippet, order)

    # When its recovery is posted
    recovery = desk.wait_for_recovery(execution)

    # Then it carries the failed state, the error and its cause, and exactly the step's input
    assert (recovery.failed_state, recovery.error) == ("Charge card", "CardDeclined")
    assert "card of order o-1 declined" in (recovery.cause or "")
    assert recovery.input == order
    assert recovery.routing == "technical"

    # When the card is accepted and the person runs it again
    CARD["accepted"] = True
    desk.run_again(recovery)

    # Then Charge card runs again with the same input and the execution succeeds
    end = desk.wait_for_end(execution)
    assert end.status == "SUCCEEDED"
    assert CHARGED[-1] == order
    assert len(CHARGED) == 4  # the first call and its 2 retries, then the run again


@pytest.mark.parametrize("snippet", CONTRACT_SNIPPETS)
def test_the_docs_contract_compensates_when_the_recovery_is_rejected(
    recovery_stack: RecoveryStack, desk: Desk, snippet: str
) -> None:
    # Given a payment paused by the docs' definition
    execution = start_payment(recovery_stack, snippet, {"order_id": "o-2", "amount": 40})
    recovery = desk.wait_for_recovery(execution)

    # When the person rejects it
    desk.reject(recovery, "the customer cancelled")

    # Then the recovery step's Catch compensates: the execution ends in the definition's own Fail state
    end = desk.wait_for_end(execution)
    assert (end.status, end.error) == ("FAILED", "PaymentNotTaken")
    assert len(CHARGED) == 3
