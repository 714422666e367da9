"""Recovery groups: recoveries sharing state machine, state and error within one time window.

A burst (a vendor outage pausing hundreds of executions) becomes one Slack message per group and
window instead of hundreds. The group item lives in the recoveries table (id ``grp-…``, no
``status`` so it stays out of the listing index). Members are a string set, so a redelivered
message never counts twice; a conditional claim decides which collector posts the message.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from service.conditional_writes import if_condition_holds
from service.recovery.group_state import GroupState
from service.recovery.recovery import Recovery
from service.recovery.table_items import GROUP_PREFIX, group_from_item, key, number, string

__all__ = ["LATEST_KEPT", "GroupState", "GroupStore", "group_id_for"]

LATEST_KEPT = 5


def group_id_for(recovery: Recovery, window_seconds: int, at: datetime) -> str:
    window = int(at.timestamp()) // max(1, window_seconds)
    key = f"{recovery.state_machine_arn}|{recovery.failed_state}|{recovery.error}|{window}"
    return GROUP_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]


class GroupStore:
    def __init__(self, table_name: str, client: Any, retention_seconds: int = 90 * 86400) -> None:
        self._table = table_name
        self._client = client
        self._retention = retention_seconds

    def add_members(self, group_id: str, members: list[Recovery], at: datetime) -> GroupState:
        first = members[0]
        ids = [m.recovery_id for m in members]
        answer = self._client.update_item(
            TableName=self._table,
            Key=key(group_id),
            UpdateExpression="ADD member_ids :ids SET latest_ids = :latest, state_machine_arn = "
            "if_not_exists(state_machine_arn, :machine), failed_state = if_not_exists(failed_state, :state), "
            "#error = if_not_exists(#error, :error), expires_at = if_not_exists(expires_at, :expires)",
            ExpressionAttributeNames={"#error": "error"},
            ExpressionAttributeValues={
                ":ids": {"SS": ids},
                ":latest": {"L": [string(i) for i in ids[-LATEST_KEPT:]]},
                ":machine": string(first.state_machine_arn),
                ":state": string(first.failed_state),
                ":error": string(first.error or ""),
                ":expires": number(int(at.timestamp()) + self._retention),
            },
            ReturnValues="ALL_NEW",
        )
        return group_from_item(answer["Attributes"])

    def get(self, group_id: str) -> GroupState | None:
        item = self._client.get_item(TableName=self._table, Key=key(group_id), ConsistentRead=True).get(
            "Item"
        )
        return group_from_item(item) if item else None

    def shares_message(self, recovery: Recovery) -> bool:
        """Whether the recovery's Slack message is its group's message (other recoveries share it)."""
        group = self.get(recovery.group_id) if recovery.group_id else None
        return group is not None and group.count > 1

    def claim_posting(self, group_id: str, claimant: str) -> bool:
        """One collector posts the group's message; the others wait for it to exist."""
        claimed = if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=key(group_id),
            UpdateExpression="SET posting_by = :me",
            ConditionExpression="attribute_not_exists(slack_ts) AND "
            "(attribute_not_exists(posting_by) OR posting_by = :me)",
            ExpressionAttributeValues={":me": {"S": claimant}},
        )
        return claimed is not None

    def release_posting(self, group_id: str, claimant: str) -> None:
        if_condition_holds(  # not ours (or already released): nothing to do
            self._client.update_item,
            TableName=self._table,
            Key=key(group_id),
            UpdateExpression="REMOVE posting_by",
            ConditionExpression="posting_by = :me",
            ExpressionAttributeValues={":me": {"S": claimant}},
        )

    def set_message(self, group_id: str, channel: str, ts: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=key(group_id),
            UpdateExpression="SET slack_channel = :channel, slack_ts = :ts REMOVE posting_by",
            ExpressionAttributeValues={":channel": {"S": channel}, ":ts": {"S": ts}},
        )
