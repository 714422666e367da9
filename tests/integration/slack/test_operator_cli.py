"""`recovery-ops list | show | retry | reject`: the same actions without Slack, on the same core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recovery_ops.service.cli import main
from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.recovery.lifecycle.ownership import Owners
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from tests.support.desk import ORDER, execution_status, order_execution_of, pause, store
from tests.support.waiting import wait_until


def test_operators_list_show_retry_and_reject_from_the_command_line(
    stack: EmbeddedStack,
    order_api: LocalOrderApi,
    vendor: DummyVendor,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGNAME", "alice")
    monkeypatch.setenv("USER", "alice")
    first, second, third = pause(
        stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{i}"} for i in range(3)]
    )
    table = ["--table", stack.physical("RecoveriesTable")]

    assert main(["list", "--error", "VendorUnavailable", *table]) == 0
    listed = capsys.readouterr().out
    assert "3 open recoveries" in listed and all(r.recovery_id in listed for r in (first, second, third))
    assert listed.count("owner: nobody") == 3

    # who owns what, as Slack's Take it stores it
    Owners(store(stack), stack.client("dynamodb")).take(third.recovery_id, "U0ALICE")
    assert main(["list", "--owner", "U0ALICE", *table]) == 0
    owned = capsys.readouterr().out
    assert "1 open recoveries" in owned and f"{third.recovery_id}" in owned and "owner: U0ALICE" in owned
    assert main(["list", "--owner", "none", *table]) == 0
    unowned = capsys.readouterr().out
    assert "2 open recoveries" in unowned and third.recovery_id not in unowned
    assert main(["list", "--owner", "me", *table]) == 2
    assert "--owner me means nobody on the command line" in capsys.readouterr().err

    assert main(["retry", first.recovery_id, *table]) == 0
    assert main(["retry", first.recovery_id, *table]) == 1  # the second time: already closed, nothing sent
    assert "already closed (resumed) by cli:alice; nothing was sent" in capsys.readouterr().out
    assert main(["reject", second.recovery_id, "--reason", "duplicate order", *table]) == 0

    wait_until(lambda: execution_status(stack, first.execution_arn) == "SUCCEEDED")
    wait_until(lambda: execution_status(stack, order_execution_of(stack, second)) == "FAILED")
    capsys.readouterr()
    assert main(["show", second.recovery_id, *table]) == 0
    shown = capsys.readouterr().out
    assert "REJECTED" in shown and "cli:alice  reject -> REJECTED" in shown and "duplicate order" in shown

    assert main(["retry", "--error", "VendorUnavailable", "--yes", *table]) == 0
    assert "1/1: 1 resumed" in capsys.readouterr().out
    wait_until(lambda: execution_status(stack, third.execution_arn) == "SUCCEEDED")


def test_an_edited_input_file_that_is_not_json_is_refused_and_nothing_is_sent(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, tmp_path: Path, capsys
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    broken = tmp_path / "edited.json"
    broken.write_text('{"product_id": ')
    table = ["--table", stack.physical("RecoveriesTable")]

    assert main(["retry", recovery.recovery_id, "--input", str(broken), *table]) == 2
    assert "Not valid JSON" in capsys.readouterr().err
    assert store(stack).get(recovery.recovery_id).status is RecoveryStatus.OPEN

    fixed = tmp_path / "fixed.json"
    fixed.write_text(json.dumps({**recovery.input, "quantity": 1}))
    assert main(["retry", recovery.recovery_id, "--input", str(fixed), *table]) == 0
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")
    assert '+  "quantity": 1' in store(stack).get(recovery.recovery_id).audit[-2].detail["diff"]
