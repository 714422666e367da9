"""Self-healing's pace as congestion control: start slow, grow while the dependency answers, halve
when its failures come back, never past a ceiling.

A vendor that just came back after an outage has an unknown capacity, and it is the capacity that
matters: every resumed execution calls it at once. A fixed pace is either too slow for a large
outage (10 a second is nearly three hours for 100,000) or, set high, knocks the vendor over again.
So the pace ramps as TCP's congestion window does:

- **slow start**: from ``initial_per_second`` (2 a second) the rate doubles every
  ``grow_every_seconds`` of clean resumes, until the first trouble: a few doublings find the
  order of magnitude the vendor takes, in seconds rather than minutes;
- **congestion avoidance**: once trouble has been seen, the rate grows by ``additive_per_second``
  per interval from half the rate that brought it, probing gently near the point where the vendor
  failed instead of doubling past it again;
- **multiplicative decrease**: trouble halves the rate (never below ``floor_per_second``) and
  remembers half of it as the threshold where slow start ends. Trouble is what can be read without
  guessing: failures the dependency's circuit counted since the last reading (each resumed
  execution that fails again is counted there before it pauses again), and SendTask* throttles.
  After a decrease, further trouble within the same interval is the same event, not a new one.

The rate never passes ``ceiling`` (the routing rule's ``self_healing_max_per_second``, else the
stack's ``SelfHealingResumesPerSecond``) nor Step Functions' SendTask* refill rate: resumes are
evenly spaced, so at or under 500 a second the account's bucket (3,000 tokens) never runs dry.
The state (``RampState``) is stored on the healing run with each claim, so the next round, a fresh
Lambda invocation, goes on from the rate the last one reached.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from recovery_ops.service.breaker.circuit_board import CircuitReading

#: Step Functions' SendTaskSuccess / SendTaskFailure / SendTaskHeartbeat token bucket, per account
#: and Region (the larger Regions' figures; a smaller Region's lower refill is a lower ceiling)
SENDTASK_BUCKET = 3_000
SENDTASK_REFILL_PER_SECOND = 500.0


@dataclass(frozen=True)
class RampSettings:
    initial_per_second: float = 2.0  # where a closing's first round starts
    floor_per_second: float = 1.0  # halving stops here: the run still moves, the circuit decides
    additive_per_second: float = 2.0  # growth per interval once trouble has been seen
    #: an interval of clean resumes before the rate grows: about the time a resumed execution
    #: takes to call the dependency and, if it fails, to be counted by the circuit
    grow_every_seconds: float = 2.0


@dataclass(frozen=True)
class RampState:
    """What the next round needs to go on: the rate, where slow start ends (None: no trouble yet),
    the circuit's failures already seen (and the window they were counted in), and ``seq``, which
    orders the states stored on a closing's runs (the newest decides)."""

    per_second: float
    threshold: float | None = None
    failures_seen: int = 0
    window_started_at: float = 0.0
    seq: int = 0


def sendtask_capped(per_second: float) -> float:
    return min(per_second, SENDTASK_REFILL_PER_SECOND)


@dataclass
class Ramp:
    """One round's ramp over a closing: ``observe`` at each reading of the circuit, ``sent`` after
    each resume, ``per_second`` the rate to space the next resume at."""

    settings: RampSettings
    ceiling: float
    state: RampState
    _changed_at: float = 0.0  # monotonic time of the last change (or the round's start)
    _sent: int = 0  # resumes since the last change
    _throttles: int | None = None  # the throttle count at the last observation
    _read_before: bool = False  # whether a reading set the failures' baseline yet
    _halved: bool = False  # the last change was a halving

    @classmethod
    def start(cls, settings: RampSettings, ceiling: float, stored: RampState | None, now: float) -> Ramp:
        """From the stored state of an earlier round (within the ceiling, which the rules may have
        changed since), else from the initial rate."""
        ceiling = sendtask_capped(ceiling)
        if stored is None:
            state = RampState(min(settings.initial_per_second, ceiling))
            return cls(settings, ceiling, state, _changed_at=now)
        ramp = cls(settings, ceiling, stored, _changed_at=now, _read_before=True)
        ramp.state = replace(stored, per_second=ramp._within(stored.per_second))
        return ramp

    @property
    def per_second(self) -> float:
        return self.state.per_second

    def sent(self) -> None:
        self._sent += 1

    def stored(self) -> RampState:
        """The state to store with the next claim (a newer ``seq`` than any stored before)."""
        self.state = replace(self.state, seq=self.state.seq + 1)
        return self.state

    def observe(self, reading: CircuitReading, throttles: int, now: float) -> str | None:
        """Decide on a fresh reading of the circuit (CLOSED) and the count of SendTask* throttles so
        far: ``"halved"``, ``"grew"`` or None."""
        new_failures = self._new_failures(reading)
        new_throttles = throttles - self._throttles if self._throttles is not None else 0
        self._throttles = throttles
        quiet = now - self._changed_at >= self.settings.grow_every_seconds
        if new_failures > 0 or new_throttles > 0:
            if self._halved and not quiet:
                return None  # the trouble that halved it, still being counted: the same event
            return self._halve(now)
        if quiet and self._sent:
            return self._grow(now)
        return None

    # ------------------------------------------------------------------ steps
    def _new_failures(self, reading: CircuitReading) -> int:
        window = reading.window_started_at.timestamp() if reading.window_started_at else 0.0
        seen, same_window = self.state.failures_seen, window == self.state.window_started_at
        self.state = replace(self.state, failures_seen=reading.failures, window_started_at=window)
        if not self._read_before:
            self._read_before = True  # the first reading of a closing: failures before it are the outage's
            return 0
        return reading.failures - seen if same_window and reading.failures >= seen else reading.failures

    def _halve(self, now: float) -> str:
        half = self._within(self.state.per_second / 2)
        self.state = replace(self.state, per_second=half, threshold=half)
        self._changed_at, self._sent, self._halved = now, 0, True
        return "halved"

    def _grow(self, now: float) -> str:
        rate, threshold = self.state.per_second, self.state.threshold
        grown = (
            rate * 2 if threshold is None or rate < threshold else rate + self.settings.additive_per_second
        )
        if threshold is not None and rate < threshold:
            grown = min(grown, threshold)  # slow start back up to the threshold, then additive
        self.state = replace(self.state, per_second=self._within(grown))
        self._changed_at, self._sent, self._halved = now, 0, False
        return "grew"

    def _within(self, rate: float) -> float:
        """Not under the floor, and never over the ceiling (even a ceiling under the floor)."""
        return min(self.ceiling, max(self.settings.floor_per_second, rate))
