"""The dead-letter queues on SQS: how deep they are, what their oldest messages say, redriving them.

Two DLQs matter to the support desk:

- the **orders DLQ**: orders the workflow gave up on (rejected or failed, after compensation), sent
  there by the state machine with their full context. No queue names it in a ``RedrivePolicy``, and
  SQS moves messages only out of queues that are the DLQ of another queue, so it is **inspect
  only**: a message there is a business decision already taken (re-place the order if needed).
- the **recovery DLQ**: recovery requests the collector could not store or post after 5 receives,
  and malformed ones (with a ``reason`` message attribute). It is the recovery queue's DLQ, so it
  is redriven back to the recovery queue once the cause is fixed.

Looking never consumes: messages are received with ``VisibilityTimeout=0`` (they are visible again
at once; SQS counts the look as a receive). Redriving is SQS's own move task
(``StartMessageMoveTask``) at a bounded rate; one move task per source queue at a time, so a
running one is reported instead of a second being started. Every redrive (and every refused
attempt) goes to the queue's audit trail (``audit.py``); what a message looks like in a preview is
``preview.py``; what a queue is, ``model.py``.

A DLQ redrive belongs to no recovery, so no one rule matches it: it needs approval when **any**
routing rule's policy lists ``dlq_redrive`` (the strictest reading: one team's four eyes cannot be
skipped by asking from elsewhere), under the first such rule's approvers, count, reason and expiry.
The redrive then asks its ``gate`` before any SQS call and a covered redrive becomes a request
(``lifecycle/redrive_approvals.py``) whose subject is the queue's audit item (``dlq#<queue name>``,
where every step of it lands); once approved, the request's run starts the move task with the
approved request in hand, at the deployment's rate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.dead_letters.audit import ALREADY_RUNNING, DENIED, REDRIVE, STARTED
from recovery_ops.service.recovery.dead_letters.model import DeadLetterQueue
from recovery_ops.service.recovery.dead_letters.preview import DeadLetter, dead_letter
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome
from recovery_ops.service.recovery.model.approval import (
    REQUESTED,
    ApprovalRequest,
    Gated,
    Held,
    not_approved_for,
)
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.service.recovery.storage.items import dlq_audit_id

if TYPE_CHECKING:
    from recovery_ops.service.recovery.dead_letters.audit import DeadLetterAudit

ORDERS = "orders"
RECOVERY = "recovery"

PREVIEW_SIZE = 5
DEFAULT_REDRIVE_RATE = 10
MAX_REDRIVE_RATE = 500  # SQS's ceiling for MaxNumberOfMessagesPerSecond
_SAMPLE_CALLS = 3  # receives per look: SQS returns a sample of a large queue, not its oldest
_ACTIVE_TASK = ("RUNNING", "CANCELLING")


class DeadLetterError(RecoveryOpsError, ValueError):
    """A request the caller must change: an unknown queue, one that cannot be redriven, a bad rate."""


def standard_queues(
    orders_dlq_url: str | None, recovery_dlq_url: str | None, recovery_queue_url: str | None
) -> list[DeadLetterQueue]:
    """The deployment's DLQs from their URLs (a missing URL leaves its queue out)."""
    queues = []
    if orders_dlq_url:
        queues.append(
            DeadLetterQueue(
                key=ORDERS,
                label="Orders DLQ",
                url=orders_dlq_url,
                not_redrivable_because=(
                    "orders the workflow gave up on after compensating; no queue feeds it, so there is "
                    "nothing to move them back to (place the order again if it should go through)"
                ),
            )
        )
    if recovery_dlq_url:
        queues.append(
            DeadLetterQueue(
                key=RECOVERY,
                label="Recovery DLQ",
                url=recovery_dlq_url,
                redrive_to_url=recovery_queue_url or None,
                not_redrivable_because="" if recovery_queue_url else "the recovery queue is not configured",
            )
        )
    return queues


@dataclass(frozen=True)
class DeadLetterReport:
    queue: DeadLetterQueue
    visible: int = 0
    in_flight: int = 0
    oldest: list[DeadLetter] = field(default_factory=list)
    problem: str | None = None  # the queue could not be read (access denied, deleted): said, not raised

    @property
    def depth(self) -> int:
        return self.visible + self.in_flight


