"""`recovery-ops instrument` on a state machine the project has never seen (tests/fixtures): its Tasks
inside a Parallel and a Map pause through the recovery queue, the collector stores them, Run again from
the Slack app resumes them with exactly their input, and the execution ends as the original would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.instrumentation.transform import (
    REJECTED_ERROR,
)
from service.local.collector_poller import poll_collector
from service.local.slack_standin import SlackStandIn
from service.local.stack import EmbeddedStack
from service.recovery.actions import REJECTED_ERROR as ACTIONS_REJECTED_ERROR
from service.recovery.actions import RecoveryActions
from service.recovery.step_functions_tokens import StepFunctionsTokens
from tests.support.desk import execution_status, store
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
    collect,
    deploy,
    finished,
    instrumented,
    reset,
    run,
    run_again,
)


@pytest.fixture(autouse=True)
def _functions_succeed() -> None:
    reset()


# ------------------------------------------------------------------------------- end to end on moto
def test_parallel_and_map_tasks_pause_and_run_again_from_slack_with_exactly_their_input(
    stack: EmbeddedStack, slack: SlackStandIn, tmp_path: Path
) -> None:
    definition = instrumented(tmp_path, stack.physical("RecoveryQueue"))
    instrumented_arn = deploy(stack, definition, "shipping-instrumented")
    original_arn = deploy(stack, json.loads(FIXTURE.read_text()), "shipping-original")
    FAILURES.update(book=CarrierUnavailable, label=LabelPrinterJammed, pack=PackingStationDown)
    FAILING_SKUS.add("sku-vase")
    execution_arn = run(stack, instrumented_arn, "shipment-1")

    # 1. both branches of the Parallel pause, each with its own recovery
    paused = collect(stack, 2)
    assert {state: (r.input, r.error) for state, r in paused.items()} == {
        "Book carrier": (NORMALISED, "CarrierUnavailable"),
        "Print label": (NORMALISED, "LabelPrinterJammed"),
    }
    # the default Retry (3 retries) where the Task had none; "Print label" keeps its own (not for this error)
    assert (len(CALLS["book"]), len(CALLS["label"])) == (4, 1)
    first_calls = {"book": CALLS["book"][0], "label": CALLS["label"][0]}
    FAILURES.pop("book"), FAILURES.pop("label")
    run_again(stack, slack, paused.values())

    # 2. the Parallel finishes; in the Map, the vase's item pauses, the lamp's is packed
    (pack,) = collect(stack, 1).values()
    vase = {"shipment_id": "S-1", "sku": "sku-vase", "quantity": 2}  # the Map's ItemSelector output
    assert (pack.failed_state, pack.input, pack.error) == ("Pack item", vase, "PackingStationDown")
    assert [call["sku"] for call in CALLS["pack"]].count("sku-vase") == 4
    assert execution_status(stack, execution_arn) == "RUNNING"
    FAILURES.clear()
    run_again(stack, slack, [pack])
    resumed = finished(stack, execution_arn)

    assert resumed["status"] == "SUCCEEDED"
    for recovery in (*paused.values(), pack):
        assert recovery.routing == "technical"
        assert (recovery.execution_arn, recovery.execution_name) == (execution_arn, "shipment-1")
        assert recovery.state_machine_arn == instrumented_arn
        assert "failed for" in (recovery.cause or "")
    # the states ran again with exactly the input they had the first time
    assert CALLS["book"][-1] == first_calls["book"] == NORMALISED
    assert (
        CALLS["label"][-1] == first_calls["label"] == {"shipment_id": "S-1", "address": SHIPMENT["address"]}
    )
    assert CALLS["pack"][-1] == vase
    # and the execution ends exactly as the original state machine does when nothing fails
    baseline = finished(stack, run(stack, original_arn, "shipment-1-baseline"))
    assert baseline["status"] == "SUCCEEDED"
    assert json.loads(resumed["output"]) == json.loads(baseline["output"])


def test_an_existing_specific_catcher_still_handles_its_error_and_nothing_pauses(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    definition = instrumented(tmp_path, stack.physical("RecoveryQueue"))
    instrumented_arn = deploy(stack, definition, "shipping-instrumented")
    original_arn = deploy(stack, json.loads(FIXTURE.read_text()), "shipping-original")
    FAILURES.update(label=LabelPrinterOffline)  # "Print label" catches it: "Handwritten label"

    outcome = finished(stack, run(stack, instrumented_arn, "shipment-offline"))
    baseline = finished(stack, run(stack, original_arn, "shipment-offline-baseline"))

    assert outcome["status"] == baseline["status"] == "SUCCEEDED"
    assert json.loads(outcome["output"]) == json.loads(baseline["output"])
    assert json.loads(outcome["output"])["label"] == "HANDWRITTEN"
    assert poll_collector(stack).received == 0


def test_a_rejection_fails_the_execution_by_default_or_continues_at_on_reject_or_the_former_catch_all(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    assert REJECTED_ERROR == ACTIONS_REJECTED_ERROR
    queue = stack.physical("RecoveryQueue")
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
    actions = RecoveryActions(store(stack), StepFunctionsTokens(stack.client("stepfunctions")))

    outcomes = {}
    for name, definition in machines.items():
        execution_arn = run(stack, deploy(stack, definition, f"shipping-{name}"), f"shipment-{name}")
        (recovery,) = collect(stack, 1).values()
        assert (recovery.failed_state, recovery.input["sku"]) == ("Pack item", "sku-vase")
        actions.reject(recovery.recovery_id, "tester", "the vase is broken")
        outcomes[name] = finished(stack, execution_arn)

    assert (outcomes["fails"]["status"], outcomes["fails"].get("error")) == ("FAILED", REJECTED_ERROR)
    for name in ("on-reject", "catch-all"):
        assert outcomes[name]["status"] == "SUCCEEDED", name
        assert json.loads(outcomes[name]["output"])["parcels"] == [
            {"sku": "sku-lamp", "parcel": "P-sku-lamp-x1"},
            {"sku": "sku-vase", "set_aside": REJECTED_ERROR},
        ]
