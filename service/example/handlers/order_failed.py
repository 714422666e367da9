"""The order example's own outermost catch: an order whose execution ended badly is marked FAILED.

Subscribed in template.yaml (``OrderFailedFunction``, deployed with the example) to the same
EventBridge "Step Functions Execution Status Change" events as the product's execution watcher,
for the order state machine only: when an order execution ends FAILED, TIMED_OUT or ABORTED, its
order record (named by the execution) becomes FAILED with the execution's error and cause, unless
the order already ended (the workflow's own outcome wins). The recovery service knows nothing of
orders; its watcher closes the recoveries and posts the failure.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from recovery_ops.service import aws_clients
from recovery_ops.service.config import OrderFailedConfig, load_config
from recovery_ops.service.example.orders.order_store import OrderStore
from recovery_ops.service.observability import logger, metrics, tracer
from recovery_ops.service.recovery.lifecycle.execution_end import ExecutionEnded


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: object) -> dict:
    ended = ExecutionEnded.from_event_detail(dict(event.detail))
    logger.append_keys(execution_arn=ended.execution_arn, execution_status=ended.status)
    orders = OrderStore(load_config(OrderFailedConfig).orders_table_name, aws_clients.client("dynamodb"))
    marked = orders.mark_failed(ended.execution_name, ended.error, ended.cause)
    logger.info("order execution ended", order_id=ended.execution_name, order_marked=marked)
    return {"order_marked": marked}
