"""template.yaml and the ASL files agree with each other and with the code, and lint clean."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from recovery_ops.service.local.engine.cfn_template import (
    PROJECT_ROOT,
    TEMPLATE_PATH,
    function_properties,
    load_template,
    resolve,
)
from recovery_ops.service.local.engine.stack import planned_stack

TEMPLATE = load_template()
FUNCTIONS = [lid for lid, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
STATE_MACHINES = [
    lid for lid, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::StateMachine"
]


def test_cfn_lint_reports_no_errors() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), str(TEMPLATE_PATH)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_function_handler_exists(logical_id: str) -> None:
    handler = function_properties(TEMPLATE, logical_id)["Handler"]
    module_name, _, attribute = handler.rpartition(".")

    assert callable(getattr(importlib.import_module(module_name), attribute))


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_functions_run_on_python_3_13_with_tracing(logical_id: str) -> None:
    properties = function_properties(TEMPLATE, logical_id)

    assert properties["Runtime"] == "python3.13"
    assert properties["Tracing"] == "Active"


@pytest.mark.parametrize("logical_id", STATE_MACHINES)
def test_state_machine_substitutions_match_the_asl(logical_id: str) -> None:
    properties = TEMPLATE["Resources"][logical_id]["Properties"]
    definition = (PROJECT_ROOT / properties["DefinitionUri"]).read_text()
    used = set(re.findall(r"\$\{(\w+)\}", definition))

    assert used == set(properties["DefinitionSubstitutions"])
    assert properties["Type"] == "STANDARD"
    json.loads(definition)  # valid JSON once substituted placeholders are strings


@pytest.mark.parametrize("logical_id", STATE_MACHINES)
def test_asl_names_no_account_region_or_hard_coded_arn(logical_id: str) -> None:
    definition = (PROJECT_ROOT / TEMPLATE["Resources"][logical_id]["Properties"]["DefinitionUri"]).read_text()

    assert not re.search(r"\d{12}", definition)
    assert "arn:aws:" not in definition
    assert not re.search(r"(us|eu|ap|sa|ca|me|af)-[a-z]+-\d", definition)


def test_the_slack_app_may_invoke_itself_and_no_other_function() -> None:
    properties = TEMPLATE["Resources"]["SlackAppFunction"]["Properties"]
    statements = [s for policy in properties["Policies"] for s in policy.get("Statement", [])]
    invokes = [s for s in statements if "lambda:InvokeFunction" in str(s.get("Action"))]

    (invoke,) = invokes
    assert invoke["Action"] == "lambda:InvokeFunction"
    own_name = properties["FunctionName"]["Fn::Sub"]
    assert invoke["Resource"]["Fn::Sub"].endswith(f":function:{own_name}")
    assert properties["Timeout"] >= 300  # bulk actions run in the lazy half
    assert properties["Events"]["SlackEvents"]["Properties"]["Path"] == "/slack/events"


# ------------------------------------------------------------------ deployment shapes, authorization, alarms
#: What DeployOrderExample=false leaves out: the order example and everything only it uses.
ORDER_EXAMPLE = {
    "OrdersTable",
    "StockTable",
    "CircuitBreakerTable",
    "OrdersDeadLetterQueue",
    "OrderStateMachine",
    "OrderItemStateMachine",
    "OrdersHttpApi",
    "OrdersApiFunction",
    "CheckAvailabilityFunction",
    "CircuitBreakerFunction",
    "OrderFailedFunction",  # marks the example's orders FAILED from the execution-ended events
    "CircuitWatcherFunction",
    "SelfHealingFunction",  # self-healing listens to the example's circuit breaker
    "SelfHealingStateMachine",
    "DummyVendorBehaviour",
    "DummyVendorHttpApi",
    "DummyVendorFunction",
}
ALARMS = [lid for lid, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"]
ALARM_TOPIC = {"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"}, {"Ref": "AlarmTopicArn"}]}


def _alarms_on(metric: str, dimension: str, logical_id: str) -> list[dict]:
    return [
        TEMPLATE["Resources"][alarm]
        for alarm in ALARMS
        if TEMPLATE["Resources"][alarm]["Properties"].get("MetricName") == metric
        and TEMPLATE["Resources"][alarm]["Properties"].get("Dimensions")
        == [{"Name": dimension, "Value": {"Ref": logical_id}}]
    ]


def test_without_the_order_example_exactly_the_example_and_what_only_it_uses_is_left_out() -> None:
    # Given the default shape and the recovery service alone (planning refuses dangling references)
    full, _ = planned_stack()
    recovery_only, _ = planned_stack({"DeployOrderExample": "false"})

    # When we compare them
    left_out = set(full) - set(recovery_only)
    logs_and_alarms = {lid for lid in left_out if lid.endswith("Logs") or lid in ALARMS}

    # Then what is left out is the example, with its own log groups and alarms
    assert left_out - logs_and_alarms == ORDER_EXAMPLE
    assert {lid.removesuffix("Logs") for lid in logs_and_alarms if lid.endswith("Logs")} <= ORDER_EXAMPLE
    assert {"RecoveriesTable", "RecoveryQueue", "SlackAppFunction", "OperationsDashboard"} <= set(
        recovery_only
    )


def _route_security(parameters: dict[str, str]) -> dict[str, object]:
    """Each order API route's `security` once the template's conditions are resolved."""
    resources, ctx = planned_stack(parameters)
    paths = resolve(resources["OrdersHttpApi"]["Properties"]["DefinitionBody"]["paths"], ctx)
    return {
        f"{method.upper()} {path}": op.get("security")
        for path, ops in paths.items()
        for method, op in ops.items()
    }


def test_the_order_api_requires_iam_authorization_by_default() -> None:
    api = TEMPLATE["Resources"]["OrdersHttpApi"]["Properties"]
    events = TEMPLATE["Resources"]["OrdersApiFunction"]["Properties"]["Events"].values()
    routes = {f"{e['Properties']['Method']} {e['Properties']['Path']}" for e in events}

    assert api["Auth"] == {"EnableIamAuthorizer": True, "DefaultAuthorizer": "AWS_IAM"}
    assert _route_security({}) == dict.fromkeys(routes, [{"AWS_IAM": []}])


def test_the_order_api_is_open_only_when_order_api_authorization_is_none() -> None:
    assert set(_route_security({"OrderApiAuthorization": "NONE"}).values()) == {None}


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_every_function_has_an_errors_and_a_throttles_alarm_deployed_with_it(logical_id: str) -> None:
    condition = TEMPLATE["Resources"][logical_id].get("Condition")

    for metric in ("Errors", "Throttles"):
        (alarm,) = _alarms_on(metric, "FunctionName", logical_id)
        properties = alarm["Properties"]
        assert alarm.get("Condition") == condition
        assert (properties["Namespace"], properties["Statistic"], properties["Period"]) == (
            "AWS/Lambda",
            "Sum",
            300,
        )
        assert (properties["Threshold"], properties["ComparisonOperator"]) == (
            1,
            "GreaterThanOrEqualToThreshold",
        )
        assert properties["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("logical_id", STATE_MACHINES)
def test_every_state_machine_has_a_failed_and_a_timed_out_alarm_deployed_with_it(logical_id: str) -> None:
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut"):
        (alarm,) = _alarms_on(metric, "StateMachineArn", logical_id)
        assert alarm.get("Condition") == TEMPLATE["Resources"][logical_id].get("Condition")
        assert alarm["Properties"]["Namespace"] == "AWS/States"


@pytest.mark.parametrize("logical_id", ALARMS)
def test_every_alarm_notifies_the_alarm_topic_when_it_fires_and_when_it_clears(logical_id: str) -> None:
    properties = TEMPLATE["Resources"][logical_id]["Properties"]

    assert properties["AlarmActions"] == [ALARM_TOPIC]
    assert properties["OKActions"] == [ALARM_TOPIC]


def test_the_stack_has_its_own_alarm_topic_only_without_alarm_topic_arn() -> None:
    own, own_ctx = planned_stack({"AlarmEmail": "oncall@example.com"})
    given, given_ctx = planned_stack({"AlarmTopicArn": "arn:aws:sns:us-east-1:123456789012:pager"})

    assert {"AlarmTopic", "AlarmEmailSubscription"} <= set(own)
    assert resolve(ALARM_TOPIC, own_ctx) == own_ctx.ref("AlarmTopic")
    assert not {"AlarmTopic", "AlarmEmailSubscription"} & set(given)
    assert resolve(ALARM_TOPIC, given_ctx) == "arn:aws:sns:us-east-1:123456789012:pager"
    assert TEMPLATE["Outputs"]["AlarmTopicArn"]["Value"] == ALARM_TOPIC


@pytest.mark.parametrize(
    "logical_id",
    ["RecoveriesTable", "RecoveryDeadLetterQueue", "OrdersDeadLetterQueue", "ExecutionEventsDeadLetterQueue"],
)
def test_the_recoveries_and_the_dead_letters_survive_deleting_or_replacing_the_stack(logical_id: str) -> None:
    resource = TEMPLATE["Resources"][logical_id]

    assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
    if resource["Type"] == "AWS::DynamoDB::Table":
        assert resource["Properties"]["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }


@pytest.mark.parametrize("example", ["true", "false"])
def test_the_dashboard_is_json_in_both_shapes(example: str) -> None:
    resources, ctx = planned_stack({"DeployOrderExample": example})

    body = json.loads(resolve(resources["OperationsDashboard"]["Properties"]["DashboardBody"], ctx))

    (dead_letters,) = [w for w in body["widgets"] if w["properties"]["title"] == "Dead-letter queues"]
    queues = {metric[3] for metric in dead_letters["properties"]["metrics"]}
    expected = ["RecoveryDeadLetterQueue", "ExecutionEventsDeadLetterQueue"]
    expected += ["OrdersDeadLetterQueue"] if example == "true" else []
    assert queues == {ctx.get_att(queue, "QueueName") for queue in expected}


def test_without_the_example_the_outermost_catch_hears_only_the_watched_state_machines() -> None:
    watched = "arn:aws:states:us-east-1:123456789012:stateMachine:payments"
    resources, ctx = planned_stack({"DeployOrderExample": "false", "WatchedStateMachineArns": watched})
    with_example, example_ctx = planned_stack({"WatchedStateMachineArns": watched})

    def heard(shape: dict, context) -> list[str]:
        events = resolve(
            function_properties({**TEMPLATE, "Resources": shape}, "ExecutionWatcherFunction"), context
        )
        return events["Events"]["ExecutionEnded"]["Properties"]["Pattern"]["detail"]["stateMachineArn"]

    assert heard(resources, ctx) == [watched]
    assert heard(with_example, example_ctx) == [
        example_ctx.ref("OrderStateMachine"),
        example_ctx.ref("OrderItemStateMachine"),
        watched,
    ]
