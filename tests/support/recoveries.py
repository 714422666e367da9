"""Recoveries as the collector stores them, made in a test without a paused execution behind them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore


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


def claim(
    store: RecoveryStore, recovery_id: str, actor: str, at: datetime, action: str = "run again"
) -> Recovery:
    """``recovery_id`` claimed by ``actor`` at ``at`` as the actions claim it (``OPEN → RESUMING``,
    audited), and nothing after: the process that claimed it stopped before storing an outcome."""
    entry = AuditEntry(at.isoformat(timespec="milliseconds"), actor, action, RecoveryStatus.RESUMING)
    assert store.transition(recovery_id, RecoveryStatus.OPEN, RecoveryStatus.RESUMING, entry, at=at)
    return store.get(recovery_id)
