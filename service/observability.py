"""The one place that builds Powertools' Logger, Tracer and Metrics for every handler."""

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE_NAME = "recovery-ops"
METRICS_NAMESPACE = "RecoveryOps"

logger = Logger(service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)

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
