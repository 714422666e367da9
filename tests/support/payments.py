"""A payments workflow a team might keep beside the service, written to a test's temporary directory
(never one of the project's files): its definition, its Lambda functions' module, an editor script,
and an input. What the `recovery-ops try` tests run."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from recovery_ops.service.cli import main

CHARGE_CARD_ARN = "arn:aws:lambda:eu-west-1:111122223333:function:charge-card"
PAYMENTS = {
    "Comment": "Take a payment for an order",
    "StartAt": "Validate order",
    "States": {
        "Validate order": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${ValidateFunction}", "Payload.$": "$"},
            "ResultSelector": {"order.$": "$.Payload"},
            "OutputPath": "$.order",
            "Next": "Charge card",
        },
        "Charge card": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": CHARGE_CARD_ARN, "Payload.$": "$"},
            "ResultSelector": {"charged.$": "$.Payload.charged", "currency": "${Currency}"},
            "ResultPath": "$.payment",
            "Next": "Wait a moment",
        },
        "Wait a moment": {"Type": "Wait", "Seconds": 1, "Next": "Send receipt"},
        "Send receipt": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "send-receipt", "Payload.$": "$"},
            "ResultSelector": {"sent_to.$": "$.Payload.order_id"},
            "ResultPath": "$.receipt",
            "End": True,
        },
    },
}
FUNCTIONS = '''"""The payments team's Lambda functions."""


def validate(event, context):
    return {**event, "valid": event["amount"] > 0}


def charge(event, context):
    return {"charged": event["amount"], "by": context.function_name}


def receipt(event, context):
    return {"order_id": event["order_id"], "by": context.function_name}
'''
# what $EDITOR does in the tests: the amount becomes 100
EDITOR_SCRIPT = """import json, sys
path = sys.argv[1]
data = json.load(open(path))
data["amount"] = 100
json.dump(data, open(path, "w"), indent=1)
"""
ORDER = {"order_id": "o-1", "amount": 120}


def with_receipt_function_chosen_when_run() -> dict:
    """PAYMENTS whose "Send receipt" names its function from the order, as FunctionName.$ does."""
    definition = json.loads(json.dumps(PAYMENTS))
    parameters = definition["States"]["Send receipt"]["Parameters"]
    del parameters["FunctionName"]
    parameters["FunctionName.$"] = "States.Format('receipts-{}', $.order_id)"
    return definition


def write_payments(directory: Path, definition: dict | None = None) -> Path:
    """The definition, its functions' module (payments_functions.py) and an input (order.json)."""
    path = directory / "payments.asl.json"
    path.write_text(json.dumps(definition or PAYMENTS, indent=2))
    (directory / "payments_functions.py").write_text(FUNCTIONS)
    (directory / "order.json").write_text(json.dumps(ORDER))
    return path


def instrumented_payments(directory: Path) -> Path:
    """`recovery-ops instrument payments.asl.json --state "Charge card"`, written beside it."""
    source = write_payments(directory)
    target = directory / "payments.recovering.asl.json"
    assert main(["instrument", str(source), "--state", "Charge card", "-o", str(target)]) == 0
    return target


def editor_command(directory: Path) -> str:
    """An EDITOR that sets the amount of the JSON file it is given to 100."""
    script = directory / "set_amount.py"
    script.write_text(EDITOR_SCRIPT)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def try_argv(definition: Path, *extra: str) -> list[str]:
    """`recovery-ops try` on the payments definition with its functions, a currency and the order."""
    return [
        "try",
        str(definition),
        "--function",
        "ValidateFunction=payments_functions:validate",
        "--function",
        "charge-card=payments_functions:charge",
        "--sub",
        "Currency=EUR",
        "--input",
        str(definition.parent / "order.json"),
        *extra,
    ]
