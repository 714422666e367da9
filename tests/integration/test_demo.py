"""`recovery-ops demo` runs the whole flow on the embedded stack and reports what happened."""

from __future__ import annotations

from recovery_ops.service.cli import main
from recovery_ops.service.local.programs.demo import run_demo
from recovery_ops.service.local.programs.support_team import (
    EDIT,
    OUTAGE_ERRORS,
    REJECT,
    RUN_AGAIN,
    TeamAction,
)

ACTING = " -> the desk "  # a decision line: "  recovery rec-…: <execution> <state> <error> (<routing>) -> …"
OUTCOMES = ("Run again by", "Edited and run again by", "Rejected by")  # the outcome's line of a message


def shows_outcome(lines: list[str], execution: str) -> bool:
    """Whether ``lines`` show the outcome of ``execution``'s recovery: its message updated with who
    acted, or (a recovery of a group message) a reply in that message's thread."""
    for index, line in enumerate(lines):
        if f"`{execution}`:" in line and " by " in line:
            return True
        if line.endswith(f"Execution: {execution}"):
            block = lines[index : index + 20]
            if any(outcome in later for later in block for outcome in OUTCOMES):
                return True
    return False


def assert_each_outcome_follows_its_action(lines: list[str]) -> None:
    """Each action's outcome is shown after it, before the desk's next action."""
    acting = [i for i, line in enumerate(lines) if ACTING in line and "waits until" not in line]
    assert acting
    for here, following in zip(acting, [*acting[1:], len(lines)], strict=True):
        execution = lines[here].split("…: ", 1)[1].split(" ", 1)[0]
        assert shows_outcome(lines[here + 1 : following], execution), lines[here]


def assert_decided_as_a_support_person_would(actions: tuple[TeamAction, ...], lines: list[str]) -> None:
    """Outages are run again, never rejected; only bad data is edited or rejected, with its own reason."""
    technical = [a for a in actions if a.error in OUTAGE_ERRORS or a.routing == "technical"]
    assert technical
    assert {(a.action, a.reason) for a in technical} == {(RUN_AGAIN, None)}
    data = [a for a in actions if a not in technical]
    assert {a.error for a in data} == {"VendorRejectedRequest"}
    assert {a.reason for a in data if a.action == REJECT} == {"unknown product"}
    assert not any("(technical)" in line and "-> the desk rejects" in line for line in lines)


def test_the_demo_reports_every_order_and_execution() -> None:
    lines: list[str] = []

    # Given a healthy vendor and seven orders, the fourth for more than the vendor has, the seventh
    # for a product the vendor does not know, then four orders during an outage
    result = run_demo(order_count=7, failure_rate=0.0, out=lines.append)

    # Then the unknown product is rejected by the operator, its order fails and goes to the DLQ (the
    # order for more than the vendor has is edited to what it has, and finishes); the
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
    # the desk decided each recovery from what it said, and each outcome shows after its action
    assert_decided_as_a_support_person_would(result.actions, lines)
    assert [a.action for a in result.actions].count(EDIT) == 1  # the order for more than the vendor has
    assert any("-> the desk edits the quantity to the 1000 available" in line for line in lines)
    assert any("Edited and run again by <@UDEMODESK>" in line for line in lines)
    assert_each_outcome_follows_its_action(lines)


def test_a_flaky_vendors_outages_are_run_again_and_only_bad_data_is_rejected() -> None:
    lines: list[str] = []

    # Given a vendor failing most calls: valid orders exhaust their retries (VendorUnavailable)
    result = run_demo(order_count=7, failure_rate=0.8, seed=3, out=lines.append)

    # Then every valid order ends as with a healthy vendor: no outage was rejected as bad data
    assert result.orders_by_status == {"FINISHED": 10, "FAILED": 1, "PARTIALLY_FINISHED": 1}
    assert_decided_as_a_support_person_would(result.actions, lines)
    assert_each_outcome_follows_its_action(lines)


def test_the_cli_runs_the_demo(capsys) -> None:
    assert main(["demo", "--orders", "2", "--failure-rate", "0"]) == 0

    assert "executions by status: {'SUCCEEDED': 7}" in capsys.readouterr().out
