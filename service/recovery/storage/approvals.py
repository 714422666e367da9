"""Approval requests in the recoveries table: one item each, ``approval#<request id>``.

Every change of a request is one conditional write, so two people clicking at once count once
each and exactly one of them completes it: an approval is counted only if the request is still
PENDING, the approver's id is not yet in it and the number of approvals is what the approver read
(``ApprovalConflictError`` otherwise: read it again and retry). A request on one recovery also
marks the recovery (its ``approval`` map, what its message shows) in the same transaction, and
every step lands in the recovery's audit in that transaction too; a request's own ``audit`` trail
holds every step whatever its subjects.

While PENDING a request sits in the ``a#pending`` lane of the ``by-lane`` index (what waits for a
person's approval is listed from there, a page at a time) and in the ``by-due`` index until it
expires; APPROVED, it is due when its lease ends (the reconciler then runs what was approved).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from recovery_ops.service.conditional_writes import if_condition_holds
from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.model.approval import (
    Approval,
    ApprovalRequest,
    ApprovalState,
    Gated,
    PendingApproval,
)
from recovery_ops.service.recovery.model.recovery import AuditEntry, RecoveryStatus
from recovery_ops.service.recovery.storage.batches import read_items
from recovery_ops.service.recovery.storage.items import (
    APPROVAL,
    AUDIT,
    DUE,
    DUE_AT,
    EXPIRES_AT,
    KEY,
    LANE,
    LANE_INDEX,
    LANE_SORT,
    STATUS,
    audit_entries,
    audit_trail,
    expiry,
    instant,
    item_id,
    key,
    pending_approval_value,
    string,
)
from recovery_ops.service.recovery.storage.transactions import TransactionConditionFailedError, write_all

APPROVAL_PREFIX = "approval#"
PENDING_LANE = "a#pending"
DUE_APPROVAL = "approval"  # DueKind of a request: expires (PENDING) or its run's lease ends (APPROVED)
PENDING_READ = 200  # the most pending requests one listing reads

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class ApprovalConflictError(RecoveryOpsError):
    """The request changed since it was read (another approval, a decision): read it and retry."""


class ApprovalNotFoundError(RecoveryOpsError, LookupError):
    pass


def approval_key(request_id: str) -> str:
    return f"{APPROVAL_PREFIX}{request_id}"


class ApprovalStore:
    def __init__(self, table_name: str, client: Any, retention_days: int = 90) -> None:
        self._table = table_name
        self._client = client
        self._retention = timedelta(days=retention_days)

    # ------------------------------------------------------------------ writes
    def create(self, request: ApprovalRequest, entry: AuditEntry, mark: str | None) -> bool:
        """Store a new PENDING request; with ``mark`` (a recovery id), mark that recovery in the same
        transaction, only if it is OPEN with no request waiting on it. False when it is not. The
        request's step ``entry`` lands in its own trail and in the marked recovery's audit."""
        item = request_item(request)
        item[AUDIT] = audit_entries(entry)
        item[LANE] = string(PENDING_LANE)
        item[LANE_SORT] = string(f"{request.requested_at}#{request.request_id}")
        item[DUE] = string(DUE_APPROVAL)
        item[DUE_AT] = string(request.expires_at)
        item[EXPIRES_AT] = expiry(datetime.now(UTC), self._retention)
        writes: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(recovery_id)",
                }
            }
        ]
        if mark is not None:
            writes.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": key(mark),
                        "UpdateExpression": f"SET {APPROVAL} = :pending, audit = list_append(audit, :entry)",
                        "ConditionExpression": f"#status = :open AND attribute_not_exists({APPROVAL})",
                        "ExpressionAttributeNames": {"#status": STATUS},
                        "ExpressionAttributeValues": {
                            ":pending": _map(pending_approval_value(PendingApproval.of(request))),
                            ":entry": audit_entries(entry),
                            ":open": string(RecoveryStatus.OPEN),
                        },
                    }
                }
            )
        try:
            write_all(self._client, writes)
        except TransactionConditionFailedError:
            return False
        return True

    def add_approval(
        self,
        request: ApprovalRequest,
        approval: Approval,
        entry: AuditEntry,
        run_by: str | None = None,
        run_until: datetime | None = None,
    ) -> ApprovalRequest:
        """Count ``approval`` on ``request`` as read. With ``run_by`` it is the last one needed: the
        request becomes APPROVED, its run leased to ``run_by`` until ``run_until``. Raises
        ``ApprovalConflictError`` when the request changed since it was read."""
        approvals = [*request.approvals, approval]
        values: dict[str, Any] = {
            ":pending": string(ApprovalState.PENDING),
            ":approval": {"L": [_map(asdict(approval))]},
            ":user": {"SS": [approval.user]},
            ":user_s": string(approval.user),
            ":count": {"N": str(len(request.approvals))},
            ":entry": audit_entries(entry),
        }
        update = "SET approvals = list_append(approvals, :approval), audit = list_append(audit, :entry)"
        remove = ""
        if run_by is not None and run_until is not None:
            update += ", #state = :approved, lease_owner = :owner, lease_until = :until, due_at = :until"
            remove = f" REMOVE {LANE}, {LANE_SORT}"
            values[":approved"] = string(ApprovalState.APPROVED)
            values[":owner"] = string(run_by)
            values[":until"] = string(instant(run_until))
        writes: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key(approval_key(request.request_id)),
                    "UpdateExpression": update + " ADD approved_set :user" + remove,
                    "ConditionExpression": "#state = :pending AND size(approvals) = :count "
                    "AND NOT contains(approved_set, :user_s)",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        done = ApprovalRequest(**{**request.__dict__, "approvals": approvals})
        if run_by is not None:
            done.state = ApprovalState.APPROVED
            done.lease_owner = run_by
            done.lease_until = instant(run_until) if run_until else None
        writes += self._marks(request, entry, PendingApproval.of(done) if run_by is None else None)
        self._write(writes)
        return done

    def decide(
        self, request: ApprovalRequest, state: ApprovalState, entry: AuditEntry, by: str, reason: str | None
    ) -> None:
        """PENDING → DENIED, WITHDRAWN or EXPIRED: nothing runs. Raises ``ApprovalConflictError``
        when it is no longer PENDING."""
        values: dict[str, Any] = {
            ":pending": string(ApprovalState.PENDING),
            ":state": string(state),
            ":by": string(by),
            ":entry": audit_entries(entry),
        }
        update = "SET #state = :state, decided_by = :by, audit = list_append(audit, :entry)"
        if reason:
            update += ", decision_reason = :reason"
            values[":reason"] = string(reason)
        writes: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key(approval_key(request.request_id)),
                    "UpdateExpression": update + f" REMOVE {LANE}, {LANE_SORT}, {DUE}, {DUE_AT}",
                    "ConditionExpression": "#state = :pending",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": values,
                }
            }
        ]
        writes += self._marks(request, entry, None, unmark=True)
        self._write(writes)

    def take_over(self, request: ApprovalRequest, owner: str, until: datetime, now: datetime) -> bool:
        """An APPROVED request whose run's lease has ended, leased to ``owner`` (the reconciler)."""
        taken = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(approval_key(request.request_id)),
            UpdateExpression="SET lease_owner = :owner, lease_until = :until, due_at = :until",
            ConditionExpression="#state = :approved AND lease_until <= :now",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":approved": string(ApprovalState.APPROVED),
                ":owner": string(owner),
                ":until": string(instant(until)),
                ":now": string(instant(now)),
            },
        )
        return taken is not None

    def finish(self, request: ApprovalRequest, owner: str, results: dict[str, str]) -> bool:
        """APPROVED → DONE with each subject's outcome, the recovery's mark taken off; False when
        ``owner`` no longer holds the run (someone else finished it)."""
        writes: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key(approval_key(request.request_id)),
                    "UpdateExpression": "SET #state = :done, results = :results "
                    f"REMOVE lease_owner, lease_until, {DUE}, {DUE_AT}",
                    "ConditionExpression": "#state = :approved AND lease_owner = :owner",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": {
                        ":done": string(ApprovalState.DONE),
                        ":approved": string(ApprovalState.APPROVED),
                        ":owner": string(owner),
                        ":results": {"M": {k: string(v) for k, v in results.items()}},
                    },
                }
            }
        ]
        if not request.bulk and len(request.subjects) == 1:
            writes.append(self._unmark(request.subjects[0], request.request_id))
        try:
            write_all(self._client, writes)
        except TransactionConditionFailedError as failed:
            if 0 in failed.failed:
                return False
            write_all(self._client, writes[:1])  # the mark had gone already (another request, or none)
        return True

    def note(self, request: ApprovalRequest, entry: AuditEntry) -> None:
        """An attempt that changes nothing (a refusal): on the request's trail and its recovery's audit."""
        writes: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key(approval_key(request.request_id)),
                    "UpdateExpression": "SET audit = list_append(audit, :entry)",
                    "ConditionExpression": "attribute_exists(recovery_id)",
                    "ExpressionAttributeValues": {":entry": audit_entries(entry)},
                }
            }
        ]
        writes += self._marks(request, entry, None)
        self._write(writes)

    def mark_posted(self, request_id: str, channel: str, ts: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=key(approval_key(request_id)),
            UpdateExpression="SET slack_channel = :channel, slack_ts = :ts",
            ConditionExpression="attribute_exists(recovery_id)",
            ExpressionAttributeValues={":channel": string(channel), ":ts": string(ts)},
        )

    # ------------------------------------------------------------------ reads
    def get(self, request_id: str) -> ApprovalRequest:
        item = self._client.get_item(
            TableName=self._table, Key=key(approval_key(request_id)), ConsistentRead=True
        ).get("Item")
        if not item:
            raise ApprovalNotFoundError(request_id)
        return request_from_item(item)

    def trail(self, request_id: str) -> list[AuditEntry]:
        item = self._client.get_item(
            TableName=self._table, Key=key(approval_key(request_id)), ConsistentRead=True
        ).get("Item")
        return audit_trail(item)

    def pending(self, limit: int = PENDING_READ) -> list[ApprovalRequest]:
        """The requests waiting for approval, oldest first (at most ``limit``), read in batches."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": LANE_INDEX,
            "KeyConditionExpression": f"{LANE} = :lane",
            "ExpressionAttributeValues": {":lane": string(PENDING_LANE)},
            "Limit": limit,
        }
        while len(ids) < limit:
            page = self._client.query(**kwargs)
            ids += [item[KEY]["S"] for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items = {item_id(i): i for i in read_items(self._client, self._table, [key(k) for k in ids[:limit]])}
        found = [
            request_from_item(items[i])
            for i in ids[:limit]
            if i in items and items[i].get("state", {}).get("S") == ApprovalState.PENDING
        ]
        return found

    # ------------------------------------------------------------------ steps
    def _marks(
        self,
        request: ApprovalRequest,
        entry: AuditEntry,
        pending: PendingApproval | None,
        unmark: bool = False,
    ) -> list[dict[str, Any]]:
        """The marked recovery's side of a step: its audit entry, and its mark updated to
        ``pending`` (None: left as it is), or taken off (``unmark``: the request is decided)."""
        if request.bulk or len(request.subjects) != 1:
            return []
        subject = request.subjects[0]
        values: dict[str, Any] = {":entry": audit_entries(entry)}
        if pending is not None:
            update = f"SET {APPROVAL} = :pending, audit = list_append(audit, :entry)"
            values[":pending"] = _map(pending_approval_value(pending))
        else:
            update = "SET audit = list_append(audit, :entry)"
        if unmark:
            update += f" REMOVE {APPROVAL}"
        return [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": key(subject),
                    "UpdateExpression": update,
                    "ConditionExpression": "attribute_exists(recovery_id)",  # the mark is what it shows
                    "ExpressionAttributeValues": values,
                }
            }
        ]

    def _unmark(self, recovery_id: str, request_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": key(recovery_id),
                "UpdateExpression": f"REMOVE {APPROVAL}",
                "ConditionExpression": f"{APPROVAL}.request_id = :id",
                "ExpressionAttributeValues": {":id": string(request_id)},
            }
        }

    def unmark(self, recovery_id: str, request_id: str) -> None:
        """Take a decided request's mark off its recovery (if it is still there)."""
        if_condition_holds(self._client.update_item, **self._unmark(recovery_id, request_id)["Update"])

    def _write(self, writes: list[dict[str, Any]]) -> None:
        try:
            write_all(self._client, writes)
        except TransactionConditionFailedError as failed:
            raise ApprovalConflictError(f"request changed (writes {failed.failed})") from failed


