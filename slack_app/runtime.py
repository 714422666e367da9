"""What the current invocation knows about itself (set by the Lambda handler, unset locally)."""

from collections.abc import Callable
from contextvars import ContextVar

# Seconds left before the function times out; bulk actions stop in time and report what is left.
seconds_left: ContextVar[Callable[[], float] | None] = ContextVar("seconds_left", default=None)
