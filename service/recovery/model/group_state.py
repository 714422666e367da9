"""A recovery group as stored: its members, its Slack message, what its recoveries share."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GroupState:
    group_id: str
    count: int
    latest_ids: list[str]
    channel: str | None
    ts: str | None
    member_ids: frozenset[str] = frozenset()
    state_machine_arn: str = ""
    failed_state: str = ""
    error: str | None = None
    placement: str | None = None  # "own" (its own message), a burst group's id (folded), None: not yet
    burst: bool = False  # a burst group: distinct failures of one channel's window in one message
    folded: dict[str, int] = field(default_factory=dict)  # burst group: folded group id → recoveries

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]
