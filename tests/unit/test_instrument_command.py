"""`recovery-ops instrument` as a command and as a transform of the shipping workflow
(tests/fixtures/shipping_workflow.asl.json): no stack, the definition read and compared as data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from recovery_ops.service.cli.instrument import instrument_command
from recovery_ops.service.instrumentation.transform import (
    DEFAULT_RETRY,
    REJECTED_ERROR,
    InstrumentError,
    InstrumentOptions,
    instrument,
)
from recovery_ops.service.recovery.model.contract import Routing
from tests.support.shipping import (
    FIXTURE,
    JSONATA_FIXTURE,
    MAP_STATE,
    PARALLEL_STATES,
    ROOT,
    with_pack_item_in_jsonata,
)


# ------------------------------------------------------------------------ the transformation itself
def options(*states: str, **kwargs: Any) -> InstrumentOptions:
    return InstrumentOptions(states=states, **kwargs)


def scopes(definition: dict) -> list[dict]:
    """Every States object of the definition (top level, Parallel branches, Map item processors)."""
    found = [definition["States"]]
    for state in definition["States"].values():
        for branch in state.get("Branches", []):
            found += scopes(branch)
        if "ItemProcessor" in state or "Iterator" in state:
            found += scopes(state.get("ItemProcessor") or state["Iterator"])
    return found


def test_every_other_state_is_left_as_it_was() -> None:
    original = json.loads(FIXTURE.read_text())
    chosen = {*PARALLEL_STATES, MAP_STATE}
    result = instrument(original, options(*chosen))

    assert json.loads(FIXTURE.read_text()) == original  # the input definition is not modified
    before = {name: state for scope in scopes(original) for name, state in scope.items()}
    after = {name: state for scope in scopes(result) for name, state in scope.items()}
    containers = {"Prepare shipment": "Branches", "Ship items": "ItemProcessor"}
    for name, state in before.items():
        if name in chosen:
            continue
        if name in containers:
            rest = {k: v for k, v in after[name].items() if k != containers[name]}
            assert rest == {k: v for k, v in state.items() if k != containers[name]}
            assert list(after[name]) == list(state)  # same keys, same order
        else:
            assert json.dumps(after[name]) == json.dumps(state), name
    generated = set(after) - set(before)
    assert generated == {
        "Book carrier: run",
        "Request recovery: Book carrier",
        "Print label: run",
        "Request recovery: Print label",
        "Print label: to Handwritten label",
        "Pack item: run",
        "Request recovery: Pack item",
    }
    branch_states = result["States"]["Prepare shipment"]["Branches"][1]["States"]
    assert list(branch_states)[:4] == [
        "Print label",
        "Print label: run",
        "Request recovery: Print label",
        "Print label: to Handwritten label",
    ]


def test_the_task_runs_on_the_wrapped_input_and_its_catchers_keep_their_order() -> None:
    result = instrument(json.loads(FIXTURE.read_text()), options("Print label", queue_url="https://q"))
    states = result["States"]["Prepare shipment"]["Branches"][1]["States"]
    original = json.loads(FIXTURE.read_text())["States"]["Prepare shipment"]["Branches"][1]["States"]

    assert states["Print label"] == {
        "Type": "Pass",
        "Comment": states["Print label"]["Comment"],
        "Parameters": {"input.$": "$"},
        "Next": "Print label: run",
    }
    run_state = states["Print label: run"]
    assert (run_state["InputPath"], run_state["ResultPath"], run_state["OutputPath"]) == (
        "$.input",
        "$.input",
        "$.input",
    )
    assert run_state["Retry"] == original["Print label"]["Retry"]  # kept: no default Retry added
    assert run_state["Catch"] == [
        {
            "ErrorEquals": ["LabelPrinterOffline"],
            "ResultPath": "$.input.label_error",
            "Next": "Print label: to Handwritten label",
        },
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Request recovery: Print label"},
    ]
    assert states["Print label: to Handwritten label"]["OutputPath"] == "$.input"
    recovery = states["Request recovery: Print label"]
    assert recovery["Resource"] == "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
    assert recovery["Parameters"]["QueueUrl"] == "https://q"
    assert recovery["Parameters"]["MessageBody"]["failed_state"] == "Print label"
    assert recovery["Parameters"]["MessageBody"]["input.$"] == "$.input"
    assert (recovery["ResultPath"], recovery["TimeoutSeconds"], recovery["Next"]) == (
        "$.input",
        604800,
        "Print label: run",
    )
    assert "Catch" not in recovery  # a rejection fails the branch, so the execution


def test_a_default_retry_is_added_only_where_the_task_has_none() -> None:
    result = instrument(json.loads(FIXTURE.read_text()), options(*PARALLEL_STATES, MAP_STATE))
    branches = result["States"]["Prepare shipment"]["Branches"]
    items = result["States"]["Ship items"]["ItemProcessor"]["States"]

    assert branches[0]["States"]["Book carrier: run"]["Retry"] == DEFAULT_RETRY
    assert items["Pack item: run"]["Retry"] == DEFAULT_RETRY
    assert branches[1]["States"]["Print label: run"]["Retry"][0]["ErrorEquals"] == [
        "Lambda.TooManyRequestsException"
    ]
    for retrier in DEFAULT_RETRY:
        assert REJECTED_ERROR not in retrier["ErrorEquals"] and "States.ALL" not in retrier["ErrorEquals"]


def test_a_catch_all_moves_to_the_recovery_and_the_options_are_applied() -> None:
    definition = {
        "StartAt": "Charge card",
        "States": {
            "Charge card": {
                "Type": "Task",
                "Resource": "arn:aws-cn:states:::lambda:invoke",
                "Parameters": {"FunctionName": "charge", "Payload.$": "$"},
                "ResultPath": None,
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Refund"}],
                "Next": "Done",
            },
            "Refund": {"Type": "Fail", "Error": "Refunded"},
            "Done": {"Type": "Succeed"},
        },
    }
    result = instrument(
        definition,
        options("Charge card", routing=Routing.CLIENT_DATA, timeout_seconds=3600, on_reject="Done"),
    )
    states = result["States"]

    assert states["Charge card: run"]["ResultPath"] is None
    assert states["Charge card: run"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Request recovery: Charge card"}
    ]
    recovery = states["Request recovery: Charge card"]
    assert recovery["Resource"] == "arn:aws-cn:states:::sqs:sendMessage.waitForTaskToken"
    assert recovery["Parameters"]["QueueUrl"] == "${RecoveryQueueUrl}"
    assert recovery["Parameters"]["MessageBody"]["routing"] == "client-data"
    assert recovery["TimeoutSeconds"] == 3600
    assert recovery["Catch"] == [
        {
            "ErrorEquals": [REJECTED_ERROR, "States.Timeout"],
            "ResultPath": "$.input.recovery_error",
            "Next": "Charge card: to Done",
        },
        {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.recovery_error",
            "Next": "Charge card: as it failed",
        },
    ]
    # the catch-all's own ResultPath gets the task's error back (with the recovery's outcome), then Refund
    assert states["Charge card: as it failed"] == {
        "Type": "Pass",
        "Comment": states["Charge card: as it failed"]["Comment"],
        "Parameters": {
            "Error.$": "$.error.Error",
            "Cause.$": "$.error.Cause",
            "Recovery.$": "$.recovery_error",
        },
        "ResultPath": "$.input.failure",
        "OutputPath": "$.input",
        "Next": "Refund",
    }
    assert states["Charge card: to Done"] == {
        "Type": "Pass",
        "Comment": states["Charge card: to Done"]["Comment"],
        "OutputPath": "$.input",
        "Next": "Done",
    }


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--state", "Ship it"], 'no state named "Ship it"'),
        (
            ["--state", "Normalise shipment"],
            '"Normalise shipment" (the top level) is a Pass state, not a Task',
        ),
        (["--state", "Ship items"], "is a Map state, not a Task"),
        (["--state", "Anything to ship?"], "is a Choice state, not a Task"),
        (["--state", "Book carrier", "--on-reject", "Shipped"], '--on-reject "Shipped" is not a state in'),
        (["--state", "Book carrier", "--timeout-seconds", "0"], "--timeout-seconds must be between"),
    ],
)
def test_refusals_name_the_problem_and_exit_2(
    argv: list[str], problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    assert instrument_command([str(FIXTURE), "--output", str(out), *argv]) == 2
    assert problem in capsys.readouterr().err
    assert not out.exists()


def test_refusals_of_files_that_are_not_asl_and_of_colliding_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_json = tmp_path / "broken.asl.json"
    not_json.write_text('{"StartAt": ')
    not_asl = tmp_path / "package.json"
    not_asl.write_text('{"name": "shipping"}')
    colliding = json.loads(FIXTURE.read_text())
    colliding["States"]["Request recovery: Pack item"] = {"Type": "Succeed"}
    collides = tmp_path / "collides.asl.json"
    collides.write_text(json.dumps(colliding))
    duplicated = json.loads(FIXTURE.read_text())
    duplicated["States"]["Pack item"] = {"Type": "Succeed"}
    ambiguous = tmp_path / "ambiguous.asl.json"
    ambiguous.write_text(json.dumps(duplicated))

    cases = [
        ([str(not_json), "--state", "A"], "is not JSON"),
        ([str(not_asl), "--state", "A"], 'is not an ASL definition (no "States")'),
        ([str(tmp_path / "missing.json"), "--state", "A"], "cannot read"),
        (
            [str(collides), "--state", "Pack item"],
            'the state name "Request recovery: Pack item" it needs is already',
        ),
        ([str(ambiguous), "--state", "Pack item"], '"Pack item" names a state in 2 scopes'),
        (
            [str(FIXTURE), "--state", "Pack item", "--output", str(FIXTURE)],
            "--output names the definition itself",
        ),
        ([str(FIXTURE)], "--state"),  # argparse: the option is required
        ([str(FIXTURE), "--state", "Pack item", "--routing", "sales"], "invalid choice"),
    ]
    for argv, problem in cases:
        assert instrument_command(argv) == 2, argv
        assert problem in capsys.readouterr().err, argv


def test_the_new_definition_goes_to_stdout_without_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert instrument_command([str(FIXTURE), "--state", "Book carrier"]) == 0
    captured = capsys.readouterr()
    written = json.loads(captured.out)
    assert "Request recovery: Book carrier" in written["States"]["Prepare shipment"]["Branches"][0]["States"]
    assert 'instrumented "Book carrier" (branch 1 of "Prepare shipment")' in captured.err
    assert "${RecoveryQueueUrl}" in captured.err


def test_a_jsonpath_definition_merely_marked_jsonata_is_refused_for_its_jsonpath_fields() -> None:
    definition = json.loads(FIXTURE.read_text())
    definition["QueryLanguage"] = "JSONata"
    with pytest.raises(InstrumentError, match="is a JSONata state but has Parameters, a JSONPath field"):
        instrument(definition, options("Book carrier"))


def test_in_jsonata_only_the_chosen_states_retry_and_catch_change_and_one_state_is_added_each() -> None:
    original = json.loads(JSONATA_FIXTURE.read_text())
    chosen = {*PARALLEL_STATES, MAP_STATE}
    result = instrument(original, options(*chosen))

    before = {name: state for scope in scopes(original) for name, state in scope.items()}
    after = {name: state for scope in scopes(result) for name, state in scope.items()}
    assert set(after) - set(before) == {f"Request recovery: {name}" for name in chosen}
    for name in chosen:
        unchanged = {k: v for k, v in after[name].items() if k not in ("Retry", "Catch")}
        assert unchanged == {k: v for k, v in before[name].items() if k not in ("Retry", "Catch")}
        assert after[name]["Catch"][:-1] == before[name].get("Catch", [])
        assert after[name].get("Retry") == before[name].get("Retry", DEFAULT_RETRY)
    for name in set(before) - chosen - {"Prepare shipment", "Ship items"}:
        assert json.dumps(after[name]) == json.dumps(before[name]), name


def test_the_new_definitions_pass_cfn_lints_states_language_schema() -> None:
    cfnlint = pytest.importorskip("cfnlint.api")

    def infra(name: str) -> dict:
        return json.loads((ROOT / "infra" / "example" / name).read_text().replace("${Partition}", "aws"))

    definitions = [
        instrument(json.loads(FIXTURE.read_text()), options(*PARALLEL_STATES, MAP_STATE)),
        # inside a Parallel branch: three specific catchers and a catch-all; a Retry already there
        instrument(
            infra("order_item.asl.json"), options("Check availability", on_reject="Product unavailable")
        ),
        # a DynamoDB task and a Map's nested-execution task
        instrument(infra("order_workflow.asl.json"), options("Create order record", "Run item action")),
        # JSONata: a whole definition, and one state of a JSONPath definition
        instrument(json.loads(JSONATA_FIXTURE.read_text()), options(*PARALLEL_STATES, MAP_STATE)),
        instrument(
            with_pack_item_in_jsonata(json.loads(FIXTURE.read_text())), options("Book carrier", MAP_STATE)
        ),
    ]
    for definition in definitions:
        template = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Resources": {
                "Machine": {
                    "Type": "AWS::StepFunctions::StateMachine",
                    "Properties": {
                        "RoleArn": "arn:aws:iam::123456789012:role/states",
                        "Definition": definition,
                    },
                }
            },
        }
        matches = cfnlint.lint(json.dumps(template), config=cfnlint.ManualArgs(regions=["us-east-1"]))
        assert [str(match) for match in matches] == []


def test_recovery_ops_instrument_is_the_same_command(tmp_path, capsys) -> None:
    from recovery_ops.service.cli import main

    output = tmp_path / "out.asl.json"
    assert main(["instrument", str(FIXTURE), "--state", "No such state", "--output", str(output)]) == 2
    assert "No such state" in capsys.readouterr().err and not output.exists()
