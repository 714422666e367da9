"""The recovery treatment on plain definitions: what the new definition holds, state by state, and
what is refused with which message. No files, no stack: dicts in, dicts out."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service.instrumentation.transform import (
    DEFAULT_RETRY,
    RECOVERY_QUEUE_PLACEHOLDER,
    REJECTED_ERROR,
    InstrumentError,
    InstrumentOptions,
    instrument,
    instrument_with_report,
)
from service.recovery.contract import Routing


def charge_card(**task: Any) -> dict[str, Any]:
    """A two-state machine: "Charge card" (a Lambda task, with ``task``'s fields), then "Done"."""
    return {
        "StartAt": "Charge card",
        "States": {
            "Charge card": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
                "Next": "Done",
                **task,
            },
            "Done": {"Type": "Succeed"},
        },
    }


def branch(start: str, **task: Any) -> dict[str, Any]:
    return {
        "StartAt": start,
        "States": {
            start: {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True, **task}
        },
    }


def options(*states: str, **kwargs: Any) -> InstrumentOptions:
    return InstrumentOptions(states=states or ("Charge card",), **kwargs)


def test_the_chosen_state_becomes_a_wrapper_that_keeps_the_input_under_input() -> None:
    # Given
    definition = charge_card()

    # When
    states = instrument(definition, options())["States"]

    # Then
    assert states["Charge card"] == {
        "Type": "Pass",
        "Comment": states["Charge card"]["Comment"],
        "Parameters": {"input.$": "$"},
        "Next": "Charge card: run",
    }


def test_the_task_runs_on_the_wrapped_input_with_its_paths_moved_under_input() -> None:
    # Given
    definition = charge_card(InputPath="$.order", ResultPath="$.charge", OutputPath="$")

    # When
    run = instrument(definition, options())["States"]["Charge card: run"]

    # Then
    assert (run["InputPath"], run["ResultPath"], run["OutputPath"]) == (
        "$.input.order",
        "$.input.charge",
        "$.input",
    )
    assert run["Next"] == "Done" and run["Parameters"] == {"FunctionName": "charge", "Payload.$": "$"}


def test_a_task_without_retry_gets_the_default_retry() -> None:
    # Given / When
    run = instrument(charge_card(), options())["States"]["Charge card: run"]

    # Then
    assert run["Retry"] == DEFAULT_RETRY


def test_an_existing_retry_is_kept_as_it_is_even_empty() -> None:
    # Given / When
    run = instrument(charge_card(Retry=[]), options())["States"]["Charge card: run"]

    # Then
    assert run["Retry"] == []


def test_the_last_catcher_sends_every_error_to_the_recovery_state_next_to_the_input() -> None:
    # Given / When
    run = instrument(charge_card(), options())["States"]["Charge card: run"]

    # Then
    assert run["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Request recovery: Charge card"}
    ]