@dataclass(frozen=True)
class MoveTask:
    """A move task: started now, or the one already running for this queue."""

    queue: DeadLetterQueue
    task_handle: str
    source_arn: str
    destination_arn: str
    rate_per_second: int
    started: bool
    to_move: int | None = None
    moved: int | None = None

    def summary(self) -> str:
        if self.started:
            about = f"about {self.to_move} messages " if self.to_move is not None else ""
            return (
                f"moving {about}from {self.queue.name} to {self.queue.destination_name} at "
                f"{self.rate_per_second}/s (task {self.task_handle})"
            )
        progress = f", {self.moved}/{self.to_move} moved" if self.to_move is not None else ""
        return f"a redrive of {self.queue.name} is already running (task {self.task_handle}{progress})"


class DeadLetterGate(Protocol):
    """The routing rules' approval policies, as a DLQ redrive asks them before any SQS call
    (``lifecycle.redrive_approvals.RedriveApprovals``)."""

    def hold_dlq_redrive(self, subject: str, actor: str, reason: str | None) -> Held | None:
        """None: no policy covers a DLQ redrive; else it did not run (a request on ``subject`` was
        made, or none could be) and what to tell ``actor``."""
        ...


def dlq_subject(queue: DeadLetterQueue) -> str:
    """What an approval request for redriving ``queue`` names: its audit item (``dlq#<name>``)."""
    return dlq_audit_id(queue.name)


