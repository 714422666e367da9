"""The collector: recovery-queue messages → stored recoveries → Slack messages.

Fed by the recovery queue (SQS event, ``ReportBatchItemFailures``). Each record is validated
against the integration contract and stored once (Powertools ``BatchProcessor``: a record that
fails fails alone). Then the batch's new recoveries are posted, one Slack call per group. A
record whose message could not be posted is reported as a batch item failure, so SQS delivers it
again; after the queue's ``maxReceiveCount`` it lands in the recovery DLQ. A group's message is
posted once even when a collector crashes while posting it (``recovery_ops.service.recovery.intake.collect``:
a lease
on the claim, ``RECOVERY_POSTING_LEASE_SECONDS``, and the channel's history read before posting
again). A malformed message
is never retried: it goes to the recovery DLQ at once, with the reason, and then (best effort,
once per message) the technical channel is told, without its token
(``recovery_ops.service.recovery.intake.unreadable``).

Each group's message goes to the channel the routing rules choose (``ROUTING_RULES_PARAMETER``, an
SSM parameter read through Powertools' five-minute cache;
``recovery_ops.service.recovery.access.routing_rules``), else
to the stack's technical / client-data / default channel
(``recovery_ops.service.recovery.access.rules_parameter``). A
refused document is logged and the last good one read by this warm function keeps routing.
"""

from __future__ import annotations

from typing import cast

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import ValidationError

from recovery_ops.service import aws_clients, composition, observability
from recovery_ops.service.config import CollectorConfig, load_config
from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.observability import logger, metrics, tracer
from recovery_ops.service.recovery.intake.collect import IntakeReport, RecoveryIntake
from recovery_ops.service.recovery.intake.unreadable import read_what_can_be_read
from recovery_ops.service.recovery.model.contract import RecoveryRequest, contract_problems, parse_contract
from recovery_ops.service.recovery.model.recovery import Recovery


class MalformedRecoveryMessageError(RecoveryOpsError, ValueError):
    """The message breaks the contract; ``problems``: (where, what) pairs, never a value sent."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{where}: {what}" for where, what in problems))
        self.problems = problems


def parse_request(record: SqsRecordModel) -> RecoveryRequest:
    try:
        # SqsRecordModel types its body for subclasses that parse it; this one keeps the text
        return parse_contract(cast(str, record.body))
    except ValidationError as exc:
        raise MalformedRecoveryMessageError(contract_problems(exc)) from exc


def source_message_id(record: SqsRecordModel) -> str:
    """The message's first id: a message redriven from the recovery DLQ keeps it as an attribute."""
    attribute = record.messageAttributes.get("source_message_id")
    return (attribute.stringValue if attribute is not None else None) or record.messageId


def dead_letter(config: CollectorConfig, record: SqsRecordModel, reason: str) -> None:
    """Move a message that can never be processed to the recovery DLQ, with the reason."""
    aws_clients.client("sqs").send_message(
        QueueUrl=config.recovery_dlq_url,
        MessageBody=record.body,
        MessageAttributes={
            "reason": {"DataType": "String", "StringValue": reason[:1000]},
            "source_message_id": {"DataType": "String", "StringValue": source_message_id(record)},
        },
    )
    metrics.add_metric(name="MalformedRecoveryMessages", unit=MetricUnit.Count, value=1)
    logger.error("malformed recovery message sent to the DLQ", message_id=record.messageId, reason=reason)


def tell_unreadable(
    config: CollectorConfig, intake: RecoveryIntake, record: SqsRecordModel, problems: list[tuple[str, str]]
) -> None:
    """Best effort, after the message is safe in the DLQ: a failure is logged and counted, never
    raised (the record must not come back to be dead-lettered twice); its claim is given back."""
    notices = composition.unreadable_notices(config, aws_clients.client, intake)
    message_id = source_message_id(record)
    try:
        told = notices.tell(read_what_can_be_read(cast(str, record.body), message_id, problems))
    except Exception as exc:  # noqa: BLE001 - the notice is best effort; the DLQ and its alarm remain
        metrics.add_metric(name="UnreadableNoticeFailures", unit=MetricUnit.Count, value=1)
        logger.warning(
            "could not tell the technical channel about an unreadable recovery message",
            message_id=message_id,
            error=type(exc).__name__,
            detail=str(exc),
        )
        return
    if told:
        metrics.add_metric(name="UnreadableNotices", unit=MetricUnit.Count, value=1)
    else:
        logger.info("unreadable recovery message already told", message_id=message_id)


def _count_opened(recovery: Recovery) -> None:
    observability.count_by(
        "RecoveriesOpened", state_machine=recovery.state_machine_name, error=recovery.error or "unknown"
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> PartialItemFailureResponse:
    config = load_config(CollectorConfig)
    intake = composition.build_intake(
        config, aws_clients.client, composition.slack_bot(config, aws_clients.client)
    )
    processor = BatchProcessor(event_type=EventType.SQS, model=SqsRecordModel)
    report = IntakeReport()
    message_ids: dict[str, str] = {}  # recovery id → SQS message id
    to_post: list[Recovery] = []

    def store(record: SqsRecordModel) -> None:
        try:
            request = parse_request(record)
        except MalformedRecoveryMessageError as exc:
            dead_letter(config, record, str(exc))
            tell_unreadable(config, intake, record, exc.problems)
            return
        receive_count = int(record.attributes.ApproximateReceiveCount or 1)
        logger.append_keys(recovery_id=request.recovery_id)
        recovery = intake.store_one(request, receive_count, report)
        message_ids[request.recovery_id] = record.messageId
        if recovery is not None:
            if recovery.recovery_id in report.stored:
                _count_opened(recovery)
            to_post.append(recovery)

    with processor(records=event.get("Records", []), handler=store):
        processor.process()
    intake.notify(to_post, report)
    if report.duplicates:
        metrics.add_metric(name="DuplicateDeliveries", unit=MetricUnit.Count, value=len(report.duplicates))
    logger.info(
        "batch collected",
        stored=len(report.stored),
        duplicates=len(report.duplicates),
        posted=len(report.posted),
        found_in_slack=len(report.found),
        slack_calls=report.slack_calls,
        retry=len(report.retry),
    )
    response = processor.response()
    response["batchItemFailures"].extend(
        {"itemIdentifier": message_ids[recovery_id]} for recovery_id in report.retry
    )
    return response
