"""`recovery-ops instrument` on a state machine the project has never seen (tests/fixtures): its Tasks
inside a Parallel and a Map pause through the recovery queue, the collector stores them, Run again from
the Slack app resumes them with exactly their input, and the execution ends as the original would."""

from __future__ import annotations

import copy
import io
import json
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest

from service.cli.instrument import instrument_command
from service.instrumentation.transform import (
    DEFAULT_RETRY,
    REJECTED_ERROR,
    InstrumentError,
    InstrumentOptions,
    instrument,
)
from service.local.collector_poller import poll_collector
from service.local.lambda_dispatch import LocalFunction
from service.local.slack_standin import SlackStandIn
from service.local.stack import ACCOUNT_ID, EmbeddedStack
from service.recovery.actions import REJECTED_ERROR as ACTIONS_REJECTED_ERROR
from service.recovery.actions import RecoveryActions
from service.recovery.contract import Routing
from service.recovery.recovery import Recovery, RecoveryStatus
from service.recovery.step_functions_tokens import StepFunctionsTokens
from slack_app.ids import RUN_AGAIN
from tests.support.desk import execution_status, requests_for, send, store, wait_for_status
from tests.support.stacks import ALLOWED
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "shipping_workflow.asl.json"
PARALLEL_STATES = ("Book carrier", "Print label")
MAP_STATE = "Pack item"
SHIPMENT = {
    "shipment_id": "S-1",
    "address": {"name": "Ada", "city": "Ghent"},
    "items": [{"sku": "sku-lamp", "quantity": 1}, {"sku": "sku-vase", "quantity": 2}],
}
NORMALISED = {**SHIPMENT, "item_count": 2}  # the input of both branches of "Prepare shipment"


# ------------------------------------------------------------------ the shipping functions (in-process)
class CarrierUnavailable(Exception):
    pass


class LabelPrinterJammed(Exception):
    pass


class LabelPrinterOffline(Exception):
    pass


class PackingStationDown(Exception):
    pass


FAILURES: dict[str, type[Exception]] = {}  # function key -> the error it raises while the switch is on
FAILING_SKUS: set[str] = set()  # "pack" fails only for these
CALLS: dict[str, list[Any]] = {}
_LOCK = threading.Lock()


def _called(key: str, event: Any) -> None:
    with _LOCK:
        CALLS.setdefault(key, []).append(copy.deepcopy(event))
    error = FAILURES.get(key)
    if error is not None and (key != "pack" or event.get("sku") in FAILING_SKUS):
        raise error(f"{key} failed for {json.dumps(event, sort_keys=True)}")


def book_carrier(event: dict, context: Any) -> dict:
    _called("book", event)
    return {"carrier": "Bpost", "booking": f"BK-{event['shipment_id']}-{event['address']['city']}"}


def print_label(event: dict, context: Any) -> dict:
    _called("label", event)
    return {"label": f"LBL-{event['shipment_id']}-{event['address']['name']}"}


def pack_item(event: dict, context: Any) -> dict:
    _called("pack", event)
    return {"parcel": f"P-{event['sku']}-x{event['quantity']}"}


FUNCTIONS = {
    "BookCarrierFunction": "book_carrier",
    "PrintLabelFunction": "print_label",
    "PackItemFunction": "pack_item",
}


_DEPLOYED: set[str] = set()


@pytest.fixture(autouse=True)
def _functions_succeed() -> None:
    FAILURES.clear()
    FAILING_SKUS.clear()
    CALLS.clear()


def deploy(stack: EmbeddedStack, definition: dict, name: str) -> str:
    """Create the shipping functions (once per stack) and a state machine from ``definition``."""
    lambda_client = stack.client("lambda")
    text = json.dumps(definition)
    for placeholder, handler in FUNCTIONS.items():
        function_name = f"{stack.name}-{handler.replace('_', '-')}"
        if function_name not in _DEPLOYED:
            role = stack.client("iam").create_role(
                RoleName=f"{function_name}-role"[:64], AssumeRolePolicyDocument="{}"
            )["Role"]["Arn"]
            _DEPLOYED.add(function_name)
            arn = lambda_client.create_function(
                FunctionName=function_name,
                Runtime="python3.13",
                Role=role,
                Handler=f"{__name__}.{handler}",
                Code={"ZipFile": _zip()},
                Timeout=10,
            )["FunctionArn"]
            stack.dispatcher.register(LocalFunction(function_name, arn, f"{__name__}.{handler}"))
        text = text.replace("${" + placeholder + "}", function_name)
    return stack.client("stepfunctions").create_state_machine(
        name=f"{stack.name}-{name}",
        definition=text,
        roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{stack.name}-states",
    )["stateMachineArn"]


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# runs in-process: service/local/lambda_dispatch.py\n")
    return buffer.getvalue()


