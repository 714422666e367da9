"""The one place that builds Powertools' Logger, Tracer and Metrics for every handler.

Every record of the logger passes ``WithoutTokens`` first: a message or an extra key that holds a
task token (a body, an error text) is logged with the token field redacted, as everywhere else.

The tracer is built on first use (``from recovery_ops.service.observability import tracer``): the X-Ray SDK
takes about 0.3 s to import, which the Slack app's acknowledgement path does not pay.
"""

import logging
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from recovery_ops.service.recovery.model.redaction import without_tokens

SERVICE_NAME = "recovery-ops"
METRICS_NAMESPACE = "RecoveryOps"

_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


class WithoutTokens(logging.Filter):
    """Token fields out of log messages and their extra keys, before any handler formats them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = without_tokens(record.msg)
        if record.args:
            record.args = without_tokens(record.args) if isinstance(record.args, tuple) else record.args
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS and isinstance(value, str | dict | list):
                setattr(record, key, without_tokens(value))
        return True


logger = Logger(service=SERVICE_NAME)
logger.addFilter(WithoutTokens())
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
_tracer: Any = None


def __getattr__(name: str) -> Any:
    """``tracer``: Powertools' Tracer, built (and the X-Ray SDK imported) when first asked for."""
    global _tracer
    if name != "tracer":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _tracer is None:
        from aws_lambda_powertools import Tracer

        _tracer = Tracer(service=SERVICE_NAME)
    return _tracer


# Read-only requests (GET /orders/{id}) publish no metric; that is expected, not worth a warning per call.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def count_by(name: str, value: int = 1, **dimensions: str) -> None:
    """A count with its own dimensions (e.g. per state machine and error), flushed at once."""
    measure(name, value, "Count", **dimensions)


def measure(name: str, value: float, unit: str, **dimensions: str) -> None:
    """One value with its own dimensions, flushed at once (works outside ``log_metrics`` handlers)."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    with single_metric(name=name, unit=MetricUnit(unit), value=value, namespace=METRICS_NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE_NAME)
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)
