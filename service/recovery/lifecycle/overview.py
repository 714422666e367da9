"""One person's overview of the open recoveries: what the Slack app's Home tab shows them.

Only what they may see (``TeamAccess.visible``: an admin or a deployment viewer sees every
recovery, a team member their rules' ones), narrowed by a ``RecoveryQuery``: the count by state
machine and error, one page of them oldest first (the longest waiting come first), the ones they
own, and which of those they may act on (a viewer may act on none of them). Beside the open ones,
the recoveries in flight (claimed, outcome not stored yet), the longest in flight first, so that
a claim whose process died is never out of sight; a query with ``status=in-flight`` pages
through those instead (nobody acts on them: their call is under way, or stuck until the
reconciler settles it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from enum import StrEnum

from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.lifecycle.in_flight import InFlight, in_flight_matching, longest_first
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.lifecycle.visible import visible_counts, visible_page
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore

PAGE_SIZE = 25
OWNED_SHOWN = 10
IN_FLIGHT_READ = (
    100  # beside the open ones: the recoveries in flight read (their count comes from the counters)
)
IN_FLIGHT_SHOWN = 10  # beside the open ones: the longest in flight


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
    counts: Counter[tuple[str, str | None]]  # (state machine name, error) → recoveries listed
    page: list[Recovery]  # oldest first; in flight (``query.in_flight``): the longest in flight first
    page_number: int
    pages: int
    owned: list[Recovery]  # owned by ``user``, oldest first (at most OWNED_SHOWN)
    owned_total: int
    actionable: frozenset[str] = field(default_factory=frozenset)  # ids of ``page`` and ``owned``
    left_out: int = 0  # recoveries listed matching the query that ``user`` may not see
    in_flight: list[InFlight] = field(default_factory=list)  # beside the open: longest first, a few
    in_flight_total: int = 0  # in flight beside the open ones, that ``user`` may see
    counts_complete: bool = True  # False: counted from the first ones read (a filter no counter answers)
    counted_total: int | None = None  # from a rollup: how many in all (``counts`` its largest kinds)
    counted_kinds: int | None = None
    counted_at: str | None = None  # the rollup's time (None: counted now)

    @property
    def total(self) -> int:
        return self.counted_total if self.counted_total is not None else sum(self.counts.values())

    @property
    def kinds(self) -> int:
        return self.counted_kinds if self.counted_kinds is not None else len(self.counts)

    @property
    def listing_in_flight(self) -> bool:
        """Whether the counts and the page are of the recoveries in flight (not the open ones)."""
        return self.query.in_flight

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
    """``user``'s overview of the open recoveries ``query`` selects (or those in flight, for
    ``status=in-flight``), with those in flight beside them; ``page_number`` past the last page
    shows the last one."""
    where, status = query.list_filter(), query.listed_status
    counts, left_out = visible_counts(store, access, user, status, where)
    pages = max(1, -(-counts.total // page_size))
    page_number = min(max(1, page_number), pages)
    shown = visible_page(store, access, user, status, where, page_number * page_size, oldest_first=True)
    beside: list[InFlight] = []
    in_flight_total = 0
    if query.in_flight:
        shown = [claim.recovery for claim in longest_first(shown)]
    else:
        claims = in_flight_matching(store, where, limit=IN_FLIGHT_READ)
        beside = longest_first(access.visible(user, claims).allowed)
        in_flight_total = visible_counts(store, access, user, RecoveryStatus.RESUMING, where)[0].total
    page = shown[(page_number - 1) * page_size : page_number * page_size]
    owned: list[Recovery] = []
    owned_total = 0
    if not query.in_flight:
        mine = replace(where, owner=user)
        owned = visible_page(store, access, user, RecoveryStatus.OPEN, mine, OWNED_SHOWN, oldest_first=True)
        owned_total = max(len(owned), store.counts(RecoveryStatus.OPEN, mine).total)
    selected = {r.recovery_id: r for r in (*page, *owned)}
    acting = access.actable(user, selected.values())
    return Overview(
        user=user,
        role=_role(access, user, acting.allowed),
        query=query,
        counts=counts.by_pair,
        page=page,
        page_number=page_number,
        pages=pages,
        owned=owned,
        owned_total=owned_total,
        actionable=frozenset() if query.in_flight else frozenset(r.recovery_id for r in acting.allowed),
        left_out=left_out,
        in_flight=beside[:IN_FLIGHT_SHOWN],
        in_flight_total=max(in_flight_total, len(beside)),
        counts_complete=counts.complete,
        counted_total=counts.all_total,
        counted_kinds=counts.all_kinds,
        counted_at=counts.as_of,
    )


def _role(access: TeamAccess, user: str, acting_on: list[Recovery]) -> Role:
    if access.is_admin(user).allowed:
        return Role.ADMIN
    if acting_on or access.may_act_on_some(user).allowed:
        return Role.TEAM
    return Role.VIEWER
