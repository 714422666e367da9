"""The order example's item check as a durable function (service/example/durable/item_check.py),
in AWS's local durable-function runner against the dummy vendor, with the recovery queue in moto."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from aws_durable_execution_sdk_python.lambda_service import ErrorObject
from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

from recovery_ops.service.example.durable import item_check
from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from tests.unit.durable.runs import ACCOUNT, FUNCTION, Queue, result

LAMP = {"order_id": "o-1", "product_id": "sku-lamp", "quantity": 2}


@pytest.fixture
def item_check_of(
    queue: Queue,
    vendor_url: str,
    runner_of: Callable[..., DurableFunctionTestRunner],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[DurableFunctionTestRunner]:
    monkeypatch.setenv("VENDOR_URL", vendor_url)
    monkeypatch.setenv("VENDOR_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("RECOVERY_QUEUE_URL", queue.url)
    item_check._vendor.cache_clear()
    yield runner_of(item_check.lambda_handler)
    item_check._vendor.cache_clear()


def paused_on(runner: DurableFunctionTestRunner, item: dict) -> tuple[str, str]:
    arn = runner.run_async(input=json.dumps(item), function_name=FUNCTION, account_id=ACCOUNT)
    return arn, runner.wait_for_callback(arn, timeout=10)


def test_a_vendor_outage_pauses_the_item_for_the_desk_and_run_again_checks_it_with_the_edited_item(
    item_check_of: DurableFunctionTestRunner,
    vendor: DummyVendor,
    queue: Queue,
) -> None:
    # Given the vendor down for the lamp
    vendor.set_behaviour(VendorBehaviour(failing_products=["sku-lamp"]))

    # When the item is checked
    arn, callback_id = paused_on(item_check_of, LAMP)

    # Then after its retries it is on the desk: the vendor's error, technical, on the vendor's circuit
    [message] = queue.received()
    assert (message["step"], message["error"], message["routing"]) == (
        "Check availability",
        "VendorUnavailable",
        "technical",
    )
    assert (message["dependency"], message["input"]) == ("vendor", LAMP)
    assert vendor.calls == 3

    # When a person runs it again with another product
    edited = {**LAMP, "product_id": "sku-lamp-2"}
    item_check_of.send_callback_success(callback_id, json.dumps(edited).encode())

    # Then the vendor is asked about that product and the item is available
    checked = result(item_check_of, arn)
    assert checked == {
        **edited,
        "availability": {"product_id": "sku-lamp-2", "available": True, "in_stock": 1000},
    }


def test_a_request_the_vendor_refuses_goes_to_the_client_data_team_without_retries(
    item_check_of: DurableFunctionTestRunner,
    vendor: DummyVendor,
    queue: Queue,
) -> None:
    # Given an item of more lamps than the vendor has
    too_many = {**LAMP, "quantity": 5000}

    # When it is checked
    paused_on(item_check_of, too_many)

    # Then it is on the desk at once, for the client-data team, with the vendor's reason
    [message] = queue.received()
    assert (message["error"], message["routing"]) == ("VendorRejectedRequest", "client-data")
    assert "insufficient stock" in message["cause"]
    assert vendor.calls == 1


def test_a_rejected_item_fails_the_execution_with_recovery_rejected(
    item_check_of: DurableFunctionTestRunner,
    vendor: DummyVendor,
) -> None:
    # Given an item paused on the desk
    vendor.set_behaviour(VendorBehaviour(outage=True))
    arn, callback_id = paused_on(item_check_of, LAMP)

    # When a person rejects it
    error = ErrorObject(
        message="Rejected by ann: discontinued", type="RecoveryRejected", data=None, stack_trace=None
    )
    item_check_of.send_callback_failure(callback_id, error)

    # Then the execution fails by that name, with the person's cause
    outcome = item_check_of.wait_for_result(arn, timeout=10)
    assert outcome.error is not None and (outcome.error.type or "").endswith("RecoveryRejected")
    assert "Rejected by ann: discontinued" in (outcome.error.message or "")
