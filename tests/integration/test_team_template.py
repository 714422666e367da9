"""A team's own SAM template deployed beside the recovery service with the plugin's
``recovery_stack.deploy_template``: its function, table, topic and state machine created from the
template, its handlers imported from its code directory, its roles the SAM translator's, and what
its state machines need held against those roles before anything runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from recovery_ops.service.local.desk import Desk
from recovery_ops.service.local.engine.cfn_template import load_template
from recovery_ops.service.local.engine.grant_check import MissingGrantError
from recovery_ops.service.local.engine.lambda_dispatch import HandlerPathError
from recovery_ops.service.local.engine.team_template import UnsupportedResourceError
from recovery_ops.service.local.testing.recovery_stack import RecoveryStack

TEAM = Path(__file__).parents[1] / "fixtures" / "team"
TEMPLATE = TEAM / "template.yaml"


def team_copy(tmp_path: Path, change: Any) -> Path:
    """The team's template, code and definition copied to ``tmp_path``, the template changed by ``change``."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "team_shipping.py").write_text((TEAM / "src" / "team_shipping.py").read_text())
    (tmp_path / "shipping.asl.json").write_text((TEAM / "shipping.asl.json").read_text())
    template = load_template(TEMPLATE)
    change(template)
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


def tables_of(recovery_stack: RecoveryStack) -> list[str]:
    return recovery_stack.client("dynamodb").list_tables()["TableNames"]


def test_a_team_template_pauses_on_a_failure_and_succeeds_after_run_again_from_the_desk(
    recovery_stack: RecoveryStack, desk: Desk
) -> None:
    # Given the team's template deployed beside the recovery service, its packing belt jammed
    team = recovery_stack.deploy_template(TEMPLATE)
    belt = sys.modules["team_shipping"].BELT  # the handler module, imported from the team's src/
    belt["jammed"] = True
    try:
        # When an execution fails in its own Lambda task and the person runs it again once the belt runs
        execution = team.state_machines["ShippingStateMachine"].start(
            {"shipment_id": "s-1", "fragile": False}
        )
        recovery = desk.wait_for_recovery(execution)
        assert (recovery.failed_state, recovery.error) == ("Pack parcel", "PackerJammed")
        belt["jammed"] = False
        desk.run_again(recovery)
        end = desk.wait_for_end(execution)
    finally:
        belt["jammed"] = False

    # Then the execution succeeded, wrote the team's table and published on the team's topic
    assert end.status == "SUCCEEDED"
    item = recovery_stack.client("dynamodb").get_item(
        TableName=team.tables["ShipmentsTable"], Key={"shipment_id": {"S": "s-1"}}
    )["Item"]
    assert item == {"shipment_id": {"S": "s-1"}, "parcel": {"S": "box-s-1"}}
    assert team.published("ShippedTopic") == ["shipment s-1 packed in box-s-1"]
    assert team.not_emulated == ["ShippingFailedAlarm (AWS::CloudWatch::Alarm)"]
    # and every call its state machine made was one its role allows
    assert recovery_stack.embedded.iam is not None
    made = {
        (c.action, c.resource)
        for c in recovery_stack.embedded.iam.calls
        if c.principal == "ShippingStateMachine"
    }
    assert ("sqs:SendMessage", recovery_stack.queue_arn) in made
    assert ("sns:Publish", team.topics["ShippedTopic"]) in made
    assert recovery_stack.denied_calls() == []


def without_the_recovery_grant(template: dict[str, Any]) -> None:
    policies = template["Resources"]["ShippingStateMachine"]["Properties"]["Policies"]
    policies[:] = [p for p in policies if "Statement" not in p]


def test_a_team_role_without_the_grant_to_the_recovery_queue_is_refused_before_anything_runs(
    tmp_path: Path, recovery_stack: RecoveryStack
) -> None:
    # Given the team's template whose state machine may not send to the recovery queue
    path = team_copy(tmp_path, without_the_recovery_grant)
    before = tables_of(recovery_stack)

    # When it is deployed
    with pytest.raises(MissingGrantError) as refused:
        recovery_stack.deploy_template(path)

    # Then the grant is named, with the state and the queue, and nothing of the team's was created
    assert (
        f"ShippingStateMachine: state 'Request recovery: Pack parcel' needs sqs:SendMessage on "
        f"{recovery_stack.queue_arn}; its role does not allow it"
    ) in str(refused.value)
    assert str(path) in str(refused.value)
    assert tables_of(recovery_stack) == before


def test_a_wrong_handler_path_in_the_team_template_is_refused_at_deploy(
    tmp_path: Path, recovery_stack: RecoveryStack
) -> None:
    # Given a function whose Handler names a function its module does not have
    def wrong_handler(template: dict[str, Any]) -> None:
        template["Resources"]["PackFunction"]["Properties"]["Handler"] = "team_shipping.packk"

    path = team_copy(tmp_path, wrong_handler)
    before = tables_of(recovery_stack)

    # When / Then: refused when deployed, naming the function and what is missing
    with pytest.raises(HandlerPathError, match="module team_shipping has no packk") as refused:
        recovery_stack.deploy_template(path)
    assert "PackFunction" in str(refused.value)
    assert tables_of(recovery_stack) == before


def test_a_resource_type_that_cannot_be_emulated_is_named_with_the_template_path(
    tmp_path: Path, recovery_stack: RecoveryStack
) -> None:
    # Given a template with an S3 bucket and an HTTP API
    def with_bucket(template: dict[str, Any]) -> None:
        template["Resources"]["LabelsBucket"] = {"Type": "AWS::S3::Bucket"}
        template["Resources"]["ShippingApi"] = {"Type": "AWS::Serverless::HttpApi"}

    path = team_copy(tmp_path, with_bucket)

    # When / Then: refused, naming both, with the path as given
    with pytest.raises(UnsupportedResourceError) as refused:
        recovery_stack.deploy_template(path)
    assert str(refused.value).startswith(
        f"{path}: the embedded stack cannot emulate LabelsBucket (AWS::S3::Bucket), "
        "ShippingApi (AWS::Serverless::HttpApi)"
    )


def test_the_team_definition_is_created_as_its_template_substitutes_it(recovery_stack: RecoveryStack) -> None:
    # Given the team's template deployed
    team = recovery_stack.deploy_template(TEMPLATE)

    # When its state machine's definition is read back
    arn = team.state_machines["ShippingStateMachine"].arn
    definition = json.loads(
        recovery_stack.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["definition"]
    )

    # Then the imported recovery queue, the function, the table and the topic are this stack's
    states = definition["States"]
    assert states["Request recovery: Pack parcel"]["Parameters"]["QueueUrl"] == recovery_stack.queue_url
    assert states["Pack parcel"]["Parameters"]["FunctionName"].endswith(
        ":function:" + team.functions["PackFunction"]
    )
    assert states["Record shipment"]["Parameters"]["TableName"] == team.tables["ShipmentsTable"]
    assert states["Announce shipment"]["Parameters"]["TopicArn"] == team.topics["ShippedTopic"]
