"""`recovery-ops instrument` only for Standard state machines: Express ones cannot pause for a person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recovery_ops.service.cli.instrument import instrument_command
from recovery_ops.service.instrumentation.transform import InstrumentError, InstrumentOptions, instrument

ROOT = Path(__file__).resolve().parents[2]
SHIPPING = ROOT / "tests" / "fixtures" / "shipping_workflow.asl.json"


def test_an_express_state_machine_is_refused_saying_it_must_be_standard(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given
    out = tmp_path / "out.asl.json"

    # When
    status = instrument_command(
        [str(SHIPPING), "--state", "Book carrier", "--workflow-type", "express", "--output", str(out)]
    )

    # Then
    assert status == 2
    error = capsys.readouterr().err
    assert "must be Standard, not EXPRESS" in error and ".waitForTaskToken is not supported" in error
    assert not out.exists()


def test_a_standard_state_machine_is_instrumented_as_before(tmp_path: Path) -> None:
    # Given
    out = tmp_path / "out.asl.json"

    # When
    status = instrument_command(
        [str(SHIPPING), "--state", "Book carrier", "--workflow-type", "STANDARD", "--output", str(out)]
    )

    # Then
    assert status == 0
    assert (
        "Request recovery: Book carrier"
        in json.loads(out.read_text())["States"]["Prepare shipment"]["Branches"][0]["States"]
    )


def test_the_domain_refuses_an_express_state_machine_too() -> None:
    # Given / When / Then
    with pytest.raises(InstrumentError, match="must be Standard"):
        instrument(
            json.loads(SHIPPING.read_text()), InstrumentOptions(("Book carrier",), workflow_type="EXPRESS")
        )


def test_the_help_says_the_state_machine_must_be_standard(capsys: pytest.CaptureFixture[str]) -> None:
    # Given / When
    assert instrument_command(["--help"]) == 0

    # Then
    assert "must be Standard" in " ".join(capsys.readouterr().out.split())
