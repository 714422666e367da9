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

Each level is posted exactly once, even when runs overlap or one stops halfway: one conditional
write claims it (``escalated`` i → i+1, only while the recovery is open or resuming and nobody
owns it) with a lease and appends the audit entry (actor ``escalation``); only then is the message
posted, marked with the level (``MessageMark.escalation``, Slack message metadata), and its ts
recorded on the recovery (``recovery_ops.service.recovery.storage.escalation_claims``). When the post fails
the level
is given back (i+1 → i, audited) and the levels above it wait, so the next run tries again. A
level claimed by a run that stopped before recording its post is found by a later run once its
lease ran out: that run looks for the level's message in Slack (the thread or channel, since the
level was first claimed) and records it if it is there, posts it only if Slack shows it is not,
and leaves it for the next run if Slack cannot be read. A level given back is looked for the same
way before it is posted again (the failed post may have reached Slack).

Taking a recovery stops its ladder (the claim needs no owner); so does closing it (the claim needs
it open). Releasing it lets the ladder go on from where it stopped: the count is not reset.
Candidates are listed through the ``by-status`` index, the open and the resuming (someone clicked,
it is not settled) without an owner, older than the lowest ``after_minutes`` of any ladder; when no
rule has a ladder nothing is read at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from recovery_ops.service.recovery.access.routing_rules import EscalationLevel, RoutingRules, Rule
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import MessageMark, MessageRef, NotifierUnavailableError
from recovery_ops.service.recovery.storage.escalation_claims import EscalationClaims, HeldLevel, PendingLevel
from recovery_ops.service.recovery.storage.recoveries import NO_OWNER, ListFilter, RecoveryStore

ACTOR = "escalation"
ACTION = "escalate"
SELECTION_LIMIT = 1000
ESCALATING = (RecoveryStatus.OPEN, RecoveryStatus.RESUMING)  # the statuses a ladder climbs
# how far before a level's first claim its message is looked for: the run's clock and Slack's
# (which stamps the message's ts) may differ a little
CLOCK_MARGIN = timedelta(seconds=60)


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

    @property
    def mark(self) -> MessageMark:
        return MessageMark.escalation(self.recovery.recovery_id, self.level)


class EscalationPoster(Protocol):
    def post_escalation(self, escalation: Escalation) -> MessageRef:
        """Post it, marked ``escalation.mark``; ``NotifierUnavailableError`` when the chat tool cannot
        take it now."""
        ...

    def find_posted(
        self, channel: str, since: datetime, mark: MessageMark, thread_ts: str | None = None
    ) -> MessageRef | None:
        """As ``recovery_ops.service.recovery.ports.notifier.Notifier.find_posted``."""
        ...


@dataclass(frozen=True)
class FiredLevel:
    recovery_id: str
    level: int  # 1-based


