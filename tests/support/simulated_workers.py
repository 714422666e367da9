"""Self-healing's workers on a simulated clock: ``size`` workers as a discrete-event pool.

A task submitted when the dispatcher's clock says ``t`` starts at ``max(t, the earliest a worker
is free)``; it runs at once (one after the other, so a run is deterministic) with the clock set to
its start, and the clock's move while it runs (the waits of its calls) is its duration: its worker
is free again at start + duration. The dispatcher's clock is then set back to the task's start:
it went on at ``t``, or, when every worker was busy, waited until the first was free. ``drain``
moves the clock to the last finish. The clock is seconds (``now``) and is set by ``set_to``.

Tasks that would overlap in time run one after the other here, so what they do is stamped a
little out of order (a later task's first call can be stamped before an earlier one's last): the
simulated services must take time that goes back by a task's length.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

from recovery_ops.service.recovery.healing.workers import Task


@dataclass
class SimulatedWorkers:
    size: int
    now: Callable[[], float]
    set_to: Callable[[float], None]
    _free_at: list[float] = field(default_factory=list)  # a heap: when each busy-or-used worker is free
    _last_finish: float | None = None
    busiest: int = 0  # the most tasks running at one moment
    _running: list[float] = field(default_factory=list)  # finish times of tasks that may still run

    def submit(self, task: Task) -> None:
        at = self.now()
        start = at if len(self._free_at) < self.size else max(at, heapq.heappop(self._free_at))
        self.set_to(start)
        try:
            task()
        finally:
            finish = max(start, self.now())
            heapq.heappush(self._free_at, finish)
            self._last_finish = finish if self._last_finish is None else max(self._last_finish, finish)
            self._running = [f for f in self._running if f > start] + [finish]
            self.busiest = max(self.busiest, len(self._running))
            self.set_to(start)

    def drain(self) -> None:
        if self._last_finish is not None and self._last_finish > self.now():
            self.set_to(self._last_finish)
        self._free_at.clear()
        self._running.clear()
        self._last_finish = None
