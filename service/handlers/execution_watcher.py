"""Execution watcher: the outermost catch (EventBridge "Step Functions Execution Status Change" and
"Durable Execution Status Change").

For FAILED, TIMED_OUT and ABORTED executions of the watched state machines: close their open
recoveries (messages lose their buttons), post an execution that failed outside the recovery
pattern with a Redrive button. For ended executions of the watched durable functions: close their
open recoveries. The durable rule hears every durable execution of the account, so the ones of
functions not watched are dropped before anything is read. See
``service/recovery/lifecycle/execution_end.py``. (The order example marks its own orders FAILED
from the same events: ``service/example/handlers/order_failed.py``.)
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from recovery_ops.service import aws_clients, composition
from recovery_ops.service.config import ExecutionWatcherConfig, load_config
from recovery_ops.service.observability import count_by, logger, metrics, tracer
from recovery_ops.service.recovery.lifecycle.execution_end import ExecutionEnded


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: object) -> dict:
    ended = ExecutionEnded.from_event(event.detail_type, dict(event.detail))
    logger.append_keys(execution_arn=ended.execution_arn, execution_status=ended.status)
    config = load_config(ExecutionWatcherConfig)
    if not ended.is_watched(config.watched_durable_functions):
        logger.debug("durable execution of a function not watched", function=ended.function_name)
        return {"closed": [], "failure_id": None}
    catch = composition.build_catch(
        config, aws_clients.client, composition.slack_bot(config, aws_clients.client)
    )
    report = catch.handle(ended)
    count_by("ExecutionsEnded", state_machine=ended.function_name, status=ended.status)
    logger.info(
        "execution ended",
        recoveries_closed=len(report.closed),
        failure_posted=report.failure_id is not None,
    )
    return {"closed": report.closed, "failure_id": report.failure_id}
