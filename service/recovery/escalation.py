"""Escalation: a recovery that nobody owns is brought to more people the longer it stays open.

A routing rule's ``escalation`` is a ladder of levels: after ``after_minutes`` open, mention a
user group, in the level's own channel or else in the recovery message's thread. The reminders
function climbs the ladders on its schedule. For each open recovery nobody owns, the ladder of the
rule it matches *now*, under the rules in force, decides (a changed document applies at once;
``escalated`` counts the levels fired and is read as a position on the current ladder). Level i
(0-based) is due once the recovery has been open, since ``created_at``, for that level's
``after_minutes`` and ``escalated`` is i.

One run fires every level that is due, lowest first, each once: a recovery found past two levels
(the function was down, a ladder was added, two levels lie within one schedule period) gets both
in the same run rather than one per run.

Each level fires exactly once, even when runs overlap: one conditional write claims it
(``escalated`` i → i+1, only while the recovery is open and nobody owns it) and appends the audit
entry (actor ``escalation``); only then is the message posted. When the post fails the level is
given back (i+1 → i, audited) and the levels above it wait, so the next run tries again.

Taking a recovery stops its ladder (the claim needs no owner); so does closing it (the claim needs
it open). Releasing it lets the ladder go on from where it stopped: the count is not reset.
Candidates are listed through the ``by-status`` index, only open ones without an owner older than
the lowest ``after_minutes`` of any ladder; when no rule has a ladder nothing is read at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from service.conditional_writes import if_condition_holds
from service.recovery.notifier import NotifierUnavailable
from service.recovery.recovery import AuditEntry, Recovery, RecoveryStatus
from service.recovery.routing_rules import EscalationLevel, RoutingRules, Rule
from service.recovery.store import NO_OWNER, ListFilter, RecoveryStore
from service.recovery.table_items import ESCALATED, OWNER, STATUS, audit_entries, key

ACTOR = "escalation"
ACTION = "escalate"
SELECTION_LIMIT = 1000


@dataclass(frozen=True)
class Escalation:
    """One level's message, as data: the chat tool words it (and escapes what the recovery carries)."""

    recovery: Recovery
    rule: str
    level: int  # 1-based, as people count them
    levels: int  # how many levels the ladder has
    user_group: str
    channel: str
    thread_ts: str | None  # the recovery message's thread; None: a new message in ``channel``
    open_for: timedelta


class EscalationPoster(Protocol):
    def post_escalation(self, escalation: Escalation) -> None:
        """Post it; ``NotifierUnavailable`` when the chat tool cannot take it now."""
        ...


@dataclass(frozen=True)
class FiredLevel:
    recovery_id: str
    level: int  # 1-based


@dataclass
class EscalationReport:
    fired: list[FiredLevel] = field(default_factory=list)
    given_back: list[FiredLevel] = field(default_factory=list)  # claimed, not posted: the next run retries

    @property
    def escalated(self) -> list[str]:
        """The recoveries that escalated in this run, each once, in the order they did."""
        return list(dict.fromkeys(fired.recovery_id for fired in self.fired))


def rule_of(rules: RoutingRules, recovery: Recovery) -> Rule | None:
    """The rule ``recovery`` matches under ``rules`` (None: the fallback, which has no ladder)."""
    decision = rules.route(
        recovery.state_machine_arn, recovery.failed_state, recovery.error, recovery.routing
    )
    return decision.rule


def due_levels(ladder: tuple[EscalationLevel, ...], escalated: int, open_for: timedelta) -> list[int]:
    """The 0-based levels to fire now, lowest first: from ``escalated`` on, while each is due."""
    due = []
    for index in range(escalated, len(ladder)):
        if open_for < timedelta(minutes=ladder[index].after_minutes):
            break
        due.append(index)
    return due


def earliest_step(rules: RoutingRules) -> timedelta | None:
    """The lowest ``after_minutes`` of any ladder (None: no rule escalates)."""
    minutes = [rule.escalation[0].after_minutes for rule in rules.rules if rule.escalation]
    return timedelta(minutes=min(minutes)) if minutes else None


