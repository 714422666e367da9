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

Slack takes about one message a second per channel, so the levels of one run are posted per target
channel (the level's own channel, or the channel of the recovery message whose thread it would go
in): at most ``DIGEST_THRESHOLD`` go one by one as above; more become one digest at the top of that
channel, which mentions each user group once and lists the recoveries (the longest open as rows, and
a way to list them all). Each level in it is still claimed with its lease and audited, and says in
its claim that it goes in that digest (``escalating_as``: the digest's id); the digest carries its
own mark (``MessageMark.escalation_digest``) and, once posted, is recorded as each level's message.
Whoever settles a level later looks for the marks of every attempt at it (its own message, or each
digest it went in), so a digest posted by a run that stopped is found rather than posted again; a
digest whose post fails gives every level back. A recovery in a digest climbs one level per run:
its higher levels due follow in the next run.

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
from recovery_ops.service.recovery.lifecycle.reminders import DIGEST_THRESHOLD
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import MessageMark, MessageRef, NotifierUnavailableError
from recovery_ops.service.recovery.storage.escalation_claims import (
    OWN_MESSAGE,
    EscalationClaims,
    HeldLevel,
    PendingLevel,
)
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


@dataclass(frozen=True)
class EscalationDigest:
    """The levels of one run for one channel, when there are more than a few: one message at the
    top of ``channel``, marked ``mark``, instead of one per level."""

    digest_id: str
    channel: str
    escalations: tuple[Escalation, ...]  # the longest open first

    @property
    def mark(self) -> MessageMark:
        return MessageMark.escalation_digest(self.digest_id)

    @property
    def user_groups(self) -> tuple[str, ...]:
        """The user groups its levels mention, each once, in the order they first come."""
        return tuple(dict.fromkeys(escalation.user_group for escalation in self.escalations))


class EscalationPoster(Protocol):
    def post_escalation(self, escalation: Escalation) -> MessageRef:
        """Post it, marked ``escalation.mark``; ``NotifierUnavailableError`` when the chat tool cannot
        take it now."""
        ...

    def post_escalation_digest(self, digest: EscalationDigest) -> MessageRef:
        """Post it at the top of ``digest.channel``, marked ``digest.mark``;
        ``NotifierUnavailableError`` when the chat tool cannot take it now."""
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
    digests: list[MessageRef] = field(default_factory=list)  # one per channel past the threshold

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


@dataclass(frozen=True)
class _Step:
    """The next level of one recovery this run posts: its first due level (``held`` None: to be
    claimed), or a level taken over from a run that stopped, looked for in Slack and not found."""

    escalation: Escalation
    rule: Rule
    held: HeldLevel | None = None

    @property
    def fired(self) -> FiredLevel:
        return FiredLevel(self.escalation.recovery.recovery_id, self.escalation.level)


def by_channel(steps: list[_Step]) -> dict[str, list[_Step]]:
    """The steps per target channel, in the order listed."""
    channels: dict[str, list[_Step]] = {}
    for step in steps:
        channels.setdefault(step.escalation.channel, []).append(step)
    return channels


def aimed(escalation: Escalation, held: HeldLevel) -> Escalation:
    """The level where its claim was first aimed (a level given back keeps its first target)."""
    return replace(escalation, channel=held.channel or escalation.channel, thread_ts=held.thread_ts)


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
    # the digests looked for in this run, by channel and mark: each is looked for once
    _looked: dict[tuple[str, MessageMark], MessageRef | None] = field(
        default_factory=dict, init=False, repr=False
    )

    def run(self) -> EscalationReport:
        report = EscalationReport()
        rules = self.rules()
        earliest = earliest_step(rules)
        if earliest is None:
            return report
        now = self.clock()
        self._looked = {}
        candidates = self._candidates(earliest, now)
        claims = self._claims()
        pending = claims.pending([r.recovery_id for r in candidates if r.escalated])
        steps = [
            step
            for recovery in candidates
            for step in [self._next(recovery, pending.get(recovery.recovery_id), rules, now, report)]
            if step is not None
        ]
        for channel, in_channel in by_channel(steps).items():
            if len(in_channel) > DIGEST_THRESHOLD:
                self._digest(channel, in_channel, now, report)
            else:
                for step in in_channel:
                    self._climb(step, now, report)
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

    def _next(
        self,
        recovery: Recovery,
        pending: PendingLevel | None,
        rules: RoutingRules,
        now: datetime,
        report: EscalationReport,
    ) -> _Step | None:
        """The level this run posts next for ``recovery``, once the level a stopped run left is
        settled (found in Slack and recorded: the next one due); None when nothing is to post now."""
        rule = rule_of(rules, recovery)
        if rule is None or recovery.owner is not None:
            return None
        open_for = now - datetime.fromisoformat(recovery.created_at)
        if pending is not None:
            settled, step = self._settle(recovery, pending, rule, now, open_for, report)
            if not settled:
                return step
        due = due_levels(rule.escalation, recovery.escalated, open_for)
        return _Step(self._escalation(recovery, rule, due[0], open_for), rule) if due else None

    def _climb(self, step: _Step, now: datetime, report: EscalationReport) -> None:
        """Post ``step`` on its own, then the levels above it that are due, lowest first; stop at the
        first one not posted."""
        escalation = step.escalation
        if step.held is not None:
            posted = self._claims().aim(
                escalation.recovery.recovery_id, escalation.level, self.claimant, OWN_MESSAGE
            ) and self._deliver(escalation, step.held, now, report, late=True, looked=True)
        else:
            posted = self._claim_and_deliver(escalation, now, report)
        if not posted:
            return
        for index in due_levels(step.rule.escalation, escalation.level, escalation.open_for):
            above = self._escalation(escalation.recovery, step.rule, index, escalation.open_for)
            if not self._claim_and_deliver(above, now, report):
                return

    def _claim_and_deliver(self, escalation: Escalation, now: datetime, report: EscalationReport) -> bool:
        held = self._claim(escalation, now, OWN_MESSAGE)
        if held is None:
            return False  # another run fired it, or someone took or closed the recovery meanwhile
        return self._deliver(escalation, held, now, report)

    def _claim(self, escalation: Escalation, now: datetime, posted_as: str) -> HeldLevel | None:
        return self._claims().claim(
            escalation.recovery.recovery_id,
            escalation.level,
            self.claimant,
            escalation.channel,
            escalation.thread_ts,
            now,
            self._lease,
            self._claim_entry(escalation, now),
            posted_as,
        )

    def _settle(
        self,
        recovery: Recovery,
        pending: PendingLevel,
        rule: Rule,
        now: datetime,
        open_for: timedelta,
        report: EscalationReport,
    ) -> tuple[bool, _Step | None]:
        """The claimed level a run left unrecorded, once its lease ran out: taken over and looked for
        in Slack (every attempt's mark). (True, None): found and recorded, the levels above may go
        on; (False, a step): not in Slack, this run posts it; (False, None): not settled now."""
        if pending.until >= now:
            return False, None  # its run may be posting it right now
        index = pending.level - 1
        if index >= len(rule.escalation):
            (self.log or _log_warning)(
                "a claimed escalation level its rule no longer has: left as it is",
                recovery_id=recovery.recovery_id,
                level=pending.level,
            )
            return False, None
        held = self._claims().take_over(pending, self.claimant, now, self._lease)
        if held is None:
            return False, None  # another run took it over first, or the recovery was taken or closed
        escalation = aimed(self._escalation(recovery, rule, index, open_for), held)
        fired = FiredLevel(recovery.recovery_id, escalation.level)
        try:
            found = self._look(escalation, held)
        except NotifierUnavailableError as exc:
            self._give_back(escalation, now, str(exc))
            report.given_back.append(fired)
            return False, None
        if found is None:
            return False, _Step(escalation, rule, held)
        report.found.append(fired)
        return self._record(escalation, found, now, "FOUND POSTED"), None

    def _look(self, escalation: Escalation, held: HeldLevel) -> MessageRef | None:
        """The message an earlier attempt at the level posted (its own, or a digest it went in);
        None when Slack shows none. ``NotifierUnavailableError`` when Slack cannot be read."""
        if held.since is None:
            return None  # the first attempt: nothing can have been posted
        since = held.since - CLOCK_MARGIN
        for tried in held.tried or (OWN_MESSAGE,):
            if tried == OWN_MESSAGE:
                found = self.poster.find_posted(
                    escalation.channel, since, escalation.mark, escalation.thread_ts
                )
            else:
                found = self._look_for_digest(escalation.channel, since, tried)
            if found is not None:
                return found
        return None

    def _look_for_digest(self, channel: str, since: datetime, digest_id: str) -> MessageRef | None:
        """A digest's message in ``channel``, looked for once per run (its levels share it): any of
        its levels' ``since`` comes before the digest was posted."""
        mark = MessageMark.escalation_digest(digest_id)
        if (channel, mark) not in self._looked:
            self._looked[(channel, mark)] = self.poster.find_posted(channel, since, mark)
        return self._looked[(channel, mark)]

    def _digest(self, channel: str, steps: list[_Step], now: datetime, report: EscalationReport) -> None:
        """The steps of one channel as one digest: each level claimed (or a taken-over one aimed) for
        it, posted once, recorded as each level's message; every level given back when the post
        fails or the claims outlived their lease before it."""
        digest_id = uuid.uuid4().hex
        held = [one for step in steps if (one := self._hold_for_digest(step, digest_id, now, report))]
        if not held:
            return
        digest = EscalationDigest(
            digest_id,
            channel,
            tuple(sorted((e for e, _ in held), key=lambda e: e.open_for, reverse=True)),
        )
        try:
            if self.clock() >= now + self._lease:
                raise NotifierUnavailableError("the claims' lease ran out before the digest was posted")
            message = self.poster.post_escalation_digest(digest)
        except NotifierUnavailableError as exc:
            for escalation, _ in held:
                self._give_back(escalation, now, str(exc))
                report.given_back.append(FiredLevel(escalation.recovery.recovery_id, escalation.level))
            return
        report.digests.append(message)
        for escalation, late in held:
            report.fired.append(FiredLevel(escalation.recovery.recovery_id, escalation.level))
            self._record(escalation, message, now, "POSTED LATE" if late else None)

    def _hold_for_digest(
        self, step: _Step, digest_id: str, now: datetime, report: EscalationReport
    ) -> tuple[Escalation, bool] | None:
        """The step's level held for the digest ``digest_id``, and whether it is late (taken over
        from a run that stopped); None when it is not in it (another run has it, an earlier
        attempt's message was found, or its claim keeps another target, where it is posted on its
        own)."""
        escalation, recovery_id = step.escalation, step.escalation.recovery.recovery_id
        if step.held is not None:  # taken over, looked for and not found
            aimed_now = self._claims().aim(recovery_id, escalation.level, self.claimant, digest_id)
            return (escalation, True) if aimed_now else None
        held = self._claim(escalation, now, digest_id)
        if held is None:
            return None
        if held.channel and held.channel != escalation.channel:  # given back earlier, aimed elsewhere
            self._claims().aim(recovery_id, escalation.level, self.claimant, OWN_MESSAGE)
            self._deliver(escalation, held, now, report)
            return None
        escalation = aimed(escalation, held)
        try:
            found = self._look(escalation, held)
        except NotifierUnavailableError as exc:
            self._give_back(escalation, now, str(exc))
            report.given_back.append(step.fired)
            return None
        if found is not None:
            report.found.append(step.fired)
            self._record(escalation, found, now, "FOUND POSTED")
            return None
        return escalation, False

    def _deliver(
        self,
        escalation: Escalation,
        held: HeldLevel,
        now: datetime,
        report: EscalationReport,
        late: bool = False,
        looked: bool = False,
    ) -> bool:
        """Post the level ``held`` (where it was first aimed), unless an earlier attempt's message is
        in Slack already (``looked``: that was looked for already); record it. False when it is not
        posted (given back for the next run)."""
        escalation = aimed(escalation, held)
        fired = FiredLevel(escalation.recovery.recovery_id, escalation.level)
        try:
            found = None if looked else self._look(escalation, held)
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
