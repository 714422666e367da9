"""Circuit watcher: the breaker table's stream → "the dependency answers again" on group messages,
and self-healing started.

Fed by the circuit breaker table's DynamoDB stream (the template filters it to items whose state
becomes CLOSED). A closed circuit's still-open recoveries that name it as their dependency and
failed with one of the deployment's outage errors get their group message updated with the news
and Run again all. When any of them may heal itself (``SelfHealingByDefault``, or a routing rule's
``self_healing``), the self-healing state machine starts for this closing: one execution per
closing (its name is the closing's), so a redelivered record starts nothing twice.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source

from recovery_ops.service import aws_clients, composition
from recovery_ops.service.config import CircuitWatcherConfig, load_config
from recovery_ops.service.observability import logger, metrics, tracer
from recovery_ops.service.recovery.healing.circuit_news import CircuitClosed
from recovery_ops.service.recovery.healing.runs import Closure

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
            changed_at = float(change.new_image.get("changed_at") or 0)
            found.append(
                CircuitClosed(
                    str(change.keys["dependency"]), at.isoformat(timespec="seconds"), changed_at=changed_at
                )
            )
    return found


def execution_name(closure: Closure) -> str:
    """The self-healing execution's name for a closing (80 characters of ``[A-Za-z0-9-_]``)."""
    dependency = re.sub(r"[^A-Za-z0-9_-]", "-", closure.dependency)[:60]
    return f"{dependency}-{int(closure.closed_at * 1000)}"[-80:]


def start_self_healing(sfn: object, state_machine_arn: str, closure: Closure, settle_seconds: int) -> bool:
    """Start the closing's self-healing; False when it had started already (a redelivered record)."""
    try:
        sfn.start_execution(  # type: ignore[attr-defined]
            stateMachineArn=state_machine_arn,
            name=execution_name(closure),
            input=json.dumps(
                {
                    "dependency": closure.dependency,
                    "closed_at": closure.closed_at,
                    "settle_seconds": settle_seconds,
                }
            ),
        )
    except sfn.exceptions.ExecutionAlreadyExists:  # type: ignore[attr-defined]
        return False
    return True


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: object) -> dict:
    closed = closed_circuits(event)
    if not closed:
        return {"announced": [], "self_healing": []}
    config = load_config(CircuitWatcherConfig)
    news = composition.build_circuit_news(
        config, aws_clients.client, composition.slack_bot(config, aws_clients.client)
    )
    announced = [group for circuit in closed for group in news.announce(circuit)]
    metrics.add_metric(name="CircuitClosedAnnouncements", unit="Count", value=len(announced))
    healing = []
    if config.self_healing_state_machine_arn and may_heal_any(config):
        sfn = aws_clients.client("stepfunctions")
        for circuit in closed:
            closure = Closure(circuit.dependency, circuit.changed_at)
            if start_self_healing(sfn, config.self_healing_state_machine_arn, closure, config.settle_seconds):
                healing.append(closure.id)
    return {"announced": announced, "self_healing": healing}


def may_heal_any(config: CircuitWatcherConfig) -> bool:
    """Self-healing is on by default, or a routing rule turns it on for its recoveries."""
    if config.heals_by_default:
        return True
    return any(rule.self_healing for rule in composition.routing_rules(config).rules().rules)
