"""Recoveries stored before lanes, moved into them online: a page at a time, while the stack runs.

A deployment updated from a release before lanes holds recoveries with ``created_sort`` and no
lane: they sit in the ``by-status`` index, no listing of the new release reads them, no counter
counts them. ``migrate_item`` gives one its status lane, its filters' entries (while open) and its
count in one transaction conditional on it not having a lane yet, and removes ``created_sort``, so
it leaves ``by-status``: migrating twice, or in two processes at once, counts it once.

Nothing waits for the migration to finish: a transition that meets a recovery without a lane
migrates it first (``RecoveryStore._move``); the reconciler migrates a page each run (so a stack
updated and left alone converges within minutes), and ``recovery-ops migrate`` does all of it at
once. Old functions still running during the update may store a few more the old way: the next
reconciler run moves them. Once ``by-status`` is empty, a later release deletes it (DynamoDB
takes one index created or deleted per table update).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore


@dataclass
class MigrationReport:
    migrated: int = 0
    already: int = 0  # migrated meanwhile by another process (or not a recovery)
    complete: bool = True  # False: stopped by its budget with more left

    def summary(self) -> str:
        left = "" if self.complete else "; more left"
        return f"{self.migrated} recoveries moved into lanes ({self.already} already were){left}"


def migrate(
    store: RecoveryStore,
    budget: int | None = None,
    page_size: int = 100,
    progress: Callable[[MigrationReport], None] | None = None,
) -> MigrationReport:
    """Move up to ``budget`` recoveries stored before lanes into them (None: all); open ones
    first, so what people list comes back first."""
    report = MigrationReport()
    for status in RecoveryStatus:
        while True:
            room = page_size if budget is None else min(page_size, budget - report.migrated - report.already)
            if room <= 0:
                report.complete = False
                return report
            items, more = store.legacy_page(status, room)
            for item in items:
                if store.migrate_item(item):
                    report.migrated += 1
                else:
                    report.already += 1
            if progress is not None and items:
                progress(report)
            if not items or not more:
                break
    return report
