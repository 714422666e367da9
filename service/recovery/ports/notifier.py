"""What the intake needs from a chat tool, as a protocol (slack_app implements it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.group_state import GroupState
from recovery_ops.service.recovery.model.recovery import Recovery, execution_console_url


@dataclass(frozen=True)
class MessageRef:
    channel: str
    ts: str


MESSAGE_EVENT_TYPE = "recovery_ops_message"  # the event type of every mark (Slack message metadata)


@dataclass(frozen=True)
class MessageMark:
    """What a message the product posts carries so that it can be found again (in Slack, its
    metadata): which kind of message and whose. Only ids the product made itself go in, never a
    task token or anything a person or a workflow wrote."""

    kind: str  # "group", "escalation", "escalation-digest", "healing"
    key: str

    @classmethod
    def group(cls, group_id: str) -> MessageMark:
        """A group's message (its first recovery's own message, later the group message)."""
        return cls("group", group_id)

    @classmethod
    def escalation(cls, recovery_id: str, level: int) -> MessageMark:
        """One escalation level (1-based) of one recovery."""
        return cls("escalation", f"{recovery_id}#{level}")

    @classmethod
    def escalation_digest(cls, digest_id: str) -> MessageMark:
        """One run's escalation levels in one channel, gathered in one message (a digest id the
        run made)."""
        return cls("escalation-digest", digest_id)

    @classmethod
    def healing(cls, healing_id: str) -> MessageMark:
        """A self-healing run's progress in its group message's thread."""
        return cls("healing", healing_id)


@dataclass(frozen=True)
class RecoveryGroup:
    """Recoveries that share state machine, state and error within one window: one message."""

    group_id: str
    state_machine_arn: str
    failed_state: str
    error: str | None
    count: int
    latest: list[Recovery]

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]

    @classmethod
    def of(cls, state: GroupState, latest: list[Recovery]) -> RecoveryGroup:
        """The message of a stored group, showing ``latest`` (at most five of its recoveries)."""
        return cls(
            group_id=state.group_id,
            state_machine_arn=state.state_machine_arn,
            failed_state=state.failed_state,
            error=state.error,
            count=state.count,
            latest=latest[:5],
        )


@dataclass(frozen=True)
class FoldedFailure:
    """One distinct failure of a burst message: how many of its recoveries the message holds."""

    group_id: str
    state_machine_arn: str
    failed_state: str
    error: str | None
    count: int

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class RecoveryBurst:
    """Distinct failures one channel had in one window, beyond the few that got messages of their
    own: one message. It counts every recovery, breaks the largest failures down, shows the latest
    recoveries (each with its own actions) and lists them all (``group_id``: the burst group)."""

    group_id: str
    count: int  # recoveries
    failures: int  # distinct failures (state machine, state, error)
    top: list[FoldedFailure]  # the largest, largest first
    latest: list[Recovery]


@dataclass(frozen=True)
class HealingNotice:
    """What self-healing does with a group message's recoveries (``healing_runs.HealingRun``)."""

    healing_id: str
    state: str  # a HealingState
    selected: int
    resumed: int
    expired: int
    per_second: float
    ended_why: str = ""
    stopped_by: str | None = None  # who pressed Stop (a STOPPED run)

    @property
    def left(self) -> int:
        return max(0, self.selected - self.resumed - self.expired)


@dataclass(frozen=True)
class CircuitClosedNotice:
    """Shown on top of a group message: the dependency its recoveries wait for answers again (and,
    when they heal themselves, how that goes: ``healing``)."""

    dependency: str
    closed_at: str  # ISO 8601
    waiting: int  # open recoveries of the message
    healing: HealingNotice | None = None


@dataclass(frozen=True)
class UnreadableMessage:
    """A recovery request that does not follow the contract, as far as it could be read: every
    value already without task tokens (``recovery_ops.service.recovery.intake.unreadable``); None when
    unreadable."""

    message_id: str  # the SQS message it arrived as (also the recovery DLQ's source_message_id)
    reason: str
    execution_arn: str | None = None
    execution_name: str | None = None
    state_machine_name: str | None = None
    failed_state: str | None = None

    @property
    def console_url(self) -> str | None:
        return execution_console_url(self.execution_arn) if self.execution_arn else None


class NotifierUnavailableError(RecoveryOpsError):
    """The chat tool could not be reached or refused for now (5xx, 429, timeout): try again later."""


class ChannelPace(Protocol):
    """Keeps the posts to each channel to the chat tool's pace, across every process that posts
    (``recovery_ops.service.recovery.storage.channel_pace``)."""

    def turn(self, channel: str) -> float:
        """Wait for ``channel``'s next turn and take it (the seconds waited);
        ``NotifierUnavailableError`` when it is too far away to wait for now."""
        ...

    def hold(self, channel: str, seconds: float) -> None:
        """The chat tool asked for ``seconds`` of quiet in ``channel``: no turn before then."""
        ...


class Notifier(Protocol):
    def post_recovery(
        self, recovery: Recovery, channel: str, mark: MessageMark | None = None
    ) -> MessageRef: ...

    def post_group(self, group: RecoveryGroup, channel: str) -> MessageRef:
        """The group's message, marked ``MessageMark.group(group.group_id)``."""
        ...

    def find_posted(
        self, channel: str, since: datetime, mark: MessageMark, thread_ts: str | None = None
    ) -> MessageRef | None:
        """The message marked ``mark`` posted in ``channel`` (in the thread of ``thread_ts``) since
        ``since``; None only when the history read proves there is none. ``NotifierUnavailableError``
        when the history cannot be read, or not all of it: then nobody may post it again yet."""
        ...

    def update_group(
        self, group: RecoveryGroup, message: MessageRef, notice: CircuitClosedNotice | None = None
    ) -> None: ...

    def post_unreadable(self, message: UnreadableMessage, channel: str) -> MessageRef: ...

    def post_burst(self, burst: RecoveryBurst, channel: str) -> MessageRef:
        """The burst message, marked ``MessageMark.group(burst.group_id)``."""
        ...

    def update_burst(self, burst: RecoveryBurst, message: MessageRef) -> None: ...


@dataclass(frozen=True)
class ChannelRouting:
    """Where each support team's recoveries go; ``default`` when a team has no channel of its own."""

    default: str
    technical: str | None = None
    client_data: str | None = None

    def channel_for(self, routing: Routing) -> str:
        chosen = self.technical if routing is Routing.TECHNICAL else self.client_data
        return chosen or self.default
