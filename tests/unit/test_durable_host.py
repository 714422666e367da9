"""The embedded stack's durable host over the installed testing SDK: its internals are where the
host expects them, and its HTTP answers are shaped as Lambda's (without moto: a local server only)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from recovery_ops.service.local.engine.durable_host import DurableHost, DurableHostError, check_installed


@pytest.fixture
def host() -> Iterator[DurableHost]:
    durable = DurableHost("us-east-1", "123456789012")
    try:
        yield durable
    finally:
        durable.close()


def test_the_testing_sdks_internals_the_host_uses_are_installed() -> None:
    # Given / When / Then
    check_installed()


def test_an_error_reaches_botocore_with_lambdas_error_code(host: DurableHost) -> None:
    # Given a Lambda client at the host's endpoint
    client = boto3.client(
        "lambda",
        endpoint_url=host.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )

    # When it asks about an execution the host never ran
    with pytest.raises(ClientError) as raised:
        client.get_durable_execution(DurableExecutionArn="00000000-0000-0000-0000-000000000000/inv-1")

    # Then botocore reads Lambda's error code, not the HTTP status
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_function_that_is_not_registered_cannot_be_started(host: DurableHost) -> None:
    # Given / When / Then
    with pytest.raises(DurableHostError):
        host.start("nobody", {})


def test_a_callback_id_the_host_did_not_give_belongs_to_no_execution(host: DurableHost) -> None:
    # Given / When / Then
    assert host.execution_of_callback("not-a-callback-id") is None
    assert host.aws_arn("00000000-0000-0000-0000-000000000000/inv-1") is None
