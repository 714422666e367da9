"""A Lambda durable function's failed step on the same desk as a state machine's, end to end.

The function runs in AWS's local runner beside the recovery service (the embedded stack's durable
host); ``wait_for_recovery`` sends the contract's durable shape to the recovery queue; the collector
stores and posts it; signed Slack clicks resume it through Lambda's callback API
(SendDurableExecutionCallbackSuccess / Failure, over HTTP), every call held against the roles
template.yaml gives, and no slice of the callback id reaches Slack, the logs or the audit events.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any
from unittest.mock import Mock

import pytest
from aws_durable_execution_sdk_python import DurableContext, StepContext, durable_execution, durable_step
from aws_durable_execution_sdk_python.config import Duration, StepConfig
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from recovery_ops.service.durable import RecoveryTimedOut, wait_for_recovery
from recovery_ops.service.local.desk import RUN_AGAIN, Desk, send_to_slack_app
from recovery_ops.service.local.engine.execution_events import deliver, durable_status_change_event
from recovery_ops.service.local.standin.workspace import SlackWorkspace
from recovery_ops.service.local.testing.recovery_stack import RecoveryStack
from recovery_ops.service.operator import Operator
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.model.contract import WorkflowKind
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CHECK = "check stock"

# ------------------------------------------------------------------ the team's durable function
VENDOR = {"down": True}
ASKED: list[dict[str, Any]] = []
_LOCK = threading.Lock()
ONE_TRY = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))


class VendorUnavailable(Exception):
    pass


@durable_step
def ask_vendor(_: StepContext, item: dict[str, Any]) -> dict[str, Any]:
    with _LOCK:
        ASKED.append(item)
    if VENDOR["down"]:
        raise VendorUnavailable(f"the vendor does not answer for {item['sku']}")
    return {"sku": item["sku"], "quantity": item["quantity"], "available": True}


@durable_execution
def item_check(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """The order item check as a team writes it: a failed step goes to the desk; Run again checks
    again with the input the person chose; a rejection raises out of the handler."""
    item = event
    while True:
        try:
            return context.step(ask_vendor(item), name=CHECK, config=ONE_TRY)
        except StepError as failed:
            item = wait_for_recovery(context, name=CHECK, error=failed, input=item, dependency="vendor").input


@durable_execution
def impatient_check(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Waits a second for a person, then gives up on its own and ends."""
    try:
        context.step(ask_vendor(event), name=CHECK, config=ONE_TRY)
    except StepError as failed:
        try:
            wait_for_recovery(
                context, name=CHECK, error=failed, input=event, timeout=Duration.from_seconds(1)
            )
        except RecoveryTimedOut:
            return {"gave_up": True}
    return {"gave_up": False}


@pytest.fixture
def recovery_stack_parameters() -> dict[str, str]:
    """The functions recovery-ops may resume: the grants of the durable calls are on these alone."""
    return {"WatchedDurableFunctions": "order-item-check,item_check,impatient_check"}


@pytest.fixture(autouse=True)
def _vendor_down() -> None:
    VENDOR["down"] = True
    ASKED.clear()


def store_of(stack: RecoveryStack) -> RecoveryStore:
    return RecoveryStore(stack.embedded.physical("RecoveriesTable"), stack.client("dynamodb"))


def callback_slices(callback_id: str, text: str, width: int = 12) -> list[str]:
    return [
        callback_id[i : i + width]
        for i in range(len(callback_id) - width + 1)
        if callback_id[i : i + width] in text
    ]


