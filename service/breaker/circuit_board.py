"""Every circuit of the breaker table at a glance: one reading per dependency, for people to look at.

The breaker itself (``circuit_breaker``) reads one item, the one of its dependency, to decide a
call. This reads them all (a Scan: the table holds one small item per dependency) and says what
each one is, since when (``changed_at``, written on each transition) and, for an open circuit,
when it lets a probe through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from recovery_ops.service.breaker.circuit_breaker import CircuitState


@dataclass(frozen=True)
class CircuitReading:
    dependency: str
    state: CircuitState
    since: datetime | None = None  # when it entered ``state`` (None: never recorded, e.g. never opened)
    open_until: datetime | None = None  # OPEN: when the next caller may probe
    failures: int = 0  # CLOSED: failures counted in the current window
    probe_expires: datetime | None = None  # HALF_OPEN: when its probe's lease ends (then anyone may probe)
    window_started_at: datetime | None = None  # CLOSED: when the window ``failures`` are counted in began

    @property
    def probeable_since(self) -> datetime | None:
        """Since when a caller could take its probe (None: CLOSED, or not yet)."""
        return self.open_until if self.state is CircuitState.OPEN else self.probe_expires


class CircuitBoard:
    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    def reading(self, dependency: str) -> CircuitReading:
        """One dependency's circuit, read consistently (a circuit never written is CLOSED)."""
        item = self._client.get_item(
            TableName=self._table, Key={"dependency": {"S": dependency}}, ConsistentRead=True
        ).get("Item")
        return reading_from_item(item) if item else CircuitReading(dependency, CircuitState.CLOSED)

    def readings(self) -> list[CircuitReading]:
        """Every dependency's circuit, by name."""
        kwargs: dict[str, Any] = {"TableName": self._table}
        readings: list[CircuitReading] = []
        while True:
            page = self._client.scan(**kwargs)
            readings.extend(reading_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(readings, key=lambda reading: reading.dependency)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def reading_from_item(item: dict[str, Any]) -> CircuitReading:
    state = CircuitState(item["state"]["S"]) if "state" in item else CircuitState.CLOSED
    open_until = _time(item, "opened_until") if state is CircuitState.OPEN else None
    return CircuitReading(
        dependency=item["dependency"]["S"],
        state=state,
        since=_time(item, "changed_at"),
        open_until=open_until,
        failures=int(item.get("failures", {}).get("N", 0)),
        probe_expires=_time(item, "probe_expires_at") if state is CircuitState.HALF_OPEN else None,
        window_started_at=_time(item, "window_started_at"),
    )


def _time(item: dict[str, Any], name: str) -> datetime | None:
    seconds = float(item.get(name, {}).get("N", 0))
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None
