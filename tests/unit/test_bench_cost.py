"""The benchmarks' cost model (benchmarks/_cost.py): what a run counted, in dollars per 1,000
recoveries, each service priced by its own unit."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_cost.py"
_SPEC = importlib.util.spec_from_file_location("bench_cost", _PATH)
cost = sys.modules[_SPEC.name] = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(cost)

Counted, Prices, cost_per_1000, sqs_requests = (
    cost.Counted,
    cost.Prices,
    cost.cost_per_1000,
    cost.sqs_requests,
)


def counted(**changes: object) -> object:
    base = Counted(
        recoveries=1000,
        write_units=2_000_000.0,
        read_units=800_000.0,
        invocations=100,
        invocation_seconds=40.0,
        memory_mb=256,
        architecture="x86_64",
        sqs_requests=5000,
        transitions_per_recovery=8,
    )
    return replace(base, **changes)


@pytest.mark.parametrize(("body_bytes", "requests"), [(0, 1), (1024, 1), (65536, 1), (65537, 2), (262144, 4)])
def test_an_sqs_call_is_billed_one_request_per_64_kb_chunk_of_its_body(
    body_bytes: int, requests: int
) -> None:
    # Given a call carrying body_bytes, When it is billed, Then each started 64 KB counts once
    assert sqs_requests(body_bytes) == requests


def test_each_service_is_priced_by_its_own_unit() -> None:
    # Given prices of one dollar per unit of each service (and nothing else)
    prices = Prices(
        dynamodb_per_million_write_units=1.0,
        dynamodb_per_million_read_units=0.0,
        lambda_per_million_requests=0.0,
        lambda_per_gb_second_x86_64=0.0,
        sqs_per_million_requests=0.0,
        step_functions_per_1000_transitions=1.0,
    )
    # When the run is priced
    by_service = cost_per_1000(counted(), prices)["cost_usd_per_1000_recoveries_by_service"]
    # Then DynamoDB is its write units in millions, Step Functions its transitions in thousands
    assert by_service == {
        "dynamodb": 2.0,
        "lambda": 0.0,
        "sqs": 0.0,
        "step_functions": 8.0,
        "s3": 0.0,
        "eventbridge": 0.0,
    }


def test_a_run_twice_as_large_with_twice_the_counts_costs_the_same_per_1000() -> None:
    # Given one run, and one of twice the recoveries that counted twice as much
    small = counted()
    large = counted(
        recoveries=2000,
        write_units=4_000_000.0,
        read_units=1_600_000.0,
        invocations=200,
        invocation_seconds=80.0,
        sqs_requests=10000,
    )
    # When both are priced, Then they cost the same per 1,000 recoveries
    assert cost_per_1000(large)["cost_usd_per_1000_recoveries"] == pytest.approx(
        cost_per_1000(small)["cost_usd_per_1000_recoveries"]
    )


def test_the_collectors_duration_is_priced_at_its_memory_and_architecture() -> None:
    # Given the same invocations at 256 MB and at 512 MB on x86_64, and at 256 MB on arm64
    def lambda_dollars(**changes: object) -> float:
        return cost_per_1000(counted(invocations=0, invocation_seconds=40_000.0, **changes))[
            "cost_usd_per_1000_recoveries_by_service"
        ]["lambda"]

    # Then twice the memory costs twice as much, and arm64 less than x86_64
    assert lambda_dollars(memory_mb=512) == pytest.approx(2 * lambda_dollars(memory_mb=256), rel=1e-3)
    assert lambda_dollars(architecture="arm64") < lambda_dollars()


def test_other_functions_and_transitions_are_priced_on_top_of_the_collectors() -> None:
    # Given a run with self-healing's rounds (one function at 512 MB) and its state machine's transitions
    FunctionUse = cost.FunctionUse
    rounds = FunctionUse(
        "SelfHealingFunction", invocations=1_000_000, seconds=0.0, memory_mb=512, architecture="x86_64"
    )
    base = counted(invocations=0, invocation_seconds=0.0, transitions_per_recovery=0)
    more = replace(base, other_functions=(rounds,), other_transitions=40_000)

    # When both are priced
    plain = cost_per_1000(base)["cost_usd_per_1000_recoveries_by_service"]
    priced = cost_per_1000(more)["cost_usd_per_1000_recoveries_by_service"]

    # Then the rounds' requests ($0.20 a million) and 40 transitions per recovery ($0.025 per 1,000) are added
    assert priced["lambda"] - plain["lambda"] == pytest.approx(0.20)
    assert priced["step_functions"] - plain["step_functions"] == pytest.approx(1.0)
    assert priced["dynamodb"] == plain["dynamodb"]


def test_audit_events_are_priced_per_billed_event_and_archived_gigabyte() -> None:
    # Given a run that published 2,000 billed events (64 KB chunks) per 1,000 recoveries, 1 GiB of
    # them archived and kept 12 months
    base = counted(invocations=0, invocation_seconds=0.0, transitions_per_recovery=0)
    events = replace(base, eventbridge_events=2000)
    archived = replace(events, eventbridge_archived_bytes=2**30, eventbridge_archive_months=12.0)

    # When they are priced at $1.00 per million events, $0.10 per GB archived and $0.023 per GB-month
    def eventbridge(run: object) -> float:
        return cost_per_1000(run)["cost_usd_per_1000_recoveries_by_service"]["eventbridge"]

    # Then the events cost $0.002, and the archive adds its gigabyte taken in and kept a year
    assert eventbridge(base) == 0.0
    assert eventbridge(events) == pytest.approx(0.002)
    assert eventbridge(archived) - eventbridge(events) == pytest.approx(0.10 + 12 * 0.023)


def test_the_chronicles_invocations_are_priced_as_one_more_function() -> None:
    # Given the chronicle's invocations at 256 MB, and the same on arm64
    FunctionUse = cost.FunctionUse
    base = counted(invocations=0, invocation_seconds=0.0, transitions_per_recovery=0)

    def lambda_dollars(architecture: str) -> float:
        chronicle = FunctionUse("ChronicleFunction", 1_000_000, 204_800.0, 256, architecture)
        priced = cost_per_1000(replace(base, other_functions=(chronicle,)))
        return priced["cost_usd_per_1000_recoveries_by_service"]["lambda"]

    # Then its requests ($0.20 a million) and its 51,200 GB-seconds are priced at its architecture
    assert lambda_dollars("x86_64") == pytest.approx(0.20 + 51_200 * 0.0000166667, rel=1e-4)
    assert lambda_dollars("arm64") == pytest.approx(0.20 + 51_200 * 0.0000133334, rel=1e-4)
