"""What must hold after every schedule, once the final reconcile has run: each violation is a line
that says which invariant and which recovery.

(a) every paused step has exactly one recovery, OPEN (listed, so a person finds it and acts) or
    closed (none only if its contract message went to the recovery DLQ before it was stored); none
    is RESUMING past its lease and one more reconcile;
(b) no token's success or failure landed twice;
(c) RESUMED only if a success landed for it, REJECTED only if a ``RecoveryRejected`` failure
    landed; a landed call's recovery is closed with the matching status; an OPEN recovery's step
    still waits for its token;
(d) every claim is in the audit with its settlement (or its reopening), and every status change
    that landed in the table has its audit entry;
(e) each recovery's own message shows its stored status (a recovery that shares a group message
    is shown by the group's message instead, by design);
and no fault came out of the product as anything but an AWS error, ``NotifierUnavailableError`` or a crash.
"""

from __future__ import annotations

from collections import Counter

from recovery_ops.service.recovery.lifecycle.actions import REJECTED_ERROR
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.execution_record import TaskFate
from recovery_ops.service.recovery.storage.items import RECOVERY_PREFIX, recovery_from_item
from tests.faults.paths import Context
from tests.faults.world import TABLE, World

#: audit results that settle a claim: closed, reopened by the reconciler, or refused (open again)
SETTLEMENTS = frozenset({*(s.value for s in RecoveryStatus if s.is_closed), "OPEN", "FAILED"})
CHANGES = SETTLEMENTS | {RecoveryStatus.RESUMING.value}


def violations(world: World, context: Context) -> list[str]:
    stored = [
        recovery_from_item(item)
        for item_id, item in sorted(world.table.items(TABLE).items())
        if item_id.startswith(RECOVERY_PREFIX)
    ]
    found: list[str] = [f"unexpected exception: {text}" for text in world.unexpected]
    found += _one_recovery_per_step(stored, context)
    listed_open = {r.recovery_id for r in world.plain.list_by_status(RecoveryStatus.OPEN, limit=1000)}
    claims = Counter(
        rid for rid, before, after in world.table.transitions if after == RecoveryStatus.RESUMING
    )
    all_changes = Counter(rid for rid, _, _ in world.table.transitions)
    for recovery in stored:
        rid = recovery.recovery_id
        found += [f"{rid}: {problem}" for problem in _settled(recovery, listed_open)]
        found += [f"{rid}: {problem}" for problem in _token_calls(world, recovery)]
        found += [f"{rid}: {problem}" for problem in _audited(recovery, claims[rid], all_changes[rid])]
        found += [f"{rid}: {problem}" for problem in _shown(world, recovery)]
    return found


def _one_recovery_per_step(stored: list[Recovery], context: Context) -> list[str]:
    per_token = Counter(r.task_token for r in stored)
    dead_lettered = set(context.dead_lettered)
    problems = []
    for recovery in context.recoveries:
        found = per_token[recovery.task_token]
        if found != 1 and not (found == 0 and recovery.recovery_id in dead_lettered):
            problems.append(f"(a) the step paused with {recovery.task_token} has {found} recoveries, not one")
    return problems


def _settled(recovery: Recovery, listed_open: set[str]) -> list[str]:
    if recovery.status is RecoveryStatus.RESUMING:
        return [f"(a) still RESUMING (claimed by {_claimer(recovery)}) after its lease and a reconcile"]
    if recovery.status is RecoveryStatus.OPEN and recovery.recovery_id not in listed_open:
        return ["(a) OPEN but not in the open listing: nobody finds it"]
    return []


def _token_calls(world: World, recovery: Recovery) -> list[str]:
    landed = world.sfn.landed_for(recovery.task_token)
    problems = []
    if len(landed) > 1:
        problems.append(f"(b) {len(landed)} calls landed for its token: {[c.kind for c in landed]}")
    successes = [c for c in landed if c.kind == "success"]
    rejections = [c for c in landed if c.kind == "failure" and c.error == REJECTED_ERROR]
    status = recovery.status
    if status is RecoveryStatus.RESUMED and not successes:
        problems.append("(c) RESUMED but no success landed for it")
    if status is RecoveryStatus.REJECTED and not rejections:
        problems.append("(c) REJECTED but no RecoveryRejected failure landed for it")
    if successes and status is not RecoveryStatus.RESUMED:
        problems.append(f"(c) a success landed for it but it is {status}")
    if rejections and status is not RecoveryStatus.REJECTED:
        problems.append(f"(c) a RecoveryRejected failure landed for it but it is {status}")
    step = world.sfn.step(recovery.task_token)
    if status is RecoveryStatus.OPEN and step.fate is not TaskFate.WAITING:
        problems.append(f"(c) OPEN but its step no longer waits ({step.fate})")
    return problems


def _audited(recovery: Recovery, claims_landed: int, changes_landed: int) -> list[str]:
    problems = []
    audit = recovery.audit
    claim_at = [i for i, entry in enumerate(audit) if entry.result == RecoveryStatus.RESUMING]
    for n, start in enumerate(claim_at):
        end = claim_at[n + 1] if n + 1 < len(claim_at) else len(audit)
        if not any(entry.result in SETTLEMENTS for entry in audit[start + 1 : end]):
            claim = audit[start]
            problems.append(f"(d) the {claim.action} claimed by {claim.actor} has no settlement in the audit")
    if len(claim_at) != claims_landed:
        problems.append(f"(d) {claims_landed} claims landed, {len(claim_at)} in the audit")
    audited_changes = sum(entry.result in CHANGES for entry in audit[1:])
    if audited_changes != changes_landed:
        problems.append(f"(d) {changes_landed} status changes landed, {audited_changes} in the audit")
    last = next((e for e in reversed(audit) if e.result in CHANGES), None)
    if recovery.status.is_closed and (last is None or last.result != recovery.status):
        problems.append(f"(d) {recovery.status} but the audit's last change says {last and last.result}")
    return problems


def _shown(world: World, recovery: Recovery) -> list[str]:
    if not (recovery.slack_channel and recovery.slack_ts) or world.plain_groups.shares_message(recovery):
        return []
    shown = world.chat.shown.get(recovery.recovery_id)
    if shown != recovery.status:
        return [f"(e) its message shows {shown} but it is {recovery.status}"]
    return []


def _claimer(recovery: Recovery) -> str:
    claim = recovery.claim
    return claim.actor if claim else "unknown"
