"""Recoveries as the collector stores them, made in a test without a paused execution behind them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from recovery_ops.service.recovery.model.contract import RecoveryRequest, parse_contract
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


#: a durable function's unqualified ARN, as the desk keeps it
DURABLE_FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:order-item-check"


def durable_execution_arn(n: int = 0) -> str:
    return (
        f"{DURABLE_FUNCTION}:$LATEST/durable-execution/order-{n}/0f9c4b7e-5b1d-4c4e-9d7a-2f7e3c1b8a9{n % 10}"
    )


def opened_durable_recovery(
    store: RecoveryStore, n: int = 0, step_input: dict[str, Any] | None = None, **fields: Any
) -> Recovery:
    """Open recovery number ``n`` of the ``order-item-check`` durable function (its step ``check
    stock`` waiting on callback ``Y2FsbGJhY2st<n>``), stored in ``store``."""
    message = {
        "contract_version": 1,
        "kind": "durable-callback",
        "callback_id": f"Y2FsbGJhY2st{n}",
        "durable_execution_arn": durable_execution_arn(n),
        "function_arn": f"{DURABLE_FUNCTION}:3",
        "step": "check stock",
        "input": {"n": n} if step_input is None else step_input,
        "error": "VendorUnavailable",
        **fields,
    }
    recovery = Recovery.from_request(parse_contract(json.dumps(message)), datetime.now(UTC))
    store.create_if_absent(recovery)
    return recovery
