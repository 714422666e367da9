"""The recoveries table's items: the key scheme, and every kind stored there to and from DynamoDB.

One table, one partition key (``recovery_id``, a string), several kinds told apart by the id:

- ``rec-…``: a recovery, in its status lane of the ``by-lane`` index (below: lanes);
  ``execution_arn`` puts it in the ``by-execution`` index. Recoveries written before lanes carry
  ``created_sort`` and sit in the ``by-status`` index until they are migrated;
- ``ix#<dim>#<recovery id>``: an open recovery's entry in one filter's lane;
- ``count#<cell>#<shard>``: how many open recoveries one cell counts;
- ``grp-…``: a recovery group (burst): how many members, the latest few, the group's Slack message; a
  burst group (``kind`` ``burst``) holds the distinct failures one channel's window folded into
  one message, each folded group naming it in its ``placement``;
- ``newposts#<hash of channel and window>``: how many new group messages a channel had in a window;
- ``fail-<hash of the execution ARN>``: a failed execution no recovery covered (its own status
  values keep it out of the recoveries listing);
- ``dlq#<queue name>``, ``access#recoveries``: audit trails that belong to no recovery;
- ``unreadable#<hash of the message id>``: the claim on an unreadable message's notice;
- ``heal-…``: a self-healing run, one per circuit closing and group (``healing_runs``);
- ``chain#<item id>``: the hash chain of that item's audit trail (``storage/audit_chain.py``);
- ``outbox#<event id>``: an audit event the bus did not take yet, in the ``by-due`` index
  (``storage/outbox.py``);
- ``approval#<request id>``: an approval request, in the ``a#pending`` lane while it waits and in the
  ``by-due`` index until it expires or its approved run's lease ends (``storage/approvals.py``).

An item a reconciler must come back to carries ``due`` (why: a lease on an in-flight recovery,
a message that does not show its stored state yet) and ``due_at``; the sparse ``by-due`` index
lists them by ``due`` in ``due_at`` order, so the reconciler finds them without reading anything
else. Settling an item removes both.

Every kind may carry ``expires_at`` (epoch seconds, the table's TTL) and most an ``audit`` list.
The items written here are exactly those existing deployments hold: change an attribute name or
an encoding only with a migration.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from recovery_ops.service.recovery.model.approval import PendingApproval
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.failed_execution import FailedExecution, FailureStatus
from recovery_ops.service.recovery.model.group_state import GroupState
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus

# the key scheme
KEY = "recovery_id"
RECOVERY_PREFIX = "rec-"
GROUP_PREFIX = "grp-"
FAILURE_PREFIX = "fail-"
DLQ_AUDIT_PREFIX = "dlq#"
RECOVERIES_LIST = "access#recoveries"  # denied attempts to list recoveries
NOTICE_PREFIX = "unreadable#"
HEALING_PREFIX = "heal-"
NEW_POSTS_PREFIX = "newposts#"
CHAIN_PREFIX = "chain#"
OUTBOX_PREFIX = "outbox#"

# indexes and the attributes they and the TTL read
STATUS_INDEX = "by-status"
EXECUTION_INDEX = "by-execution"
DUE_INDEX = "by-due"  # sparse: items a reconciler must look at once ``due_at`` has passed
DUE = "due"  # DueKind: why the item is in the ``by-due`` index
DUE_AT = "due_at"
STATUS = "status"
CREATED_SORT = "created_sort"
EXECUTION_ARN = "execution_arn"
EXPIRES_AT = "expires_at"

# attributes shared by several kinds
AUDIT = "audit"
UPDATED_AT = "updated_at"
SLACK_CHANNEL = "slack_channel"
SLACK_TS = "slack_ts"
GROUP_ID = "group_id"
ERROR = "error"

# one kind's own attributes
DELIVERIES = "deliveries"  # recovery: how many times its request was delivered
REMINDED_AT = "reminded_at"  # recovery: its last reminder
OWNER = "owner"  # recovery: who took it (absent: nobody)
OWNED_AT = "owned_at"  # recovery: since when
ESCALATED = "escalated"  # recovery: how many escalation levels have fired (absent: none)
DEPENDENCY = "dependency"  # recovery: the circuit its failed step depends on (absent: not said)
LEASE_OWNER = "lease_owner"  # recovery (RESUMING): the claim holding it
LEASE_UNTIL = "lease_until"  # recovery (RESUMING): until when (ISO 8601)
APPROVAL = "approval"  # recovery: the request for approval waiting on it (absent: none)
MEMBER_IDS = "member_ids"  # group, as written before member counts: every member's id (a string set)
MEMBER_COUNT = "member_count"  # group: how many recoveries it counts
MEMBER_OF = "member_of"  # recovery: the group that counted it
BURST_MEMBER_OF = "burst_member_of"  # recovery: the burst group that counted it
LATEST_IDS = "latest_ids"  # group
POSTING_BY = "posting_by"  # group: the collector posting its message (the claim's holder)
POSTING_UNTIL = "posting_until"  # group: when that claim's lease ends (an instant)
POSTING_SINCE = "posting_since"  # group: when the message was first claimed (kept across takeovers)
POSTING_CHANNEL = "posting_channel"  # group: the channel the first claim chose
ESCALATING_LEVEL = "escalating_level"  # recovery: the escalation level claimed, not yet recorded posted
ESCALATING_BY = "escalating_by"  # recovery: the run holding that claim
ESCALATING_UNTIL = "escalating_until"  # recovery: when that claim's lease ends (an instant)
ESCALATING_SINCE = "escalating_since"  # recovery: when the level was first claimed (kept when given back)
ESCALATING_CHANNEL = "escalating_channel"  # recovery: where the claimed level goes
ESCALATING_THREAD = "escalating_thread"  # recovery: in which thread (absent: a new message)
ESCALATING_AS = "escalating_as"  # recovery: how each attempt posts that level ("": alone; a digest id)
ESCALATION_POSTS = "escalation_posts"  # recovery: each level posted ({level, channel, ts})
QUEUE_URL = "queue_url"  # DLQ audit
NOTICE = "notice"  # unreadable-message notice claim: CLAIMED or RELEASED
GROUP_KIND = "kind"  # group: ``burst`` for a burst group (absent: a group of one failure)
PLACEMENT = "placement"  # group: OWN_MESSAGE, or the id of the burst group it folded into
FOLDED = "folded"  # burst group: the ids of the groups folded into it (a string set)
FOLDED_COUNT_PREFIX = "n#"  # burst group: ``n#<group id>``, how many recoveries that group brought
NEW_POSTS = "new_posts"  # new-messages counter: how many were counted
BURST_KIND = "burst"
OWN_MESSAGE = "own"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# ---------------------------------------------------------------------- keys and values
def key(item_id: str) -> dict[str, Any]:
    """The table key of any item."""
    return {KEY: {"S": item_id}}


def item_id(item: dict[str, Any]) -> str:
    key: str = item[KEY]["S"]
    return key


def instant(at: datetime) -> str:
    """A moment as the table stores leases and claims: ISO 8601 in UTC, milliseconds, one fixed
    width, so that two instants compare as strings (in a ConditionExpression) as they do in time."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


