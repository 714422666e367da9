"""Reminders (scheduled): recoveries open too long are brought up in their thread, with how long
their task token has left, and so are those in flight too long; the open count and the oldest
age, the in-flight count and the longest in flight go to CloudWatch for the dashboard and the
age alarms. The same run climbs the routing rules' escalation ladders for the recoveries
nobody owns. See ``service/recovery/lifecycle/reminders.py`` and
``service/recovery/lifecycle/escalation.py``."""

from __future__ import annotations

from recovery_ops.service import aws_clients, composition
from recovery_ops.service.config import ReminderConfig, load_config
from recovery_ops.service.observability import logger, measure, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    config = load_config(ReminderConfig)
    reminders, escalations = composition.build_reminders(
        config, aws_clients.client, composition.slack_bot(config, aws_clients.client)
    )
    report = reminders.run()
    escalated = escalations.run()
    measure("OpenRecoveries", report.open_count, "Count")
    measure("OldestOpenRecoveryAgeSeconds", report.oldest_age_seconds, "Seconds")
    measure("InFlightRecoveries", report.in_flight_count, "Count")
    measure("OldestInFlightRecoveryAgeSeconds", report.oldest_in_flight_age_seconds, "Seconds")
    measure("Escalations", len(escalated.fired), "Count")
    logger.info(
        "reminders sent",
        reminded=len(report.reminded),
        open=report.open_count,
        in_flight=report.in_flight_count,
        escalations=len(escalated.fired),
        escalations_given_back=len(escalated.given_back),
        escalations_found_in_slack=len(escalated.found),
    )
    return {
        "open": report.open_count,
        "reminded": report.reminded,
        "oldest_age_s": report.oldest_age_seconds,
        "in_flight": report.in_flight_count,
        "oldest_in_flight_age_s": report.oldest_in_flight_age_seconds,
        "escalated": escalated.escalated,
        "digests": len(report.digests),
        "escalation_digests": len(escalated.digests),
    }
