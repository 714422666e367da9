"""Keeps a callback id out of the AWS SDK's debug log while it is sent.

At DEBUG, botocore logs every request with its parameters (``botocore.endpoint``: "Making request
for ... with params"), so a function whose log level is DEBUG would log the recovery message, and
with it the callback id, a secret capability. While ``callback_id_unlogged`` holds an id, a filter
on that logger writes ``[callback id]`` in its place (as it is, and URL-encoded); other records are
left as they are.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

#: the loggers that write a request's parameters
REQUEST_LOGGERS = ("botocore.endpoint",)
HIDDEN = "[callback id]"

_in_flight: set[str] = set()
_lock = threading.Lock()


class WithoutCallbackIds(logging.Filter):
    """Writes ``[callback id]`` in place of an id being sent, in a record's text."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _lock:
            secrets = list(_in_flight)
        if not secrets:
            return True
        text = record.getMessage()
        hidden = text
        for secret in secrets:
            hidden = hidden.replace(secret, HIDDEN).replace(quote(secret, safe=""), HIDDEN)
        if hidden != text:
            record.msg, record.args = hidden, None
        return True


_FILTER = WithoutCallbackIds()


@contextmanager
def callback_id_unlogged(callback_id: str) -> Iterator[None]:
    """While the block runs, the request loggers do not write ``callback_id``."""
    with _lock:
        for name in REQUEST_LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        _in_flight.add(callback_id)
    try:
        yield
    finally:
        with _lock:
            _in_flight.discard(callback_id)
