"""Bulk Run again / Reject: many recoveries, one by one, at a rate Step Functions accepts.

Every recovery goes through ``RecoveryActions`` (so each is still claimed exactly once and
audited); calls are paced to ``rate_per_second`` and a throttled call backs off inside the
actions. Progress is reported every ``progress_every`` recoveries. When a deadline is near (a
Lambda function's remaining time) the run stops cleanly: what is left stays OPEN and is counted.
One recovery's failure never stops the rest, nor loses the outcomes already had: it is counted
FAILED and reported with its id and why (``BulkReport.errors``). A claim the table did not answer
sent nothing; anything it left in flight is settled by the reconciler.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.access.routing_rules import Rule
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, ActionResult, RecoveryActions
from recovery_ops.service.recovery.lifecycle.approvals import Approvals
from recovery_ops.service.recovery.model.approval import ApprovalRequest, Gated
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import (
    DISPLAY_GRACE,
    STORE_FAULTS,
    ListFilter,
    RecoveryStore,
)

SELECTION_LIMIT = 10_000

#: who asks for approval under a rule's policy (None: nobody may, from there)
Requester = Callable[[Rule], str | None]
NOT_A_PERSON = (
    "the rule's policy names no person for this AWS principal (its cli_approvers), so no request "
    "can be made from the command line"
)


@dataclass
class BulkReport:
    total: int
    outcomes: Counter[str] = field(default_factory=Counter)
    left_open: int = 0
    wall_s: float = 0.0
    results: list[ActionResult] = field(default_factory=list, repr=False)
    errors: dict[str, str] = field(default_factory=dict)  # recovery id → why its action failed
    #: what an approval policy held back: one request per rule, each naming its recoveries
    requests: list[ApprovalRequest] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why a request could not be made

    @property
    def awaiting_approval(self) -> int:
        return sum(len(r.subjects) for r in self.requests)

    @property
    def done(self) -> int:
        return sum(self.outcomes.values())

    def summary(self) -> str:
        parts = [
            f"{count} {outcome.lower().replace('_', ' ')}" for outcome, count in sorted(self.outcomes.items())
        ]
        if self.left_open:
            parts.append(f"{self.left_open} left open (out of time: run it again)")
        if self.requests:
            parts.append(
                f"{self.awaiting_approval} wait for approval ("
                + ", ".join(f"request {r.request_id}: {r.status_line()}" for r in self.requests)
                + ")"
            )
        parts += [f"held back: {why}" for why in self.refused]
        text = f"{self.done}/{self.total}: " + (", ".join(parts) or "nothing to do")
        if self.errors:
            shown = "; ".join(f"{rid}: {why}" for rid, why in list(self.errors.items())[:5])
            more = f" and {len(self.errors) - 5} more" if len(self.errors) > 5 else ""
            text += f" (failed: {shown}{more}; check them with show)"
        return text


def open_matching(store: RecoveryStore, where: ListFilter) -> list[Recovery]:
    """The OPEN recoveries ``where`` selects, newest first (at most ``SELECTION_LIMIT``)."""
    return store.list_by_status(RecoveryStatus.OPEN, where, limit=SELECTION_LIMIT)


def open_recoveries_matching(store: RecoveryStore, where: ListFilter) -> list[str]:
    return [r.recovery_id for r in open_matching(store, where)]


@dataclass
class BulkAction:
    actions: RecoveryActions
    rate_per_second: float = 50.0
    progress_every: int = 50
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    #: the approval policies: a bulk action over a rule's ``bulk_over`` (or an action its policy
    #: covers) becomes one request per rule naming its recoveries (None: no policies)
    approvals: Approvals | None = None

    def run_again(
        self,
        recovery_ids: Iterable[str],
        actor: str,
        reason: str | None = None,
        requester: Requester | None = None,
        **kwargs: Any,
    ) -> BulkReport:
        """Run again each of ``recovery_ids``; ``reason`` goes with the requests of those a policy
        holds back (a policy may require one). ``requester``: who asks under each rule's policy
        (the command line: the person its AWS principal is; None there: no request), else ``actor``."""
        ids, held, read = self._held(list(recovery_ids), Gated.RUN_AGAIN, actor, reason, requester)
        within = self.display_lease(len(ids), kwargs.get("seconds_left"))
        report = self._run(
            ids,
            lambda i: self.actions.run_again(
                i, actor, show=False, show_later=True, show_within=within, recovery=read.get(i)
            ),
            **kwargs,
        )
        return held(report)

    def reject(
        self, recovery_ids: Iterable[str], actor: str, reason: str | None = None, **kwargs: Any
    ) -> BulkReport:
        ids, held, read = self._held(list(recovery_ids), Gated.REJECT, actor, reason)
        within = self.display_lease(len(ids), kwargs.get("seconds_left"))
        report = self._run(
            ids,
            lambda i: self.actions.reject(
                i, actor, reason, show=False, show_later=True, show_within=within, recovery=read.get(i)
            ),
            **kwargs,
        )
        return held(report)

    def _held(
        self, ids: list[str], gated: Gated, actor: str, reason: str | None, requester: Requester | None = None
    ) -> tuple[list[str], Callable[[BulkReport], BulkReport], dict[str, Recovery]]:
        """The ids to run now, what adds the requests made for the rest to the report (the
        recoveries a policy holds back, by size or by action, are asked for, one request per rule),
        and the recoveries read to decide it, by id: the resolver's own check of the policy reads
        none of them again (it matches on what a recovery never changes)."""
        if self.approvals is None or not ids or not self.approvals.gate.any_policy():
            return ids, lambda report: report, {}
        recoveries = self.approvals.recoveries.get_many(ids)
        held = self.approvals.gate.bulk_policy(recoveries, gated)
        requests: list[ApprovalRequest] = []
        refused: list[str] = []
        kept: set[str] = set()
        for rule, members in held.values():
            kept.update(r.recovery_id for r in members)
            asking = requester(rule) if requester is not None else actor
            if asking is None:
                refused.append(f"{len(members)} of rule {rule.name!r}: {NOT_A_PERSON}")
                continue
            decision = self.approvals.request(members, gated, asking, rule, reason=reason, bulk=True)
            if decision.request is not None:
                requests.append(decision.request)
            else:
                refused.append(f"{len(members)} of rule {rule.name!r}: {decision.detail}")

        def add(report: BulkReport) -> BulkReport:
            report.total += len(kept)
            report.requests, report.refused = requests, refused
            return report

        return [i for i in ids if i not in kept], add, {r.recovery_id: r for r in recoveries}

    def display_lease(self, count: int, seconds_left: Callable[[], float] | None = None) -> timedelta:
        """How long the run's own refresh has to show its outcomes: as long as the run can last (the
        invocation's time left, else ``count`` at the run's pace) and the grace after it. Only a run
        that died before its refresh leaves its outcomes to the reconciler, which would otherwise
        reply in a group's thread for each recovery while the run is still going."""
        if seconds_left is not None:
            lasts = max(0.0, seconds_left())
        else:
            lasts = count / self.rate_per_second if self.rate_per_second > 0 else 0.0
        return timedelta(seconds=lasts) + DISPLAY_GRACE

    def _run(
        self,
        ids: list[str],
        act: Callable[[str], ActionResult],
        on_progress: Callable[[BulkReport], None] | None = None,
        seconds_left: Callable[[], float] | None = None,
        reserve_seconds: float = 30.0,
    ) -> BulkReport:
        report = BulkReport(total=len(ids))
        started = self.clock()
        interval = 1.0 / self.rate_per_second if self.rate_per_second > 0 else 0.0
        for index, recovery_id in enumerate(ids):
            if seconds_left is not None and seconds_left() < reserve_seconds:
                report.left_open = len(ids) - index
                break
            due = started + index * interval
            wait = due - self.clock()
            if wait > 0:
                self.sleep(wait)
            try:
                result = act(recovery_id)
            except Exception as exc:  # noqa: BLE001 - one recovery's fault never stops the rest
                logger.warning("bulk action failed for one recovery", recovery_id=recovery_id, error=str(exc))
                why = (
                    f"the recovery store did not answer ({type(exc).__name__}); nothing was sent"
                    if isinstance(exc, STORE_FAULTS)
                    else f"{type(exc).__name__}; see show: anything in flight is settled by the reconciler"
                )
                report.errors[recovery_id] = why
                result = ActionResult(ActionOutcome.FAILED, None, why)
            report.outcomes[result.outcome] += 1
            report.results.append(result)
            if on_progress and (index + 1) % self.progress_every == 0 and index + 1 < len(ids):
                report.wall_s = self.clock() - started
                on_progress(report)
        report.wall_s = self.clock() - started
        return report
