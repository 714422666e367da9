"""One person's overview of the open recoveries: what the Slack app's Home tab shows them.

Only what they may see (``TeamAccess.visible``: an admin or a deployment viewer sees every
recovery, a team member their rules' ones), narrowed by a ``RecoveryQuery``: the count by state
machine and error, one page of them oldest first (the longest waiting come first), the ones they
own, and which of those they may act on (a viewer may act on none of them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from service.recovery.query import RecoveryQuery
from service.recovery.recovery import Recovery, RecoveryStatus
from service.recovery.store import RecoveryStore
from service.recovery.team_access import TeamAccess

PAGE_SIZE = 25
OWNED_SHOWN = 10
SELECTION_LIMIT = 10_000  # the open recoveries read for one overview, oldest first


class Role(StrEnum):
    """What a person is to the deployment, as the overview says it."""

    ADMIN = "admin"  # acts on every recovery
    TEAM = "team"  # acts on their rules' recoveries
    VIEWER = "viewer"  # sees, acts on nothing


@dataclass(frozen=True)
class Overview:
    user: str
    role: Role
    query: RecoveryQuery
    counts: Counter[tuple[str, str | None]]  # (state machine name, error) → open recoveries shown
    page: list[Recovery]  # oldest first
    page_number: int
    pages: int
    owned: list[Recovery]  # owned by ``user``, oldest first (at most OWNED_SHOWN)
    owned_total: int
    actionable: frozenset[str] = field(default_factory=frozenset)  # ids of ``page`` and ``owned``
    left_out: int = 0  # open recoveries matching the query that ``user`` may not see

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def may_act_on(self, recovery: Recovery) -> bool:
        return recovery.recovery_id in self.actionable


def overview_for(
    store: RecoveryStore,
    access: TeamAccess,
    user: str,
    query: RecoveryQuery,
    page_number: int = 1,
    page_size: int = PAGE_SIZE,
) -> Overview:
    """``user``'s overview of the open recoveries ``query`` selects; ``page_number`` past the last
    page shows the last one."""
    matching = store.list_by_status(
        RecoveryStatus.OPEN, query.list_filter(), limit=SELECTION_LIMIT, oldest_first=True
    )
    visible = access.visible(user, matching)
    shown = visible.allowed
    pages = max(1, -(-len(shown) // page_size))
    page_number = min(max(1, page_number), pages)
    page = shown[(page_number - 1) * page_size : page_number * page_size]
    owned = [recovery for recovery in shown if recovery.owner == user]
    selected = {r.recovery_id: r for r in (*page, *owned[:OWNED_SHOWN])}
    acting = access.actable(user, selected.values())
    return Overview(
        user=user,
        role=_role(access, user, acting.allowed),
        query=query,
        counts=Counter((r.state_machine_name, r.error) for r in shown),
        page=page,
        page_number=page_number,
        pages=pages,
        owned=owned[:OWNED_SHOWN],
        owned_total=len(owned),
        actionable=frozenset(r.recovery_id for r in acting.allowed),
        left_out=visible.left_out,
    )


def _role(access: TeamAccess, user: str, acting_on: list[Recovery]) -> Role:
    if access.is_admin(user).allowed:
        return Role.ADMIN
    if acting_on or access.may_act_on_some(user).allowed:
        return Role.TEAM
    return Role.VIEWER