# ---------------------------------------------------------------------- the item
def request_item(request: ApprovalRequest) -> dict[str, Any]:
    data: dict[str, Any] = {
        KEY: approval_key(request.request_id),
        "request_id": request.request_id,
        "action": str(request.action),
        "subjects": list(request.subjects),
        "requested_by": request.requested_by,
        "requested_at": request.requested_at,
        "expires": request.expires_at,
        "needed": request.needed,
        "approver_ids": list(request.approver_ids),
        "approver_group": request.approver_group,
        "rule": request.rule,
        "reason": request.reason,
        "has_input": request.has_input,
        "new_input": json.dumps(request.new_input, ensure_ascii=False) if request.has_input else None,
        "digest": request.digest,
        "diff": request.diff,
        "bulk": request.bulk,
        "state": str(request.state),
        "approvals": [asdict(a) for a in request.approvals],
        "slack_channel": request.channel,
        "slack_ts": request.ts,
    }
    return {k: _serializer.serialize(v) for k, v in data.items() if v is not None}


def request_from_item(item: dict[str, Any]) -> ApprovalRequest:
    data = {k: _deserializer.deserialize(v) for k, v in item.items()}
    has_input = bool(data.get("has_input", False))
    return ApprovalRequest(
        request_id=data["request_id"],
        action=Gated(data["action"]),
        subjects=list(data.get("subjects", [])),
        requested_by=data["requested_by"],
        requested_at=data["requested_at"],
        expires_at=data["expires"],
        needed=int(data["needed"]),
        approver_ids=tuple(data.get("approver_ids", ())),
        approver_group=data.get("approver_group"),
        rule=data.get("rule"),
        reason=data.get("reason"),
        has_input=has_input,
        new_input=json.loads(data["new_input"]) if has_input else None,
        digest=data.get("digest"),
        diff=data.get("diff"),
        bulk=bool(data.get("bulk", False)),
        state=ApprovalState(data["state"]),
        approvals=[Approval(a["user"], a["at"]) for a in data.get("approvals", [])],
        decided_by=data.get("decided_by"),
        decision_reason=data.get("decision_reason"),
        lease_owner=data.get("lease_owner"),
        lease_until=data.get("lease_until"),
        channel=data.get("slack_channel"),
        ts=data.get("slack_ts"),
        results={k: str(v) for k, v in data.get("results", {}).items()},
    )


def _map(value: dict[str, Any]) -> dict[str, Any]:
    return {"M": {k: _serializer.serialize(v) for k, v in value.items() if v is not None}}
