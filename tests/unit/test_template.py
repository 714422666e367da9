"""template.yaml and the ASL files agree with each other and with the code, and lint clean."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from service.local.cfn_template import PROJECT_ROOT, TEMPLATE_PATH, function_properties, load_template

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
    invokes = [s for s in statements if "lambda:InvokeFunction" in str(s["Action"])]

    (invoke,) = invokes
    assert invoke["Action"] == "lambda:InvokeFunction"
    own_name = properties["FunctionName"]["Fn::Sub"]
    assert invoke["Resource"]["Fn::Sub"].endswith(f":function:{own_name}")
    assert properties["Timeout"] >= 300  # bulk actions run in the lazy half
    assert properties["Events"]["SlackEvents"]["Properties"]["Path"] == "/slack/events"
