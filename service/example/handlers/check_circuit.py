"""The workflow's `Check circuit` task: may this execution call the vendor now?

Answers CLOSED or PROBE (call it), OPEN (wait ``wait_seconds`` and ask again) or GIVE_UP (the
circuit has kept this execution waiting longer than ``CIRCUIT_BREAKER_MAX_WAIT_SECONDS``: pause it
for a person instead of waiting forever). ``waiting_since`` travels in the execution's state between
the checks of one wait.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from recovery_ops.service import aws_clients
from recovery_ops.service.breaker import circuit_breaker
from recovery_ops.service.breaker.circuit_breaker import CircuitBreaker, Decision
from recovery_ops.service.config import CircuitBreakerConfig, load_config
from recovery_ops.service.observability import logger, metrics, tracer


class PreviousCheck(BaseModel):
    model_config = ConfigDict(extra="ignore")

    waiting_since: float | None = None


class ExecutionState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    circuit: PreviousCheck | None = None


class CircuitRequest(BaseModel):
    dependency: str = Field(min_length=1, max_length=100)
    caller: str = Field(min_length=1, max_length=200)
    execution_state: ExecutionState = Field(default_factory=ExecutionState)


def breaker_for(dependency: str, config: CircuitBreakerConfig) -> CircuitBreaker:
    return CircuitBreaker(config.table_name, dependency, aws_clients.client("dynamodb"), config.settings())


def _answer(
    decision: str, wait_seconds: int = 0, waiting_since: float | None = None, cause: str = ""
) -> dict:
    return {
        "decision": decision,
        "wait_seconds": wait_seconds,
        "waiting_since": waiting_since,
        "cause": cause,
    }


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    request = CircuitRequest.model_validate(event)
    config = load_config(CircuitBreakerConfig)
    if not config.enabled:
        return _answer("CLOSED")
    admission = breaker_for(request.dependency, config).admit(request.caller)
    previous = request.execution_state.circuit
    if admission.decision is Decision.CLOSED:
        return _answer(admission.decision.value)
    if admission.decision is Decision.PROBE:
        # a failed probe brings this execution back here: its wait goes on from where it was
        return _answer(admission.decision.value, waiting_since=previous.waiting_since if previous else None)
    at = circuit_breaker.now()
    waiting_since = previous.waiting_since if previous and previous.waiting_since else at
    waited = at - waiting_since
    if waited >= config.max_wait_seconds:
        metrics.add_metric(name="CircuitWaitGivenUp", unit="Count", value=1)
        logger.warning("circuit still open: execution stops waiting", caller=request.caller, waited=waited)
        return _answer(
            "GIVE_UP",
            cause=f"the circuit of '{request.dependency}' has been open for {int(waited)} s "
            f"(the most this execution waits is {config.max_wait_seconds} s); the vendor was not called",
        )
    wait_seconds = min(admission.wait_seconds, max(1, int(config.max_wait_seconds - waited + 0.999)))
    return _answer("OPEN", wait_seconds, waiting_since)
