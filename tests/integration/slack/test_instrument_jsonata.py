"""`recovery-ops instrument` on JSONata: the shipping workflow written in JSONata
(tests/fixtures/shipping_workflow_jsonata.asl.json), and the JSONPath one with a JSONata state inside.
Failing Tasks in a Parallel branch and in a Map's items pause through the recovery queue, each item on
its own, Run again from the Slack app resumes each with exactly its input, and the execution ends as
the uninstrumented state machine does when nothing fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recovery_ops.service.instrumentation.transform import REJECTED_ERROR
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.lifecycle.actions import RecoveryActions
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.stepfunctions.tokens import StepFunctionsTokens
from recovery_ops.slack_app.ids import EDIT_AND_RUN_AGAIN
from tests.support.desk import edit_submission, execution_status, open_modal, send, store, wait_for_status
from tests.support.shipping import (
    CALLS,
    FAILING_SKUS,
    FAILURES,
    FIXTURE,
    JSONATA_FIXTURE,
    MAP_STATE,
    NORMALISED,
    CarrierUnavailable,
    LabelPrinterOffline,
    PackingStationDown,
    collect_each,
    deploy,
    finished,
    instrumented,
    reset,
    run,
    run_again,
    with_pack_item_in_jsonata,
)
from tests.support.waiting import wait_until

LAMP = {"shipment_id": "S-1", "sku": "sku-lamp", "quantity": 1}  # the Map's ItemSelector output
VASE = {"shipment_id": "S-1", "sku": "sku-vase", "quantity": 2}


@pytest.fixture(autouse=True)
def _functions_succeed() -> None:
    reset()


def _pause_in_a_branch_and_in_two_items_and_run_each_again(
    stack: EmbeddedStack, slack: SlackStandIn, instrumented_arn: str, name: str
) -> dict:
    """Book carrier (a Parallel branch) fails, then Pack item for both items: one recovery for each,
    each run again on its own from Slack. The finished execution."""
    FAILURES.update(book=CarrierUnavailable, pack=PackingStationDown)
    FAILING_SKUS.update({"sku-lamp", "sku-vase"})
    execution_arn = run(stack, instrumented_arn, name)

    # 1. the Parallel's failing branch pauses, with exactly its input; the other branch is done
    (book,) = collect_each(stack, 1)
    assert (book.failed_state, book.input, book.error) == ("Book carrier", NORMALISED, "CarrierUnavailable")
    assert "failed for" in (book.cause or "")
    assert (book.execution_arn, book.execution_name, book.state_machine_arn) == (
        execution_arn,
        name,
        instrumented_arn,
    )
    assert len(CALLS["book"]) == 4  # the default Retry: 3 retries
    FAILURES.pop("book")
    run_again(stack, slack, [book])

    # 2. in the Map, each item pauses on its own
    # the two items run at once: their recoveries arrive in either order
    lamp, vase = sorted(collect_each(stack, 2), key=lambda r: r.input != LAMP)
    assert [(r.failed_state, r.input, r.error) for r in (lamp, vase)] == [
        (MAP_STATE, LAMP, "PackingStationDown"),
        (MAP_STATE, VASE, "PackingStationDown"),
    ]
    assert lamp.recovery_id != vase.recovery_id
    FAILING_SKUS.clear()
    run_again(stack, slack, [vase])
    # resumed means Step Functions took the token; the item's Pack runs on in the interpreter
    wait_until(lambda: CALLS["pack"][-1] == VASE)
    poll_collector(stack)
    assert execution_status(stack, execution_arn) == "RUNNING"  # the lamp still waits
    run_again(stack, slack, [lamp])
    resumed = finished(stack, execution_arn)

    # the states ran again with exactly the input they had the first time
    assert CALLS["book"][0] == CALLS["book"][-1] == NORMALISED
    assert [call for call in CALLS["pack"] if call["sku"] == "sku-lamp"][-1] == LAMP
    return resumed


def test_a_jsonata_workflow_pauses_per_failing_branch_and_item_and_ends_as_an_unfailing_run(
    stack: EmbeddedStack, slack: SlackStandIn, tmp_path: Path
) -> None:
    # Given the JSONata shipping workflow, instrumented, and the same uninstrumented
    queue = stack.physical("RecoveryQueue")
    instrumented_arn = deploy(
        stack, instrumented(tmp_path, queue, source=JSONATA_FIXTURE), "shipping-jsonata-instrumented"
    )
    original_arn = deploy(stack, json.loads(JSONATA_FIXTURE.read_text()), "shipping-jsonata-original")

    # When Book carrier and Pack item fail, and each recovery is run again from Slack
    resumed = _pause_in_a_branch_and_in_two_items_and_run_each_again(
        stack, slack, instrumented_arn, "shipment-jsonata"
    )

    # Then the execution ends exactly as the original does when nothing fails
    baseline = finished(stack, run(stack, original_arn, "shipment-jsonata-baseline"))
    assert resumed["status"] == baseline["status"] == "SUCCEEDED"
    assert json.loads(resumed["output"]) == json.loads(baseline["output"])
    # the variables the workflow assigns (Pack item's own Assign among them) are all there
    assert json.loads(resumed["output"])["parcels"] == [
        {"sku": "sku-lamp", "parcel": "P-sku-lamp-x1"},
        {"sku": "sku-vase", "parcel": "P-sku-vase-x2"},
    ]


def test_a_jsonpath_workflow_with_a_jsonata_state_pauses_in_both_and_ends_as_an_unfailing_run(
    stack: EmbeddedStack, slack: SlackStandIn, tmp_path: Path
) -> None:
    # Given the JSONPath shipping workflow whose Pack item is in JSONata, instrumented, and the same
    # uninstrumented
    mixed = with_pack_item_in_jsonata(json.loads(FIXTURE.read_text()))
    source = tmp_path / "shipping_mixed.asl.json"
    source.write_text(json.dumps(mixed))
    queue = stack.physical("RecoveryQueue")
    instrumented_arn = deploy(
        stack, instrumented(tmp_path, queue, source=source), "shipping-mixed-instrumented"
    )
    original_arn = deploy(stack, mixed, "shipping-mixed-original")

    # When Book carrier (JSONPath) and Pack item (JSONata) fail, and each recovery is run again
    resumed = _pause_in_a_branch_and_in_two_items_and_run_each_again(
        stack, slack, instrumented_arn, "shipment-mixed"
    )

    # Then the execution ends exactly as the original does when nothing fails
    baseline = finished(stack, run(stack, original_arn, "shipment-mixed-baseline"))
    assert resumed["status"] == baseline["status"] == "SUCCEEDED"
    assert json.loads(resumed["output"]) == json.loads(baseline["output"])


def test_an_input_edited_in_slack_is_the_jsonata_states_input_when_it_runs_again(
    stack: EmbeddedStack, slack: SlackStandIn, tmp_path: Path
) -> None:
    # Given the instrumented JSONata workflow, paused on the vase's item
    definition = instrumented(tmp_path, stack.physical("RecoveryQueue"), source=JSONATA_FIXTURE)
    FAILURES.update(pack=PackingStationDown)
    FAILING_SKUS.add("sku-vase")
    execution_arn = run(stack, deploy(stack, definition, "shipping-jsonata-instrumented"), "shipment-edited")
    (recovery,) = collect_each(stack, 1)
    FAILURES.clear()

    # When a person edits its input in Slack and runs it again
    modal = open_modal(stack, slack, EDIT_AND_RUN_AGAIN, recovery.recovery_id)
    edited = {**VASE, "quantity": 3}
    assert send(stack, edit_submission(slack, modal, json.dumps(edited)))["statusCode"] == 200
    wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)

    # Then Pack item runs on the edited input, and its Assign carries the new parcel on
    outcome = finished(stack, execution_arn)
    assert CALLS["pack"][-1] == edited
    assert outcome["status"] == "SUCCEEDED"
    assert json.loads(outcome["output"])["parcels"][1] == {"sku": "sku-vase", "parcel": "P-sku-vase-x3"}


def test_a_jsonata_states_own_catcher_with_its_assign_still_handles_its_error_and_nothing_pauses(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    # Given the instrumented JSONata workflow, whose Print label catches LabelPrinterOffline
    definition = instrumented(tmp_path, stack.physical("RecoveryQueue"), source=JSONATA_FIXTURE)
    instrumented_arn = deploy(stack, definition, "shipping-jsonata-instrumented")
    original_arn = deploy(stack, json.loads(JSONATA_FIXTURE.read_text()), "shipping-jsonata-original")
    FAILURES.update(label=LabelPrinterOffline)

    # When it runs
    outcome = finished(stack, run(stack, instrumented_arn, "shipment-offline"))
    baseline = finished(stack, run(stack, original_arn, "shipment-offline-baseline"))

    # Then the catcher's Output and Assign made the handwritten label, as without instrument
    assert outcome["status"] == baseline["status"] == "SUCCEEDED"
    assert json.loads(outcome["output"]) == json.loads(baseline["output"])
    assert json.loads(outcome["output"])["label"] == "HANDWRITTEN"
    assert poll_collector(stack).received == 0


def test_a_rejection_in_jsonata_continues_at_on_reject_or_the_former_catch_all_with_the_items_input(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    # Given the JSONata workflow with a fallback for an item, reached by --on-reject, or by a
    # catch-all of Pack item that reads the item's input and the error
    queue = stack.physical("RecoveryQueue")
    with_fallback = json.loads(JSONATA_FIXTURE.read_text())
    items = with_fallback["States"]["Ship items"]["ItemProcessor"]["States"]
    items["Item set aside"] = {
        "Type": "Pass",
        "Output": {"sku": "{% $states.input.sku %}", "set_aside": "{% $states.input.recovery_error.Error %}"},
        "End": True,
    }
    on_reject = tmp_path / "on_reject.asl.json"
    on_reject.write_text(json.dumps(with_fallback))
    items["Pack item"]["Catch"] = [
        {
            "ErrorEquals": ["States.ALL"],
            "Output": "{% $merge([$states.input, {'recovery_error': $states.errorOutput}]) %}",
            "Assign": {"failed_in": "{% $states.context.State.Name %}"},
            "Next": "Item set aside",
        }
    ]
    # the catch-all's fallback also says where it failed and the person's reason instrument adds
    items["Item set aside"]["Output"] |= {
        "failed_in": "{% $failed_in %}",
        "reason": "{% $states.input.recovery_error.Recovery.Cause %}",
    }
    catch_all = tmp_path / "catch_all.asl.json"
    catch_all.write_text(json.dumps(with_fallback))
    machines = {
        "on-reject": instrumented(
            tmp_path, queue, "--on-reject", "Item set aside", states=(MAP_STATE,), source=on_reject
        ),
        "catch-all": instrumented(tmp_path, queue, states=(MAP_STATE,), source=catch_all),
    }
    FAILURES.update(pack=PackingStationDown)
    FAILING_SKUS.add("sku-vase")
    actions = RecoveryActions(store(stack), StepFunctionsTokens(stack.client("stepfunctions")))

    for name, definition in machines.items():
        # When the vase's recovery is rejected
        execution_arn = run(stack, deploy(stack, definition, f"shipping-jsonata-{name}"), f"shipment-{name}")
        (recovery,) = collect_each(stack, 1)
        assert (recovery.failed_state, recovery.input) == (MAP_STATE, VASE)
        actions.reject(recovery.recovery_id, "tester", "the vase is broken")
        outcome = finished(stack, execution_arn)

        # Then the item is set aside with its own input and the rejection, the other is packed
        assert outcome["status"] == "SUCCEEDED", name
        set_aside = (
            {"sku": "sku-vase", "set_aside": REJECTED_ERROR}
            if name == "on-reject"
            # the catch-all sees the state's own error and name, as without instrument, and the reason
            else {
                "sku": "sku-vase",
                "set_aside": "PackingStationDown",
                "failed_in": MAP_STATE,
                "reason": "Rejected by tester: the vase is broken",
            }
        )
        assert json.loads(outcome["output"])["parcels"] == [
            {"sku": "sku-lamp", "parcel": "P-sku-lamp-x1"},
            set_aside,
        ], name