class DeadLetterQueues:
    """The deployment's DLQs over one SQS client."""

    def __init__(
        self,
        sqs: Any,
        queues: Sequence[DeadLetterQueue],
        rate_per_second: int = DEFAULT_REDRIVE_RATE,
        audit: DeadLetterAudit | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sqs = sqs
        self.queues = list(queues)
        self.rate_per_second = _checked_rate(rate_per_second)
        self.audit = audit
        self._clock = clock
        self.gate: DeadLetterGate | None = None  # the approval policies (None: none)

    def queue(self, key: str) -> DeadLetterQueue:
        for queue in self.queues:
            if queue.key == key:
                return queue
        known = ", ".join(q.key for q in self.queues) or "none configured"
        raise DeadLetterError(f"no dead-letter queue {key!r} (known: {known})")

    # ------------------------------------------------------------------ looking
    def reports(self, preview: int = PREVIEW_SIZE) -> list[DeadLetterReport]:
        return [self.report(queue, preview) for queue in self.queues]

    def report(self, queue: DeadLetterQueue, preview: int = PREVIEW_SIZE) -> DeadLetterReport:
        """Depth and the oldest ``preview`` messages of the sample SQS returns; nothing consumed."""
        try:
            visible, in_flight = self.depth(queue)
            oldest = self.peek(queue, preview) if visible and preview > 0 else []
        except ClientError as exc:  # said by its code only: the message names roles and ARNs
            error = exc.response.get("Error", {})
            logger.warning("a dead-letter queue could not be read", queue=queue.name, error=str(exc))
            return DeadLetterReport(queue, problem=str(error.get("Code") or "unknown error"))
        return DeadLetterReport(queue, visible=visible, in_flight=in_flight, oldest=oldest)

    def depth(self, queue: DeadLetterQueue) -> tuple[int, int]:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=queue.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )

    def peek(self, queue: DeadLetterQueue, count: int = PREVIEW_SIZE) -> list[DeadLetter]:
        """The oldest ``count`` of a few receives with ``VisibilityTimeout=0`` (visible again at once)."""
        seen: dict[str, DeadLetter] = {}
        for _ in range(_SAMPLE_CALLS):
            messages = self._sqs.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            for message in fresh:
                seen[message["MessageId"]] = dead_letter(message)
            if len(messages) < 10 or not fresh:
                break
        far_future = datetime.max.replace(tzinfo=UTC)
        return sorted(seen.values(), key=lambda m: m.sent_at or far_future)[:count]

    # ------------------------------------------------------------------ redriving
    def redrive(
        self,
        key: str,
        actor: str,
        rate_per_second: int | None = None,
        reason: str | None = None,
        approved: ApprovalRequest | None = None,
    ) -> MoveTask | Held:
        """Start moving ``key``'s messages back to their source at a bounded rate (once at a time).
        Under a policy: a request instead (``Held``; ``reason``: the requester's), nothing moved;
        ``approved``: the approved request this run carries out, which must name this queue."""
        queue = self.queue(key)
        if not queue.redrivable:
            raise DeadLetterError(f"the {queue.label} cannot be redriven: {queue.not_redrivable_because}")
        rate = _checked_rate(rate_per_second if rate_per_second is not None else self.rate_per_second)
        held = self._held(queue, actor, reason, approved)
        if held is not None:
            return held
        source_arn = self._arn(queue.url)
        destination_arn = self._arn(queue.redrive_to_url or "")
        running = self._running_task(queue, source_arn)
        if running is not None:
            self._record(queue, actor, ALREADY_RUNNING, {"task_handle": running.task_handle})
            return running
        visible, in_flight = self.depth(queue)
        handle = self._sqs.start_message_move_task(
            SourceArn=source_arn, DestinationArn=destination_arn, MaxNumberOfMessagesPerSecond=rate
        )["TaskHandle"]
        redrive = MoveTask(queue, handle, source_arn, destination_arn, rate, started=True, to_move=visible)
        self._record(
            queue,
            actor,
            STARTED,
            {
                "task_handle": handle,
                "destination": queue.destination_name,
                "rate": rate,
                "depth": visible,
                **_approval_detail(approved),
            },
        )
        return redrive

    def run_approved(self, request: ApprovalRequest, subject: str) -> str:
        """An approved DLQ redrive's run (``Approvals.runners``): the move task started with the
        approved request in hand, at the deployment's rate; its outcome as ``ActionOutcome``."""
        queue = next((q for q in self.queues if dlq_subject(q) == subject), None)
        if queue is None:
            return ActionOutcome.NOT_FOUND
        try:
            done = self.redrive(queue.key, request.requested_by, approved=request)
        except DeadLetterError:
            return ActionOutcome.FAILED
        if isinstance(done, Held):
            return ActionOutcome.NEEDS_APPROVAL
        return ActionOutcome.RESUMED if done.started else ActionOutcome.ALREADY_HANDLED

    def _held(
        self, queue: DeadLetterQueue, actor: str, reason: str | None, approved: ApprovalRequest | None
    ) -> Held | None:
        """Why this redrive may not run now (nothing asked of SQS); None when it may."""
        subject = dlq_subject(queue)
        if approved is not None:
            why = not_approved_for(approved, Gated.DLQ_REDRIVE, subject)
            return None if why is None else Held(why)
        if self.gate is None:
            return None
        held = self.gate.hold_dlq_redrive(subject, actor, reason)
        if held is not None and held.new and held.request_id:
            self._record(queue, actor, REQUESTED, {"request": held.request_id}, action="request approval")
        return held

    def record_denied(self, key: str, actor: str, why: str, action: str = REDRIVE) -> None:
        """A refused redrive (or, with ``action="view"``, a refused look), on the queue's audit item."""
        try:
            queue = self.queue(key)
        except DeadLetterError:
            return
        self._record(queue, actor, DENIED, {"why": why}, action)

    def _running_task(self, queue: DeadLetterQueue, source_arn: str) -> MoveTask | None:
        tasks = self._sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
        if not tasks or tasks[0].get("Status") not in _ACTIVE_TASK:
            return None
        task = tasks[0]
        return MoveTask(
            queue,
            task.get("TaskHandle", "?"),
            source_arn,
            task.get("DestinationArn", ""),
            int(task.get("MaxNumberOfMessagesPerSecond") or 0),
            started=False,
            to_move=task.get("ApproximateNumberOfMessagesToMove"),
            moved=task.get("ApproximateNumberOfMessagesMoved"),
        )

    def _arn(self, url: str) -> str:
        attributes = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        arn: str = attributes["QueueArn"]
        return arn

    def _record(
        self, queue: DeadLetterQueue, actor: str, result: str, detail: dict[str, Any], action: str = REDRIVE
    ) -> None:
        if self.audit is not None:
            at = self._clock().isoformat(timespec="milliseconds")
            self.audit.record(queue, AuditEntry(at, actor, action, result, detail))


def _approval_detail(approved: ApprovalRequest | None) -> dict[str, str]:
    if approved is None:
        return {}
    return {"approval": approved.request_id, "approved_by": ", ".join(approved.approved_by)}


def _checked_rate(rate: int) -> int:
    if not isinstance(rate, int) or isinstance(rate, bool) or not 1 <= rate <= MAX_REDRIVE_RATE:
        raise DeadLetterError(f"the redrive rate must be 1 to {MAX_REDRIVE_RATE} messages a second: {rate!r}")
    return rate