@dataclass
class Escalations:
    """The ladders of the rules in force, climbed over the open recoveries nobody owns."""

    store: RecoveryStore
    dynamodb: Any
    rules: Callable[[], RoutingRules]
    poster: EscalationPoster
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    log: Callable[..., None] | None = None  # (message, **keys); default: the service logger's warning

    def run(self) -> EscalationReport:
        report = EscalationReport()
        rules = self.rules()
        earliest = earliest_step(rules)
        if earliest is None:
            return report
        now = self.clock()
        candidates = self.store.list_by_status(
            RecoveryStatus.OPEN,
            ListFilter(older_than=earliest, owner=NO_OWNER),
            limit=SELECTION_LIMIT,
            now=now,
            oldest_first=True,  # past the limit, the longest waiting come first
        )
        for recovery in candidates:
            self._climb(recovery, rules, now, report)
        return report

    def _climb(
        self, recovery: Recovery, rules: RoutingRules, now: datetime, report: EscalationReport
    ) -> None:
        """Fire the levels due of one recovery, lowest first; stop at the first one not fired."""
        rule = rule_of(rules, recovery)
        if rule is None or recovery.owner is not None:
            return
        open_for = now - datetime.fromisoformat(recovery.created_at)
        for index in due_levels(rule.escalation, recovery.escalated, open_for):
            escalation = self._escalation(recovery, rule, index, open_for)
            fired = FiredLevel(recovery.recovery_id, index + 1)
            if not self._claim(escalation, index, now):
                return  # another run fired it, or someone took or closed the recovery meanwhile
            try:
                self.poster.post_escalation(escalation)
            except NotifierUnavailable as exc:
                self._give_back(escalation, index, now, str(exc))
                report.given_back.append(fired)
                return
            report.fired.append(fired)

    def _escalation(self, recovery: Recovery, rule: Rule, index: int, open_for: timedelta) -> Escalation:
        level = rule.escalation[index]
        if level.channel:
            channel, thread = level.channel, None
        elif recovery.slack_channel and recovery.slack_ts:
            channel, thread = recovery.slack_channel, recovery.slack_ts
        else:  # not posted (yet): there is no thread, the rule's channel hears of it
            channel, thread = rule.channel, None
        return Escalation(
            recovery=recovery,
            rule=rule.name,
            level=index + 1,
            levels=len(rule.escalation),
            user_group=level.mention_user_group,
            channel=channel,
            thread_ts=thread,
            open_for=open_for,
        )

    # ------------------------------------------------------------------ writes
    def _claim(self, escalation: Escalation, index: int, now: datetime) -> bool:
        """``escalated`` index → index+1 while it is open and unowned, with its audit entry."""
        entry = AuditEntry(
            _at(now),
            ACTOR,
            ACTION,
            f"LEVEL {escalation.level}",
            {
                "rule": escalation.rule,
                "user_group": escalation.user_group,
                "channel": escalation.channel,
                "open_minutes": int(escalation.open_for.total_seconds() // 60),
            },
        )
        return self._write(escalation.recovery.recovery_id, index, index + 1, entry, open_and_unowned=True)

    def _give_back(self, escalation: Escalation, index: int, now: datetime, error: str) -> None:
        """``escalated`` index+1 → index, audited, so the next run posts the level again."""
        entry = AuditEntry(
            _at(now), ACTOR, ACTION, f"LEVEL {escalation.level} NOT POSTED", {"error": error[:500]}
        )
        given = self._write(escalation.recovery.recovery_id, index + 1, index, entry)
        (self.log or _log_warning)(
            "escalation not posted: the level is given back for the next run"
            if given
            else "escalation not posted, and its level changed meanwhile: not given back",
            recovery_id=escalation.recovery.recovery_id,
            level=escalation.level,
            error=error,
        )

    def _write(
        self, recovery_id: str, expected: int, target: int, entry: AuditEntry, open_and_unowned: bool = False
    ) -> bool:
        """``escalated`` ``expected`` → ``target`` with ``entry`` audited, if it still is ``expected``
        (and, with ``open_and_unowned``, the recovery is open and nobody owns it)."""
        names = {"#escalated": ESCALATED}
        values: dict[str, Any] = {":entry": audit_entries(entry), ":none": {"L": []}}
        if expected == 0:  # absent until a level fires (0 after one was given back: absent again)
            is_expected = "attribute_not_exists(#escalated)"
        else:
            is_expected = "#escalated = :expected"
            values[":expected"] = {"N": str(expected)}
        audit = "audit = list_append(if_not_exists(audit, :none), :entry)"
        if target == 0:
            update = f"SET {audit} REMOVE #escalated"
        else:
            update = f"SET #escalated = :target, {audit}"
            values[":target"] = {"N": str(target)}
        conditions = ["attribute_exists(recovery_id)", is_expected]
        if open_and_unowned:
            conditions += ["#status = :open", "attribute_not_exists(#owner)"]
            names.update({"#status": STATUS, "#owner": OWNER})
            values[":open"] = {"S": RecoveryStatus.OPEN}
        return (
            if_condition_holds(
                self.dynamodb.update_item,
                TableName=self.store.table_name,
                Key=key(recovery_id),
                UpdateExpression=update,
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            is not None
        )


def _at(now: datetime) -> str:
    return now.isoformat(timespec="milliseconds")


def _log_warning(message: str, **keys: Any) -> None:
    from service.observability import logger

    logger.warning(message, **keys)
