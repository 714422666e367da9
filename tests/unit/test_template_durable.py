"""WatchedDurableFunctions: the durable side of the desk is deployed exactly when functions are named.

The roles are the ones the SAM translator makes (as ``sam deploy`` does), evaluated by moto's IAM
evaluator: each function may make exactly the durable calls it needs, on the watched functions only.
"""

from __future__ import annotations

from typing import Any

import pytest

from recovery_ops.service.local.engine.cfn_template import (
    ResolutionContext,
    function_properties,
    load_template,
    resolve,
)
from recovery_ops.service.local.engine.iam_check import Role, sam_roles
from recovery_ops.service.local.engine.stack import ACCOUNT_ID, REGION, planned_stack

TEMPLATE = load_template()
WATCHED = {"WatchedDurableFunctions": "order-item-check,payment-capture"}
ANSWER = ("lambda:SendDurableExecutionCallbackSuccess", "lambda:SendDurableExecutionCallbackFailure")
READ = ("lambda:GetDurableExecution", "lambda:GetDurableExecutionHistory")
#: who answers callbacks (builds RecoveryActions) and who reads their record (a Reconciler)
ANSWERS = ("SlackAppFunction", "SelfHealingFunction", "ReconcilerFunction")
READS = ("SlackAppFunction", "SelfHealingFunction", "ReconcilerFunction", "ExecutionWatcherFunction")
PRINCIPALS = sorted({*ANSWERS, *READS, "CollectorFunction", "ReminderFunction"})


def durable_execution(function: str, qualifier: str = "$LATEST") -> str:
    return (
        f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function}:{qualifier}"
        "/durable-execution/order-7/0f9c4b7e-5b1d-4c4e-9d7a-2f7e3c1b8a90"
    )


def roles(parameters: dict[str, str]) -> dict[str, Role]:
    resources, ctx = planned_stack(parameters)
    template = {**TEMPLATE, "Resources": resources}
    return sam_roles(template, PRINCIPALS, ctx)


def durable_statements(parameters: dict[str, str], function: str) -> list[dict[str, Any]]:
    resources, ctx = planned_stack(parameters)
    policies = resolve(resources[function]["Properties"]["Policies"], ctx)
    statements = [s for policy in policies for s in policy.get("Statement", [])]
    return [s for s in statements if "Durable" in str(s["Action"])]


@pytest.fixture(scope="module")
def watched_roles() -> dict[str, Role]:
    return roles(WATCHED)


@pytest.mark.parametrize("function", PRINCIPALS)
def test_each_function_may_make_exactly_the_durable_calls_it_needs_on_every_watched_function(
    watched_roles: dict[str, Role], function: str
) -> None:
    # Given the stack deployed with two durable functions watched
    role = watched_roles[function]

    # Then each action is allowed on every version of both, exactly for the functions that need it
    for action in (*ANSWER, *READ):
        needed = function in (ANSWERS if action in ANSWER else READS)
        for name in ("order-item-check", "payment-capture"):
            for qualifier in ("$LATEST", "7"):
                assert role.allows(action, durable_execution(name, qualifier)) is needed, (action, name)


def test_a_function_nobody_named_is_not_answered_nor_read(watched_roles: dict[str, Role]) -> None:
    for function in READS:
        for action in (*ANSWER, *READ):
            assert not watched_roles[function].allows(action, durable_execution("order-item-check-2"))
            assert not watched_roles[function].allows(action, durable_execution("check"))


def test_the_grants_hold_the_stacks_region() -> None:
    # Given / When the Slack app's grants with functions watched
    statements = durable_statements(WATCHED, "SlackAppFunction")

    # Then each names both functions (every version) and is held to this Region
    assert [s["Sid"] for s in statements] == ["AnswerDurableCallbacks", "DurableExecutionRecords"]
    for statement in statements:
        assert statement["Resource"] == [
            "arn:*:lambda:*:*:function:order-item-check:*",
            "arn:*:lambda:*:*:function:payment-capture:*",
        ]
        assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": REGION}}


def test_without_watched_durable_functions_there_is_no_durable_side() -> None:
    # Given the default: no durable functions watched
    resources, ctx = planned_stack()

    # Then no function has a durable grant, no rule hears durable executions, the watcher watches none
    for function in READS:
        assert durable_statements({}, function) == []
    assert "DurableExecutionEndedRule" not in resources
    assert "DurableExecutionEndedPermission" not in resources
    assert watched_env(resources, ctx) == ""
    for role in roles({}).values():
        for action in (*ANSWER, *READ):
            assert not role.allows(action, durable_execution("order-item-check"))


def watched_env(resources: dict[str, Any], ctx: ResolutionContext) -> str:
    properties = function_properties({**TEMPLATE, "Resources": resources}, "ExecutionWatcherFunction")
    return resolve(properties["Environment"]["Variables"], ctx)["WATCHED_DURABLE_FUNCTIONS"]


def test_with_watched_durable_functions_the_watcher_hears_every_durable_end_and_knows_whose_to_keep() -> None:
    # Given two durable functions watched
    resources, ctx = planned_stack(WATCHED)

    # Then a rule sends the account's durable executions' ends to the watcher, which is told the names
    rule = resolve(resources["DurableExecutionEndedRule"]["Properties"], ctx)
    assert rule["EventPattern"] == {
        "source": ["aws.lambda"],
        "detail-type": ["Durable Execution Status Change"],
        "detail": {"status": ["SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"]},
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == ctx.get_att("ExecutionWatcherFunction", "Arn")
    permission = resolve(resources["DurableExecutionEndedPermission"]["Properties"], ctx)
    assert permission["FunctionName"] == ctx.ref("ExecutionWatcherFunction")
    assert permission["Principal"] == "events.amazonaws.com"
    assert watched_env(resources, ctx) == "order-item-check,payment-capture"
