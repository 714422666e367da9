"""A paused step with a 100 KB input through the deployed stack, its functions held to their IAM roles:
the collector keeps the input and the cause apart in the payloads bucket (encrypted, never with the
task token), the item stays small, and Run again from Slack sends exactly that input.

100 KB, not 200: the shipping functions' error message repeats the step's input, and the state that
catches it carries both within Step Functions' 256 KB (which moto's interpreter enforces)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.storage.payloads import payload_key
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from recovery_ops.slack_app.ids import RUN_AGAIN
from tests.support import shipping
from tests.support.partition_load import item_size
from tests.support.stacks import SLACK_APP_PARAMETERS

recovery_only = pytest.mark.stack_parameters(VendorUrl="", DeployOrderExample="false", **SLACK_APP_PARAMETERS)

#: a shipment whose address carries about 100 KB of delivery notes, unicode included
NOTES = "Lieferung an die Hintertür, bitte zweimal klingeln. " * 1900 + "配達メモ 🚚"
LARGE_SHIPMENT = {**shipping.SHIPMENT, "address": {"name": "Ada", "city": "Ghent", "notes": NOTES}}
LARGE_NORMALISED = {**LARGE_SHIPMENT, "item_count": 2}


@pytest.fixture
def shipping_functions() -> Iterator[None]:
    shipping.reset()
    yield
    shipping.reset()


def bucket_objects(stack: EmbeddedStack) -> dict[str, bytes]:
    s3, bucket = stack.client("s3"), stack.physical("PayloadsBucket")
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def whole_store(stack: EmbeddedStack) -> RecoveryStore:
    return RecoveryStore(
        stack.physical("RecoveriesTable"), stack.client("dynamodb"), payloads=stack.payloads()
    )


def test_the_payloads_bucket_is_created_from_the_template(stack: EmbeddedStack) -> None:
    # Given / When the stack is deployed
    s3, bucket = stack.client("s3"), stack.physical("PayloadsBucket")

    # Then its bucket is encrypted by default, closed to the public, and expires what it holds
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    blocked = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(blocked.values()) and len(blocked) == 4
    (rule,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    expiry = int(stack.template["Parameters"]["RecoveryPayloadExpiryDays"]["Default"])
    assert (rule["Filter"]["Prefix"], rule["Expiration"]["Days"]) == ("recoveries/", expiry)
    # (its TLS-only policy is the template's: moto would apply the Deny without its condition)
    policy = stack.template["Resources"]["PayloadsBucketPolicy"]["Properties"]["PolicyDocument"]
    (deny,) = policy["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    assert stack.environment["PAYLOADS_BUCKET"] == bucket


@recovery_only
def test_a_100_kb_input_is_kept_apart_and_run_again_sends_exactly_it(
    stack: EmbeddedStack, slack: SlackStandIn, shipping_functions: None, tmp_path: Path
) -> None:
    # Given the shipping workflow, instrumented, and its carrier down
    definition = shipping.instrumented(tmp_path, stack.physical("RecoveryQueue"))
    machine_arn = shipping.deploy(stack, definition, "shipping")
    shipping.FAILURES.update(book=shipping.CarrierUnavailable)

    # When a shipment with 100 KB of notes runs, pauses and is collected
    execution_arn = shipping.run(stack, machine_arn, "shipment-large", LARGE_SHIPMENT)
    (listed,) = shipping.collect(stack, 1).values()

    # Then its item holds a reference, stays small, and the listing read no input
    item = stack.client("dynamodb").get_item(
        TableName=stack.physical("RecoveriesTable"), Key={"recovery_id": {"S": listed.recovery_id}}
    )["Item"]
    assert "input" not in item and item_size(item) < 4 * 1024 and listed.input is None
    assert "cause" not in item and "cause_ref" in item  # the error message repeats the input
    # the objects hold the input and cause, encrypted, and no slice of the task token is in any object or key
    objects = bucket_objects(stack)
    key = payload_key(listed.recovery_id, "input")
    assert set(objects) == {key, payload_key(listed.recovery_id, "cause")} and len(objects[key]) > 96 * 1024
    head = stack.client("s3").head_object(Bucket=stack.physical("PayloadsBucket"), Key=key)
    assert head["ServerSideEncryption"] == "AES256"
    token = item["task_token"]["S"]
    stored = "".join(objects) + b"".join(objects.values()).decode()
    assert not any(token[i : i + 16] in stored for i in range(len(token) - 15))
    # read whole, it is exactly the step's input
    recovery = whole_store(stack).get(listed.recovery_id)
    assert recovery.input == LARGE_NORMALISED
    (post,) = slack.calls_of("chat.postMessage")
    assert RUN_AGAIN in json.dumps(post.body["blocks"])

    # When the carrier is back and support clicks Run again in Slack
    shipping.FAILURES.clear()
    shipping.run_again(stack, slack, [recovery])

    # Then the step runs again with exactly its 100 KB input and the execution ends as it should
    assert shipping.finished(stack, execution_arn)["status"] == "SUCCEEDED"
    assert shipping.CALLS["book"][-1] == LARGE_NORMALISED
