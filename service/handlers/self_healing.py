"""Self-healing rounds, called by the self-healing state machine (``infra/self_healing.asl.json``)
once a circuit has stayed closed for the settle period.

``{"action": "round", "dependency": …, "closed_at": …}`` resumes the closure's recoveries for up to
a round's time (less when the function's own time runs short) and answers ``done`` once nothing is
left; ``{"action": "abandon", …}`` ends the closure's runs after rounds failed again and again.
``{"action": "probe"}`` (every minute, on a schedule) resumes one recovery of each circuit nobody
probes, so that the circuit can close. The decisions are ``service/recovery/healing/self_healing.py``'s.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from service import aws_clients
from service.breaker import circuit_breaker
from service.breaker.circuit_board import CircuitBoard
from service.config import SelfHealingConfig, load_config
from service.observability import logger, metrics, tracer
from service.recovery.access.rules_parameter import rules_source
from service.recovery.healing.runs import Closure, HealingRuns
from service.recovery.healing.self_healing import Pace, SelfHealing
from service.recovery.lifecycle.actions import RecoveryActions
from service.recovery.lifecycle.reconciler import Reconciler
from service.recovery.ports.notifier import ChannelRouting
from service.recovery.stepfunctions.history import StepFunctionsHistory
from service.recovery.stepfunctions.tokens import StepFunctionsTokens
from service.recovery.storage.groups import GroupStore
from service.recovery.storage.recoveries import RecoveryStore
from slack_app.notifier import SlackHealingDisplay, SlackOutcomeDisplay, web_client

SECRET_MAX_AGE_SECONDS = 300
#: what a round leaves of the function's time for its last call and its answer
RESERVE_SECONDS = 20


def self_healing(config: SelfHealingConfig) -> SelfHealing:
    dynamodb = aws_clients.client("dynamodb")
    token = parameters.get_secret(config.slack_bot_token_secret, max_age=SECRET_MAX_AGE_SECONDS)
    slack = web_client(str(token), base_url=config.slack_api_url)
    store = RecoveryStore(config.recoveries_table_name, dynamodb, config.retention_days)
    groups = GroupStore(config.recoveries_table_name, dynamodb, config.retention_days * 86400)
    rules = rules_source(config.routing_rules_parameter, ChannelRouting(default=config.default_channel))
    sfn = aws_clients.client("stepfunctions")
    display = SlackOutcomeDisplay(slack, groups.shares_message)
    reconciler = Reconciler(store, StepFunctionsHistory(sfn), display)
    return SelfHealing(
        store=store,
        groups=groups,
        runs=HealingRuns(config.recoveries_table_name, dynamodb, config.retention_days * 86400),
        actions=RecoveryActions(store, StepFunctionsTokens(sfn), display=display, settler=reconciler),
        circuits=CircuitBoard(config.circuit_breaker_table_name, dynamodb),
        rules=rules.rules,
        outage_errors=config.errors,
        heals_by_default=config.heals_by_default,
        display=SlackHealingDisplay(slack),
        pace=Pace(config.resumes_per_second),
        reconciler=reconciler,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    config = load_config(SelfHealingConfig)
    if event.get("action") == "probe":
        board = CircuitBoard(config.circuit_breaker_table_name, aws_clients.client("dynamodb"))
        readings = board.readings()
        if all(reading.state is circuit_breaker.CircuitState.CLOSED for reading in readings):
            return {"probed": []}  # the usual minute: every circuit closed, nothing else read
        probed = self_healing(config).probe(readings, circuit_breaker.now(), config.probe_grace_seconds)
        metrics.add_metric(name="AutomaticProbes", unit="Count", value=len(probed))
        return {"probed": probed}
    closure = Closure(str(event["dependency"]), float(event["closed_at"]))
    logger.append_keys(dependency=closure.dependency, closure=closure.id)
    healing = self_healing(config)
    if event.get("action") == "abandon":
        healing.abandon(closure, f"the rounds failed ({event.get('error') or 'unknown error'})")
        return {"done": True, "resumed": 0, "why": "abandoned"}
    remaining = context.get_remaining_time_in_millis() / 1000 if context else config.round_seconds  # type: ignore[attr-defined]
    budget = max(1.0, min(config.round_seconds, remaining - RESERVE_SECONDS))
    report = healing.round(closure, budget)
    metrics.add_metric(name="AutomaticResumes", unit="Count", value=report.resumed)
    metrics.add_metric(name="AutomaticResumesExpired", unit="Count", value=report.expired)
    logger.info(
        "self-healing round",
        done=report.done,
        resumed=report.resumed,
        expired=report.expired,
        left_for_people=report.left_for_people,
        carried_on=report.carried_on,
        why=report.why,
    )
    return {"done": report.done, "resumed": report.resumed, "why": report.why}
