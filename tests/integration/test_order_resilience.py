"""How the order workflow copes with a flaky, throttling or dead vendor (the real ASL on moto)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from recovery_ops.service.breaker.circuit_breaker import (
    BreakerSettings,
    CircuitBreaker,
    CircuitState,
    Decision,
)
from recovery_ops.service.example.orders.stock import StockStore
from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.engine.execution_history import (
    failed_error_names,
    history,
    state_steps,
    wait_for_status,
)
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import ApiAnswer, LocalOrderApi
from recovery_ops.service.local.programs.order_stock import LOCAL_STOCK
from tests.support.orders import dead_letters, item_execution_arn
from tests.support.waiting import wait_for_recovery_request, wait_until

ORDER = {"customer_id": "customer-1", "product_id": "sku-kettle", "quantity": 2}
# Tests run the workflow's clock 100x faster; a one-hour failure window keeps "5 failures within
# the window" true on a loaded machine too (60 s would be 0.6 s of real time).
WIDE_WINDOW = {"CircuitBreakerWindowSeconds": "3600"}


@pytest.fixture
def stack_parameters(vendor_url: str) -> dict[str, str]:
    return {"VendorUrl": vendor_url, **WIDE_WINDOW}


def breaker(stack: EmbeddedStack) -> CircuitBreaker:
    from recovery_ops.service.breaker import circuit_breaker

    return CircuitBreaker(
        stack.physical("CircuitBreakerTable"), "vendor", stack.client("dynamodb"), clock=circuit_breaker.now
    )


def item_of(stack: EmbeddedStack, placed: ApiAnswer) -> str:
    """The nested execution of a one-item order's item: where the vendor is called."""
    return item_execution_arn(stack, placed.body["order_id"])


def states_entered(stack: EmbeddedStack, execution_arn: str) -> list[str]:
    """The states the execution entered so far (none before the order's Map has started it)."""
    sfn = stack.client("stepfunctions")
    try:
        return [s.name for s in state_steps(history(sfn, execution_arn))]
    except sfn.exceptions.ExecutionDoesNotExist:
        return []


