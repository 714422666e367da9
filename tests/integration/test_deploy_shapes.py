"""template.yaml deploys in two shapes: with the order example (the default, what `sam deploy --guided`
gives) and as the recovery service alone (``DeployOrderExample=false``), into which a team plugs a state
machine the project has never seen: it pauses, is collected, posted to Slack and resumed from Slack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from recovery_ops.service.local.engine.execution_events import deliver, status_change_event
from recovery_ops.service.local.engine.lambda_dispatch import HandlerPathError
from recovery_ops.service.local.engine.stack import EmbeddedStack, embedded_stack
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.slack_app.ids import REDRIVE, RUN_AGAIN
from tests.support import shipping
from tests.support.stacks import SLACK_APP_PARAMETERS

RECOVERY_SERVICE = {
    "tables": {"RecoveriesTable"},
    "queues": {"RecoveryQueue", "RecoveryDeadLetterQueue", "ExecutionEventsDeadLetterQueue"},
    "functions": {
        "CollectorFunction",
        "SlackAppFunction",
        "ExecutionWatcherFunction",
        "ReminderFunction",
        "ReconcilerFunction",
        "ChronicleFunction",  # the audit's chains and events, from the recoveries table's stream
    },
}
ORDER_EXAMPLE = {
    "tables": {"OrdersTable", "StockTable", "CircuitBreakerTable"},
    "queues": {"OrdersDeadLetterQueue"},
    "functions": {
        "OrdersApiFunction",
        "CheckAvailabilityFunction",
        "CircuitBreakerFunction",
        "OrderFailedFunction",  # marks the example's orders FAILED from the execution-ended events
        "CircuitWatcherFunction",
        "SelfHealingFunction",  # self-healing listens to the example's circuit breaker
    },
    "state_machines": {"OrderStateMachine", "OrderItemStateMachine", "SelfHealingStateMachine"},
}
ORDER_SETTINGS = {
    "ORDERS_TABLE_NAME",
    "ORDER_STATE_MACHINE_ARN",
    "ORDERS_DLQ_URL",
    "CIRCUIT_BREAKER_TABLE_NAME",
}


# The recovery service alone, with the Slack app talking to the stand-in.
recovery_only = pytest.mark.stack_parameters(VendorUrl="", DeployOrderExample="false", **SLACK_APP_PARAMETERS)


@pytest.fixture
def shipping_functions() -> Iterator[None]:
    """The shipping workflow's Lambda functions (tests/support/shipping.py) succeed."""
    shipping.reset()
    yield
    shipping.reset()


def deployed(stack: EmbeddedStack) -> dict[str, set[str]]:
    """What moto holds, as logical ids of the template (anything else is named as it is)."""
    by_physical = {stack.physical(lid): lid for lid in stack.context.resources}
    by_physical |= {
        stack.arn(lid): lid for lid in stack.context.resources if "Arn" in stack.context.resources[lid]
    }
    named = lambda physical: by_physical.get(physical, physical)  # noqa: E731
    return {
        "tables": {named(t) for t in stack.client("dynamodb").list_tables()["TableNames"]},
        "queues": {named(q) for q in stack.client("sqs").list_queues().get("QueueUrls", [])},
        "functions": {named(f["FunctionName"]) for f in stack.client("lambda").list_functions()["Functions"]},
        "state_machines": {
            named(m["stateMachineArn"])
            for m in stack.client("stepfunctions").list_state_machines()["stateMachines"]
        },
    }


def input_schemas(stack: EmbeddedStack) -> dict:
    parameter = stack.client("ssm").get_parameter(Name=stack.physical("InputSchemas"))["Parameter"]
    return json.loads(parameter["Value"])


@recovery_only
def test_without_the_order_example_only_the_recovery_service_is_deployed(
    stack: EmbeddedStack,
) -> None:
    # When the stack is deployed with DeployOrderExample=false
    found = deployed(stack)

    # Then moto holds the recovery service and nothing of the example
    assert found == {**RECOVERY_SERVICE, "state_machines": set()}
    assert not any(name in skipped for skipped in stack.skipped for name in ("Order", "DummyVendor"))


@recovery_only
def test_without_the_order_example_no_function_is_told_of_it(stack: EmbeddedStack) -> None:
    assert not ORDER_SETTINGS & set(stack.environment)
    assert input_schemas(stack) == {}


