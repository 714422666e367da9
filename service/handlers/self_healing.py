"""Self-healing rounds, called by the self-healing state machine (``infra/self_healing.asl.json``)
once a circuit has stayed closed for the settle period.

``{"action": "round", "dependency": …, "closed_at": …}`` resumes the closure's recoveries for up to
a round's time (less when the function's own time runs short) and answers ``done`` once nothing is
left; ``{"action": "abandon", …}`` ends the closure's runs after rounds failed again and again.
``{"action": "probe"}`` (every minute, on a schedule) resumes one recovery of each circuit nobody
probes, so that the circuit can close. The decisions are ``service/recovery/healing/self_healing.py``'s.
"""

from __future__ import annotations

from recovery_ops.service import aws_clients, composition
from recovery_ops.service.breaker import circuit_breaker
from recovery_ops.service.config import SelfHealingConfig, load_config
from recovery_ops.service.observability import logger, metrics, tracer
from recovery_ops.service.recovery.healing.runs import Closure
from recovery_ops.service.recovery.healing.self_healing import SelfHealing

#: what a round leaves of the function's time for its last call and its answer
RESERVE_SECONDS = 20


def self_healing(config: SelfHealingConfig) -> SelfHealing:
    return composition.build_self_healing(
        config, aws_clients.client, composition.slack_bot(config, aws_clients.client)
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    config = load_config(SelfHealingConfig)
    if event.get("action") == "probe":
        readings = composition.circuit_board(config, aws_clients.client).readings()
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
    metrics.add_metric(name="AutomaticResumesAwaitingApproval", unit="Count", value=report.awaiting_approval)
    logger.info(
        "self-healing round",
        done=report.done,
        resumed=report.resumed,
        expired=report.expired,
        left_for_people=report.left_for_people,
        awaiting_approval=report.awaiting_approval,
        approval_requests=report.approval_requests,
        carried_on=report.carried_on,
        per_second=report.per_second,
        why=report.why,
    )
    return {"done": report.done, "resumed": report.resumed, "why": report.why}
