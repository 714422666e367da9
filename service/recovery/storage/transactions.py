"""DynamoDB transactions as the stores write them: all or nothing, told apart from a conflict.

``TransactWriteItems`` is cancelled when a condition fails (the caller decides what that means:
its ``CancellationReasons`` say which write's), and also when another transaction was working on
one of its items at the same moment (``TransactionConflict``, or DynamoDB busy): such a
transaction wrote nothing and is tried again, after a short random pause, a few times.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from recovery_ops.service.errors import RecoveryOpsError

ATTEMPTS = 6
BACKOFF_S = 0.02
CONDITION_FAILED = "ConditionalCheckFailed"


class TransactionConditionFailedError(RecoveryOpsError):
    """A condition of the transaction did not hold: nothing was written. ``failed``: the indexes
    of the writes whose condition failed."""

    def __init__(self, failed: list[int]) -> None:
        super().__init__(f"conditions failed at {failed}")
        self.failed = failed


def write_all(
    client: Any,
    writes: list[dict[str, Any]],
    before_retry: Callable[[list[dict[str, Any]]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Write ``writes`` in one transaction. Raises ``TransactionConditionFailedError`` when a condition
    failed, the client's error when DynamoDB refused or did not answer (the writes may have landed
    when the answer was lost), after ``ATTEMPTS`` conflicts the last one. ``before_retry`` may
    change the writes before another attempt (a busy counter's other shard)."""
    for attempt in range(ATTEMPTS):
        try:
            client.transact_write_items(TransactItems=writes)
            return
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
            failed = [i for i, code in enumerate(reasons) if code == CONDITION_FAILED]
            if failed:
                raise TransactionConditionFailedError(failed) from error
            if attempt + 1 == ATTEMPTS:
                raise
            if before_retry is not None:
                before_retry(writes)
            sleep(random.uniform(0, BACKOFF_S * 2**attempt))
