"""`recovery-ops try`: its arguments, what it readies for the embedded stack, and what it refuses
before anything is deployed (exit code 2, one clear line). No stack here: the definitions are
written to the test's temporary directory and read as data."""

from __future__ import annotations

import copy
import io
import json
import sys
from pathlib import Path

import pytest

from recovery_ops.service.cli import main
from recovery_ops.service.cli.parser import build_parser
from recovery_ops.service.local.programs.try_definition import (
    DEFAULT_ERROR,
    Failure,
    TryError,
    load_function,
    plan_try,
)
from recovery_ops.service.local.programs.try_session import FailureSwitches, Terminal
from tests.support.payments import (
    CHARGE_CARD_ARN,
    PAYMENTS,
    instrumented_payments,
    try_argv,
    with_receipt_function_chosen_when_run,
    write_payments,
)


def refusal(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """The one line `recovery-ops try` refused ``argv`` with (after checking the exit code)."""
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.startswith("recovery-ops try: ") and error.count("\n") == 1
    return error


# ------------------------------------------------------------------------ arguments
def test_the_options_are_parsed_into_repeatable_lists() -> None:
    # Given / When
    args = build_parser().parse_args(
        ["try", "pay.asl.json", "--function", "A=m:f", "--function", "B=m:g", "--fail", "Charge card"]
        + ["--sub", "K=V", "--input", "order.json", "--workflow-type", "standard"]
    )

    # Then
    assert args.command == "try" and args.definition == Path("pay.asl.json")
    assert args.functions == ["A=m:f", "B=m:g"] and args.fails == ["Charge card"] and args.subs == ["K=V"]
    assert args.input == Path("order.json") and args.workflow_type == "STANDARD"


def test_without_options_the_input_is_empty_and_no_task_fails(tmp_path: Path) -> None:
    # Given
    args = build_parser().parse_args(["try", str(write_payments(tmp_path)), "--sub", "Currency=EUR"])

    # When
    plan = plan_try(args.definition, subs=args.subs, input_path=args.input)

    # Then
    assert plan.input == {} and plan.failures == () and plan.handlers == {}
    assert [task.state for task in plan.tasks] == ["Validate order", "Charge card", "Send receipt"]
    assert plan.recovery_states == ()


def test_functions_are_matched_by_their_key_their_arn_or_their_name(tmp_path: Path) -> None:
    # Given
    definition = write_payments(tmp_path)

    # When
    plan = plan_try(
        definition,
        functions=[
            "ValidateFunction=payments_functions:validate",  # the key of ${ValidateFunction}
            f"{CHARGE_CARD_ARN}=payments_functions:charge",  # the ARN the task calls
            "send-receipt=payments_functions.py:validate",  # its name; the module as a file
        ],
        subs=["Currency=EUR"],
    )

    # Then
    assert set(plan.handlers) == {"Validate order", "Charge card", "Send receipt"}
    assert (
        plan.handlers["Charge card"]({"amount": 5}, type("Context", (), {"function_name": "f"}))["charged"]
        == 5
    )
    assert plan.handler_names["Send receipt"] == "payments_functions.py:validate"


def test_a_function_named_by_its_plain_name_answers_a_task_that_calls_its_arn(tmp_path: Path) -> None:
    # Given / When
    plan = plan_try(
        write_payments(tmp_path), functions=["charge-card=payments_functions:charge"], subs=["Currency=EUR"]
    )

    # Then
    assert list(plan.handlers) == ["Charge card"]


def test_the_deployed_definition_calls_local_functions_sends_to_the_local_queue_and_is_substituted(
    tmp_path: Path,
) -> None:
    # Given an instrumented definition whose queue is still the placeholder
    plan = plan_try(instrumented_payments(tmp_path), subs=["Currency=EUR"])

    # When
    deployed = json.loads(
        plan.deployable({task.state: f"fn-{i}" for i, task in enumerate(plan.tasks)}, "https://local/queue")
    )

    # Then
    states = deployed["States"]
    assert states["Validate order"]["Parameters"]["FunctionName"] == "fn-0"
    assert states["Charge card: run"]["Parameters"]["FunctionName"] == "fn-1"
    assert states["Request recovery: Charge card"]["Parameters"]["QueueUrl"] == "https://local/queue"
    assert states["Charge card: run"]["ResultSelector"]["currency"] == "EUR"
    assert "${" not in json.dumps(deployed)
    assert plan.recovery_states == ("Charge card",)


def test_fail_names_a_state_as_the_person_knows_it_even_once_instrumented(tmp_path: Path) -> None:
    # Given / When
    plan = plan_try(
        instrumented_payments(tmp_path),
        fails=["Charge card", "Validate order=OrderInvalid"],
        subs=["Currency=EUR"],
    )

    # Then
    assert plan.failures == (
        Failure("Charge card", "Charge card: run", DEFAULT_ERROR),
        Failure("Validate order", "Validate order", "OrderInvalid"),
    )
    assert [task.named for task in plan.tasks] == ["Validate order", "Charge card", "Send receipt"]


def test_a_failure_stops_once_its_recovery_is_run_again_and_only_its_own() -> None:
    # Given
    switches = FailureSwitches((Failure("Charge card", "Charge card: run"), Failure("Ship", "Ship")))

    # When
    stopped = switches.switch_off("Charge card")  # the recovery's failed_state

    # Then
    assert stopped == [Failure("Charge card", "Charge card: run")]
    assert switches.failure_of("Charge card: run") is None and switches.failure_of("Ship") is not None


def test_the_terminal_reads_one_answer_a_line_and_shows_scripted_answers() -> None:
    # Given
    screen = io.StringIO()
    terminal = Terminal(io.StringIO("e\n  card expired \n"), screen)

    # When
    answers = [terminal.ask("answer? "), terminal.ask("reason> "), terminal.ask("again? ")]

    # Then the end of the answers is None: Quit
    assert answers == ["e", "card expired", None]
    assert screen.getvalue() == "answer? e\nreason>   card expired \nagain? \n"


# ------------------------------------------------------------------------ refusals
def test_a_missing_definition_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert f"the definition: no file {tmp_path / 'nope.asl.json'}" in refusal(
        capsys, ["try", str(tmp_path / "nope.asl.json")]
    )


def test_a_definition_that_is_not_json_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given
    broken = tmp_path / "broken.asl.json"
    broken.write_text('{"StartAt": "A",')

    # When / Then
    assert "broken.asl.json is not valid JSON" in refusal(capsys, ["try", str(broken)])


def test_json_that_is_not_a_state_machine_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    other = tmp_path / "other.json"
    other.write_text('{"Resources": {}}')

    # When / Then
    assert 'is not an ASL state machine (no "States" object)' in refusal(capsys, ["try", str(other)])


def test_an_express_state_machine_is_refused_it_cannot_wait_for_a_person(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    definition = instrumented_payments(tmp_path)
    capsys.readouterr()  # what instrument said

    # When
    error = refusal(capsys, [*try_argv(definition), "--workflow-type", "express"])

    # Then
    assert "must be Standard, not EXPRESS" in error and ".waitForTaskToken" in error


def test_a_recovery_request_inside_an_express_child_workflow_is_refused(tmp_path: Path) -> None:
    # Given the instrumented states inside a distributed Map of Express child workflows
    recovering = json.loads(instrumented_payments(tmp_path).read_text())
    machine = {
        "StartAt": "Each order",
        "States": {
            "Each order": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    **recovering,
                },
                "End": True,
            }
        },
    }
    path = tmp_path / "bulk.asl.json"
    path.write_text(json.dumps(machine))

    # When / Then
    with pytest.raises(TryError, match="inside an Express child workflow"):
        plan_try(path, subs=["Currency=EUR"])


