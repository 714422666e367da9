"""Self-healing on the deployed stack: the vendor's circuit closes, the circuit watcher starts the
self-healing state machine, and its rounds resume the recoveries the outage left with no click;
a rule that does not heal itself keeps its recoveries for people."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import StepConfig
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy
from aws_lambda_powertools.utilities import parameters

from recovery_ops.service.durable import wait_for_recovery
from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.dynamodb_stream import DynamoDBStreamPoller
from recovery_ops.service.local.engine.iam_check import Call
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.healing.self_healing import APPROVAL_ACTOR, AUTO_ACTOR, PROBE_ACTOR
from recovery_ops.service.recovery.model.approval import Gated
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.stepfunctions.tokens import StepFunctionsTokens
from recovery_ops.service.recovery.storage.approvals import ApprovalStore
from recovery_ops.service.recovery.storage.items import key
from tests.integration.test_iam import template_without
from tests.support.desk import ORDER, execution_status, order_execution_of, pause, store
from tests.support.stacks import SLACK_APP_PARAMETERS, deployed_stack, slack_app_stack
from tests.support.waiting import wait_until

OUTAGE = {
    "CircuitBreakerEnabled": "true",
    "CircuitBreakerFailureThreshold": "3",
    "CircuitBreakerWindowSeconds": "3600",
    "CircuitBreakerMaxWaitSeconds": "100",
    "SelfHealingSettleSeconds": "1",
    "SelfHealingResumesPerSecond": "20",
}


def healing_executions(stack) -> list[dict]:
    sfn = stack.client("stepfunctions")
    return sfn.list_executions(stateMachineArn=stack.arn("SelfHealingStateMachine"))["executions"]


def close_the_circuit(stack, order_api: LocalOrderApi) -> DynamoDBStreamPoller:
    """The vendor is back: the next order's probe closes the circuit; the watcher hears it."""
    watcher = DynamoDBStreamPoller(stack, "CircuitBreakerTable", "CircuitWatcherFunction")
    watcher.poll()  # what happened during the outage
    probe = order_api.place({**ORDER, "customer_id": "c-probe"}).body
    wait_until(lambda: execution_status(stack, probe["execution_arn"]) == "SUCCEEDED", 60)
    return watcher


