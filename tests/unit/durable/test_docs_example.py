"""The durable function of docs/integrate/durable-functions.md (docs/snippets/durable_charge_card.py),
run as the page shows it in AWS's local durable-function runner, the recovery queue in moto: a card
declined at every retry pauses the order on the desk; Run again charges it with the person's input,
a rejection ends it without a charge."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

from tests.unit.durable.runs import ACCOUNT, FUNCTION_ARN, Queue, result

SNIPPET = Path(__file__).resolve().parents[3] / "docs" / "snippets" / "durable_charge_card.py"
ORDER = {"order_id": "o-1", "amount": 100, "card": "card-1"}


class CardDeclined(Exception):
    pass


def load_snippet() -> ModuleType:
    spec = importlib.util.spec_from_file_location("durable_charge_card", SNIPPET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class PageFunction:
    handler: Callable[..., Any]
    charged: list[dict[str, Any]]

    def start(
        self, runner_of: Callable[..., DurableFunctionTestRunner]
    ) -> tuple[DurableFunctionTestRunner, str, str]:
        """The function started with the order: (its runner, the execution, the callback it waits on)."""
        runner = runner_of(self.handler)
        arn = runner.run_async(input=json.dumps(ORDER), function_name="charge-card", account_id=ACCOUNT)
        return runner, arn, runner.wait_for_callback(arn, timeout=10)


@pytest.fixture
def page_function(monkeypatch: pytest.MonkeyPatch, queue: Queue) -> PageFunction:
    """The page's function, its card service declining every card but card-2."""
    monkeypatch.setenv("RECOVERY_QUEUE_URL", queue.url)
    charged: list[dict[str, Any]] = []

    def charge_card(order: dict[str, Any]) -> dict[str, Any]:
        charged.append(order)
        if order["card"] != "card-2":
            raise CardDeclined(f"card of order {order['order_id']} declined")
        return {"charged": order["amount"]}

    snippet = load_snippet()
    monkeypatch.setattr(snippet, "charge_card", charge_card)
    return PageFunction(snippet.lambda_handler, charged)


def test_a_declined_card_is_on_the_desk_and_run_again_charges_the_edited_order(
    page_function: PageFunction,
    queue: Queue,
    runner_of: Callable[..., DurableFunctionTestRunner],
) -> None:
    # Given the page's function, the card declined at every retry
    runner, arn, callback_id = page_function.start(runner_of)

    # Then the recovery request names the step, the error and its cause, with exactly the order
    [message] = queue.received()
    assert (message["kind"], message["step"], message["error"]) == (
        "durable-callback",
        "Charge card",
        "CardDeclined",
    )
    assert (message["cause"], message["input"]) == ("card of order o-1 declined", ORDER)
    assert message["function_arn"] == FUNCTION_ARN.replace("item-check", "charge-card")
    assert len(page_function.charged) == 3

    # When a person runs it again with another card
    runner.send_callback_success(callback_id, json.dumps({**ORDER, "card": "card-2"}).encode())

    # Then that card is charged
    assert result(runner, arn) == {"order_id": "o-1", "status": "CHARGED", "receipt": {"charged": 100}}
    assert page_function.charged[-1] == {**ORDER, "card": "card-2"}


def test_a_rejected_order_ends_without_a_charge(
    page_function: PageFunction,
    runner_of: Callable[..., DurableFunctionTestRunner],
) -> None:
    # Given the page's function paused on the desk
    runner, arn, callback_id = page_function.start(runner_of)

    # When a person rejects it
    error = ErrorObject(
        message="Rejected by ann: card stolen", type="RecoveryRejected", data=None, stack_trace=None
    )
    runner.send_callback_failure(callback_id, error)

    # Then the order ends not charged, with the person's reason
    outcome = result(runner, arn)
    assert (outcome["status"], len(page_function.charged)) == ("NOT_CHARGED", 3)
    assert "Rejected by ann: card stolen" in outcome["reason"]
