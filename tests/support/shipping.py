"""A shipping workflow nobody here wrote (tests/fixtures/shipping_workflow.asl.json, and the same in
JSONata: shipping_workflow_jsonata.asl.json), its Lambda functions answered in-process, deployed beside
the recovery service and driven to its recoveries: what the instrument tests and the deployment-shape
tests share."""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

from recovery_ops.service.cli.instrument import instrument_command
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.own_workflows import deploy_state_machine
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.slack_app.ids import RUN_AGAIN
from tests.support.desk import execution_status, requests_for, send, store, wait_for_status
from tests.support.stacks import ALLOWED
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "shipping_workflow.asl.json"
JSONATA_FIXTURE = ROOT / "tests" / "fixtures" / "shipping_workflow_jsonata.asl.json"
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


def deploy(stack: EmbeddedStack, definition: dict, name: str) -> str:
    """The shipping functions (once per stack) and a state machine from ``definition``."""
    functions = {placeholder: f"{__name__}.{handler}" for placeholder, handler in FUNCTIONS.items()}
    return deploy_state_machine(stack, name, definition, functions=functions)


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


def collect_each(stack: EmbeddedStack, count: int) -> list[Recovery]:
    """As ``collect``, for recoveries of one state too (each Map item's): the open ones, by SKU."""
    recoveries = store(stack)

    def collected() -> bool:
        poll_collector(stack)
        return len(recoveries.list_by_status(RecoveryStatus.OPEN, limit=100)) >= count

    wait_until(collected)
    found = recoveries.list_by_status(RecoveryStatus.OPEN, limit=100)
    return sorted(found, key=lambda r: (r.failed_state, json.dumps(r.input, sort_keys=True)))


def with_pack_item_in_jsonata(definition: dict) -> dict:
    """The JSONPath shipping workflow with its Map's "Pack item" written in JSONata: same output."""
    mixed = copy.deepcopy(definition)
    items = mixed["States"]["Ship items"]["ItemProcessor"]["States"]
    items["Pack item"] = {
        "Type": "Task",
        "QueryLanguage": "JSONata",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {"FunctionName": "${PackItemFunction}", "Payload": "{% $states.input %}"},
        "Output": "{% $merge([$states.input, {'packed': {'parcel': $states.result.Payload.parcel}}]) %}",
        "TimeoutSeconds": 30,
        "Next": "Item packed",
    }
    return mixed


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


def reset() -> None:
    """Every shipping function succeeds again and no call is remembered."""
    FAILURES.clear()
    FAILING_SKUS.clear()
    CALLS.clear()


def run_again(stack: EmbeddedStack, slack: SlackStandIn, recoveries) -> None:
    """Click Run again on each recovery's Slack message, through the Slack app's Lambda function."""
    requests = requests_for(slack)
    for recovery in recoveries:
        assert send(stack, requests.click(ALLOWED, RUN_AGAIN, recovery.recovery_id))["statusCode"] == 200
    for recovery in recoveries:
        wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