def test_a_transient_vendor_error_is_healed_by_a_retry_with_backoff(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> None:
    # Given a vendor that fails once with a 500, then answers
    vendor.set_behaviour(VendorBehaviour(failure_rate=1.0))
    placed = order_api.place(ORDER)
    # (let the first call fail, then heal the vendor)
    sfn = stack.client("stepfunctions")
    for _ in range(500):
        if vendor.calls >= 1:
            break
        threading.Event().wait(0.01)
    vendor.set_behaviour(VendorBehaviour())

    # Then the order finishes after a retry whose interval came from the Retry policy
    assert wait_for_status(sfn, placed.body["execution_arn"])["status"] == "SUCCEEDED"
    events = history(sfn, item_of(stack, placed))
    assert "VendorUnavailable" in failed_error_names(events)
    retries = stack.sleeps.of_kind("retry")
    assert retries and all(
        0 <= seconds <= 10 for seconds in retries
    )  # full jitter, capped by MaxDelaySeconds
    assert order_api.get(placed.body["order_id"]).body["status"] == "FINISHED"


def test_throttling_waits_the_retry_after_then_succeeds_without_opening_the_breaker(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> None:
    # Given a vendor that throttles with Retry-After: 30
    vendor.set_behaviour(VendorBehaviour(throttle_rate=1.0, retry_after_seconds=30))
    placed = order_api.place(ORDER)
    for _ in range(500):
        if vendor.calls >= 1:
            break
        threading.Event().wait(0.01)
    vendor.set_behaviour(VendorBehaviour())

    # Then the execution waited about 30 s (scaled in tests) and finished
    sfn = stack.client("stepfunctions")
    assert wait_for_status(sfn, placed.body["execution_arn"])["status"] == "SUCCEEDED"
    names = states_entered(stack, item_of(stack, placed))
    assert "Wait for vendor" in names
    assert any(25 <= seconds <= 31 for seconds in stack.sleeps.of_kind("wait"))
    # and the breaker did not count it as a failure
    assert breaker(stack).state()["state"] is CircuitState.CLOSED
    assert breaker(stack).state()["failures"] == 0


def test_an_outage_opens_the_breaker_and_later_executions_skip_the_vendor(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> None:
    # Given a dead vendor: the first order fails 1 + 3 retries = 4 times, the second opens the circuit
    vendor.set_behaviour(VendorBehaviour(outage=True))
    order_api.place(ORDER)
    wait_for_recovery_request(stack)
    second = order_api.place(ORDER)
    wait_until(lambda: breaker(stack).state()["state"] is not CircuitState.CLOSED)
    assert vendor.calls == 5

    # When another order arrives while the circuit is open
    third = order_api.place(ORDER)
    wait_until(lambda: states_entered(stack, item_of(stack, third)).count("Wait for circuit") >= 2)

    # Then both wait in a visible Wait state, checking the circuit again, and leave the vendor alone
    # (one half-open probe per open period at most)
    assert "Wait for circuit" in states_entered(stack, item_of(stack, second))
    assert "Check availability" not in states_entered(stack, item_of(stack, third))[:4]
    assert vendor.calls <= 5 + len(stack.sleeps.of_kind("wait")) // 2


def test_half_open_lets_exactly_one_probe_through_when_many_arrive_at_once(stack: EmbeddedStack) -> None:
    # Given an open circuit whose open period is over (on the wall clock: no scaling in this test)
    table = stack.physical("CircuitBreakerTable")
    dynamodb = stack.client("dynamodb")
    at = time.time()
    dynamodb.put_item(
        TableName=table,
        Item={"dependency": {"S": "vendor"}, "state": {"S": "OPEN"}, "opened_until": {"N": str(at - 1)}},
    )
    settings = BreakerSettings()

    # When fifty executions ask at the same moment
    decisions: list[Decision] = []
    lock = threading.Lock()

    def ask(caller: str) -> None:
        admission = CircuitBreaker(table, "vendor", dynamodb, settings, clock=time.time).admit(caller)
        with lock:
            decisions.append(admission.decision)

    threads = [threading.Thread(target=ask, args=(f"exec-{i}",)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly one may probe, the rest wait
    assert decisions.count(Decision.PROBE) == 1
    assert decisions.count(Decision.OPEN) == 49
    assert CircuitBreaker(table, "vendor", dynamodb).state()["state"] is CircuitState.HALF_OPEN


def test_the_probes_success_closes_the_circuit_for_everyone(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> None:
    # Given a circuit opened by an outage, and orders waiting for it
    vendor.set_behaviour(VendorBehaviour(outage=True))
    order_api.place(ORDER)
    wait_for_recovery_request(stack)
    waiting = [order_api.place(ORDER) for _ in range(3)]
    wait_until(lambda: breaker(stack).state()["state"] is not CircuitState.CLOSED)

    # When the vendor comes back
    vendor.set_behaviour(VendorBehaviour())

    # Then one probe succeeds, the circuit closes, and every waiting order finishes
    sfn = stack.client("stepfunctions")
    for order in waiting:
        assert wait_for_status(sfn, order.body["execution_arn"])["status"] == "SUCCEEDED"
    assert breaker(stack).state()["state"] is CircuitState.CLOSED


@pytest.mark.stack_parameters(CircuitBreakerMaxWaitSeconds="180")
def test_an_execution_the_circuit_keeps_waiting_too_long_pauses_for_a_person(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> None:
    vendor.set_behaviour(VendorBehaviour(outage=True))
    order_api.place(ORDER)
    wait_for_recovery_request(stack)
    second = order_api.place(ORDER)

    # The second order opened the circuit, waited for it up to 180 s, then asked for a person
    message = wait_for_recovery_request(stack)
    assert message["execution_arn"] == item_of(stack, second)
    assert message["error"] == "CircuitOpen"
    assert "180 s" in message["cause"]
    assert message["routing"] == "technical"
    assert message["failed_state"] == "Check availability"
    assert "Circuit stayed open" in states_entered(stack, item_of(stack, second))


def test_an_outage_that_outlasts_the_retries_pauses_with_a_contract_message_and_success_resumes(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> None:
    # Given a dead vendor
    vendor.set_behaviour(VendorBehaviour(outage=True))
    placed = order_api.place(ORDER)

    # When the retries are exhausted, the execution pauses with a recovery request
    message = wait_for_recovery_request(stack)
    assert message["task_token"]
    assert message["execution_arn"] == item_of(stack, placed)
    assert message["execution_name"] == f"{placed.body['order_id']}-item-1"
    assert message["state_machine_arn"] == stack.arn("OrderItemStateMachine")
    assert message["failed_state"] == "Check availability"
    assert message["input"] == {**ORDER, "order_id": placed.body["order_id"], "item_number": 1}
    assert message["error"] == "VendorUnavailable"
    assert "503" in message["cause"]
    assert message["routing"] == "technical"
    sfn = stack.client("stepfunctions")
    assert sfn.describe_execution(executionArn=placed.body["execution_arn"])["status"] == "RUNNING"
    assert order_api.get(placed.body["order_id"]).body["items"][0]["status"] == "PENDING"

    # When the vendor is back and someone runs the step again
    vendor.set_behaviour(VendorBehaviour())
    breaker_item = {"dependency": {"S": "vendor"}}
    stack.client("dynamodb").delete_item(TableName=stack.physical("CircuitBreakerTable"), Key=breaker_item)
    sfn.send_task_success(taskToken=message["task_token"], output=json.dumps(message["input"]))

    # Then the failed step runs again and the order finishes
    assert wait_for_status(sfn, placed.body["execution_arn"])["status"] == "SUCCEEDED"
    assert order_api.get(placed.body["order_id"]).body["status"] == "FINISHED"


def test_resuming_with_an_edited_input_runs_the_step_with_it(
    stack: EmbeddedStack, order_api: LocalOrderApi
) -> None:
    # Given an order for more than the vendor has
    placed = order_api.place({**ORDER, "quantity": 5000})
    message = wait_for_recovery_request(stack)

    # When the client-data team fixes the quantity and runs the step again
    sfn = stack.client("stepfunctions")
    sfn.send_task_success(
        taskToken=message["task_token"], output=json.dumps({**message["input"], "quantity": 5})
    )

    # Then it finishes with the edited input, and the reservation follows the edit
    described = wait_for_status(sfn, placed.body["execution_arn"])
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["items"][0]["quantity"] == 5
    stock = StockStore(stack.physical("StockTable"), stack.client("dynamodb")).get(ORDER["product_id"])
    assert stock.reservations == {message["execution_name"]: 5}
    assert stock.available == LOCAL_STOCK[ORDER["product_id"]] - 5


def test_a_rejected_recovery_compensates_and_sends_the_order_to_the_dlq(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> None:
    # Given an order paused by an outage
    vendor.set_behaviour(VendorBehaviour(outage=True))
    placed = order_api.place(ORDER)
    message = wait_for_recovery_request(stack)

    # When support rejects it
    sfn = stack.client("stepfunctions")
    sfn.send_task_failure(taskToken=message["task_token"], error="RecoveryRejected", cause="rejected by @ana")

    # Then the item compensates (its reservation released) and goes to the DLQ with its context;
    # its only item rejected, the order FAILED
    assert wait_for_status(sfn, placed.body["execution_arn"])["status"] == "FAILED"
    assert states_entered(stack, item_of(stack, placed))[-4:] == [
        "Release reservation",
        "Send item to DLQ",
        "Record item REJECTED",
        "Item not reserved",
    ]
    assert states_entered(stack, placed.body["execution_arn"])[-3:] == [
        "Record order outcome",
        "Order failed?",
        "Order failed",
    ]
    (dead,) = dead_letters(stack)
    assert (dead["kind"], dead["order_id"], dead["item_number"]) == ("order-item", placed.body["order_id"], 1)
    assert dead["error"]["Error"] == "RecoveryRejected"
    assert dead["input"]["product_id"] == ORDER["product_id"]
    assert dead["execution_arn"] == item_of(stack, placed)
    order = order_api.get(placed.body["order_id"]).body
    assert order["status"] == "FAILED"
    assert [(i["status"], i["error"]) for i in order["items"]] == [("REJECTED", "RecoveryRejected")]
    stock = StockStore(stack.physical("StockTable"), stack.client("dynamodb")).get(ORDER["product_id"])
    assert (stock.available, stock.reservations) == (LOCAL_STOCK[ORDER["product_id"]], {})


def test_a_rejected_request_is_routed_as_a_client_data_problem_without_retries(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> None:
    placed = order_api.place({**ORDER, "product_id": "sku-does-not-exist!"})

    message = wait_for_recovery_request(stack)

    assert message["routing"] == "client-data"
    assert message["error"] == "VendorRejectedRequest"
    assert vendor.calls == 1  # not retried
    events = history(stack.client("stepfunctions"), item_of(stack, placed))
    assert failed_error_names(events).count("VendorRejectedRequest") == 1


@pytest.mark.stack_parameters(RecoveryTimeoutSeconds="60")
def test_a_recovery_nobody_answers_times_out_and_is_handled_like_a_rejection(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor
) -> None:
    vendor.set_behaviour(VendorBehaviour(outage=True))
    placed = order_api.place(ORDER)
    wait_for_recovery_request(stack)

    sfn = stack.client("stepfunctions")
    assert wait_for_status(sfn, placed.body["execution_arn"], timeout=120)["status"] == "FAILED"
    order = order_api.get(placed.body["order_id"]).body
    assert order["status"] == "FAILED"
    assert order["items"][0]["error"] == "RecoveryTimedOut"
    (dead,) = dead_letters(stack)
    assert dead["error"]["Error"] == "RecoveryTimedOut"
    # the item's pause waited RecoveryTimeoutSeconds (the order waits for its item without a timeout)
    assert 60 in stack.sleeps.of_kind("task_token")
