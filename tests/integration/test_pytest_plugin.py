"""The pytest plugin a team tests its own state machine with (service/local/testing/pytest_plugin.py): the
docs' example test (docs/snippets/test_process_order.py) passes with plain pytest in a directory of its
own, and the desk's waits and clicks say what happened when the recovery path is not what the test
expects."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from recovery_ops.service.local.desk import (
    WITHHELD_TOKEN,
    ActionNotDoneError,
    Desk,
    ExecutionNotSucceededError,
    NoRecoveryInTimeError,
    RecoveryNeverRequestedError,
)
from recovery_ops.service.local.engine.lambda_dispatch import HandlerPathError
from recovery_ops.service.local.standin.workspace import SlackWorkspace
from recovery_ops.service.local.testing.recovery_stack import RecoveryStack, StateMachine
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from recovery_ops.slack_app.ids import RUN_AGAIN, RUN_AGAIN_ALL

ROOT = Path(__file__).resolve().parents[2]
PROCESS_ORDER = ROOT / "tests" / "fixtures" / "process_order.asl.json"
# the complete test of docs/integrate/pytest-plugin.md, included in the page from this file
DOCS_EXAMPLE = ROOT / "docs" / "snippets" / "test_process_order.py"
# a team's own table beside the service (docs/integrate/pytest-plugin.md, "Your own resources")
DOCS_OWN_TABLE = ROOT / "docs" / "snippets" / "test_own_table.py"
# a team's durable function on the desk (docs/integrate/pytest-plugin.md, "A durable function")
DOCS_DURABLE = ROOT / "docs" / "snippets" / "test_durable_item_check.py"


@pytest.mark.parametrize("example", [DOCS_EXAMPLE, DOCS_OWN_TABLE, DOCS_DURABLE], ids=lambda path: path.stem)
def test_the_docs_examples_pass_with_plain_pytest_in_a_directory_outside_the_project(
    tmp_path: Path, example: Path
) -> None:
    # Given a docs example test and the definition it uses, alone in a directory of their own
    team = tmp_path / "team-ci"
    team.mkdir()
    assert ROOT not in team.parents
    shutil.copy(example, team / example.name)
    shutil.copy(PROCESS_ORDER, team)
    pytest_command = Path(sys.executable).with_name("pytest")  # the project's venv
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_"))}

    # When plain pytest runs there (the plugin comes from the installed package's entry point)
    finished = subprocess.run(
        [str(pytest_command), "-q"], cwd=team, env=environment, capture_output=True, text=True, timeout=300
    )

    # Then the example passes
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "1 passed" in finished.stdout


# ------------------------------------------------------------------ the desk, in-process
class VendorDown(Exception):
    pass


CHECKED: list[dict[str, Any]] = []
VENDOR = {"up": False}


def check_availability(event: dict, context: Any) -> dict:
    CHECKED.append(event)
    if not VENDOR["up"] and event["item"] != "sku-always":
        raise VendorDown(f"the vendor does not answer for {event['item']}")
    return {"available": True}


@pytest.fixture(autouse=True)
def _vendor_down() -> None:
    VENDOR["up"] = False
    CHECKED.clear()


def process_order(
    recovery_stack: RecoveryStack, definition: Any = PROCESS_ORDER, **kwargs: Any
) -> StateMachine:
    return recovery_stack.deploy_state_machine(
        definition, functions={"CheckProductAvailabilityFunction": check_availability}, **kwargs
    )


def changed(change) -> dict:
    """process_order.asl.json with ``change(definition)`` applied."""
    definition = json.loads(PROCESS_ORDER.read_text())
    change(definition)
    return definition


def test_an_execution_that_fails_without_asking_for_a_person_is_told_with_its_error_and_last_state(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    # Given a definition whose failed state has no Catch to the recovery step
    machine = process_order(
        recovery_stack, changed(lambda d: d["States"]["Check availability"].pop("Catch")), name="no-catch"
    )

    # When an execution fails
    execution = machine.start({"item": "sku-lamp"})

    # Then waiting for its recovery says it ended, why, where, and what a recovery step needs
    with pytest.raises(RecoveryNeverRequestedError) as told:
        desk.wait_for_recovery(execution)
    message = str(told.value)
    assert "'no-catch-1' ended FAILED with VendorDown: the vendor does not answer for sku-lamp" in message
    assert "last in state 'Check availability'" in message
    assert "never asked for a recovery" in message and "${RecoveryQueueUrl}" in message


@pytest.mark.parametrize(
    ("handler", "told"),
    [
        ("tests.support.no_such_module.handler", "no module tests.support.no_such_module can be imported"),
        ("tests.support.waiting.no_such_function", "module tests.support.waiting has no no_such_function"),
        ("lambda_handler", 'is not "module.function"'),
    ],
)
def test_a_wrong_handler_path_is_refused_when_deployed_not_when_a_task_fails(
    recovery_stack: RecoveryStack, handler: str, told: str
) -> None:
    # Given a definition whose Lambda task is answered by a handler path with a mistake in it
    machines = recovery_stack.client("stepfunctions").list_state_machines()["stateMachines"]

    # When it is deployed, then it is refused at once, naming the function, the path and the mistake
    with pytest.raises(HandlerPathError) as refused:
        recovery_stack.deploy_state_machine(
            PROCESS_ORDER, name="wrong-handler", functions={"CheckProductAvailabilityFunction": handler}
        )
    assert told in str(refused.value) and "CheckProductAvailabilityFunction" in str(refused.value)
    # and no state machine was created that a catch-all could turn green for the wrong reason
    assert recovery_stack.client("stepfunctions").list_state_machines()["stateMachines"] == machines


def test_the_desk_hands_a_test_every_field_of_a_recovery_but_its_task_token(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    # Given a paused execution
    execution = process_order(recovery_stack, name="no-token").start({"item": "sku-lamp"})

    # When a test waits for its recovery and runs it again
    recovery = desk.wait_for_recovery(execution)
    resumed = desk.run_again(recovery)

    # Then what it holds says what failed and how it ended, but not the token the table keeps
    table = recovery_stack.embedded.physical("RecoveriesTable")
    kept = RecoveryStore(table, recovery_stack.client("dynamodb")).get(recovery.recovery_id).task_token
    assert kept and kept != WITHHELD_TOKEN
    assert recovery.task_token == resumed.task_token == WITHHELD_TOKEN
    assert (recovery.failed_state, recovery.error, resumed.status) == (
        "Check availability",
        "VendorDown",
        RecoveryStatus.RESUMED,
    )
    assert all(WITHHELD_TOKEN == r.task_token for r in desk.open_recoveries(execution))


def test_a_recovery_request_the_collector_refuses_is_told_with_the_collectors_reason(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    # Given a recovery step that leaves out a required field of the contract
    body = lambda d: d["States"]["Check availability recovery"]["Parameters"]["MessageBody"]  # noqa: E731
    machine = process_order(
        recovery_stack, changed(lambda d: body(d).pop("execution_name.$")), name="bad-contract"
    )

    # When an execution pauses
    execution = machine.start({"item": "sku-lamp"})

    # Then no recovery comes, and the wait says the collector refused the request and why
    with pytest.raises(NoRecoveryInTimeError) as told:
        desk.wait_for_recovery(execution, timeout=3)
    message = str(told.value)
    assert "it is RUNNING, last in state 'Check availability recovery'" in message
    assert "the collector refused 1" in message and "execution_name: Field required" in message


def test_edit_and_run_again_reruns_the_failed_step_with_the_new_input(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    # Given an order paused on an item the vendor cannot check
    execution = process_order(recovery_stack).start({"item": "sku-unknown"})
    recovery = desk.wait_for_recovery(execution)
    assert recovery.input == {"item": "sku-unknown", "status": "CREATED"}

    # When the person edits its input to an item that is always available
    resumed = desk.edit_and_run_again(recovery, {"item": "sku-always", "status": "CREATED"})

    # Then the step runs again with that input and the order finishes
    assert resumed.status == "RESUMED"
    assert desk.wait_for_output(execution)["item"] == "sku-always"
    assert CHECKED[-1] == {"item": "sku-always"}  # the step ran again (after the resume, not before it ends)


def test_reject_fails_the_execution_with_the_reason_shown_in_slack(
    recovery_stack: RecoveryStack, desk: Desk, slack_workspace: SlackWorkspace
) -> None:
    # Given a paused order
    execution = process_order(recovery_stack).start({"item": "sku-lamp"}, name="order-rejected")
    recovery = desk.wait_for_recovery(execution)

    # When the person rejects it with a reason
    desk.reject(recovery, "the customer cancelled")

    # Then the execution fails with RecoveryRejected, and its message says who rejected it and why
    end = desk.wait_for_end(execution)
    assert (end.status, end.error, end.output) == ("FAILED", "RecoveryRejected", None)
    with pytest.raises(
        ExecutionNotSucceededError, match="'order-rejected' ended FAILED with RecoveryRejected"
    ):
        desk.wait_for_output(execution)
    updated = slack_workspace.message_of(recovery).text
    assert f"Rejected* by <@{recovery_stack.person}>" in updated and "the customer cancelled" in updated


def test_recoveries_grouped_in_one_message_are_run_again_from_the_recoveries_list(
    recovery_stack: RecoveryStack, desk: Desk, slack_workspace: SlackWorkspace
) -> None:
    # Given two orders paused at the same state with the same error: one group message, no button of their own
    machine = process_order(recovery_stack)
    executions = [machine.start({"item": "sku-lamp"}), machine.start({"item": "sku-vase"})]
    recoveries = [desk.wait_for_recovery(execution) for execution in executions]
    (message,) = slack_workspace.messages("C0RECOVERIES")
    assert RUN_AGAIN_ALL in [button.action_id for button in message.buttons]
    assert RUN_AGAIN not in [button.action_id for button in message.buttons]

    # When the vendor is back and the person runs each again
    VENDOR["up"] = True
    resumed = [desk.run_again(recovery) for recovery in recoveries]

    # Then both resume and both orders finish
    assert [r.status for r in resumed] == ["RESUMED", "RESUMED"]
    assert [desk.wait_for_output(execution)["status"] for execution in executions] == ["FINISHED", "FINISHED"]


def test_a_recovery_of_its_own_is_run_again_from_its_message_and_the_message_shows_the_outcome(
    recovery_stack: RecoveryStack, desk: Desk, slack_workspace: SlackWorkspace
) -> None:
    # Given a paused order, posted with its own buttons
    execution = process_order(recovery_stack).start({"item": "sku-lamp"}, name="order-1")
    recovery = desk.wait_for_recovery(execution)
    posted = slack_workspace.message_of(recovery)
    assert [b.action_id for b in posted.buttons if b.value == recovery.recovery_id][:1] == [RUN_AGAIN]
    assert "Check availability" in posted.text and "VendorDown" in posted.text

    # When the vendor is back and the person clicks Run again
    VENDOR["up"] = True
    desk.run_again(recovery)

    # Then the message shows who ran it again, without the buttons, and the order finishes
    updated = slack_workspace.message_of(recovery)
    assert f"Run again* by <@{recovery_stack.person}>" in updated.text
    assert not updated.buttons
    assert desk.wait_for_output(execution)["status"] == "FINISHED"
    assert CHECKED[-1] == {"item": "sku-lamp"}


def test_a_click_by_someone_not_allowed_to_act_says_what_slack_told_them(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    # Given a paused order, and at the desk someone the stack does not allow to act
    execution = process_order(recovery_stack).start({"item": "sku-lamp"})
    recovery = desk.wait_for_recovery(execution)
    desk.person = "USTRANGER"

    # When they click Run again, Then the desk says nothing was resumed, with what Slack told them
    with pytest.raises(
        ActionNotDoneError, match="Run again on recovery .* it is still OPEN; Slack told USTRANGER: "
    ):
        desk.run_again(recovery)
    assert [r.recovery_id for r in desk.open_recoveries(execution)] == [recovery.recovery_id]
