"""Reminders (scheduled): recoveries open too long are brought up in their thread, with how long
their task token has left, and so are those in flight too long; the open count and the oldest
age, the in-flight count and the longest in flight go to CloudWatch for the dashboard and the
age alarms. The same run climbs the routing rules' escalation ladders for the recoveries
nobody owns. See ``service/recovery/lifecycle/reminders.py`` and
``service/recovery/lifecycle/escalation.py``."""

from __future__ import annotations

from datetime import timedelta

from aws_lambda_powertools.utilities import parameters

from service import aws_clients
from service.config import ReminderConfig, load_config
from service.observability import logger, measure, metrics, tracer
from service.recovery.access.rules_parameter import rules_source
from service.recovery.lifecycle.escalation import Escalations
from service.recovery.lifecycle.reminders import Reminders
from service.recovery.ports.notifier import ChannelRouting
from service.recovery.storage.recoveries import RecoveryStore
from slack_app.notifier import SlackThreadPoster, web_client

SECRET_MAX_AGE_SECONDS = 300


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    config = load_config(ReminderConfig)
    dynamodb = aws_clients.client("dynamodb")
    store = RecoveryStore(config.recoveries_table_name, dynamodb)
    token = parameters.get_secret(config.slack_bot_token_secret, max_age=SECRET_MAX_AGE_SECONDS)
    poster = SlackThreadPoster(web_client(str(token), base_url=config.slack_api_url))
    reminders = Reminders(
        store=store,
        dynamodb=dynamodb,
        sfn=aws_clients.client("stepfunctions"),
        poster=poster,
        after=timedelta(minutes=config.remind_after_minutes),
    )
    rules = rules_source(config.routing_rules_parameter, ChannelRouting(default=config.default_channel))
    escalations = Escalations(store=store, dynamodb=dynamodb, rules=rules.rules, poster=poster)
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
    }