def test_a_closed_circuit_resumes_the_outages_recoveries_by_themselves(
    vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    with slack_app_stack(vendor_url, slack, SelfHealingByDefault="true", **OUTAGE) as stack:
        paused = pause(stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{i}"} for i in range(3)])
        assert {r.dependency for r in paused} == {"vendor"}  # the order item action names its circuit

        watcher = close_the_circuit(stack, order_api)
        answers = watcher.poll()

        started = [closure for answer in answers for closure in answer["self_healing"]]
        assert len(started) == 1 and started[0].startswith("vendor@")
        wait_until(lambda: [e["status"] for e in healing_executions(stack)] == ["SUCCEEDED"], 120)
        recoveries = [store(stack).get(r.recovery_id) for r in paused]
        assert {r.status for r in recoveries} == {RecoveryStatus.RESUMED}
        assert {r.last_actor for r in recoveries} == {AUTO_ACTOR}
        for recovery in recoveries:  # the orders finish with nobody clicking
            order = order_execution_of(stack, recovery)
            wait_until(lambda order=order: execution_status(stack, order) == "SUCCEEDED", 60)
        said = json.dumps([call.body for call in slack.calls_of("chat.update")])
        assert "automatically" in said

        # a redelivered record of the same closing starts nothing twice
        assert watcher.poll() == [] and len(healing_executions(stack)) == 1
        # and every call was one the roles sam deploy creates allow
        assert stack.iam is not None and stack.iam.denied == []
        machine = stack.arn("SelfHealingStateMachine")
        assert Call("CircuitWatcherFunction", "states:StartExecution", machine) in stack.iam.calls
        assert Call("SelfHealingFunction", "states:SendTaskSuccess", "*") in stack.iam.calls


def test_the_watcher_without_its_grant_to_start_self_healing_is_reported(
    tmp_path: Path, vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    broken = template_without(tmp_path, "CircuitWatcherFunction", "StartSelfHealing")
    parameters = {"VendorUrl": vendor_url, **SLACK_APP_PARAMETERS, **OUTAGE, "SelfHealingByDefault": "true"}
    with deployed_stack(parameters, slack, template_path=broken) as stack:
        pause(stack, order_api, vendor, [ORDER])

        close_the_circuit(stack, order_api).poll()

        assert stack.iam is not None
        denied = stack.iam.take_denied()
    assert denied == [
        Call("CircuitWatcherFunction", "states:StartExecution", stack.arn("SelfHealingStateMachine"))
    ]


def test_with_every_execution_paused_and_no_new_order_a_probe_closes_the_circuit_and_the_rest_heal(
    vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    with slack_app_stack(
        vendor_url, slack, SelfHealingByDefault="true", SelfHealingProbeGraceSeconds="0", **OUTAGE
    ) as stack:
        # Given an outage that paused every execution, the vendor back, and no new order to probe it
        paused = pause(stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{i}"} for i in range(3)])
        watcher = DynamoDBStreamPoller(stack, "CircuitBreakerTable", "CircuitWatcherFunction")
        watcher.poll()
        oldest = min(paused, key=lambda r: r.sort_key)
        # ... and the circuit's open period over (time passing, written where the breaker reads it)
        stack.client("dynamodb").update_item(
            TableName=stack.physical("CircuitBreakerTable"),
            Key={"dependency": {"S": "vendor"}},
            UpdateExpression="SET opened_until = :past",
            ConditionExpression="#state = :open",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":past": {"N": "1"}, ":open": {"S": "OPEN"}},
        )

        # When the minute's probe runs (the function's schedule)
        answer = stack.client("lambda").invoke(
            FunctionName=stack.physical("SelfHealingFunction"), Payload=json.dumps({"action": "probe"})
        )
        probed = json.loads(answer["Payload"].read())["probed"]

        # Then the oldest recovery was resumed to probe, its execution closed the circuit, and the
        # closing's self-healing resumed the others
        assert probed == [oldest.recovery_id]
        assert store(stack).get(oldest.recovery_id).last_actor == PROBE_ACTOR
        wait_until(lambda: any(a["self_healing"] for a in watcher.poll()), 60)
        wait_until(lambda: [e["status"] for e in healing_executions(stack)] == ["SUCCEEDED"], 120)
        others = [store(stack).get(r.recovery_id) for r in paused if r != oldest]
        assert {(r.status, r.last_actor) for r in others} == {(RecoveryStatus.RESUMED, AUTO_ACTOR)}


def test_recoveries_of_a_rule_that_does_not_heal_itself_wait_for_people(
    vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    with slack_app_stack(vendor_url, slack, SelfHealingByDefault="false", **OUTAGE) as stack:
        paused = pause(stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{i}"} for i in range(2)])

        answers = close_the_circuit(stack, order_api).poll()

        assert [closure for answer in answers for closure in answer["self_healing"]] == []
        assert healing_executions(stack) == []
        assert {store(stack).get(r.recovery_id).status for r in paused} == {RecoveryStatus.OPEN}


def test_a_probe_cut_off_before_its_call_is_reopened_by_the_reconciler_and_probed_again(
    vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    with slack_app_stack(
        vendor_url, slack, SelfHealingByDefault="true", SelfHealingProbeGraceSeconds="0", **OUTAGE
    ) as stack:
        # Given every execution paused, the vendor back, the circuit's open period over
        paused = pause(stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{i}"} for i in range(2)])
        watcher = DynamoDBStreamPoller(stack, "CircuitBreakerTable", "CircuitWatcherFunction")
        watcher.poll()
        oldest = min(paused, key=lambda r: r.sort_key)
        stack.client("dynamodb").update_item(
            TableName=stack.physical("CircuitBreakerTable"),
            Key={"dependency": {"S": "vendor"}},
            UpdateExpression="SET opened_until = :past",
            ExpressionAttributeValues={":past": {"N": "1"}},
        )

        def probe() -> dict:
            answer = stack.client("lambda").invoke(
                FunctionName=stack.physical("SelfHealingFunction"), Payload=json.dumps({"action": "probe"})
            )
            return json.loads(answer["Payload"].read())

        # ... and the minute's probe cut off after its claim, before its call (the function died)
        with mock.patch.object(StepFunctionsTokens, "send_success", side_effect=RuntimeError("killed")):
            probe()
        assert store(stack).get(oldest.recovery_id).status is RecoveryStatus.RESUMING

        # When its lease runs out, the reconciler runs, and the next minute's probe comes
        stack.client("dynamodb").update_item(
            TableName=stack.physical("RecoveriesTable"),
            Key=key(oldest.recovery_id),
            UpdateExpression="SET lease_until = :past, due_at = :past",
            ExpressionAttributeValues={":past": {"S": "2000-01-01T00:00:00.000+00:00"}},
        )
        settled = stack.client("lambda").invoke(
            FunctionName=stack.physical("ReconcilerFunction"), Payload=b"{}"
        )
        reopened = json.loads(settled["Payload"].read())["settled"]
        second = probe()

        # Then the probe is open again at once (not skipped for minutes), probed, and the rest heal
        assert reopened == {"OPEN": 1}
        assert second["probed"] == [oldest.recovery_id]
        wait_until(lambda: any(a["self_healing"] for a in watcher.poll()), 60)
        wait_until(lambda: [e["status"] for e in healing_executions(stack)] == ["SUCCEEDED"], 120)
        assert {store(stack).get(r.recovery_id).status for r in paused} == {RecoveryStatus.RESUMED}


def test_under_a_run_again_policy_self_healing_resumes_nothing_and_asks_for_approval_once(
    vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    policy = {"actions": ["run_again"], "approvers": {"user_ids": ["U0LEAD"]}}
    rule = {"name": "all", "match": {}, "channel": "C0OPS", "self_healing": True, "approval": policy}
    with slack_app_stack(vendor_url, slack, SelfHealingByDefault="true", **OUTAGE) as stack:
        # Given recoveries of an outage whose rule puts Run again under approval
        paused = pause(stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{i}"} for i in range(2)])
        stack.client("ssm").put_parameter(
            Name=stack.physical("RoutingRules"), Value=json.dumps({"rules": [rule]}), Overwrite=True
        )
        parameters.clear_caches()

        # When the circuit closes and self-healing runs to its end
        close_the_circuit(stack, order_api).poll()
        wait_until(lambda: [e["status"] for e in healing_executions(stack)] == ["SUCCEEDED"], 120)

        # Then nothing was resumed, and one request of self-healing's names both
        assert {store(stack).get(r.recovery_id).status for r in paused} == {RecoveryStatus.OPEN}
        (request,) = ApprovalStore(stack.physical("RecoveriesTable"), stack.client("dynamodb")).pending()
        assert (request.action, request.requested_by, request.bulk) == (Gated.RUN_AGAIN, APPROVAL_ACTOR, True)
        assert sorted(request.subjects) == sorted(r.recovery_id for r in paused)
        assert stack.iam is not None and stack.iam.denied == []


# ---------------------------------------------------------------------- a durable function, same circuit
DURABLE_VENDOR = {"down": True}
ONE_TRY = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))


class VendorUnavailable(Exception):  # an outage error self-healing resumes (SelfHealingErrors)
    pass


def _reserve(item: dict) -> dict:
    if DURABLE_VENDOR["down"]:
        raise VendorUnavailable("the vendor does not answer")
    return {**item, "reserved": True}


@durable_execution
def reserve_item(event: dict, context: DurableContext) -> dict:
    item = event
    while True:
        try:
            return context.step(lambda _, item=item: _reserve(item), name="Reserve item", config=ONE_TRY)
        except StepError as failed:
            item = wait_for_recovery(
                context, name="Reserve item", error=failed, input=item, dependency="vendor"
            ).input


def test_a_closed_circuit_resumes_a_durable_functions_recovery_beside_the_state_machines(
    vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    parameters = {**OUTAGE, "SelfHealingByDefault": "true", "WatchedDurableFunctions": "reserve-item"}
    with slack_app_stack(vendor_url, slack, **parameters) as stack:
        # Given a durable function's step and the orders' steps paused by one vendor outage
        assert stack.durable is not None
        DURABLE_VENDOR["down"] = True
        paused = pause(stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{i}"} for i in range(2)])
        stack.durable.register("reserve-item", reserve_item)
        durable_execution_arn = stack.durable.start("reserve-item", {"sku": "sku-lamp"}, execution_name="r-1")

        def collected() -> bool:
            poll_collector(stack)
            return len(store(stack).for_execution(durable_execution_arn)) == 1

        wait_until(collected)
        (callback,) = store(stack).for_execution(durable_execution_arn)
        assert callback.dependency == "vendor" and callback.recovery_id not in {r.recovery_id for r in paused}

        # When the vendor is back and its circuit closes
        DURABLE_VENDOR["down"] = False
        watcher = close_the_circuit(stack, order_api)
        watcher.poll()
        wait_until(lambda: [e["status"] for e in healing_executions(stack)] == ["SUCCEEDED"], 120)

        # Then self-healing resumed both kinds with nobody clicking, the durable one through its callback
        resumed = store(stack).get(callback.recovery_id)
        assert (resumed.status, resumed.last_actor) == (RecoveryStatus.RESUMED, AUTO_ACTOR)
        assert stack.durable.wait_for_result(durable_execution_arn, 30).status == "SUCCEEDED"
        assert {
            store(stack).get(r.recovery_id).status for r in store(stack).list_by_status(RecoveryStatus.OPEN)
        } == set()
        assert stack.iam is not None and stack.iam.denied == []
        assert any(
            c.principal == "SelfHealingFunction" and c.action == "lambda:SendDurableExecutionCallbackSuccess"
            for c in stack.iam.calls
        )
