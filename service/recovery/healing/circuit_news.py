"""When a circuit closes again, tell the recoveries its outage left behind.

A dependency's outage pauses executions with its outage errors (``CircuitOpen`` when one waited
too long for the circuit, the dependency's own error when retries ran out). Once the circuit is
CLOSED the dependency answers again, so every group message of still-open recoveries that name
that circuit as their ``dependency`` and failed with one of those errors says so and offers Run
again all. Both must hold: an outage error alone does not say whose outage it was (the payments
team's ``CircuitOpen`` is not the vendor's), and a recovery that names no dependency is never
guessed at. Every such recovery counts, whatever its age: if it is still open, it is still waiting
for the dependency.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import (
    CircuitClosedNotice,
    MessageRef,
    Notifier,
    NotifierUnavailableError,
    RecoveryGroup,
)
from recovery_ops.service.recovery.storage.groups import GroupStore
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryStore

SELECTION_LIMIT = 10_000


@dataclass(frozen=True)
class CircuitClosed:
    dependency: str
    at: str  # when the stream saw it close (ISO 8601)
    changed_at: float = 0.0  # the breaker item's changed_at: names this closing (``Closure``)


@dataclass
class CircuitNews:
    store: RecoveryStore
    groups: GroupStore
    notifier: Notifier
    outage_errors: tuple[str, ...]

    def announce(self, closed: CircuitClosed) -> list[str]:
        """Update each affected group message; the ids of the groups told."""
        told = []
        for group_id, members in self._open_by_group(closed.dependency).items():
            state = self.groups.get(group_id)
            if state is None or not (state.channel and state.ts) or state.burst:
                continue  # a burst message shows distinct failures: it is never turned into one group's
            notice = CircuitClosedNotice(closed.dependency, closed.at, waiting=len(members))
            view = RecoveryGroup(
                group_id=group_id,
                state_machine_arn=members[0].state_machine_arn,
                failed_state=members[0].failed_state,
                error=members[0].error,
                count=len(members),
                latest=members[:5],
            )
            try:
                self.notifier.update_group(view, MessageRef(state.channel, state.ts), notice=notice)
            except NotifierUnavailableError as exc:
                logger.warning("could not announce the closed circuit", group_id=group_id, error=str(exc))
                continue
            told.append(group_id)
        logger.info("circuit closed: groups told", dependency=closed.dependency, groups=len(told))
        return told

    def _open_by_group(self, dependency: str) -> dict[str, list[Recovery]]:
        by_group: dict[str, list[Recovery]] = defaultdict(list)
        for error in self.outage_errors:
            for recovery in self.store.list_by_status(
                RecoveryStatus.OPEN, ListFilter(dependency=dependency, error=error), limit=SELECTION_LIMIT
            ):
                if recovery.group_id:
                    by_group[recovery.group_id].append(recovery)
        return by_group
