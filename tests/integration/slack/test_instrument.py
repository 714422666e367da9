"""`recovery-ops instrument` on a state machine the project has never seen (tests/fixtures): its Tasks
inside a Parallel and a Map pause through the recovery queue, the collector stores them, Run again from
the Slack app resumes them with exactly their input, and the execution ends as the original would.

Driven through the pytest plugin's fixtures (service/local/testing/pytest_plugin.py), as a team tests its own
state machine: ``recovery_stack`` (the recovery service alone) and ``desk`` (clicks in Slack)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recovery_ops.service.instrumentation.transform import (
    REJECTED_ERROR,
)
from recovery_ops.service.local.desk import Desk
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.testing.recovery_stack import RecoveryStack, StateMachine
from recovery_ops.service.recovery.lifecycle.actions import REJECTED_ERROR as ACTIONS_REJECTED_ERROR
from tests.support import shipping
from tests.support.shipping import (
    CALLS,
    FAILING_SKUS,
    FAILURES,
    FIXTURE,
    MAP_STATE,
    NORMALISED,
    SHIPMENT,
    CarrierUnavailable,
    LabelPrinterJammed,
    LabelPrinterOffline,
    PackingStationDown,
    instrumented,
    reset,
)


@pytest.fixture(autouse=True)
def _functions_succeed() -> None:
    reset()


def shipping_machine(recovery_stack: RecoveryStack, definition: dict, name: str) -> StateMachine:
    """A state machine from ``definition``, its Lambda tasks answered by tests/support/shipping.py."""
    functions = {
        placeholder: getattr(shipping, handler) for placeholder, handler in shipping.FUNCTIONS.items()
    }
    return recovery_stack.deploy_state_machine(definition, name=name, functions=functions)


# ------------------------------------------------------------------------------- end to end on moto
def test_parallel_and_map_tasks_pause_and_run_again_from_slack_with_exactly_their_input(
    recovery_stack: RecoveryStack, desk: Desk, tmp_path: Path
) -> None:
    definition = instrumented(tmp_path, recovery_stack.queue_url)
    machine = shipping_machine(recovery_stack, definition, "shipping-instrumented")
    original = shipping_machine(recovery_stack, json.loads(FIXTURE.read_text()), "shipping-original")
    FAILURES.update(book=CarrierUnavailable, label=LabelPrinterJammed, pack=PackingStationDown)
    FAILING_SKUS.add("sku-vase")
    execution = machine.start(SHIPMENT, name="shipment-1")

    # 1. both branches of the Parallel pause, each with its own recovery
    paused = {recovery.failed_state: recovery for recovery in desk.wait_for_recoveries(execution, 2)}
    assert {state: (r.input, r.error) for state, r in paused.items()} == {
        "Book carrier": (NORMALISED, "CarrierUnavailable"),
        "Print label": (NORMALISED, "LabelPrinterJammed"),
    }
    # the default Retry (3 retries) where the Task had none; "Print label" keeps its own (not for this error)
    assert (len(CALLS["book"]), len(CALLS["label"])) == (4, 1)
    first_calls = {"book": CALLS["book"][0], "label": CALLS["label"][0]}
    FAILURES.pop("book"), FAILURES.pop("label")
    for recovery in paused.values():
        desk.run_again(recovery)

    # 2. the Parallel finishes; in the Map, the vase's item pauses, the lamp's is packed
    pack = desk.wait_for_recovery(execution, state=MAP_STATE)
    vase = {"shipment_id": "S-1", "sku": "sku-vase", "quantity": 2}  # the Map's ItemSelector output
    assert (pack.failed_state, pack.input, pack.error) == ("Pack item", vase, "PackingStationDown")
    assert [call["sku"] for call in CALLS["pack"]].count("sku-vase") == 4
    assert desk.open_recoveries(execution) == [pack]  # the execution still waits for it
    FAILURES.clear()
    desk.run_again(pack)
    resumed = desk.wait_for_end(execution)

    assert resumed.status == "SUCCEEDED"
    for recovery in (*paused.values(), pack):
        assert recovery.routing == "technical"
        assert (recovery.execution_arn, recovery.execution_name) == (execution.arn, "shipment-1")
        assert recovery.state_machine_arn == machine.arn
        assert "failed for" in (recovery.cause or "")
    # the states ran again with exactly the input they had the first time
    assert CALLS["book"][-1] == first_calls["book"] == NORMALISED
    assert (
        CALLS["label"][-1] == first_calls["label"] == {"shipment_id": "S-1", "address": SHIPMENT["address"]}
    )
    assert CALLS["pack"][-1] == vase
    # and the execution ends exactly as the original state machine does when nothing fails
    baseline = desk.wait_for_end(original.start(SHIPMENT, name="shipment-1-baseline"))
    assert baseline.status == "SUCCEEDED"
    assert resumed.output == baseline.output


def test_an_existing_specific_catcher_still_handles_its_error_and_nothing_pauses(
    recovery_stack: RecoveryStack, desk: Desk, tmp_path: Path
) -> None:
    definition = instrumented(tmp_path, recovery_stack.queue_url)
    machine = shipping_machine(recovery_stack, definition, "shipping-instrumented")
    original = shipping_machine(recovery_stack, json.loads(FIXTURE.read_text()), "shipping-original")
    FAILURES.update(label=LabelPrinterOffline)  # "Print label" catches it: "Handwritten label"

    outcome = desk.wait_for_end(machine.start(SHIPMENT, name="shipment-offline"))
    baseline = desk.wait_for_end(original.start(SHIPMENT, name="shipment-offline-baseline"))

    assert outcome.status == baseline.status == "SUCCEEDED"
    assert outcome.output == baseline.output
    assert outcome.output["label"] == "HANDWRITTEN"
    assert poll_collector(recovery_stack.embedded).received == 0


def test_a_rejection_fails_the_execution_by_default_or_continues_at_on_reject_or_the_former_catch_all(
    recovery_stack: RecoveryStack, desk: Desk, tmp_path: Path
) -> None:
    assert REJECTED_ERROR == ACTIONS_REJECTED_ERROR
    queue = recovery_stack.queue_url
    with_fallback = json.loads(FIXTURE.read_text())
    items = with_fallback["States"]["Ship items"]["ItemProcessor"]["States"]
    items["Item set aside"] = {
        "Type": "Pass",
        "Parameters": {"sku.$": "$.sku", "set_aside.$": "$.recovery_error.Error"},
        "End": True,
    }
    on_reject = tmp_path / "on_reject.asl.json"
    on_reject.write_text(json.dumps(with_fallback))
    items["Pack item"]["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.recovery_error", "Next": "Item set aside"}
    ]
    # the catch-all's fallback also reads the person's reason, which instrument adds to the error
    items["Item set aside"]["Parameters"]["reason.$"] = "$.recovery_error.Recovery.Cause"
    catch_all = tmp_path / "catch_all.asl.json"
    catch_all.write_text(json.dumps(with_fallback))
    machines = {
        "fails": instrumented(tmp_path, queue, states=(MAP_STATE,)),
        "on-reject": instrumented(
            tmp_path, queue, "--on-reject", "Item set aside", states=(MAP_STATE,), source=on_reject
        ),
        "catch-all": instrumented(tmp_path, queue, states=(MAP_STATE,), source=catch_all),
    }
    FAILURES.update(pack=PackingStationDown)
    FAILING_SKUS.add("sku-vase")

    outcomes = {}
    for name, definition in machines.items():
        execution = shipping_machine(recovery_stack, definition, f"shipping-{name}").start(
            SHIPMENT, name=f"shipment-{name}"
        )
        recovery = desk.wait_for_recovery(execution)
        assert (recovery.failed_state, recovery.input["sku"]) == ("Pack item", "sku-vase")
        desk.reject(recovery, "the vase is broken")
        outcomes[name] = desk.wait_for_end(execution)

    assert (outcomes["fails"].status, outcomes["fails"].error) == ("FAILED", REJECTED_ERROR)
    for name in ("on-reject", "catch-all"):
        assert outcomes[name].status == "SUCCEEDED", name
    assert outcomes["on-reject"].output["parcels"] == [
        {"sku": "sku-lamp", "parcel": "P-sku-lamp-x1"},
        {"sku": "sku-vase", "set_aside": REJECTED_ERROR},
    ]
    # the definition's own catch-all sees the task's own error, as without instrument, and the reason
    assert outcomes["catch-all"].output["parcels"] == [
        {"sku": "sku-lamp", "parcel": "P-sku-lamp-x1"},
        {
            "sku": "sku-vase",
            "set_aside": "PackingStationDown",
            "reason": f"Rejected by {desk.person}: the vase is broken",
        },
    ]