@recovery_only
def test_a_state_machine_nobody_here_wrote_pauses_and_resumes_from_slack_without_the_order_example(
    stack: EmbeddedStack, slack: SlackStandIn, shipping_functions: None, tmp_path: Path
) -> None:
    # Given the shipping workflow, instrumented with recovery-ops instrument, and its carrier down
    definition = shipping.instrumented(tmp_path, stack.physical("RecoveryQueue"))
    machine_arn = shipping.deploy(stack, definition, "shipping")
    shipping.FAILURES.update(book=shipping.CarrierUnavailable)

    # When a shipment runs
    execution_arn = shipping.run(stack, machine_arn, "shipment-1")

    # Then its failed step pauses, is collected and posted to Slack with Run again
    (recovery,) = shipping.collect(stack, 1).values()
    assert (recovery.failed_state, recovery.error, recovery.input) == (
        "Book carrier",
        "CarrierUnavailable",
        shipping.NORMALISED,
    )
    (post,) = slack.calls_of("chat.postMessage")
    assert post.body["channel"] == "C-RECOVERIES"
    assert RUN_AGAIN in json.dumps(post.body["blocks"]) and recovery.recovery_id in json.dumps(
        post.body["blocks"]
    )

    # When the carrier is back and support clicks Run again (a signed request to the Slack app's function)
    shipping.FAILURES.clear()
    shipping.run_again(stack, slack, [recovery])

    # Then the execution resumes with exactly its input and ends as the original would
    assert shipping.finished(stack, execution_arn)["status"] == "SUCCEEDED"
    assert shipping.CALLS["book"][-1] == shipping.NORMALISED


@recovery_only
def test_without_the_order_example_the_outermost_catch_posts_a_failed_execution_and_marks_no_order(
    stack: EmbeddedStack, slack: SlackStandIn, shipping_functions: None
) -> None:
    # Given an execution of a watched state machine that failed without asking for a person
    machine_arn = shipping.deploy(stack, json.loads(shipping.FIXTURE.read_text()), "shipping-plain")
    shipping.FAILURES.update(book=shipping.CarrierUnavailable)
    execution_arn = shipping.run(stack, machine_arn, "shipment-2")
    assert shipping.finished(stack, execution_arn)["status"] == "FAILED"

    # When EventBridge tells the execution watcher
    answer = deliver(stack, status_change_event(stack.client("stepfunctions"), execution_arn))

    # Then the failure is posted with Redrive, and there is no order to mark: the recovery service
    # knows of no order, and the example's function that marks them is not deployed
    assert answer["failure_id"] and "order_marked" not in answer
    assert "OrderFailedFunction" not in deployed(stack)["functions"]
    (post,) = slack.calls_of("chat.postMessage")
    assert REDRIVE in json.dumps(post.body["blocks"])


def test_by_default_the_order_example_is_deployed_with_the_recovery_service(stack: EmbeddedStack) -> None:
    # When the stack is deployed with the template's defaults
    found = deployed(stack)

    # Then moto holds the recovery service and the order example, and the recovery service knows of it
    for kind in ("tables", "queues", "functions", "state_machines"):
        assert RECOVERY_SERVICE.get(kind, set()) | ORDER_EXAMPLE[kind] == found[kind], kind
    assert ORDER_SETTINGS <= set(stack.environment)
    assert list(input_schemas(stack)) == [stack.context.get_att("OrderItemStateMachine", "Name")]


def test_the_embedded_stack_refuses_a_template_whose_kept_resources_refer_to_left_out_ones(
    tmp_path: Path,
) -> None:
    # Given a template in which a kept function refers to the example's orders DLQ unconditionally
    template = (Path(__file__).resolve().parents[2] / "template.yaml").read_text()
    broken = template.replace(
        "ORDERS_DLQ_URL: !If [DeployOrderExample, !Ref OrdersDeadLetterQueue, !Ref AWS::NoValue]",
        "ORDERS_DLQ_URL: !Ref OrdersDeadLetterQueue",
    )
    assert broken != template
    (tmp_path / "template.yaml").write_text(broken)

    # When it is deployed without the example, Then the stack names the dangling reference
    with pytest.raises(ValueError, match="SlackAppFunction -> OrdersDeadLetterQueue"):
        with embedded_stack(
            parameters={"DeployOrderExample": "false"}, template_path=tmp_path / "template.yaml"
        ):
            pass


def test_the_embedded_stack_refuses_a_function_whose_handler_path_names_nothing(tmp_path: Path) -> None:
    # Given a template whose collector's Handler has a typo in its module
    template = (Path(__file__).resolve().parents[2] / "template.yaml").read_text()
    typo = "recovery_ops.service.handlers.colector"
    broken = template.replace("Handler: recovery_ops.service.handlers.collector.", f"Handler: {typo}.")
    assert broken != template
    (tmp_path / "template.yaml").write_text(broken)

    # When it is deployed, Then it is refused before anything runs, naming the function and the module
    with pytest.raises(HandlerPathError, match=f"function CollectorFunction: .*no module {typo}"):
        with embedded_stack(
            parameters={"DeployOrderExample": "false"}, template_path=tmp_path / "template.yaml"
        ):
            pass
