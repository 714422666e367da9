"""The audit on the embedded stack: a recovery's life reaches the chronicle through the recoveries
table's stream, its events reach the audit bus in the schema, and `audit verify` passes, then
finds an entry altered in the table."""

from __future__ import annotations

import argparse
import json
from typing import Any

import jsonschema

from recovery_ops.service.cli.audit import audit_command
from recovery_ops.service.config import OperatorSettings
from recovery_ops.service.local.engine.dynamodb_stream import DynamoDBStreamPoller
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.recovery.chronicle.events import schema
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, RecoveryActions
from recovery_ops.service.recovery.stepfunctions.tokens import StepFunctionsTokens
from recovery_ops.service.recovery.storage.items import audit_entries, key
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.recoveries import opened_recovery


class AcceptingStepFunctions:
    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        return {}


def audit_queue(stack: EmbeddedStack) -> str:
    """A queue every audit event of the bus is copied to (what a team's rule to S3 would see)."""
    sqs, events = stack.client("sqs"), stack.client("events")
    url = sqs.create_queue(QueueName="audit-copy")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.physical("AuditEventBus")
    events.put_rule(
        Name="audit-copy", EventBusName=bus, EventPattern=json.dumps({"source": ["recovery-ops"]})
    )
    events.put_targets(Rule="audit-copy", EventBusName=bus, Targets=[{"Id": "copy", "Arn": arn}])
    return url


def received(stack: EmbeddedStack, url: str) -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        found += [json.loads(m["Body"]) for m in messages]


def verify(stack: EmbeddedStack, recovery_id: str, out: list[str]) -> int:
    args = argparse.Namespace(
        action="verify",
        ids=[recovery_id],
        all=False,
        events=None,
        stack=None,
        table=stack.physical("RecoveriesTable"),
    )
    return audit_command(args, OperatorSettings(), out=out.append)


def test_a_recoverys_life_is_published_to_the_audit_bus_and_verify_finds_an_altered_entry(
    stack: EmbeddedStack,
) -> None:
    # Given a copy of the audit bus, and the chronicle on the recoveries table's stream
    copy = audit_queue(stack)
    chronicle = DynamoDBStreamPoller(stack, "RecoveriesTable", "ChronicleFunction")
    table, dynamodb = stack.physical("RecoveriesTable"), stack.client("dynamodb")

    # When a recovery is opened, claimed and resumed
    store = RecoveryStore(table, dynamodb)
    recovery = opened_recovery(store)
    actions = RecoveryActions(store, StepFunctionsTokens(AcceptingStepFunctions()))
    assert actions.run_again(recovery.recovery_id, "UALICE").outcome is ActionOutcome.RESUMED
    answers = chronicle.poll()

    # Then its three events reach the bus, in the schema, without its token
    assert sum(answer["sealed"] for answer in answers) == 3
    events = [e for e in received(stack, copy) if e["detail"]["subject"]["id"] == recovery.recovery_id]
    assert sorted(e["detail"]["entry"]["seq"] for e in events) == [0, 1, 2]
    assert {e["detail-type"]: e["detail"]["kind"] for e in events} == {
        "Opened": "opened",
        "Claimed": "claimed",
        "Resumed": "resumed",
    }
    for event in events:
        assert event["source"] == "recovery-ops"
        jsonschema.validate(event["detail"], schema())
        assert recovery.task_token not in json.dumps(event)

    # And audit verify passes
    said: list[str] = []
    assert verify(stack, recovery.recovery_id, said) == 0, said

    # When someone changes who resumed it in the table
    trail = store.get(recovery.recovery_id).audit
    forged = [*trail[:2], type(trail[2])(trail[2].at, "UMALLORY", trail[2].action, trail[2].result)]
    dynamodb.update_item(
        TableName=table,
        Key=key(recovery.recovery_id),
        UpdateExpression="SET audit = :audit",
        ExpressionAttributeValues={":audit": audit_entries(*forged)},
    )

    # Then verify finds it, and the chronicle publishes that it was altered
    said = []
    assert verify(stack, recovery.recovery_id, said) == 1
    assert any("#2 changed" in line for line in said), said
    chronicle.poll()
    altered = [e for e in received(stack, copy) if e["detail"]["kind"] == "audit altered"]
    assert [e["detail"]["finding"] for e in altered] == [{"seq": 2, "problem": "changed"}]
