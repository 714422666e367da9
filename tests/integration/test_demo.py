"""`recovery-ops demo` runs the whole flow on the embedded stack and reports what happened."""

from __future__ import annotations

from service.cli import main
from service.local.demo import run_demo


def test_the_demo_reports_every_order_and_execution() -> None:
    lines: list[str] = []

    # Given a healthy vendor and seven orders, the seventh for a product the vendor does not know
    result = run_demo(order_count=7, failure_rate=0.0, out=lines.append)

    # Then six orders finish, the unknown product's fails, and the bad request started nothing
    assert result.orders_by_status == {"FINISHED": 6, "CREATED": 1}
    assert result.executions_by_status == {"SUCCEEDED": 6, "FAILED": 1}
    assert result.rejected_requests == 1
    assert any("VendorRejectedRequest" in line for line in lines)
    assert lines[-5] == "summary"


def test_the_cli_runs_the_demo(capsys) -> None:
    assert main(["demo", "--orders", "2", "--failure-rate", "0"]) == 0

    assert "executions by status: {'SUCCEEDED': 2}" in capsys.readouterr().out
