"""IAM held locally: every call of the stack's functions and state machines is checked against the role
``sam deploy`` creates for it, on the real template and on copies with one grant taken away."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from botocore.stub import Stubber

from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine import iam_check
from recovery_ops.service.local.engine.cfn_template import load_template
from recovery_ops.service.local.engine.execution_events import deliver, status_change_event
from recovery_ops.service.local.engine.iam_check import Call, acting_as
from recovery_ops.service.local.engine.stack import EmbeddedStack, embedded_stack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.programs.order_stock import stock_local_catalogue
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.failed_executions.failures import FailureStatus, FailureStore
from recovery_ops.service.recovery.lifecycle.reminders import Reminders
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.slack_app.ids import REDRIVE, RUN_AGAIN
from recovery_ops.slack_app.notifier import SlackThreadPoster
from recovery_ops.slack_app.web import web_client
from tests.support.desk import ORDER, execution_status, pause, requests_for, send, store, wait_for_status
from tests.support.stacks import ALLOWED, BOT_TOKEN, SLACK_APP_PARAMETERS, deployed_stack
from tests.support.waiting import wait_until

slack_app = pytest.mark.stack_parameters(**SLACK_APP_PARAMETERS)  # the Slack app's tests' stack


def template_without(tmp_path: Path, resource: str, sid: str) -> Path:
    """A copy of template.yaml in which ``resource``'s policy statement ``sid`` is gone."""
    template = load_template()
    policies = template["Resources"][resource]["Properties"]["Policies"]
    for policy in policies:
        statements = policy.get("Statement", []) if isinstance(policy, dict) else []
        kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == sid)]
        if len(kept) < len(statements):
            policy["Statement"] = kept
            break
    else:
        raise AssertionError(f"{resource} has no statement {sid}")
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


@slack_app
def test_the_real_template_allows_every_call_of_a_run_again(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a paused order
    (recovery,) = pause(stack, order_api, vendor, [ORDER])

    # When a person clicks Run again
    send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))
    wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")

    # Then the Slack app's answer to the paused task was seen and allowed, and so was every other call
    assert stack.iam is not None
    assert Call("SlackAppFunction", "states:SendTaskSuccess", "*") in stack.iam.calls
    assert Call("OrderItemStateMachine", "sqs:SendMessage", stack.arn("RecoveryQueue")) in (stack.iam.calls)
    assert stack.iam.denied == []


def test_a_run_again_without_the_slack_apps_send_task_grant_is_reported_with_function_action_and_resource(
    tmp_path: Path, vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given the Slack app's role without its AnswerPausedTasks statement
    broken = template_without(tmp_path, "SlackAppFunction", "AnswerPausedTasks")
    with deployed_stack(
        {"VendorUrl": vendor_url, "CircuitBreakerEnabled": "false", "SlackAllowedUserIds": ALLOWED},
        slack,
        template_path=broken,
    ) as stack:
        (recovery,) = pause(stack, order_api, vendor, [ORDER])

        # When a person clicks Run again
        send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))
        wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)

        # Then the check names the function, the action and the resource
        assert stack.iam is not None
        denied = stack.iam.take_denied()
    assert denied == [Call("SlackAppFunction", "states:SendTaskSuccess", "*")]
    assert "SlackAppFunction (SlackAppFunctionRole): states:SendTaskSuccess on *" in iam_check.describe(
        denied
    )


def test_the_home_tab_without_the_slack_apps_breaker_grant_is_reported_with_the_scan_it_makes(
    tmp_path: Path, vendor_url: str, slack: SlackStandIn
) -> None:
    # Given the Slack app's role without its ReadCircuitBreakers statement
    broken = template_without(tmp_path, "SlackAppFunction", "ReadCircuitBreakers")
    with deployed_stack(
        {"VendorUrl": vendor_url, "SlackAllowedUserIds": ALLOWED}, slack, template_path=broken
    ) as stack:
        # When an admin opens the Home tab (which shows the circuit breakers)
        send(stack, requests_for(slack).home_opened(ALLOWED))
        wait_until(lambda: slack.home_of(ALLOWED) is not None)

        # Then the one call it lacks is the Scan of the breaker table
        assert stack.iam is not None
        denied = stack.iam.take_denied()
    assert denied == [Call("SlackAppFunction", "dynamodb:Scan", stack.arn("CircuitBreakerTable"))]