def string(value: str) -> dict[str, Any]:
    return {"S": value}


def number(value: int) -> dict[str, Any]:
    return {"N": str(value)}


def expiry(at: datetime, retention: timedelta) -> dict[str, Any]:
    """``expires_at`` for an item touched at ``at`` and kept for ``retention``."""
    return number(int((at + retention).timestamp()))


def audit_entries(*entries: AuditEntry) -> dict[str, Any]:
    """Audit entries as a list value (what ``list_append`` adds to an ``audit`` attribute)."""
    return {"L": [_serializer.serialize(dynamodb_value(asdict(entry))) for entry in entries]}


def audit_trail(item: dict[str, Any] | None) -> list[AuditEntry]:
    """The ``audit`` list of an audit-trail item (``dlq#…``, ``access#recoveries``)."""
    if not item or AUDIT not in item:
        return []
    return [AuditEntry(**json_value(entry)) for entry in _deserializer.deserialize(item[AUDIT])]


def dynamodb_value(value: Any) -> Any:
    """JSON values as DynamoDB takes them (floats as Decimal); ``json_value`` is the way back."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: dynamodb_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [dynamodb_value(v) for v in value]
    return value


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


# ---------------------------------------------------------------------- recoveries
def recovery_item(recovery: Recovery) -> dict[str, Any]:
    """A recovery as stored (``None`` fields left out; its status lane, ``lane_sort`` and the
    machine's name added for the index and the counts). Items written before lanes had
    ``created_sort`` instead, which put them in the ``by-status`` index (``migrate_item``)."""
    data = asdict(recovery)
    data[AUDIT] = [asdict(entry) for entry in recovery.audit]
    data["routing"] = str(recovery.routing)
    data[STATUS] = str(recovery.status)
    data["state_machine_name"] = recovery.state_machine_name
    data[LANE] = status_lane(str(recovery.status), shard_of(recovery.recovery_id))
    data[LANE_SORT] = recovery.sort_key
    if not recovery.escalated:
        del data[ESCALATED]  # absent until a level fires
    if recovery.approval is not None:
        data[APPROVAL] = pending_approval_value(recovery.approval)
    item = {k: v for k, v in data.items() if v is not None}
    return {k: _serializer.serialize(dynamodb_value(v)) for k, v in item.items()}


def recovery_from_item(item: dict[str, Any]) -> Recovery:
    data = {k: json_value(_deserializer.deserialize(v)) for k, v in item.items()}
    return Recovery(
        recovery_id=data[KEY],
        task_token=data["task_token"],
        execution_arn=data[EXECUTION_ARN],
        execution_name=data["execution_name"],
        state_machine_arn=data["state_machine_arn"],
        failed_state=data["failed_state"],
        input=data.get("input"),
        error=data.get(ERROR),
        cause=data.get("cause"),
        routing=Routing(data["routing"]),
        requested_at=data["requested_at"],
        created_at=data["created_at"],
        status=RecoveryStatus(data[STATUS]),
        updated_at=data.get(UPDATED_AT, ""),
        slack_channel=data.get(SLACK_CHANNEL),
        slack_ts=data.get(SLACK_TS),
        group_id=data.get(GROUP_ID),
        attempts=int(data.get("attempts", 1)),
        audit=[AuditEntry(**entry) for entry in data.get(AUDIT, [])],
        owner=data.get(OWNER),
        owned_at=data.get(OWNED_AT),
        escalated=int(data.get(ESCALATED, 0)),
        dependency=data.get(DEPENDENCY),
        lease_owner=data.get(LEASE_OWNER),
        lease_until=data.get(LEASE_UNTIL),
        approval=pending_approval_of(data.get(APPROVAL)),
    )


def pending_approval_value(pending: PendingApproval) -> dict[str, Any]:
    """A recovery's ``approval`` map: the request waiting on it, as its message shows it."""
    value = asdict(pending)
    value["approved_by"] = list(pending.approved_by)
    return {k: v for k, v in value.items() if v is not None}


def pending_approval_of(value: dict[str, Any] | None) -> PendingApproval | None:
    if not value:
        return None
    return PendingApproval(
        request_id=value["request_id"],
        action=value["action"],
        requested_by=value["requested_by"],
        needed=int(value["needed"]),
        approved_by=tuple(value.get("approved_by", ())),
        expires_at=value.get("expires_at", ""),
        diff=value.get("diff"),
    )


# ---------------------------------------------------------------------- groups
def group_from_item(item: dict[str, Any]) -> GroupState:
    """A group item (written only by updates: ``ADD member_ids``, ``SET slack_ts`` …)."""
    members = item.get(MEMBER_IDS, {}).get("SS", [])
    return GroupState(
        group_id=item[KEY]["S"],
        count=len(members) + int(item.get(MEMBER_COUNT, {}).get("N", "0")),
        latest_ids=[v["S"] for v in item.get(LATEST_IDS, {}).get("L", [])],
        channel=item.get(SLACK_CHANNEL, {}).get("S"),
        ts=item.get(SLACK_TS, {}).get("S"),
        member_ids=frozenset(members),
        state_machine_arn=item.get("state_machine_arn", {}).get("S", ""),
        failed_state=item.get("failed_state", {}).get("S", ""),
        error=item.get(ERROR, {}).get("S") or None,
        placement=item.get(PLACEMENT, {}).get("S"),
        burst=item.get(GROUP_KIND, {}).get("S") == BURST_KIND,
        folded={
            name[len(FOLDED_COUNT_PREFIX) :]: int(value["N"])
            for name, value in item.items()
            if name.startswith(FOLDED_COUNT_PREFIX) and "N" in value
        },
    )


# ---------------------------------------------------------------------- failed executions
def failure_id_for(execution_arn: str) -> str:
    return FAILURE_PREFIX + hashlib.sha256(execution_arn.encode()).hexdigest()[:32]


def failure_item(failure: FailedExecution, expires_at: int) -> dict[str, Any]:
    """A failed execution as stored: under ``recovery_id``, ``None`` fields left out."""
    item = {k: v for k, v in asdict(failure).items() if v is not None}
    item[KEY] = item.pop("failure_id")
    item[STATUS] = str(failure.status)
    item[AUDIT] = [asdict(e) for e in failure.audit]
    item[EXPIRES_AT] = expires_at
    return {k: _serializer.serialize(v) for k, v in item.items()}


def failure_from_item(item: dict[str, Any]) -> FailedExecution:
    data = {k: _deserializer.deserialize(v) for k, v in item.items()}
    return FailedExecution(
        failure_id=data[KEY],
        execution_arn=data[EXECUTION_ARN],
        execution_name=data["execution_name"],
        state_machine_arn=data["state_machine_arn"],
        execution_status=data["execution_status"],
        error=data.get(ERROR),
        cause=data.get("cause"),
        stopped_at=data["stopped_at"],
        status=FailureStatus(data[STATUS]),
        slack_channel=data.get(SLACK_CHANNEL),
        slack_ts=data.get(SLACK_TS),
        audit=[AuditEntry(**{**e, "detail": dict(e.get("detail", {}))}) for e in data.get(AUDIT, [])],
    )


# ---------------------------------------------------------------------- audit trails of no recovery
def dlq_audit_id(queue_name: str) -> str:
    return DLQ_AUDIT_PREFIX + queue_name


# ---------------------------------------------------------------------- unreadable-message notices
def notice_id(message_id: str) -> str:
    """The claim's key: no recovery id looks like it."""
    return NOTICE_PREFIX + hashlib.sha256(message_id.encode()).hexdigest()[:32]


def notice_claim_item(message_id: str, status: str, at: datetime, retention: timedelta) -> dict[str, Any]:
    """A notice claim as stored: no ``status`` (out of every listing), a TTL."""
    return {
        KEY: {"S": notice_id(message_id)},
        "kind": {"S": "unreadable-notice"},
        NOTICE: {"S": status},
        "claimed_at": {"S": at.isoformat(timespec="milliseconds")},
        EXPIRES_AT: expiry(at, retention),
    }


# ---------------------------------------------------------------------- lanes: the by-lane index
#
# One index, ``by-lane`` (``lane`` + ``lane_sort``), serves every listing a page at a time. A
# partition key of it is a *lane*; no lane carries more than a small share of the load:
#
# - a recovery item is in its status lane, ``s#<status>#<k>``, ``k`` one of ``LANES`` shards
#   taken from its id (so one status's writes spread over ``LANES`` keys);
# - while a recovery is open (OPEN or RESUMING), small *entry* items (``ix#<dim>#<recovery id>``)
#   put it in the lanes the common filters read: its state machine (``m``), error (``e``),
#   dependency (``d``), group (``g``), each sharded the same way, and its owner (``o``, one lane a
#   person). Closing the recovery deletes them in the same transaction, so a filter never reads
#   through closed ones;
# - counter items hold how many recoveries are OPEN and RESUMING, each change written in the
#   transaction of the transition it counts: per *cell* (``count#<cell>#<j>``: state machine,
#   failed state, error, routing, dependency; lanes ``c#<j>``) for a team's member and the filters
#   of the failed state and the dependency, and per *pair* (``pair#<pair>#<j>``: state machine and
#   error; lanes ``p#<j>``) for what the lists show. ``j`` is shard 0, or, for a write that met
#   another transaction on it, one of ``COUNT_SHARDS`` at random: a quiet counter is one item, a
#   busy one spreads. The counts are read from ``COUNT_SHARDS`` queries whatever the number of
#   recoveries; their size grows with the kinds of failure, not with the recoveries.
#
# ``lane_sort`` is the recovery's ``created_sort`` (the counter's cell, for counters); the index
# projects only what counting needs (``of``: the recovery an entry stands for, the counter's cell
# and numbers): a listing reads ids from it and the items themselves (small: their large values
# are kept apart) a page at a time.
LANE_INDEX = "by-lane"
LANE = "lane"
LANE_SORT = "lane_sort"
LANES = 8
COUNT_SHARDS = 4
ENTRY_PREFIX = "ix#"
COUNT_PREFIX = "count#"
PAIR_PREFIX = "pair#"
ROLLUP_PREFIX = "rollup#"  # the minute's breakdown of one counted status (``RecoveryStore.roll_up``)
OF = "of"  # an entry item: the recovery it stands for
CELL = "cell"  # a counter item: what it counts (a map)
COUNTED = ("OPEN", "RESUMING")  # the statuses counted (the open ones: closed ones expire)


class Dim:
    """The filters served by a lane of their own."""

    MACHINE = "m"
    ERROR = "e"
    DEPENDENCY = "d"
    GROUP = "g"
    OWNER = "o"


def digest(text: str, length: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def shard_of(recovery_id: str, shards: int = LANES) -> int:
    """The shard a recovery's lanes take (from its id, a hash: spread evenly)."""
    return int(digest(recovery_id, 8), 16) % shards


def status_lane(status: str, shard: int) -> str:
    return f"s#{status}#{shard}"


def status_lanes(status: str) -> list[str]:
    return [status_lane(status, k) for k in range(LANES)]


def filter_lane(dim: str, value: str, shard: int | None) -> str:
    """A filter's lane: the value hashed (any length, any character), sharded unless an owner's."""
    lane = f"{dim}#{digest(value)}"
    return lane if shard is None else f"{lane}#{shard}"


def filter_lanes(dim: str, value: str) -> list[str]:
    if dim == Dim.OWNER:
        return [filter_lane(dim, value, None)]
    return [filter_lane(dim, value, k) for k in range(LANES)]


def entry_id(dim: str, recovery_id: str) -> str:
    return f"{ENTRY_PREFIX}{dim}#{recovery_id}"


def entry_item(dim: str, value: str, recovery: Recovery, expires_at: dict[str, Any]) -> dict[str, Any]:
    """The small item that puts an open recovery in one filter's lane."""
    return lane_entry(dim, value, recovery.recovery_id, recovery.sort_key, expires_at)


def lane_entry(
    dim: str, value: str, recovery_id: str, sort_key: str, expires_at: dict[str, Any]
) -> dict[str, Any]:
    shard = None if dim == Dim.OWNER else shard_of(recovery_id)
    return {
        KEY: string(entry_id(dim, recovery_id)),
        LANE: string(filter_lane(dim, value, shard)),
        LANE_SORT: string(sort_key),
        OF: string(recovery_id),
        EXPIRES_AT: expires_at,
    }


def entries_of(recovery: Recovery) -> list[tuple[str, str]]:
    """(dim, value) of every filter lane an open ``recovery`` is in."""
    found = [(Dim.MACHINE, recovery.state_machine_name)]
    if recovery.error:
        found.append((Dim.ERROR, recovery.error))
    if recovery.dependency:
        found.append((Dim.DEPENDENCY, recovery.dependency))
    if recovery.group_id:
        found.append((Dim.GROUP, recovery.group_id))
    if recovery.owner:
        found.append((Dim.OWNER, recovery.owner))
    return found


def cell_of(recovery: Recovery) -> dict[str, str]:
    """What a recovery is counted under: enough to count by state machine and error, to filter by
    state machine, failed state, error and dependency, and to decide who may see the count (the
    routing rules match on the machine, the failed state, the error and the routing)."""
    return {
        "state_machine_arn": recovery.state_machine_arn,
        "state_machine_name": recovery.state_machine_name,
        "failed_state": recovery.failed_state,
        "error": recovery.error or "",
        "routing": str(recovery.routing),
        "dependency": recovery.dependency or "",
    }


def pair_of(recovery: Recovery) -> dict[str, str]:
    """What the counts show a recovery under: its state machine and its error (the cells, finer,
    are summed into these for the lists' counts, and read only for a team's member or a filter of
    the failed state or the dependency)."""
    return {
        "state_machine_arn": recovery.state_machine_arn,
        "state_machine_name": recovery.state_machine_name,
        "error": recovery.error or "",
    }


def cell_id(cell: dict[str, str]) -> str:
    return digest("\x1f".join(cell[name] for name in sorted(cell)), 32)


def counter_id(cell: dict[str, str], shard: int, prefix: str = "") -> str:
    return f"{prefix or COUNT_PREFIX}{cell_id(cell)}#{shard}"


def count_field(status: str) -> str:
    return f"n_{status}"
