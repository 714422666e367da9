"""What one person may see of the recoveries, a page at a time: an admin or a deployment viewer
reads the lanes as they are; a team's member reads them through the routing rules' eye, counting
from the counters' cells they may see, reading the lanes of the state machines of those cells
(when a few), and reading pages until one is full of theirs (at most ``READ_LIMIT`` read for one
page)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import Counts, ListFilter, RecoveryStore

READ_LIMIT = 2_000  # recoveries read, at most, to fill one page of a team's own


def visible_counts(
    store: RecoveryStore, access: TeamAccess, user: str, status: RecoveryStatus, where: ListFilter
) -> tuple[Counts, int]:
    """``user``'s counts of ``status`` under ``where``, and how many they may not see."""
    if access.sees_everything(user):
        return store.counts(status, where), 0
    rules = access.rules()
    everyone = store.counts(status, where)
    theirs = store.counts(status, where, visible=lambda cell: access.may_see_cell(user, cell, rules))
    return theirs, max(0, everyone.total - theirs.total)


def visible_page(
    store: RecoveryStore,
    access: TeamAccess,
    user: str,
    status: RecoveryStatus,
    where: ListFilter,
    limit: int,
    before: str | None = None,
    oldest_first: bool = False,
    now: datetime | None = None,
) -> list[Recovery]:
    """Up to ``limit`` recoveries of ``status`` under ``where`` that ``user`` may see, in order."""
    if access.sees_everything(user):
        return store.list_by_status(
            status, where, limit=limit, now=now, before=before, oldest_first=oldest_first
        )
    if not access.sees_everything(user) and not where.state_machine and not status.is_closed:
        rules = access.rules()
        cells = store.cells(status, where, lambda cell: access.may_see_cell(user, cell, rules))
        where = replace(where, state_machines=tuple(sorted({cell["state_machine_name"] for cell in cells})))
        if not where.state_machines:
            return []  # nothing of theirs is counted: nothing to read
    reading = limit
    while True:
        listed = store.list_by_status(
            status, where, limit=reading, now=now, before=before, oldest_first=oldest_first
        )
        if access.sees_everything(user):
            return listed
        shown = access.visible(user, listed).allowed
        if len(shown) >= limit or len(listed) < reading or reading >= READ_LIMIT:
            return shown[:limit]
        reading = min(reading * 4, READ_LIMIT)
