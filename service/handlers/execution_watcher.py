"""Execution watcher: the outermost catch (EventBridge "Step Functions Execution Status Change").

For FAILED, TIMED_OUT and ABORTED executions of the watched state machines: close their open
recoveries (messages lose their buttons), post an execution that failed outside the recovery
pattern with a Redrive button. See ``service/recovery/lifecycle/execution_end.py``. (The order
example marks its own orders FAILED from the same events: ``service/example/handlers/order_failed.py``.)
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from service import aws_clients
from service.config import ExecutionWatcherConfig, load_config
from service.observability import count_by, logger, metrics, tracer
from service.recovery.failed_executions.failures import FailureStore
from service.recovery.lifecycle.execution_end import ExecutionEnded, OutermostCatch
from service.recovery.lifecycle.reconciler import Reconciler
from service.recovery.stepfunctions.history import StepFunctionsHistory
from service.recovery.storage.groups import GroupStore
from service.recovery.storage.recoveries import RecoveryStore
from slack_app.notifier import SlackFailureDisplay, SlackNotifier, SlackOutcomeDisplay, web_client

SECRET_MAX_AGE_SECONDS = 300


def build_catch(config: ExecutionWatcherConfig) -> OutermostCatch:
    dynamodb = aws_clients.client("dynamodb")
    token = parameters.get_secret(config.slack_bot_token_secret, max_age=SECRET_MAX_AGE_SECONDS)
    client = web_client(str(token), base_url=config.slack_api_url)
    groups = GroupStore(config.recoveries_table_name, dynamodb)
    store = RecoveryStore(config.recoveries_table_name, dynamodb, config.retention_days)
    display = SlackOutcomeDisplay(client, groups.shares_message)
    return OutermostCatch(
        store=store,
        failures=FailureStore(config.recoveries_table_name, dynamodb, config.retention_days),
        recovery_display=display,
        reconciler=Reconciler(store, StepFunctionsHistory(aws_clients.client("stepfunctions")), display),
        failure_display=SlackFailureDisplay(
            SlackNotifier(client), client, config.technical_channel or config.default_channel
        ),
        handled_errors=config.handled_failure_errors,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: object) -> dict:
    ended = ExecutionEnded.from_event_detail(dict(event.detail))
    logger.append_keys(execution_arn=ended.execution_arn, execution_status=ended.status)
    report = build_catch(load_config(ExecutionWatcherConfig)).handle(ended)
    count_by("ExecutionsEnded", state_machine=ended.state_machine_arn.rsplit(":", 1)[-1], status=ended.status)
    logger.info(
        "execution ended",
        recoveries_closed=len(report.closed),
        failure_posted=report.failure_id is not None,
    )
    return {"closed": report.closed, "failure_id": report.failure_id}
