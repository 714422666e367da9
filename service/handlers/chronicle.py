"""The chronicle: the recoveries table's stream → each new audit entry sealed in its item's hash
chain, and published to the audit bus. See ``service/recovery/chronicle/sealer.py``.

The template's filter passes inserts and changes (not TTL removals): deliberately no pattern on the
audit list, which would seal nothing if it matched nothing. The sealer skips, before reading
anything, records whose audit did not grow (counters, lanes, paces). A batch that cannot be
sealed, or whose events can be neither published nor parked, raises: Lambda delivers it again (the
sealer is idempotent), bisecting it on repeated failure.
"""

from __future__ import annotations

from recovery_ops.service import aws_clients, composition
from recovery_ops.service.config import ChronicleConfig, load_config
from recovery_ops.service.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    records = event.get("Records", []) if isinstance(event, dict) else []
    config = load_config(ChronicleConfig)
    sealer = composition.build_chronicle(config, aws_clients.client)
    report = sealer.seal_records(records)
    return {
        "sealed": report.sealed,
        "altered": report.altered,
        "published": report.events.published,
        "parked": report.events.parked,
    }
