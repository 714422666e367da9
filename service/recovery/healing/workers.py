"""Workers: how a self-healing round runs its resumes, up to ``size`` at a time.

A resume waits on a dozen DynamoDB calls, a SendTask* call and often a Slack update: about 0.1 to
0.3 s, so one after the other a round reaches 3 to 5 a second whatever its pace allows. The round
still decides *when* each resume starts (its pace spaces the starts, its checks of the circuit and
of Stop come between them); the workers let the resumes it has started overlap.

The port is two calls. ``submit`` hands over a task and returns once a worker has it: it blocks
while every worker is busy, and raises the error of a task that failed (the round stops
starting). ``drain`` waits for every task handed over and raises the first error not raised yet;
a round drains before it reports, before it ends its runs, and before it lets an error out, so
no resume is still under way when the invocation ends (a Lambda's environment is frozen with
its threads, and would go on with them in a later invocation).

``InlineWorkers`` (the default) runs each task as it is handed over: one at a time, in order, as
rounds did before there were workers, so a test over the fakes reads like a script.
``ThreadWorkers`` runs them on a thread pool: the boto3 clients under the stores are thread-safe,
and the round keeps what its tasks share under a lock. Each task runs in a copy of the context it
was submitted from, so what is bound to the invocation (its logging keys, the caller the embedded
stack checks permissions for) goes with it.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Protocol

from recovery_ops.service.observability import logger

Task = Callable[[], object]


class Workers(Protocol):
    def submit(self, task: Task) -> None:
        """Run ``task`` on a free worker (waiting for one); raises an earlier task's error."""
        ...

    def drain(self) -> None:
        """Wait for every task submitted; raises the first error not raised yet."""
        ...


class InlineWorkers:
    """One worker, the caller itself: each task runs when it is submitted."""

    def submit(self, task: Task) -> None:
        task()

    def drain(self) -> None:
        return None


class ThreadWorkers:
    """``size`` threads; a pool lives from a round's first ``submit`` to its ``drain``."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("at least one worker")
        self.size = size
        self._slots = threading.Semaphore(size)
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._running: set[Future[object]] = set()
        self._failures: list[BaseException] = []

    def submit(self, task: Task) -> None:
        self._raise_failure()
        self._slots.acquire()
        try:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="self-healing")
            future = self._pool.submit(contextvars.copy_context().run, task)
        except BaseException:
            self._slots.release()
            raise
        with self._lock:
            self._running.add(future)
        future.add_done_callback(self._finished)

    def drain(self) -> None:
        with self._lock:
            running = list(self._running)
        wait(running)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._raise_failure()

    def _finished(self, future: Future[object]) -> None:
        error = future.exception()
        with self._lock:
            self._running.discard(future)
            if error is not None:
                self._failures.append(error)
        self._slots.release()

    def _raise_failure(self) -> None:
        with self._lock:
            failures, self._failures = self._failures, []
        if not failures:
            return
        for later in failures[1:]:
            logger.warning("self-healing: a further task failed", error=repr(later))
        raise failures[0]


def drain_quietly(workers: Workers) -> None:
    """Drain while another error is on its way out: the tasks still running finish, and their own
    errors are logged (the one already raised is the round's)."""
    try:
        workers.drain()
    except Exception as exc:  # noqa: BLE001 - the error in flight is the one the round reports
        logger.warning("self-healing: a task failed while the round stopped", error=repr(exc))
