"""The reconciler (every minute, and on demand): settles in-flight recoveries whose lease has run
out from Step Functions' own record, and brings stale Slack messages up to date. See
``service/recovery/lifecycle/reconciler.py``.

The event may name one recovery (``{"recovery_id": "rec-…"}``) to settle it now; otherwise one
bounded run over the ``by-due`` index.
"""

from __future__ import annotations

from recovery_ops.service import aws_clients, composition
from recovery_ops.service.config import ReconcilerConfig, load_config
from recovery_ops.service.observability import logger, metrics, tracer

RESERVE_SECONDS = 10  # what a run leaves of the function's time


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    config = load_config(ReconcilerConfig)
    reconciler = composition.build_reconciler(
        config, aws_clients.client, composition.slack_bot(config, aws_clients.client)
    )
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
        "migrated": report.migrated,
        "events_carried": report.events_carried,
    }