# ------------------------------------------------------------------ the tests
def test_a_durable_step_paused_through_the_helper_is_posted_and_run_again_with_its_input(
    recovery_stack: RecoveryStack,
    desk: Desk,
    slack_workspace: SlackWorkspace,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a durable function whose vendor is down
    caplog.set_level(logging.DEBUG)
    function = recovery_stack.deploy_durable_function(item_check, name="order-item-check")
    execution = function.start({"sku": "sku-lamp", "quantity": 2})

    # When its step fails, the desk gets a recovery of the function and its step
    recovery = desk.wait_for_recovery(execution)
    assert recovery.kind is WorkflowKind.DURABLE
    assert (recovery.state_machine_name, recovery.failed_state) == ("order-item-check", CHECK)
    assert (recovery.error, recovery.dependency) == ("VendorUnavailable", "vendor")
    assert recovery.input == {"sku": "sku-lamp", "quantity": 2}

    # And once the vendor is back, a signed Run again click resumes it with that input
    VENDOR["down"] = False
    assert desk.run_again(recovery).status is RecoveryStatus.RESUMED
    assert desk.wait_for_output(execution) == {"sku": "sku-lamp", "quantity": 2, "available": True}
    assert ASKED[-1] == {"sku": "sku-lamp", "quantity": 2}

    # And no slice of the callback id reached Slack or a log line
    callback_id = store_of(recovery_stack).get(recovery.recovery_id).task_token
    slack_traffic = json.dumps([c.body for c in slack_workspace.standin.calls], default=str)
    assert callback_slices(callback_id, slack_traffic) == []
    assert callback_slices(callback_id, caplog.text) == []


def test_an_edit_resumes_the_durable_step_with_the_edited_input(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    # Given a paused durable step
    execution = recovery_stack.deploy_durable_function(item_check).start({"sku": "sku-lamp", "quantity": 2})
    recovery = desk.wait_for_recovery(execution)

    # When a person edits its input and runs it again
    VENDOR["down"] = False
    desk.edit_and_run_again(recovery, {"sku": "sku-desk-lamp", "quantity": 1})

    # Then the step ran with the edited input
    assert desk.wait_for_output(execution) == {"sku": "sku-desk-lamp", "quantity": 1, "available": True}


def test_a_reject_raises_in_the_handler_and_the_execution_fails_by_its_name(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    # Given a paused durable step
    execution = recovery_stack.deploy_durable_function(item_check).start({"sku": "sku-lamp", "quantity": 2})
    recovery = desk.wait_for_recovery(execution)

    # When a person rejects it
    desk.reject(recovery, "the customer cancelled")

    # Then RecoveryRejected escaped the handler, with who and why
    end = desk.wait_for_end(execution)
    assert end.status == "FAILED"
    assert "RecoveryRejected" in (end.error or "")
    assert "the customer cancelled" in (end.cause or "")


def test_a_callback_that_timed_out_gives_expired(recovery_stack: RecoveryStack, desk: Desk) -> None:
    # Given a durable function that stopped waiting for a person after a second
    execution = recovery_stack.deploy_durable_function(impatient_check).start(
        {"sku": "sku-lamp", "quantity": 2}
    )
    recovery = desk.wait_for_recovery(execution)
    assert desk.wait_for_output(execution) == {"gave_up": True}

    # When a person clicks Run again on its recovery
    send_to_slack_app(recovery_stack.embedded, desk.click(RUN_AGAIN, recovery))
    recovery_stack.embedded.dispatcher.settle()

    # Then the callback is dead and the recovery EXPIRED, nothing resumed
    assert store_of(recovery_stack).get(recovery.recovery_id).status is RecoveryStatus.EXPIRED


@durable_execution
def failing_later(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    """Pauses for a person, but a timer of its own ends the execution first (as a stop would)."""
    try:
        context.step(ask_vendor(event), name=CHECK, config=ONE_TRY)
    except StepError as failed:
        wait_for_recovery(context, name=CHECK, error=failed, input=event, timeout=Duration.from_seconds(1))
    return {}


PROCESS_ORDER = ROOT / "tests" / "fixtures" / "process_order.asl.json"


def check_availability(event: dict, context: Any) -> dict:
    if VENDOR["down"]:
        raise VendorUnavailable(f"the vendor does not answer for {event['item']}")
    return {"available": True}


def test_a_state_machines_recovery_and_a_durable_functions_share_one_list_and_one_home(
    recovery_stack: RecoveryStack, desk: Desk, slack_workspace: SlackWorkspace
) -> None:
    # Given a state machine's step and a durable function's step paused at once
    machine = recovery_stack.deploy_state_machine(
        PROCESS_ORDER, functions={"CheckProductAvailabilityFunction": check_availability}
    )
    task = desk.wait_for_recovery(machine.start({"item": "sku-lamp"}))
    callback = desk.wait_for_recovery(
        recovery_stack.deploy_durable_function(item_check, name="order-item-check").start(
            {"sku": "sku-desk", "quantity": 1}
        )
    )

    # When the person asks for the list and opens the Home tab
    send_to_slack_app(recovery_stack.embedded, desk.requests.command(desk.person, ""))
    recovery_stack.embedded.dispatcher.settle()
    send_to_slack_app(recovery_stack.embedded, desk.requests.home_opened(desk.person))
    recovery_stack.embedded.dispatcher.settle()

    # Then both are there, each under its own workflow, side by side
    listed = json.dumps(slack_workspace.standin.responses, ensure_ascii=False)
    home = json.dumps(slack_workspace.standin.home_of(desk.person), ensure_ascii=False)
    for shown in (listed, home):
        assert "2 open recoveries" in shown
        assert task.recovery_id in shown and callback.recovery_id in shown
        assert task.state_machine_name in shown and "order-item-check" in shown
    assert task.kind is WorkflowKind.STEP_FUNCTIONS and callback.kind is WorkflowKind.DURABLE


def test_a_durable_execution_that_ends_while_its_recovery_is_open_closes_it(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    # Given a durable execution paused for a person that then ends on its own
    execution = recovery_stack.deploy_durable_function(failing_later, name="order-item-check").start(
        {"sku": "sku-lamp", "quantity": 2}
    )
    recovery = desk.wait_for_recovery(execution)
    assert desk.wait_for_end(execution).status == "FAILED"

    # When Lambda's "Durable Execution Status Change" event reaches the execution watcher
    deliver(recovery_stack.embedded, durable_status_change_event(recovery_stack.embedded, execution.arn))

    # Then its recovery is closed, and nothing is left open for a person
    closed = store_of(recovery_stack).get(recovery.recovery_id)
    assert closed.status.is_closed
    assert desk.open_recoveries(execution) == []


def test_no_slice_of_a_callback_id_is_kept_or_shown_anywhere_but_its_recovery(
    recovery_stack: RecoveryStack,
    desk: Desk,
    slack_workspace: SlackWorkspace,
) -> None:
    # Given a durable recovery run again through Slack
    execution = recovery_stack.deploy_durable_function(item_check, name="order-item-check").start(
        {"sku": "sku-lamp", "quantity": 2}
    )
    recovery = desk.wait_for_recovery(execution)
    printed: list[str] = []
    operator = Operator(store_of(recovery_stack), Mock(), Mock(), "cli:ops", printed.append)
    operator.list(RecoveryQuery.from_words(["function=order-item-check"]))
    VENDOR["down"] = False
    desk.run_again(recovery)
    desk.wait_for_output(execution)
    callback_id = store_of(recovery_stack).get(recovery.recovery_id).task_token

    # When everything a person or another system can read is gathered: the table but the
    # recovery's own callback id, Slack's traffic, the command line's list (while open) and show
    table = recovery_stack.embedded.physical("RecoveriesTable")
    items = recovery_stack.client("dynamodb").scan(TableName=table)["Items"]
    for item in items:
        if item.get("recovery_id", {}).get("S") == recovery.recovery_id:
            item.pop("task_token")
    operator.show(recovery.recovery_id)
    gathered = json.dumps([items, [c.body for c in slack_workspace.standin.calls], printed], default=str)

    # Then no 12-character slice of the callback id is in any of it
    assert recovery.recovery_id in gathered  # what was gathered is about this recovery
    assert callback_slices(callback_id, gathered) == []
