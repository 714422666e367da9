"""Items read by key, a hundred a call: DynamoDB's BatchGetItem, the keys it leaves unprocessed
(throttled) asked for again after a short pause, at most a few times."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

BATCH_KEYS = 100  # DynamoDB's most keys in one BatchGetItem
ATTEMPTS = 6
BACKOFF_S = 0.02


def read_items(
    client: Any,
    table: str,
    keys: list[dict[str, Any]],
    consistent: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """The items of ``keys`` that exist (in no particular order); keys still unprocessed after the
    last attempt are left out: the caller reads a page, and a missing one is in the next."""
    found: list[dict[str, Any]] = []
    for first in range(0, len(keys), BATCH_KEYS):
        wanted = keys[first : first + BATCH_KEYS]
        for attempt in range(ATTEMPTS):
            answer = client.batch_get_item(
                RequestItems={table: {"Keys": wanted, "ConsistentRead": consistent}}
            )
            found += answer.get("Responses", {}).get(table, [])
            wanted = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not wanted:
                break
            sleep(random.uniform(0, BACKOFF_S * 2**attempt))
    return found
