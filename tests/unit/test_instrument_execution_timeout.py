"""`recovery-ops instrument` keeps the definition's own timeout: a Standard execution fails with
States.Timeout once its top-level TimeoutSeconds have passed, a pause included, so a pause is never
longer than that. No stack: definitions as data, the command with its output read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from recovery_ops.service.cli.instrument import instrument_command
from recovery_ops.service.instrumentation.transform import (
    DEFAULT_TIMEOUT_SECONDS,
    InstrumentError,
    InstrumentOptions,
    instrument_with_report,
)
from tests.support.shipping import FIXTURE, JSONATA_FIXTURE, MAP_STATE


def pauses(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Every recovery step the instrumented definition holds, wherever it is (branches, items)."""
    found: list[dict[str, Any]] = []

    def walk(states: dict[str, Any]) -> None:
        for state in states.values():
            if str(state.get("Resource", "")).endswith("sqs:sendMessage.waitForTaskToken"):
                found.append(state)
            for branch in state.get("Branches", []):
                walk(branch["States"])
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                walk(processor["States"])

    walk(definition["States"])
    return found


def map_item(**options: Any) -> InstrumentOptions:
    return InstrumentOptions(states=(MAP_STATE,), **options)


def scatter_gather(timeout: Any = 300) -> dict[str, Any]:
    """The shipping workflow (a Parallel and a Map) with a whole-execution timeout, as a team's
    scatter-gather sets it."""
    definition = json.loads(FIXTURE.read_text())
    definition["TimeoutSeconds"] = timeout
    return definition


def test_by_default_each_pause_is_bounded_to_the_executions_timeout_with_a_warning() -> None:
    # Given a definition whose executions time out after 300 s
    definition = scatter_gather(300)

    # When its Map item's task is instrumented with no pause length given
    report = instrument_with_report(definition, InstrumentOptions(states=(MAP_STATE,)))

    # Then the pause waits 300 s, not 7 days, and the warning says which bound and what happens at it
    assert [pause["TimeoutSeconds"] for pause in pauses(report.definition)] == [300]
    assert report.definition["TimeoutSeconds"] == 300  # the execution's own timeout is left as it was
    (warning,) = report.warnings
    assert "bounded to 300 s instead of 604800 s" in warning
    assert "States.Timeout" in warning and "closes the recovery" in warning


def test_a_pause_asked_for_that_the_executions_timeout_would_cut_short_is_refused() -> None:
    for asked in (300, 301, DEFAULT_TIMEOUT_SECONDS):
        with pytest.raises(InstrumentError, match=r"--timeout-seconds \d+ is not shorter than") as refused:
            instrument_with_report(scatter_gather(300), map_item(timeout_seconds=asked))
        assert '"TimeoutSeconds": 300' in str(refused.value) and "fewer than 300" in str(refused.value)


def test_a_shorter_pause_asked_for_is_kept_without_a_warning() -> None:
    report = instrument_with_report(scatter_gather(300), map_item(timeout_seconds=120))

    assert [pause["TimeoutSeconds"] for pause in pauses(report.definition)] == [120]
    assert report.warnings == []


def test_an_execution_timeout_longer_than_the_default_pause_changes_nothing() -> None:
    report = instrument_with_report(
        scatter_gather(DEFAULT_TIMEOUT_SECONDS + 1), InstrumentOptions(states=(MAP_STATE,))
    )

    assert [pause["TimeoutSeconds"] for pause in pauses(report.definition)] == [DEFAULT_TIMEOUT_SECONDS]
    assert report.warnings == []


def test_a_jsonata_definitions_pauses_are_bounded_the_same_way() -> None:
    definition = json.loads(JSONATA_FIXTURE.read_text())
    definition["TimeoutSeconds"] = 90

    report = instrument_with_report(definition, InstrumentOptions(states=(MAP_STATE,)))

    assert [pause["TimeoutSeconds"] for pause in pauses(report.definition)] == [90]
    assert len(report.warnings) == 1


@pytest.mark.parametrize("timeout", ["300", 0, -5, 1.5, True, 100_000_000])
def test_a_malformed_execution_timeout_is_refused_with_what_step_functions_takes(timeout: Any) -> None:
    with pytest.raises(InstrumentError, match="a whole number of seconds from 1 to 99999999"):
        instrument_with_report(scatter_gather(timeout), InstrumentOptions(states=(MAP_STATE,)))


def test_the_command_writes_the_bounded_definition_and_warns_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the definition in a file
    source = tmp_path / "scatter_gather.asl.json"
    source.write_text(json.dumps(scatter_gather(300)))
    written = tmp_path / "instrumented.asl.json"

    # When instrumented without a pause length, then with one the timeout would cut short
    bounded = instrument_command([str(source), "--state", MAP_STATE, "-o", str(written)])
    bounded_err = capsys.readouterr().err
    refused = instrument_command([str(source), "--state", MAP_STATE, "--timeout-seconds", "600"])
    refused_io = capsys.readouterr()

    # Then the first is written, bounded, with a warning; the second writes nothing and exits 2
    assert bounded == 0
    assert [pause["TimeoutSeconds"] for pause in pauses(json.loads(written.read_text()))] == [300]
    assert "warning: the execution times out after 300 s" in bounded_err
    assert refused == 2 and refused_io.out == ""
    assert "--timeout-seconds 600 is not shorter than the execution's own timeout" in refused_io.err