def test_the_recovery_state_sends_the_contract_and_loops_back_to_the_task() -> None:
    # Given / When
    recovery = instrument(charge_card(), options(routing=Routing.CLIENT_DATA, timeout_seconds=3600))[
        "States"
    ]["Request recovery: Charge card"]

    # Then
    assert recovery["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    assert recovery["Parameters"]["QueueUrl"] == RECOVERY_QUEUE_PLACEHOLDER
    body = recovery["Parameters"]["MessageBody"]
    assert body["failed_state"] == "Charge card" and body["input.$"] == "$.input"
    assert (body["error.$"], body["cause.$"]) == ("$.error.Error", "$.error.Cause")
    assert body["routing"] == "client-data" and body["task_token.$"] == "$$.Task.Token"
    assert recovery["ResultPath"] == "$.input"  # what Run again sends becomes the task's input
    assert recovery["Next"] == "Charge card: run"
    assert recovery["TimeoutSeconds"] == 3600
    assert "Catch" not in recovery  # a rejection fails the execution


def test_the_recovery_state_uses_the_partition_of_the_definitions_own_arns() -> None:
    # Given
    definition = charge_card(Resource="arn:aws-cn:states:::lambda:invoke")

    # When
    recovery = instrument(definition, options())["States"]["Request recovery: Charge card"]

    # Then
    assert recovery["Resource"] == "arn:aws-cn:states:::sqs:sendMessage.waitForTaskToken"


def test_on_reject_catches_the_rejection_and_the_timeout_and_unwraps_before_the_target() -> None:
    # Given
    definition = charge_card()
    definition["States"]["Refund"] = {"Type": "Fail"}

    # When
    states = instrument(definition, options(on_reject="Refund"))["States"]

    # Then
    assert states["Request recovery: Charge card"]["Catch"] == [
        {
            "ErrorEquals": [REJECTED_ERROR, "States.Timeout"],
            "ResultPath": "$.input.recovery_error",
            "Next": "Charge card: to Refund",
        }
    ]
    assert states["Charge card: to Refund"]["OutputPath"] == "$.input"
    assert states["Charge card: to Refund"]["Next"] == "Refund"


def test_existing_specific_catchers_stay_first_and_their_target_gets_what_it_got_before() -> None:
    # Given
    definition = charge_card(Catch=[{"ErrorEquals": ["CardDeclined"], "ResultPath": "$.why", "Next": "Done"}])

    # When
    states = instrument(definition, options())["States"]

    # Then
    catch = states["Charge card: run"]["Catch"]
    assert catch[0] == {
        "ErrorEquals": ["CardDeclined"],
        "ResultPath": "$.input.why",
        "Next": "Charge card: to Done",
    }
    assert catch[-1]["Next"] == "Request recovery: Charge card"
    assert states["Charge card: to Done"] == {
        "Type": "Pass",
        "Comment": states["Charge card: to Done"]["Comment"],
        "OutputPath": "$.input",
        "Next": "Done",
    }


def test_a_former_catch_all_follows_the_recovery_instead() -> None:
    # Given
    definition = charge_card(Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Done"}])

    # When
    states = instrument(definition, options())["States"]

    # Then
    assert states["Charge card: run"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Request recovery: Charge card"}
    ]
    assert states["Request recovery: Charge card"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.input", "Next": "Charge card: to Done"}
    ]


def test_the_generated_states_take_the_chosen_states_place_and_the_others_stay_as_they_were() -> None:
    # Given
    definition = charge_card()

    # When
    result = instrument(definition, options())

    # Then
    assert list(result["States"]) == [
        "Charge card",
        "Charge card: run",
        "Request recovery: Charge card",
        "Done",
    ]
    assert result["StartAt"] == "Charge card" and result["States"]["Done"] == {"Type": "Succeed"}


def test_the_definition_given_is_not_changed() -> None:
    # Given
    definition = charge_card()
    before = copy.deepcopy(definition)

    # When
    instrument(definition, options())

    # Then
    assert definition == before


def test_a_state_in_a_parallel_branch_is_instrumented_inside_its_branch() -> None:
    # Given
    definition = {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {
                "Type": "Parallel",
                "Branches": [branch("Book carrier"), branch("Print label")],
                "End": True,
            }
        },
    }

    # When
    branches = instrument(definition, options("Book carrier"))["States"]["Prepare"]["Branches"]

    # Then
    assert "Request recovery: Book carrier" in branches[0]["States"]
    assert branches[0]["States"]["Request recovery: Book carrier"]["Next"] == "Book carrier: run"
    assert list(branches[1]["States"]) == ["Print label"]


def test_a_state_in_a_map_item_processor_is_instrumented_there() -> None:
    # Given
    definition = {
        "StartAt": "Each item",
        "States": {
            "Each item": {"Type": "Map", "ItemProcessor": branch("Reserve stock"), "End": True},
        },
    }

    # When
    items = instrument(definition, options("Reserve stock"))["States"]["Each item"]["ItemProcessor"]

    # Then
    assert items["States"]["Reserve stock"]["Next"] == "Reserve stock: run"
    assert "Request recovery: Reserve stock" in items["States"]


def test_the_report_has_one_note_per_state_saying_what_was_done() -> None:
    # Given / When
    report = instrument_with_report(charge_card(), options())

    # Then
    assert report.notes == [
        '"Charge card" (the top level): recovery state "Request recovery: Charge card"; '
        "default Retry added; rejection or timeout fails the execution"
    ]


def test_a_long_generated_name_is_shortened_to_80_characters_with_a_hash() -> None:
    # Given
    name = "Charge the customer's card " * 3
    definition = {"StartAt": name, "States": {name: branch(name)["States"][name]}}

    # When
    states = instrument(definition, options(name))["States"]

    # Then
    generated = [state for state in states if state != name]
    assert len(generated) == 2 and all(len(state) <= 80 and "~" in state for state in generated)


@pytest.mark.parametrize(
    ("definition", "chosen", "kwargs", "message"),
    [
        ({"States": {}}, "Charge card", {}, 'the top level has no "States" object: not an ASL definition'),
        ([], "Charge card", {}, "the top level is not a JSON object: not an ASL definition"),
        (
            {"StartAt": "Nowhere", "States": {"Done": {"Type": "Succeed"}}},
            "Done",
            {},
            'the top level: "StartAt" does not name one of its states',
        ),
        (charge_card(), "Refund card", {}, 'no state named "Refund card" in the definition'),
        (charge_card(), "Done", {}, '"Done" (the top level) is a Succeed state, not a Task'),
        ({**charge_card(), "QueryLanguage": "JSONata"}, "Charge card", {}, "the state machine uses JSONata"),
        (
            charge_card(InputPath="$$.Execution.Input"),
            "Charge card",
            {},
            '"Charge card" (the top level): InputPath "$$.Execution.Input" is not a plain JSONPath',
        ),
        (
            charge_card(TimeoutSecondsPath="$.timeout"),
            "Charge card",
            {},
            "uses TimeoutSecondsPath, which instrument does not support",
        ),
        (
            charge_card(),
            "Charge card",
            {"on_reject": "Refund"},
            '--on-reject "Refund" is not a state in the scope',
        ),
        (charge_card(), "Charge card", {"timeout_seconds": 0}, "--timeout-seconds must be between 1 and"),
        (charge_card(), "Charge card", {"queue_url": " "}, "--queue-url must not be empty"),
    ],
    ids=[
        "no-states",
        "not-an-object",
        "bad-start",
        "unknown-state",
        "not-a-task",
        "jsonata",
        "context-path",
        "timeout-path",
        "unknown-on-reject",
        "zero-timeout",
        "empty-queue-url",
    ],
)
def test_a_definition_or_options_it_cannot_honour_are_refused_saying_why(
    definition: Any, chosen: str, kwargs: dict[str, Any], message: str
) -> None:
    # Given / When / Then
    with pytest.raises(InstrumentError) as refused:
        instrument(definition, options(chosen, **kwargs))
    assert message in str(refused.value)


def test_no_state_chosen_is_refused() -> None:
    # Given / When / Then
    with pytest.raises(InstrumentError, match="name at least one state with --state"):
        instrument(charge_card(), InstrumentOptions(states=()))


def test_an_express_state_machine_is_refused() -> None:
    # Given / When / Then
    with pytest.raises(InstrumentError, match="must be Standard, not EXPRESS"):
        instrument(charge_card(), options(workflow_type="EXPRESS"))


def test_a_state_inside_express_child_workflows_is_refused() -> None:
    # Given
    definition = {
        "StartAt": "Each item",
        "States": {
            "Each item": {
                "Type": "Map",
                "ItemProcessor": {
                    **branch("Reserve stock"),
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                },
                "End": True,
            }
        },
    }

    # When / Then
    with pytest.raises(InstrumentError, match="runs in Express child workflows"):
        instrument(definition, options("Reserve stock"))


def test_a_name_found_in_two_scopes_is_refused_as_ambiguous() -> None:
    # Given
    definition = {
        "StartAt": "Prepare",
        "States": {
            "Prepare": {
                "Type": "Parallel",
                "Branches": [branch("Book carrier"), branch("Book carrier")],
                "End": True,
            }
        },
    }

    # When / Then
    with pytest.raises(InstrumentError, match='"Book carrier" names a state in 2 scopes'):
        instrument(definition, options("Book carrier"))


def test_a_generated_name_already_taken_is_refused() -> None:
    # Given
    definition = charge_card()
    definition["States"]["Charge card: run"] = {"Type": "Succeed"}

    # When / Then
    with pytest.raises(InstrumentError, match='the state name "Charge card: run" it needs is already taken'):
        instrument(definition, options())


def test_a_catch_all_that_is_not_alone_in_the_last_catcher_is_refused() -> None:
    # Given
    definition = charge_card(Catch=[{"ErrorEquals": ["States.ALL", "CardDeclined"], "Next": "Done"}])

    # When / Then
    with pytest.raises(InstrumentError, match='"States.ALL" must be alone in the last catcher'):
        instrument(definition, options())
