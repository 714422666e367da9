"""The reconciler (every minute, and on demand): settles in-flight recoveries whose lease has run
out from Step Functions' own record, and brings stale Slack messages up to date. See
``service/recovery/lifecycle/reconciler.py``.

The event may name one recovery (``{"recovery_id": "rec-…"}``) to settle it now; otherwise one
bounded run over the ``by-due`` index.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from service import aws_clients
from service.config import ReconcilerConfig, load_config
from service.observability import logger, metrics, tracer
from service.recovery.failed_executions.failures import FailureStore, Redrive
from service.recovery.lifecycle.reconciler import Reconciler
from service.recovery.stepfunctions.history import StepFunctionsHistory
from service.recovery.storage.groups import GroupStore
from service.recovery.storage.recoveries import RecoveryStore
from slack_app.notifier import SlackFailureDisplay, SlackNotifier, SlackOutcomeDisplay, web_client

SECRET_MAX_AGE_SECONDS = 300
RESERVE_SECONDS = 10  # what a run leaves of the function's time


def build_reconciler(config: ReconcilerConfig) -> Reconciler:
    dynamodb = aws_clients.client("dynamodb")
    token = parameters.get_secret(config.slack_bot_token_secret, max_age=SECRET_MAX_AGE_SECONDS)
    slack = web_client(str(token), base_url=config.slack_api_url)
    groups = GroupStore(config.recoveries_table_name, dynamodb, config.retention_days * 86400)
    sfn = aws_clients.client("stepfunctions")
    redrives = Redrive(
        FailureStore(config.recoveries_table_name, dynamodb, config.retention_days),
        sfn,
        SlackFailureDisplay(SlackNotifier(slack), slack, channel=""),  # only updates messages
    )
    return Reconciler(
        store=RecoveryStore(config.recoveries_table_name, dynamodb, config.retention_days),
        records=StepFunctionsHistory(sfn),
        display=SlackOutcomeDisplay(slack, groups.shares_message),
        budget=config.budget,
        redrives=redrives,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    reconciler = build_reconciler(load_config(ReconcilerConfig))
    if isinstance(event, dict) and event.get("recovery_id"):
        settled = reconciler.settle(str(event["recovery_id"]), actor=str(event.get("actor") or "reconciler"))
        return {"recovery_id": settled.recovery_id, "result": settled.result, "why": settled.why}
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    report = reconciler.run(
        seconds_left=(lambda: remaining() / 1000) if remaining else None, reserve_seconds=RESERVE_SECONDS
    )
    return {
        "settled": dict(report.settled),
        "messages_updated": report.messages_updated,
        "messages_behind": report.messages_behind,
        "complete": report.complete,
    }
