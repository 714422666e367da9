"""`recovery-ops try --template`: a team's own SAM template deployed beside the recovery service and
its state machine run once from the terminal, through the command line."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from recovery_ops.service.cli import main
from tests.integration.test_team_template import TEMPLATE, team_copy, without_the_recovery_grant


def run_try(
    argv: list[str], answers: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str], str]:
    """`recovery-ops try` with ``answers`` on stdin: its exit code, the terminal's lines, its errors."""
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(answers))
    capsys.readouterr()
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


def test_try_template_runs_the_teams_state_machine_with_its_own_function_table_and_topic_to_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a fragile parcel, which the team's own Pack function refuses to pack
    given = tmp_path / "shipment.json"
    given.write_text(json.dumps({"shipment_id": "s-2", "fragile": True}))

    # When the person edits the input at the pause (one line: EDITOR is not set)
    argv = [
        "try",
        "--template",
        str(TEMPLATE),
        "--state-machine",
        "ShippingStateMachine",
        "--input",
        str(given),
    ]
    status, lines, _ = run_try(argv, 'e\n{"shipment_id": "s-2", "fragile": false}\n', monkeypatch, capsys)

    # Then the template's resources were listed, the pause was the function's own error, and the
    # execution went on through the team's table and topic to SUCCEEDED
    assert status == 0
    assert any(line.startswith("  function PackFunction (") for line in lines)
    assert "  table ShipmentsTable: created from the template" in lines
    assert "  topic ShippedTopic: created from the template" in lines
    assert "  left out (nothing in a run uses them): ShippingFailedAlarm (AWS::CloudWatch::Alarm)" in lines
    assert '  "Pack parcel" paused for a person: FragileParcel (technical)' in lines
    assert "execution try-shipping: SUCCEEDED" in lines
    path = next(line for line in lines if line.startswith("  path: "))
    assert path.endswith(
        "Pack parcel ✓  →  Request recovery: Pack parcel ✓  →  Pack parcel ✓  →  Record shipment ✓  →  "
        "Announce shipment ✓"
    )


def test_try_template_refuses_a_role_without_the_recovery_grant_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the template whose state machine may not send to the recovery queue
    path = team_copy(tmp_path, without_the_recovery_grant)

    # When it is tried
    status, lines, errors = run_try(["try", "--template", str(path)], "", monkeypatch, capsys)

    # Then it is refused with the grant named, and nothing started
    assert status == 2
    assert "ShippingStateMachine: state 'Request recovery: Pack parcel' needs sqs:SendMessage on " in errors
    assert str(path) in errors
    assert not any(line.startswith("  started execution") for line in lines)


def test_try_template_names_what_it_cannot_emulate_with_the_path_given_before_deploying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a template with a scheduled rule
    path = team_copy(tmp_path, lambda t: t["Resources"].update(Nightly={"Type": "AWS::Events::Rule"}))

    # When / Then
    status, lines, errors = run_try(["try", "--template", str(path)], "", monkeypatch, capsys)
    assert status == 2
    assert errors.startswith(
        f"recovery-ops try: {path}: the embedded stack cannot emulate Nightly (AWS::Events::Rule)"
    )
    assert lines == []


def test_try_template_refuses_options_the_template_answers_itself(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, errors = run_try(
        ["try", "--template", str(TEMPLATE), "--function", "Pack=x:y", "--state-machine", "Nope"],
        "",
        monkeypatch,
        capsys,
    )
    assert status == 2
    assert "--template takes no --function" in errors
