"""The benchmarks' account of their work (benchmarks/_support.py), on synthetic units: a unit that
did not end as expected is named and fails the benchmark, and so does work that does not add up."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_support.py"
_SPEC = importlib.util.spec_from_file_location("bench_support", _PATH)
support = sys.modules[_SPEC.name] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(support)

Unit, Work, WorkLedger = support.Unit, support.Work, support.WorkLedger


def orders(succeeded: int) -> list:
    return [Unit(f"ord-{n:04d}", "SUCCEEDED") for n in range(succeeded)]


def test_work_that_ended_as_expected_passes_and_prints_its_counts(capsys):
    ledger = WorkLedger("bench")
    ledger.add(Work.of("orders", 1000, orders(1000), "SUCCEEDED"))

    ledger.finish({"orders": 1000})

    out = capsys.readouterr().out.splitlines()
    assert "orders: 1000 started; SUCCEEDED 1000; 1000 in all" in out[1]
    assert "as expected" in out[1] and "NOT" not in out[1]
    assert json.loads(out[-1]) == {"orders": 1000, "end_states": {"orders": {"SUCCEEDED": 1000}}}


def test_one_order_of_a_thousand_still_running_is_named_and_fails_the_benchmark(capsys):
    stuck = Unit("ord-0999", "RUNNING", "last event 12:00:01.000 TaskSubmitted 'Request recovery'")
    ledger = WorkLedger("at_rest")
    ledger.add(Work.of("orders (1000)", 1000, [*orders(999), stuck], "SUCCEEDED"))

    with pytest.raises(SystemExit) as exited:
        ledger.finish({"succeeded": 999})

    assert exited.value.code == 1
    out = capsys.readouterr().out.splitlines()
    assert "SUCCEEDED 999, RUNNING 1; 1000 in all; expected SUCCEEDED: 999 did; NOT AS EXPECTED" in out[1]
    assert out[2] == (
        "    ord-0999: RUNNING (expected SUCCEEDED); last event 12:00:01.000 TaskSubmitted 'Request recovery'"
    )
    assert "FAILED" in out[3]
    figures = json.loads(out[-1])  # the figures are printed before the benchmark fails
    assert figures["end_states"] == {"orders (1000)": {"SUCCEEDED": 999, "RUNNING": 1}}


def test_a_unit_started_and_not_accounted_for_does_not_add_up():
    work = Work.of("orders", 1000, orders(999), "SUCCEEDED")

    assert not work.ended_otherwise
    assert not work.adds_up and not work.as_expected
    assert any(
        "DOES NOT ADD UP: 1000 started, 999 accounted for (+1 unaccounted)" in line for line in work.lines()
    )


def test_a_unit_counted_twice_does_not_add_up():
    work = Work.of("recoveries", 3, [Unit("r-1", "OPEN"), Unit("r-1", "OPEN"), Unit("r-2", "OPEN")], "OPEN")

    assert not work.as_expected
    assert any("counted more than once: r-1" in line for line in work.lines())


def test_a_unit_expected_to_end_otherwise_says_so_and_passes():
    units = [Unit("ord-happy", "SUCCEEDED"), Unit("ord-rejected", "FAILED (OrderFailed)")]
    work = Work.of("orders", 2, units, "SUCCEEDED", per_unit={"ord-rejected": "FAILED (OrderFailed)"})

    assert work.as_expected
    assert "ord-rejected: FAILED (OrderFailed)" in work.lines()[0]
    rejected_by_mistake = Work.of(
        "orders", 2, [Unit("ord-happy", "FAILED (OrderFailed)"), units[1]], "SUCCEEDED"
    )
    assert [u.id for u in rejected_by_mistake.ended_otherwise] == ["ord-happy", "ord-rejected"]


def test_end_state_of_an_execution_carries_the_order_outcome_and_the_error():
    assert support.end_state({"status": "SUCCEEDED", "output": '{"status": "FINISHED"}'}) == "SUCCEEDED"
    assert support.end_state({"status": "SUCCEEDED", "output": '{"status": "RESERVED"}'}) == "SUCCEEDED"
    partly = {"status": "SUCCEEDED", "output": '{"status": "PARTIALLY_FINISHED"}'}
    assert support.end_state(partly) == "SUCCEEDED (PARTIALLY_FINISHED)"
    assert support.end_state({"status": "FAILED", "error": "OrderFailed"}) == "FAILED (OrderFailed)"
    assert support.end_state({"status": "RUNNING"}) == "RUNNING"


def test_event_line_names_the_state_the_error_and_the_cause():
    event = {
        "timestamp": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "type": "TaskFailed",
        "id": 12,
        "taskFailedEventDetails": {
            "resourceType": "lambda",
            "resource": "invoke",
            "error": "Boom",
            "cause": "x" * 500,
        },
    }
    line = support.event_line(event)
    assert line.startswith("03:04:05.678 TaskFailed lambda:invoke Boom xxx")
    assert len(line) < 220


def test_last_event_names_the_state_it_happened_in():
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    events = [
        {"timestamp": at, "type": "ExecutionStarted", "executionStartedEventDetails": {}},
        {
            "timestamp": at,
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": "Request recovery"},
        },
        {
            "timestamp": at,
            "type": "TaskSubmitted",
            "taskSubmittedEventDetails": {"resourceType": "sqs", "resource": "sendMessage.waitForTaskToken"},
        },
    ]
    assert support.last_event(events) == (
        "last event 03:04:05.000 TaskSubmitted sqs:sendMessage.waitForTaskToken (in 'Request recovery')"
    )
    assert support.last_event(events[:2]) == "last event 03:04:05.000 TaskStateEntered 'Request recovery'"
    assert support.last_event([]) == "no history"


def test_a_recovery_that_did_not_end_as_expected_shows_its_last_audit_entry():
    recovery = Recovery(
        recovery_id="rec-1",
        task_token="t",
        execution_arn="arn:aws:states:us-east-1:1:execution:m:ord-1",
        execution_name="ord-1",
        state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:m",
        failed_state="Check availability",
        input={},
        error="VendorUnavailable",
        cause=None,
        routing=None,
        requested_at="2026-01-01T00:00:00+00:00",
        created_at="2026-01-01T00:00:00+00:00",
        status=RecoveryStatus.RESUMING,
        audit=[
            AuditEntry("2026-01-01T00:00:00+00:00", "recovery-queue", "opened", "OPEN"),
            AuditEntry("2026-01-01T00:01:00+00:00", "UALLOWED", "run again", "RESUMING", {"bulk": "b-1"}),
        ],
    )
    expected = frozenset({"RESUMED"})

    unit = support.recovery_unit(recovery, expected)

    assert unit.id == "rec-1 (ord-1)" and unit.state == "RESUMING"
    assert (
        unit.last
        == 'last audit entry 2026-01-01T00:01:00+00:00 UALLOWED run again -> RESUMING {"bulk": "b-1"}'
    )
    assert support.recovery_unit(recovery, frozenset({"RESUMING"})).last == ""
