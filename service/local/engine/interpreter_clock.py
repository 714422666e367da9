"""Scale the real sleeps of moto's Step Functions interpreter (Retry, Wait, task-token timeouts).

The ASL stays exactly as deployed; only the local clock runs faster. Every requested wait is
recorded in seconds as the state machine asked for it, so tests can assert on backoff and
retry-after without waiting for it. Where moto sleeps is the seam's business (``moto_seam``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from recovery_ops.service.local.engine import moto_seam


@dataclass
class SleepLog:
    """What the interpreter asked to sleep, unscaled: ("retry" | "wait" | "task_token", seconds)."""

    scale: float
    requests: list[tuple[str, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: Threads alive before this stack: executions of an earlier stack still running in moto
    #: (a paused order's Map polling its item, say) must not show up in this stack's log.
    _earlier: frozenset[int] = field(default_factory=lambda: frozenset(map(id, threading.enumerate())))

    def record(self, kind: str, seconds: float) -> None:
        if id(threading.current_thread()) in self._earlier:
            return
        with self._lock:
            self.requests.append((kind, float(seconds)))

    def of_kind(self, kind: str) -> list[float]:
        with self._lock:
            return [seconds for k, seconds in self.requests if k == kind]


@contextmanager
def scaled_interpreter_sleeps(scale: float) -> Iterator[SleepLog]:
    """Run moto's Retry and Wait sleeps at ``scale`` times their length (0.001 = a thousand times faster)."""
    log = SleepLog(scale=scale)
    with moto_seam.scaled_interpreter_sleeps(scale, log.record):
        yield log


@contextmanager
def accelerated_breaker_clock(scale: float) -> Iterator[None]:
    """Run the circuit breaker's clock 1/scale times faster, in step with the scaled Wait states.

    An open period of 60 s then lasts 60 ms of real time, exactly as long as the Wait state that
    waits for it.
    """
    from recovery_ops.service.breaker import circuit_breaker

    origin = time.time()
    original = circuit_breaker.now
    circuit_breaker.now = lambda: origin + (time.time() - origin) / scale
    try:
        yield
    finally:
        circuit_breaker.now = original


class ForwardClock:
    """A clock that runs ``1/scale`` times faster than real time while a local stack runs and never
    goes back when the stack stops: the channels' pace and the Slack stand-in's judge of it read
    it, and a stand-in may outlive the stack it served."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._real = time.time()
        self._virtual = self._real
        self.scale = 1.0

    def now(self) -> float:
        with self._lock:
            real = time.time()
            self._virtual += (real - self._real) / self.scale
            self._real = real
            return self._virtual

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) * self.scale)

    def rescale(self, scale: float) -> float:
        """Run at ``scale`` from now on; the scale before."""
        self.now()  # what passed so far counts at the old scale
        with self._lock:
            previous, self.scale = self.scale, scale
        return previous


PACE_CLOCK = ForwardClock()


@contextmanager
def accelerated_pace_clock(scale: float) -> Iterator[None]:
    """Run the channels' pace 1/scale times faster, in step with the scaled interpreter: a channel's
    one post a second is then one every ``scale`` seconds of real time, and the stand-in judges it
    on the same clock."""
    from recovery_ops.service.recovery.storage import channel_pace

    channel_pace.now = PACE_CLOCK.now
    channel_pace.sleep = PACE_CLOCK.sleep
    previous = PACE_CLOCK.rescale(scale)
    try:
        yield
    finally:
        PACE_CLOCK.rescale(previous)
