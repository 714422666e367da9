"""Waiting on an event with a deadline: the only way a test waits (never a sleep, then an assert)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from recovery_ops.service.local.engine.recovery_requests import next_recovery_request
from recovery_ops.service.local.engine.stack import EmbeddedStack

#: how long a test waits for the embedded stack before it fails: a deadline, not a goal. Generous,
#: because three pytest workers on two cores can hold moto's execution threads for many seconds.
DEADLINE_SECONDS = 90.0


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE_SECONDS) -> None:
    """Return once ``condition()`` holds; TimeoutError after ``timeout`` seconds (a deadline, not a goal)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.02)  # moto's execution threads need the GIL between checks


def wait_for_recovery_request(stack: EmbeddedStack, timeout: float = DEADLINE_SECONDS) -> dict[str, Any]:
    """The next message a paused execution sent to the recovery queue (the integration contract)."""
    return next_recovery_request(stack.client("sqs"), stack.physical("RecoveryQueue"), timeout)
