"""Circuit watcher: the breaker table's stream → "the dependency answers again" on group messages.

Fed by the circuit breaker table's DynamoDB stream (the template filters it to items whose state
becomes CLOSED). A closed circuit's still-open recoveries with the deployment's outage errors get
their group message updated with the news and Run again all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source

from service import aws_clients
from service.config import CircuitWatcherConfig, load_config
from service.observability import logger, metrics, tracer
from service.recovery.circuit_news import CircuitClosed, CircuitNews
from service.recovery.groups import GroupStore
from service.recovery.store import RecoveryStore
from slack_app.notifier import SlackNotifier, web_client

SECRET_MAX_AGE_SECONDS = 300
CLOSED = "CLOSED"


def closed_circuits(event: DynamoDBStreamEvent) -> list[CircuitClosed]:
    """Transitions into CLOSED (from OPEN or HALF_OPEN): not every write to a closed circuit."""
    found = []
    for record in event.records:
        change = record.dynamodb
        if change is None or not change.new_image:
            continue
        old_state = (change.old_image or {}).get("state")
        if change.new_image.get("state") == CLOSED and old_state not in (None, CLOSED):
            seen = change.approximate_creation_date_time
            at = datetime.fromtimestamp(float(seen), UTC) if seen else datetime.now(UTC)
            found.append(CircuitClosed(str(change.keys["dependency"]), at.isoformat(timespec="seconds")))
    return found


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: object) -> dict:
    closed = closed_circuits(event)
    if not closed:
        return {"announced": []}
    config = load_config(CircuitWatcherConfig)
    dynamodb = aws_clients.client("dynamodb")
    token = parameters.get_secret(config.slack_bot_token_secret, max_age=SECRET_MAX_AGE_SECONDS)
    news = CircuitNews(
        store=RecoveryStore(config.recoveries_table_name, dynamodb),
        groups=GroupStore(config.recoveries_table_name, dynamodb),
        notifier=SlackNotifier(web_client(str(token), base_url=config.slack_api_url)),
        outage_errors=config.errors,
    )
    announced = [group for circuit in closed for group in news.announce(circuit)]
    metrics.add_metric(name="CircuitClosedAnnouncements", unit="Count", value=len(announced))
    return {"announced": announced}
