"""The pytest plugin's own logic, without a stack: it is registered and loads light, a team's
definition is read and substituted as ``DefinitionSubstitutions`` would (and refused, saying why),
and the Slack stand-in's traffic reads as a channel reader sees it."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from recovery_ops.service.local.engine.cfn_template import load_template, parameter_values
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.local.standin.workspace import SlackWorkspace
from recovery_ops.service.local.testing import pytest_plugin, recovery_stack
from recovery_ops.service.local.testing.recovery_stack import (
    DefinitionError,
    default_parameters,
    function_name,
    read_definition,
    substituted,
)
from recovery_ops.slack_app.ids import REJECT, RUN_AGAIN

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-test"


# ------------------------------------------------------------------ registration
def test_the_plugin_is_a_pytest11_entry_point_of_the_package() -> None:
    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]

    assert entry_points["pytest11"] == {"recovery_ops": "recovery_ops.service.local.testing.pytest_plugin"}


def test_every_fixture_of_the_plugin_says_what_it_is_and_none_clashes_with_the_projects_own() -> None:
    fixtures = {"slack_workspace", "recovery_stack_parameters", "recovery_stack", "desk"}

    assert all((getattr(pytest_plugin, name).__doc__ or "").strip() for name in fixtures)
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    assert not [name for name in fixtures if f"def {name}(" in conftest]


def test_loading_the_plugin_imports_neither_moto_nor_the_service() -> None:
    # When a fresh interpreter imports the plugin, as pytest does at start-up in any project
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, recovery_ops.service.local.testing.pytest_plugin;"
            " print(sorted(m for m in sys.modules if m.split('.')[0] in ('moto', 'boto3', 'slack_bolt')"
            " or m.startswith('recovery_ops.service.recovery')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )

    # Then nothing heavy came with it: a team's other tests start as fast as before
    assert loaded.stdout.strip() == "[]"


def test_the_default_parameters_are_template_parameters_and_leave_the_order_example_out() -> None:
    values = parameter_values(load_template(), default_parameters("U0SUPPORT", "C0RECOVERIES"))

    assert values["DeployOrderExample"] == "false"
    assert (values["SlackAllowedUserIds"], values["SlackDefaultChannel"]) == ("U0SUPPORT", "C0RECOVERIES")


# ------------------------------------------------------------------ a team's definition
def test_placeholders_are_replaced_as_definition_substitutions_would() -> None:
    text = json.dumps({"QueueUrl": "${RecoveryQueueUrl}", "Also": "${RecoveryQueueUrl}", "Fn": "${Check}"})

    result = substituted(text, {"RecoveryQueueUrl": "https://queue", "Check": "arn:fn"})

    assert json.loads(result) == {"QueueUrl": "https://queue", "Also": "https://queue", "Fn": "arn:fn"}


def test_a_placeholder_left_over_is_refused_naming_it_and_where_to_give_it() -> None:
    text = json.dumps({"A": "${CheckFunction}", "B": "${Table}", "C": "${RecoveryQueueUrl}"})

    with pytest.raises(DefinitionError) as refused:
        substituted(text, {"RecoveryQueueUrl": "https://queue"}, "orders.asl.json")

    message = str(refused.value)
    assert message.startswith("orders.asl.json still has ${CheckFunction}, ${Table} after substitution")
    assert "functions={...}" in message and "substitutions={...}" in message


def test_a_definition_that_is_not_json_is_refused_with_the_parsers_reason() -> None:
    with pytest.raises(DefinitionError, match=r"orders.asl.json is not JSON: .*line 1 column 16"):
        substituted('{"StartAt": "A",}', {}, "orders.asl.json")


def test_a_definition_is_read_from_a_file_its_text_or_a_dict(tmp_path: Path) -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    asl = tmp_path / "orders.asl.json"
    asl.write_text(json.dumps(definition))
    yaml_file = tmp_path / "orders.asl.yaml"
    yaml_file.write_text("StartAt: A\nStates:\n  A:\n    Type: Pass\n    End: true\n")

    read = [
        read_definition(source) for source in (asl, str(asl), json.dumps(definition), definition, yaml_file)
    ]

    assert all(json.loads(text) == definition for text, _ in read)
    assert [source for _, source in read] == [
        str(asl),
        str(asl),
        "the definition",
        "the definition",
        str(yaml_file),
    ]


def test_a_definition_file_that_is_not_there_is_refused_with_its_full_path(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=f"no definition file at {tmp_path}/missing.asl.json"):
        read_definition(tmp_path / "missing.asl.json")


def test_function_names_fit_lambdas_64_characters_and_stay_distinct() -> None:
    long_machine = "a-state-machine-with-a-rather-long-name"
    names = {
        function_name("recovery-ops-abc123", long_machine, p) for p in ("CheckFunction", "ChargeFunction")
    }

    assert len(names) == 2 and all(len(name) <= 64 for name in names)
    assert function_name("recovery-ops-abc123", "orders", "Check") == "recovery-ops-abc123-orders-Check"


# ------------------------------------------------------------------ Slack as a channel reader sees it
def post(standin: SlackStandIn, **body) -> str:
    return standin.answer("chat.postMessage", body, TOKEN)[1]["ts"]


def recovery_blocks(recovery_id: str) -> list[dict]:
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "Check availability failed"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Error:* `VendorDown`"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Run again"},
                    "action_id": RUN_AGAIN,
                    "value": recovery_id,
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "action_id": REJECT,
                    "value": recovery_id,
                },
            ],
        },
    ]


def test_a_message_reads_as_posted_its_text_without_button_labels_and_its_buttons_in_order() -> None:
    standin = SlackStandIn()
    post(standin, channel="C1", text="recovery needed", blocks=recovery_blocks("rec-1"))

    (message,) = SlackWorkspace(standin).messages()

    assert message.text == "recovery needed\nCheck availability failed\n*Error:* `VendorDown`"
    assert [(b.text, b.action_id, b.value) for b in message.buttons] == [
        ("Run again", RUN_AGAIN, "rec-1"),
        ("Reject", REJECT, "rec-1"),
    ]


def test_messages_read_as_they_are_now_with_their_thread_and_by_channel() -> None:
    standin = SlackStandIn()
    first = post(standin, channel="C1", text="first", blocks=json.dumps(recovery_blocks("rec-1")))
    post(standin, channel="C2", text="elsewhere")
    post(standin, channel="C1", text="a reply", thread_ts=first)
    standin.answer("chat.update", {"channel": "C1", "ts": first, "text": "resumed", "blocks": []}, TOKEN)

    workspace = SlackWorkspace(standin)

    (message,) = workspace.messages("C1")
    assert (message.text, message.buttons) == ("resumed", [])
    assert [(reply.text, reply.thread_ts) for reply in message.replies] == [("a reply", first)]
    assert [m.text for m in workspace.messages()] == ["resumed", "elsewhere"]
    assert workspace.message("C1", first) == message
    with pytest.raises(LookupError, match="no message 1.0 in C1; posted: C1 .*, C2 "):
        workspace.message("C1", "1.0")


def test_what_people_were_told_privately_is_every_answer_to_a_click_and_every_ephemeral_message() -> None:
    standin = SlackStandIn()
    standin.answer("response_url", {"text": "You may not act on this recovery."}, None)
    standin.answer("chat.postEphemeral", {"channel": "C1", "user": "U1", "text": "Nothing was sent."}, TOKEN)
    post(standin, channel="C1", text="not private")

    assert SlackWorkspace(standin).told() == ["You may not act on this recovery.", "Nothing was sent."]


def test_without_a_checkout_to_deploy_from_the_stack_says_how_to_install_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given an installation without template.yaml beside the code (a wheel)
    monkeypatch.setattr(recovery_stack, "TEMPLATE_PATH", tmp_path / "template.yaml")

    # When a recovery stack is deployed, Then it names what is missing and the install that has it
    with pytest.raises(FileNotFoundError, match=r"no template.yaml at .*pip install -e"):
        with recovery_stack.deployed_recovery_stack(SlackStandIn()):
            pass


def test_every_public_testing_name_resolves_to_the_type_the_fixtures_return() -> None:
    import recovery_ops.service.local.testing as testing
    from recovery_ops.service.local.desk import Desk, ExecutionEnd
    from recovery_ops.service.local.testing.recovery_stack import RecoveryStack
    from recovery_ops.service.recovery.model.recovery import Recovery

    # every name the module offers is there, and the fixtures' types are the very classes
    assert all(getattr(testing, name) is not None for name in testing.__all__)
    assert (testing.Desk, testing.ExecutionEnd, testing.RecoveryStack, testing.Recovery) == (
        Desk,
        ExecutionEnd,
        RecoveryStack,
        Recovery,
    )
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        testing.Nothing  # noqa: B018 - the lookup is what is tested
