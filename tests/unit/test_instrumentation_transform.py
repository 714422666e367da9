"""The recovery treatment on plain definitions: what the new definition holds, state by state, and
what is refused with which message. No files, no stack: dicts in, dicts out."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from recovery_ops.service.instrumentation.transform import (
    DEFAULT_RETRY,
    RECOVERY_QUEUE_PLACEHOLDER,
    REJECTED_ERROR,
    InstrumentError,
    InstrumentOptions,
    instrument,
    instrument_with_report,
)
from recovery_ops.service.recovery.model.contract import Routing


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


def jsonata_charge_card(**task: Any) -> dict[str, Any]:
    """``charge_card`` written in JSONata (``"QueryLanguage": "JSONata"`` at the top)."""
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Charge card",
        "States": {
            "Charge card": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Arguments": {"FunctionName": "charge", "Payload": "{% $states.input %}"},
                "Output": "{% $states.result.Payload %}",
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
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.recovery_error", "Next": "Charge card: as it failed"}
    ]
    # where the catch-all's own ResultPath ("$": the whole input) gets the task's own error back,
    # with the recovery's outcome added, and the catch-all's target is reached as before
    restored = states["Charge card: as it failed"]
    assert restored["Parameters"] == {
        "Error.$": "$.error.Error",
        "Cause.$": "$.error.Cause",
        "Recovery.$": "$.recovery_error",
    }
    assert (restored["ResultPath"], restored["OutputPath"]) == ("$.input", "$.input")
    assert restored["Next"] == "Done"


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
        (
            {**charge_card(), "QueryLanguage": "JSONata"},
            "Charge card",
            {},
            '"Charge card" (the top level) is a JSONata state but has Parameters, a JSONPath field',
        ),
        (
            jsonata_charge_card(QueryLanguage="JSONPath"),
            "Charge card",
            {},
            '"Charge card" (the top level) is a JSONPath state in a JSONata context',
        ),
        (
            {
                "QueryLanguage": "JSONata",
                "StartAt": "Each card",
                "States": {
                    "Each card": {
                        "Type": "Map",
                        "QueryLanguage": "JSONPath",
                        "ItemProcessor": charge_card(),
                        "End": True,
                    }
                },
            },
            "Charge card",
            {},
            '"Each card" (the top level) is a JSONPath state in a JSONata context',
        ),
        (
            {**charge_card(), "QueryLanguage": "JSONATA"},
            "Charge card",
            {},
            'the top level: "QueryLanguage" is "JSONATA", not JSONPath or JSONata',
        ),
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
        "jsonpath-fields-in-jsonata",
        "jsonpath-inside-jsonata",
        "jsonpath-map-inside-jsonata",
        "unknown-query-language",
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


# ---------------------------------------------------------------------------------------- JSONata
def test_a_jsonata_state_keeps_its_name_and_fields_and_gains_a_last_catcher_keeping_its_input() -> None:
    # Given a JSONata definition
    definition = jsonata_charge_card()

    # When
    states = instrument(definition, options())["States"]

    # Then the state is the same, with a default Retry and a catcher that keeps the error in a
    # variable and outputs the state's own input, unchanged
    assert list(states) == ["Charge card", "Request recovery: Charge card", "Done"]
    task = states["Charge card"]
    assert {k: v for k, v in task.items() if k not in ("Retry", "Catch")} == definition["States"][
        "Charge card"
    ]
    assert task["Retry"] == DEFAULT_RETRY
    assert task["Catch"] == [
        {
            "ErrorEquals": ["States.ALL"],
            "Assign": {"recovery_error_charge_card": "{% $states.errorOutput %}"},
            "Output": "{% $states.input %}",
            "Next": "Request recovery: Charge card",
        }
    ]


def test_the_jsonata_recovery_state_sends_the_contract_in_jsonata_and_loops_back_to_the_state() -> None:
    # Given / When
    recovery = instrument(jsonata_charge_card(), options(routing=Routing.CLIENT_DATA, timeout_seconds=3600))[
        "States"
    ]["Request recovery: Charge card"]

    # Then
    assert "QueryLanguage" not in recovery  # it inherits JSONata from the top level
    assert recovery["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    assert recovery["Arguments"] == {
        "QueueUrl": RECOVERY_QUEUE_PLACEHOLDER,
        "MessageBody": {
            "contract_version": 1,
            "task_token": "{% $states.context.Task.Token %}",
            "execution_arn": "{% $states.context.Execution.Id %}",
            "execution_name": "{% $states.context.Execution.Name %}",
            "state_machine_arn": "{% $states.context.StateMachine.Id %}",
            "failed_state": "Charge card",
            "input": "{% $states.input %}",
            "error": "{% $recovery_error_charge_card.Error %}",
            "cause": "{% $recovery_error_charge_card.Cause %}",
            "routing": "client-data",
            "requested_at": "{% $states.context.State.EnteredTime %}",
        },
    }
    assert recovery["Output"] == "{% $states.result %}"  # what Run again sends becomes the state's input
    assert recovery["Next"] == "Charge card"
    assert recovery["TimeoutSeconds"] == 3600
    assert not any(key in recovery for key in ("Parameters", "ResultPath", "Catch"))


def test_a_jsonata_state_inside_a_jsonpath_definition_gets_a_recovery_state_that_says_jsonata() -> None:
    # Given a JSONPath definition with one JSONata state
    definition = charge_card()
    definition["States"]["Charge card"] = jsonata_charge_card(QueryLanguage="JSONata")["States"][
        "Charge card"
    ]
    definition["States"]["Ship"] = charge_card(Next="Done")["States"]["Charge card"]

    # When
    states = instrument(definition, options("Charge card", "Ship"))["States"]

    # Then the JSONata state is instrumented in JSONata, the JSONPath one in JSONPath
    recovery = states["Request recovery: Charge card"]
    assert recovery["QueryLanguage"] == "JSONata" and list(recovery)[:2] == ["Type", "QueryLanguage"]
    assert recovery["Arguments"]["MessageBody"]["input"] == "{% $states.input %}"
    assert states["Charge card"]["Catch"][-1]["Output"] == "{% $states.input %}"
    assert states["Ship"]["Parameters"] == {"input.$": "$"}
    assert "QueryLanguage" not in states["Request recovery: Ship"]
    assert states["Request recovery: Ship"]["Parameters"]["MessageBody"]["input.$"] == "$.input"


def test_the_states_of_a_jsonata_map_in_a_jsonpath_definition_are_instrumented_in_jsonata() -> None:
    # Given a JSONPath definition whose Map state is in JSONata (its items inherit it)
    items = jsonata_charge_card(End=True)
    del items["QueryLanguage"], items["States"]["Charge card"]["Next"], items["States"]["Done"]
    definition = {
        "StartAt": "Each card",
        "States": {
            "Each card": {"Type": "Map", "QueryLanguage": "JSONata", "ItemProcessor": items, "End": True}
        },
    }

    # When
    states = instrument(definition, options())["States"]["Each card"]["ItemProcessor"]["States"]

    # Then
    assert "QueryLanguage" not in states["Request recovery: Charge card"]
    assert (
        states["Request recovery: Charge card"]["Arguments"]["MessageBody"]["failed_state"] == "Charge card"
    )


def test_a_jsonata_states_catchers_and_assign_are_kept_and_its_catch_all_follows_the_recovery() -> None:
    # Given a JSONata state with an Assign, a specific catcher and a catch-all, and no Retry field
    specific = {
        "ErrorEquals": ["CardDeclined"],
        "Assign": {"declined": "{% $states.errorOutput.Cause %}"},
        "Output": "{% $states.input %}",
        "Next": "Done",
    }
    catch_all = {"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": "Done"}
    definition = jsonata_charge_card(
        Assign={"charged": "{% $states.result.Payload.id %}"}, Retry=[], Catch=[specific, catch_all]
    )

    # When
    states = instrument(definition, options())["States"]

    # Then the specific catcher comes first as it was; the state's Assign and Retry are untouched
    task = states["Charge card"]
    assert task["Assign"] == {"charged": "{% $states.result.Payload.id %}"} and task["Retry"] == []
    assert task["Catch"][0] == specific
    assert task["Catch"][-1]["Next"] == "Request recovery: Charge card"
    assert len(task["Catch"]) == 2
    # and the catch-all catches what the person decides, seeing the failed state's own error (with the
    # recovery's outcome added) where it read $states.errorOutput; its $states.input is the same input
    restored = "($merge([$recovery_error_charge_card, {'Recovery': $states.errorOutput}]))"
    assert states["Request recovery: Charge card"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "Output": f"{{% {restored} %}}", "Next": "Done"}
    ]


def test_a_jsonata_catch_all_reads_the_failed_states_name_and_error_as_before() -> None:
    # Given a catch-all that records where and why, and one with no Output (it outputs the error)
    recorded = {
        "ErrorEquals": ["States.ALL"],
        "Assign": {"failed_in": "{% $states.context.State.Name %}", "why": "{% $states.errorOutput.Cause %}"},
        "Output": {"step": "{% $states.context.State.Name %}", "note": "literal $states.errorOutput"},
        "Next": "Done",
    }
    silent = {"ErrorEquals": ["States.ALL"], "Next": "Done"}

    # When each is instrumented
    with_record = instrument(jsonata_charge_card(Catch=[recorded]), options())["States"]
    with_none = instrument(jsonata_charge_card(Catch=[silent]), options())["States"]

    # Then the state's name is its own, not the recovery step's, and the error is the failed state's
    (moved,) = with_record["Request recovery: Charge card"]["Catch"]
    error = "($merge([$recovery_error_charge_card, {'Recovery': $states.errorOutput}]))"
    assert moved["Assign"] == {"failed_in": '{% "Charge card" %}', "why": f"{{% {error}.Cause %}}"}
    assert moved["Output"] == {"step": '{% "Charge card" %}', "note": "literal $states.errorOutput"}
    (default,) = with_none["Request recovery: Charge card"]["Catch"]
    assert default["Output"] == f"{{% {error[1:-1]} %}}"


def test_on_reject_in_jsonata_continues_with_the_input_and_the_rejection() -> None:
    # Given
    definition = jsonata_charge_card()
    definition["States"]["Refund"] = {"Type": "Fail"}

    # When
    states = instrument(definition, options(on_reject="Refund"))["States"]

    # Then
    assert states["Request recovery: Charge card"]["Catch"] == [
        {
            "ErrorEquals": [REJECTED_ERROR, "States.Timeout"],
            "Output": "{% $merge([$states.input, {'recovery_error': $states.errorOutput}]) %}",
            "Next": "Refund",
        }
    ]
    assert "Charge card: to Refund" not in states  # nothing to unwrap


def test_each_jsonata_state_keeps_its_error_in_a_variable_of_its_own() -> None:
    # Given two JSONata states, one with a long name
    long_name = "Charge the customer's card, then " * 3
    definition = jsonata_charge_card(Next=long_name)
    definition["States"][long_name] = {**definition["States"]["Charge card"], "Next": "Done"}

    # When
    states = instrument(definition, options("Charge card", long_name))["States"]

    # Then
    (first,) = states["Charge card"]["Catch"][-1]["Assign"]
    (second,) = states[long_name]["Catch"][-1]["Assign"]
    assert first == "recovery_error_charge_card"
    assert second != first and len(second) <= 80 and second.startswith("recovery_error_charge_the_customer_s")


def test_a_variable_the_definition_already_assigns_is_not_taken_over() -> None:
    # Given a definition that assigns the variable instrument would use
    definition = jsonata_charge_card()
    definition["States"]["Done"] = {"Type": "Pass", "Assign": {"recovery_error_charge_card": 1}, "End": True}

    # When / Then
    with pytest.raises(
        InstrumentError, match='the variable "recovery_error_charge_card" it needs is already'
    ):
        instrument(definition, options())


def express_items(state: str) -> dict[str, Any]:
    """A JSONata definition whose ``state`` runs in the Express child workflows of a distributed Map."""
    task = {k: v for k, v in jsonata_charge_card()["States"]["Charge card"].items() if k != "Next"}
    return {
        "QueryLanguage": "JSONata",
        "StartAt": "Each item",
        "States": {
            "Each item": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": state,
                    "States": {state: {**task, "End": True}},
                },
                "End": True,
            }
        },
    }


def taken_name() -> dict[str, Any]:
    definition = jsonata_charge_card()
    definition["States"]["Request recovery: Charge card"] = {"Type": "Succeed"}
    return definition


@pytest.mark.parametrize(
    ("definition", "chosen", "kwargs", "message"),
    [
        (jsonata_charge_card(), "Charge card", {"workflow_type": "EXPRESS"}, "must be Standard, not EXPRESS"),
        (
            express_items("Reserve"),
            "Reserve",
            {},
            '"Reserve" (the items of "Each item") runs in Express child',
        ),
        (jsonata_charge_card(), "Done", {}, '"Done" (the top level) is a Succeed state, not a Task'),
        (
            taken_name(),
            "Charge card",
            {},
            'the state name "Request recovery: Charge card" it needs is already',
        ),
        (
            jsonata_charge_card(Catch=[{"ErrorEquals": ["States.ALL", "CardDeclined"], "Next": "Done"}]),
            "Charge card",
            {},
            '"States.ALL" must be alone in the last catcher',
        ),
        (
            jsonata_charge_card(),
            "Charge card",
            {"on_reject": "Refund"},
            '--on-reject "Refund" is not a state',
        ),
    ],
    ids=[
        "express",
        "express-child-workflows",
        "not-a-task",
        "name-taken",
        "catch-all-not-alone",
        "on-reject",
    ],
)
def test_what_jsonpath_refuses_for_the_state_machine_is_refused_in_jsonata_too(
    definition: Any, chosen: str, kwargs: dict[str, Any], message: str
) -> None:
    # Given / When / Then
    with pytest.raises(InstrumentError) as refused:
        instrument(definition, options(chosen, **kwargs))
    assert message in str(refused.value)