def run(stack: EmbeddedStack, machine_arn: str, name: str, shipment: dict = SHIPMENT) -> str:
    return stack.client("stepfunctions").start_execution(
        stateMachineArn=machine_arn, name=name, input=json.dumps(shipment)
    )["executionArn"]


def finished(stack: EmbeddedStack, execution_arn: str) -> dict:
    sfn = stack.client("stepfunctions")
    wait_until(lambda: execution_status(stack, execution_arn) != "RUNNING")
    return sfn.describe_execution(executionArn=execution_arn)


def collect(stack: EmbeddedStack, count: int) -> dict[str, Recovery]:
    """Feed the recovery queue to the collector until ``count`` recoveries are open; by failed state."""
    recoveries = store(stack)

    def collected() -> bool:
        poll_collector(stack)
        return len(recoveries.list_by_status(RecoveryStatus.OPEN, limit=100)) >= count

    wait_until(collected)
    return {r.failed_state: r for r in recoveries.list_by_status(RecoveryStatus.OPEN, limit=100)}


def instrumented(
    tmp_path: Path,
    queue_url: str,
    *extra: str,
    states: tuple[str, ...] = (*PARALLEL_STATES, MAP_STATE),
    source: Path = FIXTURE,
) -> dict:
    out = tmp_path / "shipping.instrumented.asl.json"
    argv = [str(source), "--queue-url", queue_url, "--output", str(out), *extra]
    for state in states:
        argv += ["--state", state]
    assert instrument_command(argv) == 0
    return json.loads(out.read_text())


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


def run_again(stack: EmbeddedStack, slack: SlackStandIn, recoveries) -> None:
    """Click Run again on each recovery's Slack message, through the Slack app's Lambda function."""
    requests = requests_for(slack)
    for recovery in recoveries:
        assert send(stack, requests.click(ALLOWED, RUN_AGAIN, recovery.recovery_id))["statusCode"] == 200
    for recovery in recoveries:
        wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)


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
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.input.failure", "Next": "Charge card: to Refund"},
    ]
    assert states["Charge card: to Refund"] == {
        "Type": "Pass",
        "Comment": states["Charge card: to Refund"]["Comment"],
        "OutputPath": "$.input",
        "Next": "Refund",
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


def test_jsonata_states_are_refused() -> None:
    definition = json.loads(FIXTURE.read_text())
    definition["QueryLanguage"] = "JSONata"
    with pytest.raises(InstrumentError, match="JSONata"):
        instrument(definition, options("Book carrier"))


def test_the_new_definitions_pass_cfn_lints_states_language_schema() -> None:
    cfnlint = pytest.importorskip("cfnlint.api")

    def infra(name: str) -> dict:
        return json.loads((ROOT / "infra" / name).read_text().replace("${Partition}", "aws"))

    definitions = [
        instrument(json.loads(FIXTURE.read_text()), options(*PARALLEL_STATES, MAP_STATE)),
        # inside a Parallel branch: three specific catchers and a catch-all; a Retry already there
        instrument(
            infra("order_item.asl.json"), options("Check availability", on_reject="Product unavailable")
        ),
        # a DynamoDB task and a Map's nested-execution task
        instrument(infra("order_workflow.asl.json"), options("Create order record", "Run item action")),
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
    from service.cli import main

    output = tmp_path / "out.asl.json"
    assert main(["instrument", str(FIXTURE), "--state", "No such state", "--output", str(output)]) == 2
    assert "No such state" in capsys.readouterr().err and not output.exists()
