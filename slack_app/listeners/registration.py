"""What each surface's ``register(app, services)`` uses: the acknowledgement, and a lazy half
bound to the services.

Every listener acknowledges at once (Slack waits three seconds at most) and does its work in a
lazy half: a module-level function whose first parameter is the services factory, followed by
the arguments Bolt passes by name (``body``, ``respond``, ``client``, ``view``, ``event``).
``with_services`` binds the factory and keeps the function's name, which Bolt uses on Lambda to
find the lazy half to run in the asynchronous invocation it starts after the acknowledgement.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from slack_bolt import Ack

if TYPE_CHECKING:
    from recovery_ops.service.composition import Services

#: the services, built by the first lazy half that calls it and reused after
#: (``recovery_ops.service.composition.Lazy``)
ServicesFactory = Callable[[], "Services"]


def acknowledge(ack: Ack) -> None:
    """The acknowledgement of every listener but the edit modal's (which checks the input first)."""
    ack()


def with_services(listener: Callable[..., None], services: ServicesFactory) -> Callable[..., None]:
    """``listener`` with ``services`` bound as its first argument, under ``listener``'s own name
    (Bolt reads the other parameters' names to know what to pass)."""
    bound = partial(listener, services)
    bound.__name__ = listener.__name__  # type: ignore[attr-defined]  # a partial takes attributes
    return bound
