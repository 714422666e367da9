"""A dead-letter queue's audit trail: its redrives and refused attempts, on the recoveries table.

The trail is the item ``dlq#<queue name>`` (``storage/items.py``), an audit item with no ``status``
(out of the recoveries listing) whose ``expires_at`` moves forward with each entry.
"""

from __future__ import annotations

from typing import Any

from recovery_ops.service.recovery.dead_letters.model import DeadLetterQueue
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.service.recovery.storage.audit import AuditItems
from recovery_ops.service.recovery.storage.items import QUEUE_URL, dlq_audit_id

REDRIVE = "redrive dlq"  # the audited action
STARTED = "STARTED"
ALREADY_RUNNING = "ALREADY_RUNNING"
DENIED = "DENIED"


class DeadLetterAudit:
    """Redrives and refused attempts, on the item ``dlq#<queue name>`` of the recoveries table."""

    def __init__(self, table_name: str, dynamodb: Any, retention_days: int = 90) -> None:
        self._items = AuditItems(table_name, dynamodb, retention_days)

    @staticmethod
    def item_id(queue: DeadLetterQueue) -> str:
        return dlq_audit_id(queue.name)

    def record(self, queue: DeadLetterQueue, entry: AuditEntry) -> None:
        self._items.record(self.item_id(queue), entry, **{QUEUE_URL: queue.url})

    def history(self, queue: DeadLetterQueue) -> list[AuditEntry]:
        return self._items.history(self.item_id(queue))

    def last_redrive(self, queue: DeadLetterQueue) -> AuditEntry | None:
        """The last redrive started (or found running); approval steps on the trail are not one."""
        return next(
            (e for e in reversed(self.history(queue)) if e.result in (STARTED, ALREADY_RUNNING)), None
        )