def test_a_state_machine_task_without_its_grant_is_reported_with_the_state_machine_action_and_resource(
    tmp_path: Path, vendor_url: str, order_api: LocalOrderApi
) -> None:
    # Given the item action's role without the grant to reserve stock
    broken = template_without(tmp_path, "OrderItemStateMachine", "ReserveAndReleaseStock")
    with embedded_stack(
        parameters={"VendorUrl": vendor_url}, template_path=broken, prepare=stock_local_catalogue
    ) as stack:
        # When an order is placed and its item reserved
        order_api.place({**ORDER, "order_id": "ord-iam-1"})
        wait_until(lambda: order_api.get("ord-iam-1").body["status"] == "FINISHED")

        # Then the item action's stock reservation is reported against its role
        assert stack.iam is not None
        denied = stack.iam.take_denied()
    assert denied == [Call("OrderItemStateMachine", "dynamodb:UpdateItem", stack.arn("StockTable"))]


@slack_app
def test_a_redrive_answered_by_a_stubber_is_still_held_to_the_slack_apps_role(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    # Given an order execution that failed outside the recovery pattern, posted with Redrive
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=stack.arn("OrderStateMachine"), name="ord-iam-redrive", input=json.dumps({})
    )["executionArn"]
    wait_until(lambda: execution_status(stack, arn) == "FAILED")
    failure_id = deliver(stack, status_change_event(sfn, arn))["failure_id"]

    # When a person clicks Redrive (moto has no RedriveExecution: botocore's Stubber answers)
    with Stubber(sfn) as stubbed:
        stubbed.add_response(
            "redrive_execution", {"redriveDate": "2026-11-23T12:00:00Z"}, {"executionArn": arn}
        )
        send(stack, requests_for(slack).click(ALLOWED, REDRIVE, failure_id))
        failures = FailureStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
        wait_until(lambda: failures.get(failure_id).status is FailureStatus.REDRIVEN)

    # Then the call was seen, on that execution, and the Slack app's role allows it
    assert stack.iam is not None
    assert Call("SlackAppFunction", "states:RedriveExecution", arn) in stack.iam.calls
    assert stack.iam.denied == []


@slack_app
def test_the_order_example_marks_its_failed_order_under_its_own_role(
    stack: EmbeddedStack, order_api: LocalOrderApi
) -> None:
    # Given an order execution that failed before its first step
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=stack.arn("OrderStateMachine"), name="ord-iam-marked", input=json.dumps({})
    )["executionArn"]
    wait_until(lambda: execution_status(stack, arn) == "FAILED")

    # When EventBridge tells the example's own function
    answer = deliver(stack, status_change_event(sfn, arn), function="OrderFailedFunction")

    # Then the order is marked FAILED by that function, and its role allows the write
    assert answer == {"order_marked": True}
    assert order_api.get("ord-iam-marked").body["status"] == "FAILED"
    assert stack.iam is not None
    assert Call("OrderFailedFunction", "dynamodb:UpdateItem", stack.arn("OrdersTable")) in stack.iam.calls
    assert stack.iam.denied == []


@slack_app
def test_the_reminders_read_the_history_of_watched_executions_and_of_no_others(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a recovery open for two hours
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    in_two_hours = datetime.now(UTC) + timedelta(hours=2)
    reminders = Reminders(
        store=store(stack),
        dynamodb=stack.client("dynamodb"),
        sfn=stack.client("stepfunctions"),
        poster=SlackThreadPoster(web_client(BOT_TOKEN, base_url=slack.base_url)),
        after=timedelta(hours=1),
        clock=lambda: in_two_hours,
    )

    # When the reminder function's core runs
    with acting_as("ReminderFunction"):
        report = reminders.run()

    # Then it read the paused execution's history within its grant, which covers no other state machine
    assert report.reminded == [recovery.recovery_id]
    assert stack.iam is not None
    assert Call("ReminderFunction", "states:GetExecutionHistory", recovery.execution_arn) in stack.iam.calls
    assert stack.iam.denied == []
    elsewhere = recovery.execution_arn.replace("OrderItemStateMachine", "SomeoneElsesStateMachine")
    assert not stack.iam.roles["ReminderFunction"].allows("states:GetExecutionHistory", elsewhere)
