"""Recovery intake: store each paused task once and make sure its Slack message exists once.

Per batch of contract messages: every recovery is written with a conditional put (a redelivered
message finds its item and is not stored again); recoveries whose message is not yet posted are
grouped by state machine, state and error within a window. A group's first recovery gets its own
message with its own buttons; later members turn that message into a group message whose count
and latest examples are kept current. One chat call per group per batch, whatever the burst.

The channel of a group's message is chosen once, when it is first posted, for the group's first
recovery, by the routing rules (``service.recovery.routing_rules``; without a matching rule, the
stack's technical / client-data / default channels). Only the channel is decided by the rules in
this version: a rule's team, viewers and escalation are not yet acted on.

If the chat tool is unavailable the recoveries stay stored (OPEN, not yet posted) and the caller
is told which ones to retry; nothing is lost.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from service.observability import logger
from service.recovery.contract import RecoveryRequest
from service.recovery.groups import GroupState, GroupStore, group_id_for
from service.recovery.notifier import (
    MessageRef,
    Notifier,
    NotifierUnavailable,
    RecoveryGroup,
)
from service.recovery.recovery import Recovery
from service.recovery.routing_rules import RoutingRulesSource
from service.recovery.store import RecoveryNotFound, RecoveryStore


@dataclass
class IntakeReport:
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    posted: list[str] = field(default_factory=list)
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
        except RecoveryNotFound:  # expired by TTL between the two calls: nothing left to post
            report.duplicates.append(recovery.recovery_id)
            return None
        if existing.posted or existing.status.is_closed:
            report.duplicates.append(recovery.recovery_id)
            return None
        return existing  # stored by an earlier delivery whose message could not be posted

    def notify(self, recoveries: list[Recovery], report: IntakeReport) -> None:
        """One chat call per group of recoveries (same state machine, state, error and window)."""
        at = self.clock()
        by_group: dict[str, list[Recovery]] = defaultdict(list)
        for recovery in recoveries:
            by_group[group_id_for(recovery, self.group_window_seconds, at)].append(recovery)
        for group_id, members in by_group.items():
            self._notify(group_id, members, at, report)

    def _notify(self, group_id: str, members: list[Recovery], at: datetime, report: IntakeReport) -> None:
        state = self.groups.add_members(group_id, members, at)
        try:
            if state.ts and state.channel:
                message = MessageRef(state.channel, state.ts)
                report.slack_calls += 1
                self.notifier.update_group(self._view(state, members), message)
            elif self.groups.claim_posting(group_id, self.claimant):
                message = self._post_first(group_id, state, members, report)
            else:
                for member in members:
                    report.retry[member.recovery_id] = "another collector is posting this group's message"
                return
        except NotifierUnavailable as exc:
            logger.warning("chat unavailable: recoveries stored, message not posted", error=str(exc))
            self.groups.release_posting(group_id, self.claimant)
            for member in members:
                report.retry[member.recovery_id] = f"chat unavailable: {exc}"
            return
        for member in members:
            self.store.mark_posted(member.recovery_id, message.channel, message.ts, group_id)
            report.posted.append(member.recovery_id)

    def _post_first(
        self, group_id: str, state: GroupState, members: list[Recovery], report: IntakeReport
    ) -> MessageRef:
        first = members[0]
        decision = self.routes.route(first.state_machine_arn, first.failed_state, first.error, first.routing)
        channel = decision.channel
        logger.info(
            "recovery routed",
            group_id=group_id,
            channel=channel,
            rule=decision.rule.name if decision.rule else None,
            why=decision.explain(),
        )
        report.slack_calls += 1
        if state.count == 1:
            message = self.notifier.post_recovery(members[0], channel)
        else:
            message = self.notifier.post_group(self._view(state, members), channel)
        self.groups.set_message(group_id, message.channel, message.ts)
        return message

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
