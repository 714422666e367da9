"""`recovery-ops try` end to end, through the command line: a team's payments workflow written to a
temporary directory (with its functions' module beside it), deployed beside the recovery service in
the embedded stack, "Charge card" failing until the desk acts, the answers scripted on stdin and
sent to the Slack app as signed clicks; the terminal shows the Slack messages and the execution's end.
"""

from __future__ import annotations

import io
import itertools
import json
import shlex
import sys
from pathlib import Path

import pytest

from recovery_ops.service.cli import main
from recovery_ops.service.cli.instrument import instrument_command
from recovery_ops.service.local.standin.server import SlackStandIn
from tests.support.payments import (
    editor_command,
    instrumented_payments,
    try_argv,
    with_receipt_function_chosen_when_run,
    write_payments,
)
from tests.support.stacks import BOT_TOKEN


def run_try(
    argv: list[str], answers: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    """`recovery-ops try` with ``answers`` on stdin: its exit code and what the terminal showed."""
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(answers))
    capsys.readouterr()
    status = main(argv)
    return status, capsys.readouterr().out.splitlines()


def output_of(lines: list[str]) -> dict:
    """The execution's output, as the terminal printed it last."""
    start = lines.index("  output:")
    return json.loads("\n".join(line.strip() for line in lines[start + 1 :] if line.startswith("    ")))


def test_edit_input_then_the_failing_state_runs_again_and_the_execution_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the payments workflow instrumented at "Charge card", and an editor that sets the amount to 100
    definition = instrumented_payments(tmp_path)
    monkeypatch.setenv("EDITOR", editor_command(tmp_path))

    # When "Charge card" fails until the desk acts, and the person answers Edit input
    status, lines = run_try(try_argv(definition, "--fail", "Charge card"), "e\n", monkeypatch, capsys)

    # Then the terminal showed the recovery's Slack message, with its buttons, before asking
    posted = lines.index("  recovery-ops posts to #recoveries:")
    asked = next(i for i, line in enumerate(lines) if line.startswith("  Run again [r], Edit input [e]"))
    message = lines[posted:asked]
    assert any("Charge card failed" in line for line in message)
    assert any("Error: `FailedOnPurpose`" in line for line in message)
    assert any('"Charge card" fails on purpose' in line for line in message)
    assert any("[ Run again ]  [ Edit input & run again ]  [ Reject ]" in line for line in message)
    assert any('"amount": 120' in line for line in message)
    assert lines[asked].endswith("? e")
    # the answer went to the Slack app as a click and a modal submission; its outcome came after it
    clicked = lines.index("  <@UTERMINAL> clicks [ Edit input & run again ]: the Slack app opens its modal")
    updated = lines.index("  recovery-ops updates its message in #recoveries:")
    assert asked < clicked < updated
    assert any("Edited and run again by <@UTERMINAL>" in line for line in lines[updated:])
    # and the execution ran "Charge card" again, with the edited input, to its end
    assert status == 0
    assert "execution try-payments-recovering: SUCCEEDED" in lines
    assert output_of(lines) == {
        "order_id": "o-1",
        "amount": 100,
        "valid": True,
        "payment": {"charged": 100, "currency": "EUR"},
        "receipt": {"sent_to": "o-1"},
    }
    path = next(line for line in lines if line.startswith("  path: "))
    assert "Request recovery: Charge card ✓" in path and path.endswith("Send receipt ✓")


def test_reject_with_a_reason_ends_the_execution_and_the_message_shows_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no EDITOR: an edited input is read as one line
    definition = instrumented_payments(tmp_path)
    monkeypatch.delenv("EDITOR", raising=False)

    # When an unknown answer is asked again, an edit that is not JSON is not sent, then Reject with a reason
    argv = try_argv(definition, "--fail", "Charge card=CardDeclined")
    status, lines = run_try(argv, "maybe\ne\n{amount: 1\nj\ncard expired\n", monkeypatch, capsys)

    # Then
    assert "  say r (Run again), e (Edit input), j (Reject) or q (Quit)" in lines
    assert "  new input> {amount: 1" in lines
    assert any(line.startswith("  not sent: Not valid JSON") for line in lines)
    assert any(line.endswith("> card expired") for line in lines)
    clicked = lines.index("  <@UTERMINAL> clicks [ Reject ] and submits the modal with the reason")
    after = lines[clicked:]
    assert any("Error: `CardDeclined`" in line for line in lines[:clicked])
    assert any("Rejected by <@UTERMINAL>" in line for line in after)
    assert any("Reason: card expired" in line for line in after)
    assert status == 1
    assert "execution try-payments-recovering: FAILED" in lines
    assert "  error: RecoveryRejected" in lines


def test_run_again_lets_the_failing_state_answer_and_quit_leaves_a_second_pause_waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given "Charge card" answered by nothing but its input back: its ResultSelector then fails too
    definition = instrumented_payments(tmp_path)
    argv = ["try", str(definition), "--sub", "Currency=EUR", "--fail", "Charge card"]
    argv += ["--input", str(tmp_path / "order.json")]

    # When Run again, then Quit at the next pause
    status, lines = run_try(argv, "r\nq\n", monkeypatch, capsys)

    # Then the first pause was the --fail, the second what the echo lacks; the execution is left waiting
    paused = [line for line in lines if "paused for a person" in line]
    assert paused == [
        '  "Charge card" paused for a person: FailedOnPurpose (technical)',
        '  "Charge card" paused for a person: States.Runtime (technical)',
    ]
    assert any("Run again by <@UTERMINAL>" in line for line in lines)
    assert status == 1
    assert "execution try-payments-recovering: RUNNING" in lines
    assert "  it is still running, and ends with this local run" in lines