def test_an_unknown_fail_state_is_refused_listing_the_states(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given / When
    error = refusal(capsys, [*try_argv(write_payments(tmp_path)), "--fail", "Charge the card"])

    # Then
    assert '--fail "Charge the card": no such state in the definition' in error
    assert 'Its states: "Validate order", "Charge card", "Wait a moment", "Send receipt"' in error
    assert 'The Lambda tasks --fail can fail: "Validate order", "Charge card", "Send receipt"' in error


def test_fail_on_a_state_that_is_not_a_lambda_task_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given / When
    error = refusal(capsys, [*try_argv(write_payments(tmp_path)), "--fail", "Wait a moment"])

    # Then
    assert '"Wait a moment": it is a Wait state, not a Lambda task' in error


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        (
            "--function=nobody=payments_functions:charge",
            "--function nobody: no Lambda task of {definition} calls it",
        ),
        ("--function=send-receipt=payments_functions:refund", "payments_functions has no function refund"),
        ("--function=send-receipt=billing:refund", "no module billing"),
        ("--function=send-receipt=payments_functions", "say module:function"),
        ("--sub=Region=eu-west-1", "--sub Region: the definition has no ${Region}"),
        ("--fail=Charge card=not an error", "'not an error' is not an error name"),
    ],
)
def test_options_that_cannot_apply_are_refused_saying_why(
    option: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given / When
    definition = write_payments(tmp_path)
    error = refusal(capsys, [*try_argv(definition), option])

    # Then (the definition named by the path given)
    assert problem.replace("{definition}", str(definition)) in error


def test_a_function_unknown_to_the_definition_is_refused_listing_the_functions_it_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given / When
    error = refusal(
        capsys, [*try_argv(write_payments(tmp_path)), "--function", "refund=payments_functions:charge"]
    )

    # Then
    assert f'the functions it calls: "${{ValidateFunction}}", "{CHARGE_CARD_ARN}", "send-receipt"' in error


def test_a_placeholder_without_a_value_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given / When
    error = refusal(capsys, ["try", str(write_payments(tmp_path))])

    # Then
    assert "no value for ${Currency}: pass --sub Currency=VALUE" in error


@pytest.mark.parametrize(("content", "problem"), [(None, "no file"), ("{amount: 1}", "is not valid JSON")])
def test_an_input_that_cannot_be_read_is_refused(
    content: str | None, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    argv = try_argv(write_payments(tmp_path))
    order = tmp_path / "order.json"
    if content is None:
        order.unlink()
    else:
        order.write_text(content)

    # When
    error = refusal(capsys, argv)

    # Then
    assert "the input (--input): " in error and problem in error


def test_a_function_chosen_at_run_time_without_a_function_to_answer_it_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    definition = copy.deepcopy(PAYMENTS)
    parameters = definition["States"]["Send receipt"]["Parameters"]
    parameters["FunctionName.$"] = parameters.pop("FunctionName")

    # When / Then: the state is named, with the path given and how to answer it
    error = refusal(capsys, ["try", str(write_payments(tmp_path, definition)), "--sub", "Currency=EUR"])
    assert "chooses its Lambda function when it runs" in error
    assert str(tmp_path / "payments.asl.json") in error and "--function NAME=module:function" in error


def test_a_function_chosen_at_run_time_is_answered_by_the_function_map(tmp_path: Path) -> None:
    # Given "Send receipt" choosing receipts-<order id> when it runs, and a function for that name
    definition = write_payments(tmp_path, with_receipt_function_chosen_when_run())

    # When
    plan = plan_try(
        definition,
        functions=["ValidateFunction=payments_functions:validate", "receipts-o-1=payments_functions:receipt"],
        subs=["Currency=EUR"],
    )

    # Then the name is deployed as it is, the task left to choose it, and --fail on it refused
    assert list(plan.runtime_functions) == ["receipts-o-1"]
    assert plan.runtime_function_names == {"receipts-o-1": "payments_functions:receipt"}
    (receipt,) = [task for task in plan.tasks if task.state == "Send receipt"]
    assert receipt.chosen_when_run
    assert "FunctionName.$" in json.loads(plan.deployable({}, "q"))["States"]["Send receipt"]["Parameters"]
    with pytest.raises(TryError, match="chooses its Lambda function when it runs"):
        plan_try(
            definition,
            functions=["receipts-o-1=payments_functions:receipt"],
            fails=["Send receipt"],
            subs=["Currency=EUR"],
        )


def test_service_integrations_a_definition_alone_cannot_create_are_named_with_the_path(
    tmp_path: Path,
) -> None:
    # Given a definition that also writes to DynamoDB and publishes to SNS
    definition = copy.deepcopy(PAYMENTS)
    definition["States"]["Send receipt"] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:putItem",
        "Parameters": {"TableName": "payments", "Item": {"id": {"S.$": "$.order_id"}}},
        "Next": "Tell finance",
    }
    definition["States"]["Tell finance"] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": "arn:aws:sns:eu-west-1:111122223333:finance", "Message.$": "$.order_id"},
        "End": True,
    }
    path = write_payments(tmp_path, definition)

    # When
    plan = plan_try(path, subs=["Currency=EUR"])

    # Then each is named before the run, with the path given and what to do
    assert plan.integrations == (("Send receipt", "dynamodb:putItem"), ("Tell finance", "sns:publish"))
    (dynamodb, sns) = plan.unemulated()
    assert dynamodb.startswith(f'{path}: "Send receipt" calls dynamodb:putItem')
    assert "recovery-ops try --template" in sns


def test_a_function_of_the_teams_own_package_imports_its_neighbours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a team repository in the cookbook layout: service/handlers/charge.py imports service.logic
    package = tmp_path / "service"
    (package / "handlers").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "logic.py").write_text("def total(event):\n    return event['amount'] * 2\n")
    (package / "handlers" / "__init__.py").write_text("")
    (package / "handlers" / "charge.py").write_text(
        "from service.logic import total\n\n\n"
        "def handler(event, context):\n    return {'total': total(event)}\n"
    )
    monkeypatch.setattr(sys, "path", list(sys.path))  # what try adds to the import path is undone
    for name in [name for name in sys.modules if name == "service" or name.startswith("service.")]:
        monkeypatch.delitem(sys.modules, name)

    # When try loads the team's handler by its dotted name, from the repository's root
    handler = load_function("service.handlers.charge:handler", [tmp_path])

    # Then it is the team's own module, and its own imports worked
    assert handler({"amount": 21}, None) == {"total": 42}
    assert sys.modules["service"].__file__ == str(package / "__init__.py")
    for name in [name for name in sys.modules if name == "service" or name.startswith("service.")]:
        del sys.modules[name]  # the team's modules, which were not there before
