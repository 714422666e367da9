"""A circuit breaker over one DynamoDB item per dependency: CLOSED → OPEN → HALF_OPEN (one probe).

- CLOSED: calls go through. ``threshold`` failures within ``window_seconds`` open the circuit.
- OPEN: nobody calls the dependency until ``opened_until``; callers wait and ask again.
- HALF_OPEN: after the open period, exactly one caller wins a conditional write and probes; its
  success closes the circuit for everyone, its failure opens it again. A probe that never
  reports (its execution died) loses its lease after ``probe_lease_seconds``.

Each transition also writes ``changed_at`` (epoch seconds), so the Slack app's Home tab can say
since when a circuit is in its state (``circuit_board``).

Every decision is a read of one item; every transition is a conditional write, so concurrent
executions agree on who probes. Transitions are logged and counted as metrics.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from recovery_ops.service.conditional_writes import if_condition_holds
from recovery_ops.service.observability import logger, metrics

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import UpdateItemOutputTypeDef


def now() -> float:
    """The breaker's clock (epoch seconds). The embedded stack runs it at the interpreter's speed."""
    return time.time()


class CircuitState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class Decision(StrEnum):
    CLOSED = "CLOSED"  # call the dependency
    PROBE = "PROBE"  # call it: you are the one probe of a half-open circuit
    OPEN = "OPEN"  # do not call; wait ``wait_seconds`` and ask again


@dataclass(frozen=True)
class BreakerSettings:
    threshold: int = 5
    window_seconds: int = 60
    open_seconds: int = 60
    probe_lease_seconds: int = 30
    half_open_wait_seconds: int = 5


@dataclass(frozen=True)
class Admission:
    decision: Decision
    wait_seconds: int = 0

    @property
    def may_call(self) -> bool:
        return self.decision is not Decision.OPEN


class CircuitBreaker:
    def __init__(
        self,
        table_name: str,
        dependency: str,
        client: DynamoDBClient,
        settings: BreakerSettings | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._table = table_name
        self._dependency = dependency
        self._client = client
        self._settings = settings or BreakerSettings()
        self._clock = clock or now

    # ------------------------------------------------------------------ reads
    def state(self) -> dict[str, Any]:
        item = self._client.get_item(TableName=self._table, Key=self._key(), ConsistentRead=True).get(
            "Item", {}
        )
        return {
            "state": CircuitState(item["state"]["S"]) if "state" in item else CircuitState.CLOSED,
            "failures": int(item.get("failures", {}).get("N", 0)),
            "window_started_at": float(item.get("window_started_at", {}).get("N", 0)),
            "opened_until": float(item.get("opened_until", {}).get("N", 0)),
            "probe_owner": item.get("probe_owner", {}).get("S"),
            "probe_expires_at": float(item.get("probe_expires_at", {}).get("N", 0)),
        }

    def admit(self, caller: str) -> Admission:
        """May ``caller`` call the dependency now? Claims the probe when the open period is over."""
        current = self.state()
        at = self._clock()
        state = current["state"]
        if state is CircuitState.CLOSED:
            return Admission(Decision.CLOSED)
        if state is CircuitState.OPEN:
            if at < current["opened_until"]:
                return Admission(Decision.OPEN, _ceil(current["opened_until"] - at) + self._spread())
            if self._claim_probe(caller, at, expect_state=CircuitState.OPEN, expect_owner=None):
                self._transition(CircuitState.OPEN, CircuitState.HALF_OPEN, caller)
                return Admission(Decision.PROBE)
            return Admission(Decision.OPEN, self._settings.half_open_wait_seconds + self._spread())
        # HALF_OPEN
        if current["probe_owner"] == caller:
            return Admission(Decision.PROBE)
        if at >= current["probe_expires_at"] and self._claim_probe(
            caller, at, expect_state=CircuitState.HALF_OPEN, expect_owner=current["probe_owner"]
        ):
            logger.warning(
                "probe lease expired; probe taken over", dependency=self._dependency, caller=caller
            )
            return Admission(Decision.PROBE)
        return Admission(Decision.OPEN, self._settings.half_open_wait_seconds + self._spread())

    def _spread(self) -> int:
        """Jitter over half the open period: a thousand waiting executions come back spread out,
        not all at once on the breaker's item (and on the vendor, once it closes)."""
        return random.randint(0, max(self._settings.half_open_wait_seconds, self._settings.open_seconds // 2))

    # ------------------------------------------------------------------ outcomes
    def record_success(self, caller: str) -> None:
        """The dependency answered. Closes a half-open circuit if ``caller`` holds the probe."""
        closed = self._update_if(
            "SET #state = :closed, failures = :zero, changed_at = :at REMOVE probe_owner, probe_expires_at",
            "#state = :half_open AND probe_owner = :caller",
            {
                ":closed": CircuitState.CLOSED,
                ":half_open": CircuitState.HALF_OPEN,
                ":caller": caller,
                ":zero": 0,
                ":at": self._clock(),
            },
        )
        if (
            closed is not None
        ):  # otherwise CLOSED already, or not our probe: nothing written (a cheap happy path)
            self._transition(CircuitState.HALF_OPEN, CircuitState.CLOSED, caller)

    def record_failure(self, caller: str) -> None:
        """The dependency failed. Counts toward opening, or re-opens a half-open circuit."""
        at = self._clock()
        if self._reopen_after_failed_probe(caller, at):
            self._transition(CircuitState.HALF_OPEN, CircuitState.OPEN, caller)
            return
        failures = self._count_failure(at)
        if failures is not None and failures >= self._settings.threshold and self._open(at):
            self._transition(CircuitState.CLOSED, CircuitState.OPEN, caller, failures=failures)

    def release_probe(self, caller: str) -> None:
        """The probe learnt nothing (e.g. throttled): let the next caller probe at once."""
        self._update_if(
            "SET probe_expires_at = :zero",
            "#state = :half_open AND probe_owner = :caller",
            {":half_open": CircuitState.HALF_OPEN, ":caller": caller, ":zero": 0},
        )

    # ------------------------------------------------------------------ writes
    def _claim_probe(
        self, caller: str, at: float, expect_state: CircuitState, expect_owner: str | None
    ) -> bool:
        values: dict[str, str | float] = {
            ":half_open": CircuitState.HALF_OPEN,
            ":caller": caller,
            ":expires": at + self._settings.probe_lease_seconds,
            ":expected": expect_state,
            ":at": at,
        }
        if expect_state is CircuitState.OPEN:
            condition = "#state = :expected AND opened_until <= :at"
        else:
            condition = "#state = :expected AND probe_owner = :owner AND probe_expires_at <= :at"
            values[":owner"] = expect_owner or ""
        update = (
            "SET #state = :half_open, probe_owner = :caller, probe_expires_at = :expires, changed_at = :at"
        )
        return self._update_if(update, condition, values) is not None

    def _reopen_after_failed_probe(self, caller: str, at: float) -> bool:
        reopened = self._update_if(
            "SET #state = :open, opened_until = :until, failures = :zero, changed_at = :at "
            "REMOVE probe_owner, probe_expires_at",
            "#state = :half_open AND probe_owner = :caller",
            {
                ":open": CircuitState.OPEN,
                ":half_open": CircuitState.HALF_OPEN,
                ":caller": caller,
                ":until": at + self._settings.open_seconds,
                ":zero": 0,
                ":at": at,
            },
        )
        return reopened is not None

    def _count_failure(self, at: float) -> int | None:
        """Add one failure to the current window (starting a new window when it is over)."""
        window_start = at - self._settings.window_seconds
        counted = self._update_if(
            "ADD failures :one",
            "(attribute_not_exists(#state) OR #state = :closed) AND window_started_at > :window_start",
            {":one": 1, ":closed": CircuitState.CLOSED, ":window_start": window_start},
            ReturnValues="UPDATED_NEW",
        )
        if counted is not None:
            return int(counted["Attributes"]["failures"]["N"])
        started = self._update_if(
            "SET #state = :closed, failures = :one, window_started_at = :at",
            "attribute_not_exists(#state) OR (#state = :closed AND "
            "(attribute_not_exists(window_started_at) OR window_started_at <= :window_start))",
            {":one": 1, ":closed": CircuitState.CLOSED, ":at": at, ":window_start": window_start},
        )
        # None: OPEN or HALF_OPEN already, or another caller started the window and counted there
        return 1 if started is not None else None

    def _open(self, at: float) -> bool:
        opened = self._update_if(
            "SET #state = :open, opened_until = :until, failures = :zero, changed_at = :at",
            "#state = :closed",
            {
                ":open": CircuitState.OPEN,
                ":closed": CircuitState.CLOSED,
                ":until": at + self._settings.open_seconds,
                ":zero": 0,
                ":at": at,
            },
        )
        return opened is not None

    def _update_if(
        self, update: str, condition: str, values: dict[str, str | float], **extra: Any
    ) -> UpdateItemOutputTypeDef | None:
        """One conditional write on the dependency's item; None when the condition did not hold."""
        return if_condition_holds(
            self._client.update_item,
            TableName=self._table,
            Key=self._key(),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={name: _attribute(value) for name, value in values.items()},
            **extra,
        )

    def _transition(self, source: CircuitState, target: CircuitState, caller: str, **details: Any) -> None:
        logger.info(
            "circuit transition",
            dependency=self._dependency,
            source=source,
            target=target,
            caller=caller,
            **details,
        )
        metrics.add_metric(name=f"CircuitTo{target.title().replace('_', '')}", unit="Count", value=1)

    def _key(self) -> dict[str, Any]:
        return {"dependency": {"S": self._dependency}}


def _n(value: float) -> str:
    return f"{value:.3f}"


def _ceil(seconds: float) -> int:
    return max(1, int(seconds + 0.999))


def _attribute(value: str | float) -> dict[str, str]:
    return (
        {"S": str(value)}
        if isinstance(value, str)
        else {"N": _n(value) if isinstance(value, float) else str(value)}
    )
