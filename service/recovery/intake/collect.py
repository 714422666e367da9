"""Recovery intake: store each paused task once and make sure its Slack message exists once.

Per batch of contract messages: every recovery is written with a conditional put (a redelivered
message finds its item and is not stored again); recoveries whose message is not yet posted are
grouped by state machine, state and error within a window (the window each was first stored in:
a message delivered again in a later window comes back to its group). A group's first recovery
gets its own message with its own buttons; later members turn that message into a group message
whose count and latest examples are kept current. One chat call per group per batch, whatever the
burst.

Distinct failures fold sooner: once a channel has had ``fold_after`` new group messages in a
window (counted atomically in the table, across collectors), each further group of that channel and
window is folded into the channel's burst message for the window (``RecoveryBurst``): how many
recoveries, the largest failures, the latest recoveries and a way to list them all. Its recoveries
are recorded as posted on that message, under the burst group's id (a shared message: outcomes go
to its thread). Later members of a folded group update the burst message; groups that got messages
of their own go on as before. A channel's collector posts at most ``fold_after`` + 1 new messages
per window, whatever the burst. The burst message is posted once, as a group's is.

The channel of a group's message is chosen once, when it is first posted, for the group's first
recovery, by the routing rules (``recovery_ops.service.recovery.access.routing_rules``; without a matching
rule, the
stack's technical / client-data / default channels). Only the channel is decided by the rules in
this version: a rule's team, viewers and escalation are not yet acted on.

If the chat tool is unavailable the recoveries stay stored (OPEN, not yet posted) and the caller
is told which ones to retry; nothing is lost.

A group's message is posted once. The collector that posts it holds a claim on the group with a
lease (``posting_lease_seconds``, ``GroupStore.claim_posting``); the message carries the group's
mark in its Slack metadata (``MessageMark.group``). A collector that claims after an earlier
claim (whose collector crashed, or whose post failed) first reads the channel's history since
that claim: a message with the group's mark found there is recorded as the group's message, not
posted again. It posts only when the history shows none; history it cannot read leaves the
recoveries for SQS to deliver again.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.access.routing_rules import RoutingRulesSource
from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.ports.notifier import (
    FoldedFailure,
    MessageMark,
    MessageRef,
    Notifier,
    NotifierUnavailableError,
    RecoveryBurst,
    RecoveryGroup,
)
from recovery_ops.service.recovery.storage.groups import (
    LATEST_KEPT,
    NEW_MESSAGES_BEFORE_FOLDING,
    OWN_MESSAGE,
    GroupState,
    GroupStore,
    PostingClaim,
    burst_id_for,
    group_id_for,
    window_start,
)
from recovery_ops.service.recovery.storage.recoveries import RecoveryNotFoundError, RecoveryStore

# how far before a claim the channel is searched for its message: the collector's clock and
# Slack's (which stamps the message's ts) may differ a little
CLOCK_MARGIN = timedelta(seconds=60)
BURST_FAILURES_SHOWN = 5  # the largest distinct failures a burst message breaks down


@dataclass
class IntakeReport:
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    posted: list[str] = field(default_factory=list)
    found: list[str] = field(default_factory=list)  # groups whose message, already in Slack, was recorded
    slack_calls: int = 0
    retry: dict[str, str] = field(default_factory=dict)  # recovery id → why it must be retried


@dataclass
class RecoveryIntake:
    store: RecoveryStore
    groups: GroupStore
    notifier: Notifier
    routes: RoutingRulesSource  # the channel of each group's message (the rules, else the stack's channels)
    group_window_seconds: int = 600
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    claimant: str = field(default_factory=lambda: uuid.uuid4().hex)
    posting_lease_seconds: float = 60  # how long a claim on posting a group's message holds
    fold_after: int = NEW_MESSAGES_BEFORE_FOLDING  # new messages per channel and window before folding

    def receive(self, requests: list[tuple[RecoveryRequest, int]]) -> IntakeReport:
        """``requests``: contract messages with how many times SQS has delivered each."""
        report = IntakeReport()
        to_post = [r for r in (self.store_one(req, count, report) for req, count in requests) if r]
        self.notify(to_post, report)
        return report

    def store_one(
        self, request: RecoveryRequest, receive_count: int, report: IntakeReport
    ) -> Recovery | None:
        """Store the recovery once. Returns it when its message still has to be posted."""
        recovery = Recovery.from_request(request, self.clock(), attempts=receive_count)
        if self.store.create_if_absent(recovery):
            report.stored.append(recovery.recovery_id)
            return recovery
        try:
            existing = self.store.get(recovery.recovery_id)
        except RecoveryNotFoundError:  # expired by TTL between the two calls: nothing left to post
            report.duplicates.append(recovery.recovery_id)
            return None
        if existing.posted or existing.status.is_closed:
            report.duplicates.append(recovery.recovery_id)
            return None
        return existing  # stored by an earlier delivery whose message could not be posted

    def notify(self, recoveries: list[Recovery], report: IntakeReport) -> None:
        """One chat call per group of recoveries (same state machine, state, error and window), and
        one per channel's burst message for the groups folded into it.

        A recovery's window is the one it was first stored in (``created_at``), not the delivery's:
        a message delivered again in a later window finds the group its first delivery claimed,
        and so the message that delivery may have posted before it failed."""
        at = self.clock()
        by_group: dict[str, list[Recovery]] = defaultdict(list)
        for recovery in recoveries:
            by_group[group_id_for(recovery, self.group_window_seconds, _stored_at(recovery))].append(recovery)
        folded: dict[tuple[str, str], list[tuple[GroupState, list[Recovery]]]] = defaultdict(list)
        for group_id, members in by_group.items():
            state = self.groups.add_members(group_id, members, at)
            placement, channel = self._placement(state, members)
            if placement == OWN_MESSAGE:
                self._show(state, members, channel, at, report, [])
            else:
                folded[(placement, channel)].append((state, members))
        for (burst_id, channel), groups in folded.items():
            self._fold(burst_id, channel, groups, at, report)

    def _placement(self, state: GroupState, members: list[Recovery]) -> tuple[str, str]:
        """Where the group's recoveries are shown (``OWN_MESSAGE`` or a burst group's id), and the
        channel its message goes to (the routed one; a posted message keeps its own)."""
        if state.ts and state.channel:
            return OWN_MESSAGE, state.channel
        channel = self._route(state.group_id, members)
        if state.placement is not None:
            return state.placement, channel
        stored_at = _stored_at(members[0])
        if self.groups.count_new_message(channel, self.group_window_seconds, stored_at) <= self.fold_after:
            wanted = OWN_MESSAGE
        else:
            wanted = burst_id_for(channel, self.group_window_seconds, stored_at)
            logger.info("distinct failure folded into the channel's burst message", group_id=state.group_id)
        return self.groups.place(state.group_id, wanted), channel

    def _fold(
        self,
        burst_id: str,
        channel: str,
        groups: list[tuple[GroupState, list[Recovery]]],
        at: datetime,
        report: IntakeReport,
    ) -> None:
        """Add the folded groups' recoveries to the burst group, then show them on its message."""
        burst = [self.groups.add_to_burst(burst_id, state, members, at) for state, members in groups][-1]
        self._show(burst, [m for _, members in groups for m in members], channel, at, report, groups)

    def _show(
        self,
        state: GroupState,
        members: list[Recovery],
        channel: str,
        at: datetime,
        report: IntakeReport,
        folded: list[tuple[GroupState, list[Recovery]]],
    ) -> None:
        """Bring the message of ``state`` (a group, or a burst group) up to date, or post it once;
        then record it as the message of ``members``."""
        group_id = state.group_id
        claim: PostingClaim | None = None
        try:
            if state.ts and state.channel:
                message = MessageRef(state.channel, state.ts)
                report.slack_calls += 1
                self._update(state, members, message, folded)
            else:
                claim = self.groups.claim_posting(
                    group_id,
                    self.claimant,
                    channel,
                    at,
                    timedelta(seconds=self.posting_lease_seconds),
                    earliest=window_start(self.group_window_seconds, _stored_at(members[0])),
                )
                if claim is None:
                    for member in members:
                        report.retry[member.recovery_id] = "another collector is posting this group's message"
                    return
                message = self._post_first(state, members, claim, report, folded)
        except NotifierUnavailableError as exc:
            logger.warning("chat unavailable: recoveries stored, message not posted", error=str(exc))
            if claim is not None:
                self.groups.release_posting(group_id, self.claimant)
            for member in members:
                report.retry[member.recovery_id] = f"chat unavailable: {exc}"
            return
        for member in members:
            self.store.mark_posted(member.recovery_id, message.channel, message.ts, group_id)
            report.posted.append(member.recovery_id)

    def _route(self, group_id: str, members: list[Recovery]) -> str:
        """The channel the routing rules choose for the group's first recovery."""
        first = members[0]
        decision = self.routes.route(first.state_machine_arn, first.failed_state, first.error, first.routing)
        logger.info(
            "recovery routed",
            group_id=group_id,
            channel=decision.channel,
            rule=decision.rule.name if decision.rule else None,
            why=decision.explain(),
        )
        return decision.channel

    def _post_first(
        self,
        state: GroupState,
        members: list[Recovery],
        claim: PostingClaim,
        report: IntakeReport,
        folded: list[tuple[GroupState, list[Recovery]]],
    ) -> MessageRef:
        """The group's message, posted under ``claim``; after an earlier claim, the message that one
        posted if the channel's history has it (``NotifierUnavailableError`` if it cannot be read)."""
        group_id = state.group_id
        mark = MessageMark.group(group_id)
        if claim.since is not None:
            report.slack_calls += 1
            found = self.notifier.find_posted(claim.channel, claim.since - CLOCK_MARGIN, mark)
            if found is not None:
                logger.info("group message found in Slack: recorded, not posted again", group_id=group_id)
                self.groups.set_message(group_id, found.channel, found.ts)
                report.found.append(group_id)
                if state.count > 1 or state.burst:  # it may show fewer recoveries than the group has now
                    report.slack_calls += 1
                    self._update(state, members, found, folded)
                return found
        report.slack_calls += 1
        if state.burst:
            message = self.notifier.post_burst(self._burst_view(state, members, folded), claim.channel)
        elif state.count == 1:
            message = self.notifier.post_recovery(members[0], claim.channel, mark)
        else:
            message = self.notifier.post_group(self._view(state, members), claim.channel)
        self.groups.set_message(group_id, message.channel, message.ts)
        return message

    def _update(
        self,
        state: GroupState,
        members: list[Recovery],
        message: MessageRef,
        folded: list[tuple[GroupState, list[Recovery]]],
    ) -> None:
        if state.burst:
            self.notifier.update_burst(self._burst_view(state, members, folded), message)
        else:
            self.notifier.update_group(self._view(state, members), message)

    def _view(self, state: GroupState, members: list[Recovery]) -> RecoveryGroup:
        first = members[0]
        return RecoveryGroup(
            group_id=state.group_id,
            state_machine_arn=first.state_machine_arn,
            failed_state=first.failed_state,
            error=first.error,
            count=state.count,
            latest=members[-5:],
        )

    def _burst_view(
        self, burst: GroupState, members: list[Recovery], folded: list[tuple[GroupState, list[Recovery]]]
    ) -> RecoveryBurst:
        """The burst message: its largest failures (what each is read from the groups this batch
        folded, else from the table) and this batch's latest recoveries."""
        known = {state.group_id: state for state, _ in folded}
        largest = sorted(burst.folded.items(), key=lambda item: (-item[1], item[0]))[:BURST_FAILURES_SHOWN]
        top = []
        for group_id, count in largest:
            group = known.get(group_id) or self.groups.get(group_id)
            if group is not None:
                top.append(
                    FoldedFailure(group_id, group.state_machine_arn, group.failed_state, group.error, count)
                )
        return RecoveryBurst(
            group_id=burst.group_id,
            count=burst.count,
            failures=len(burst.folded),
            top=top,
            latest=members[-LATEST_KEPT:],
        )


def _stored_at(recovery: Recovery) -> datetime:
    """When the collector first stored ``recovery``: the window its group is in."""
    return datetime.fromisoformat(recovery.created_at)