@dataclass
class EscalationReport:
    fired: list[FiredLevel] = field(default_factory=list)  # posted in this run
    given_back: list[FiredLevel] = field(default_factory=list)  # claimed, not posted: the next run retries
    found: list[FiredLevel] = field(default_factory=list)  # already in Slack (an earlier run's): recorded

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
    lease_seconds: float = 60  # how long a claimed level is this run's to post
    claimant: str = field(default_factory=lambda: uuid.uuid4().hex)

    def run(self) -> EscalationReport:
        report = EscalationReport()
        rules = self.rules()
        earliest = earliest_step(rules)
        if earliest is None:
            return report
        now = self.clock()
        candidates = self._candidates(earliest, now)
        claims = self._claims()
        pending = claims.pending([r.recovery_id for r in candidates if r.escalated])
        for recovery in candidates:
            self._climb(recovery, pending.get(recovery.recovery_id), rules, now, report)
        return report

    def _candidates(self, earliest: timedelta, now: datetime) -> list[Recovery]:
        """The open and resuming recoveries nobody owns, open longer than ``earliest``, the longest
        waiting first (past the limit, they come first)."""
        listed: dict[str, Recovery] = {}
        for status in ESCALATING:
            for recovery in self.store.list_by_status(
                status,
                ListFilter(older_than=earliest, owner=NO_OWNER),
                limit=SELECTION_LIMIT,
                now=now,
                oldest_first=True,
            ):
                listed.setdefault(recovery.recovery_id, recovery)
        return sorted(listed.values(), key=lambda r: r.sort_key)[:SELECTION_LIMIT]

    def _claims(self) -> EscalationClaims:
        return EscalationClaims(self.store.table_name, self.dynamodb)

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)

    def _climb(
        self,
        recovery: Recovery,
        pending: PendingLevel | None,
        rules: RoutingRules,
        now: datetime,
        report: EscalationReport,
    ) -> None:
        """Settle the level a stopped run left (if its lease ran out), then fire the levels due,
        lowest first; stop at the first one not posted."""
        rule = rule_of(rules, recovery)
        if rule is None or recovery.owner is not None:
            return
        open_for = now - datetime.fromisoformat(recovery.created_at)
        if pending is not None and not self._settle(recovery, pending, rule, now, open_for, report):
            return
        for index in due_levels(rule.escalation, recovery.escalated, open_for):
            escalation = self._escalation(recovery, rule, index, open_for)
            held = self._claims().claim(
                recovery.recovery_id,
                escalation.level,
                self.claimant,
                escalation.channel,
                escalation.thread_ts,
                now,
                self._lease,
                self._claim_entry(escalation, now),
            )
            if held is None:
                return  # another run fired it, or someone took or closed the recovery meanwhile
            if not self._deliver(escalation, held, now, report):
                return

    def _settle(
        self,
        recovery: Recovery,
        pending: PendingLevel,
        rule: Rule,
        now: datetime,
        open_for: timedelta,
        report: EscalationReport,
    ) -> bool:
        """The claimed level a run left unrecorded, once its lease ran out: found in Slack and
        recorded, or posted. False while it is not settled (the levels above it wait)."""
        if pending.until >= now:
            return False  # its run may be posting it right now
        index = pending.level - 1
        if index >= len(rule.escalation):
            (self.log or _log_warning)(
                "a claimed escalation level its rule no longer has: left as it is",
                recovery_id=recovery.recovery_id,
                level=pending.level,
            )
            return False
        held = self._claims().take_over(pending, self.claimant, now, self._lease)
        if held is None:
            return False  # another run took it over first, or the recovery was taken or closed
        return self._deliver(self._escalation(recovery, rule, index, open_for), held, now, report, late=True)

    def _deliver(
        self,
        escalation: Escalation,
        held: HeldLevel,
        now: datetime,
        report: EscalationReport,
        late: bool = False,
    ) -> bool:
        """Post the level ``held`` (where it was first aimed), unless an earlier attempt's message is
        in Slack already; record it. False when it is not posted (given back for the next run)."""
        escalation = replace(escalation, channel=held.channel or escalation.channel, thread_ts=held.thread_ts)
        fired = FiredLevel(escalation.recovery.recovery_id, escalation.level)
        try:
            if held.since is not None:
                found = self.poster.find_posted(
                    escalation.channel, held.since - CLOCK_MARGIN, escalation.mark, escalation.thread_ts
                )
                if found is not None:
                    report.found.append(fired)
                    return self._record(escalation, found, now, "FOUND POSTED")
            message = self.poster.post_escalation(escalation)
        except NotifierUnavailableError as exc:
            self._give_back(escalation, now, str(exc))
            report.given_back.append(fired)
            return False
        report.fired.append(fired)
        return self._record(escalation, message, now, "POSTED LATE" if late else None)

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
    def _claim_entry(self, escalation: Escalation, now: datetime) -> AuditEntry:
        return AuditEntry(
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

    def _record(
        self, escalation: Escalation, message: MessageRef, now: datetime, settled: str | None
    ) -> bool:
        """The level's message recorded on the recovery (audited when a run other than the claim's
        settled it: ``settled``). False when another run took the level over meanwhile."""
        entry = None
        if settled is not None:
            detail = {"channel": message.channel, "ts": message.ts}
            entry = AuditEntry(_at(now), ACTOR, ACTION, f"LEVEL {escalation.level} {settled}", detail)
        recovery_id = escalation.recovery.recovery_id
        recorded = self._claims().record_posted(recovery_id, escalation.level, self.claimant, message, entry)
        if not recorded:
            (self.log or _log_warning)(
                "escalation posted but not recorded: another run took the level over "
                "(it looks for the message in Slack before posting)",
                recovery_id=recovery_id,
                level=escalation.level,
            )
        return recorded

    def _give_back(self, escalation: Escalation, now: datetime, error: str) -> None:
        """``escalated`` level → level-1, audited, so the next run posts the level again."""
        entry = AuditEntry(
            _at(now), ACTOR, ACTION, f"LEVEL {escalation.level} NOT POSTED", {"error": error[:500]}
        )
        recovery_id = escalation.recovery.recovery_id
        given = self._claims().give_back(recovery_id, escalation.level, self.claimant, entry)
        (self.log or _log_warning)(
            "escalation not posted: the level is given back for the next run"
            if given
            else "escalation not posted, and its level changed meanwhile: not given back",
            recovery_id=recovery_id,
            level=escalation.level,
            error=error,
        )


def _at(now: datetime) -> str:
    return now.isoformat(timespec="milliseconds")


def _log_warning(message: str, **keys: Any) -> None:
    from recovery_ops.service.observability import logger

    logger.warning(message, **keys)
