"""Recoveries as the collector stores them, made in a test without a paused execution behind them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from service.recovery.contract import RecoveryRequest
from service.recovery.recovery import Recovery
from service.recovery.store import RecoveryStore


def opened_recovery(store: RecoveryStore, n: int = 0, step_input: dict[str, Any] | None = None) -> Recovery:
    """Open recovery number ``n`` of the ``orders`` state machine, stored in ``store``."""
    request = RecoveryRequest(
        task_token=f"token-{n}",
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:orders:run-{n}",
        execution_name=f"run-{n}",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:orders",
        failed_state="Check availability",
        input={"n": n} if step_input is None else step_input,
        error="VendorUnavailable",
    )
    recovery = Recovery.from_request(request, datetime.now(UTC))
    store.create_if_absent(recovery)
    return recovery