def test_a_definition_that_never_reaches_the_recovery_queue_says_so_and_suggests_instrument(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the payments workflow as written, without the recovery treatment
    definition = write_payments(tmp_path)

    # When "Charge card" fails
    status, lines = run_try(try_argv(definition, "--fail", "Charge card"), "", monkeypatch, capsys)

    # Then
    assert status == 1
    assert any(f"no state of {definition} sends to the recovery queue" in line for line in lines)
    assert "execution try-payments: FAILED" in lines
    assert "  error: FailedOnPurpose" in lines
    assert "  it ended without ever reaching the recovery queue: nothing paused for a person." in lines
    recovering = tmp_path / "payments.recovering.asl.json"
    suggested = f"    recovery-ops instrument {definition} --state 'Charge card' -o {recovering}"
    assert suggested in lines
    # and the suggestion, pasted as it is, writes the instrumented definition beside the one given
    assert instrument_command(shlex.split(suggested)[2:]) == 0
    assert "Request recovery: Charge card" in json.loads(recovering.read_text())["States"]
    assert not any("recovery-ops posts to" in line for line in lines)


def test_with_a_bot_token_the_messages_go_to_the_workspace_and_answers_act_through_the_recovery_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], slack: SlackStandIn
) -> None:
    # Given a bot token, and the workspace's Web API at the tests' stand-in
    definition = instrumented_payments(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO("r\n"))
    for name, value in {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": slack.base_url,
        "SLACK_CHANNEL": "C-TRY",
    }.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()

    # When
    status = main(try_argv(definition, "--fail", "Charge card"))

    # Then the message was posted there and updated with the outcome; the terminal did not render it
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert [call.body["channel"] for call in slack.calls_of("chat.postMessage")] == ["C-TRY"]
    assert len(slack.calls_of("chat.update")) == 1
    assert "  Slack: your workspace, channel #C-TRY" in lines
    assert "  recovery-ops: try-payments-recovering: resumed" in lines
    assert not any("recovery-ops posts to" in line for line in lines)
    assert "execution try-payments-recovering: SUCCEEDED" in lines


def test_a_function_chosen_when_the_run_resolves_its_name_is_answered_by_the_function_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given "Send receipt" choosing receipts-<order id> when it runs (FunctionName.$)
    definition = write_payments(tmp_path, with_receipt_function_chosen_when_run())
    argv = [*try_argv(definition), "--function", "receipts-o-1=payments_functions:receipt"]

    # When the person tries it with a function for the name the run will choose
    status, lines = run_try(argv, "", monkeypatch, capsys)

    # Then that function answers the call the run chose, and the execution succeeds
    assert status == 0, "\n".join(lines)
    assert '  Lambda task "Send receipt": chooses its function when it runs (FunctionName.$)' in lines
    answered = "  Lambda function receipts-o-1: answered by payments_functions:receipt"
    assert any(line.startswith(answered) for line in lines)
    assert "execution try-payments: SUCCEEDED" in lines
    start = lines.index("  output:") + 1
    block = list(itertools.takewhile(lambda line: line.startswith("    "), lines[start:]))
    assert json.loads("\n".join(block))["receipt"] == {"sent_to": "o-1"}


DURABLE_MODULE = """
from aws_durable_execution_sdk_python import durable_execution
from aws_durable_execution_sdk_python.config import StepConfig
from aws_durable_execution_sdk_python.exceptions import StepError
from aws_durable_execution_sdk_python.retries import RetryStrategyConfig, create_retry_strategy

from recovery_ops.service.durable import wait_for_recovery

ONCE = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=1)))
TRIED = []


class CardDeclined(Exception):
    pass


def charge(order):
    TRIED.append(order)
    if len(TRIED) == 1:
        raise CardDeclined("the bank declined the card")
    return {**order, "charged": True}


@durable_execution
def handler(event, context):
    order = event
    while True:
        try:
            return context.step(lambda _: charge(order), name="Charge card", config=ONCE)
        except StepError as failed:
            order = wait_for_recovery(context, name="Charge card", error=failed, input=order).input
"""


def test_a_durable_function_pauses_and_run_again_from_the_terminal_finishes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a team's durable function in its own module, and its input
    (tmp_path / "payments_durable.py").write_text(DURABLE_MODULE)
    (tmp_path / "order.json").write_text(json.dumps({"order": "o-1", "amount": 120}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    # When it is tried, and the person answers Run again when its charge fails
    argv = ["try", "--durable", "payments_durable:handler", "--input", "order.json", "--wait-seconds", "60"]
    status, lines = run_try(argv, "r\n", monkeypatch, capsys)

    # Then the pause was posted, answered, and the durable execution succeeded with its output
    text = "\n".join(lines)
    assert status == 0, text
    assert '"Charge card" paused for a person: CardDeclined' in text
    assert "durable execution of payments-durable: SUCCEEDED" in text
    assert output_of(lines) == {"order": "o-1", "amount": 120, "charged": True}


def test_try_durable_refuses_a_handler_it_cannot_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given / When
    monkeypatch.chdir(tmp_path)
    status = main(["try", "--durable", "no_such_module:handler"])

    # Then nothing was deployed and the person is told why
    assert status == 2
    assert "--durable=no_such_module:handler" in capsys.readouterr().err
