"""`recovery-ops demo` runs the whole flow on the embedded stack and reports what happened."""

from __future__ import annotations

from service.cli import main
from service.local.demo import run_demo


def test_the_demo_reports_every_order_and_execution() -> None:
    lines: list[str] = []

    # Given a healthy vendor and seven orders, the seventh for a product the vendor does not know,
    # then four orders during an outage
    result = run_demo(order_count=7, failure_rate=0.0, out=lines.append)

    # Then the unknown product is rejected by the operator, its order fails and goes to the DLQ; the
    # outage's orders wait for the circuit or pause for a person (posted to Slack), and all finish;
    # the multi-item order ends partially finished: one item run again, one rejected (in the DLQ)
    assert result.orders_by_status == {"FINISHED": 10, "FAILED": 1, "PARTIALLY_FINISHED": 1}
    assert result.executions_by_status == {"SUCCEEDED": 11, "FAILED": 1}
    assert result.recoveries >= 4  # more when a slow machine stretches the outage
    assert result.dead_letters == 2
    assert "  item 2 sku-vase: RESERVED" in lines
    assert "  item 3 sku-unknown!: REJECTED (RecoveryRejected)" in lines
    assert any(line.endswith("…: PARTIALLY_FINISHED") for line in lines)
    assert result.rejected_requests == 1
    assert any("VendorRejectedRequest (client-data) -> the desk rejects it" in line for line in lines)
    # the collector's Slack messages, rendered in the terminal (no Slack token configured)
    assert any("recovery-ops posts to #recoveries" in line for line in lines)
    assert any("[ Run again ]  [ Edit input & run again ]  [ Reject ]" in line for line in lines)
    # the desk acts through the recovery core (the CLI's) and a signed click to the Slack app;
    # each message is updated in place with the outcome, and nothing is left open
    assert any("recovery-ops: reject rec-" in line for line in lines)
    assert any("Rejected by cli:demo-desk" in line for line in lines)
    assert any("clicks [ Run again ]" in line for line in lines)
    assert any("Run again" in line and "by <@UDEMODESK>" in line for line in lines)
    assert any("recovery-ops: 0 open recoveries" in line for line in lines)
    assert any("VendorUnavailable" in line for line in lines)
    assert any("Wait for circuit" in line for line in lines)
    assert lines[-7] == "summary"


def test_the_cli_runs_the_demo(capsys) -> None:
    assert main(["demo", "--orders", "2", "--failure-rate", "0"]) == 0

    assert "executions by status: {'SUCCEEDED': 7}" in capsys.readouterr().out
