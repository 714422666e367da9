"""Plain values the views are rendered from in these tests: a recovery, a group, a failure, a
self-healing run, built in memory (no table, no stack), and what a person sees of a rendered view."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from recovery_ops.service.recovery.healing.runs import HealingRun, HealingState
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import CircuitClosedNotice, HealingNotice, RecoveryGroup
from recovery_ops.service.recovery.storage.groups import GroupState

MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:orders"
TOKEN = "AAAAtask-token-never-shown-0123456789abcdef"
MENTIONS = "<!channel> <@U123>"
ESCAPED_MENTIONS = "&lt;!channel&gt; &lt;@U123&gt;"
HEALING_ID = "heal-" + "0123456789abcdef" * 2


def a_recovery(number: int = 1, **changes: Any) -> Recovery:
    recovery = Recovery(
        recovery_id=f"rec-{number:032d}",
        task_token=TOKEN,
        execution_arn=f"arn:aws:states:eu-west-1:123456789012:execution:orders:order-{number}",
        execution_name=f"order-{number}",
        state_machine_arn=MACHINE_ARN,
        failed_state="Check availability",
        input={"order_id": f"order-{number}", "task_token": TOKEN},
        error="VendorUnavailable",
        cause=json.dumps({"errorMessage": "vendor down"}),
        routing=Routing.TECHNICAL,
        requested_at="2026-12-01T10:00:00+00:00",
        created_at="2026-12-01T10:00:00.000+00:00",
        audit=[AuditEntry("2026-12-01T10:00:00.000+00:00", "recovery-queue", "opened", "OPEN")],
    )
    return replace(recovery, **changes)


def a_closed_recovery(status: RecoveryStatus, actor: str, detail: dict | None = None) -> Recovery:
    recovery = a_recovery()
    closing = AuditEntry("2026-12-01T10:05:00.000+00:00", actor, "reject", str(status), detail or {})
    return replace(recovery, status=status, audit=[*recovery.audit, closing])


def a_group(count: int = 3, **changes: Any) -> RecoveryGroup:
    latest = [a_recovery(n) for n in range(1, min(count, 5) + 1)]
    group = RecoveryGroup("grp-1", MACHINE_ARN, "Check availability", "VendorUnavailable", count, latest)
    return replace(group, **changes)


def a_group_state(**changes: Any) -> GroupState:
    state = GroupState(
        "grp-1",
        3,
        [],
        "C-RECOVERIES",
        "1700000000.000100",
        state_machine_arn=MACHINE_ARN,
        failed_state="Check availability",
        error="VendorUnavailable",
    )
    return replace(state, **changes)


def a_healing_notice(state: HealingState = HealingState.RESUMING, **changes: Any) -> HealingNotice:
    notice = HealingNotice(HEALING_ID, str(state), selected=5, resumed=0, expired=0, per_second=2.0)
    return replace(notice, **changes)


def a_healing_circuit_notice(healing: HealingNotice, dependency: str = "vendor") -> CircuitClosedNotice:
    return CircuitClosedNotice(dependency, "2026-12-01T11:00:00+00:00", waiting=healing.left, healing=healing)


def a_healing_run(state: HealingState = HealingState.RESUMING, **changes: Any) -> HealingRun:
    run = HealingRun(
        healing_id=HEALING_ID,
        closure_id="vendor@1796122800.000",
        dependency="vendor",
        group_id="grp-1",
        state=state,
        selected=5,
        channel="C-RECOVERIES",
        ts="1700000000.000100",
    )
    return replace(run, **changes)


def sent(view: list[Block] | View) -> Any:
    """What slack_sdk sends to Slack for these blocks or this modal."""
    if isinstance(view, View):
        return view.to_dict()
    return [block.to_dict() for block in view]


def buttons(blocks: list[Block]) -> list[tuple[str, str]]:
    """(action id, value) of every button, in the order a person sees them."""
    found = []
    for block in sent(blocks):
        elements = block.get("elements", []) if block["type"] == "actions" else [block.get("accessory")]
        found += [(e["action_id"], e["value"]) for e in elements if e and e.get("type") == "button"]
    return found


def texts(payload: Any, with_rich_text: bool = True) -> str:
    """Every text a person reads in a payload (each ``text`` field), one per line; without the text
    elements of rich_text blocks, which Slack shows as written, when ``with_rich_text`` is False."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, list):
        return "\n".join(texts(item, with_rich_text) for item in payload)
    if isinstance(payload, dict):
        if not with_rich_text and payload.get("type") == "rich_text":
            return ""
        found = [payload["text"]] if isinstance(payload.get("text"), str) else []
        found += [
            texts(value, with_rich_text) for key, value in payload.items() if isinstance(value, dict | list)
        ]
        return "\n".join(t for t in found if t)
    return ""


def rich_texts(payload: Any) -> list[str]:
    """The text elements of a payload's rich_text blocks: shown as written, a mention there is none."""
    if isinstance(payload, list):
        return [text for item in payload for text in rich_texts(item)]
    if isinstance(payload, dict):
        if payload.get("type") == "text" and isinstance(payload.get("text"), str):
            return [payload["text"]]
        return [
            text for value in payload.values() if isinstance(value, dict | list) for text in rich_texts(value)
        ]
    return []
