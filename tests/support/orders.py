"""What the order workflow's tests read back: the dead letters, an item's nested execution."""

from __future__ import annotations

import json
from typing import Any

from recovery_ops.service.example.orders.order_workflow import execution_arn
from recovery_ops.service.local.engine.stack import EmbeddedStack


def dead_letters(stack: EmbeddedStack, queue: str = "OrdersDeadLetterQueue") -> list[dict[str, Any]]:
    sqs = stack.client("sqs")
    messages = sqs.receive_message(QueueUrl=stack.physical(queue), MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def item_execution_arn(stack: EmbeddedStack, order_id: str, item_number: int = 1) -> str:
    """The nested execution that handles one item of an order: ``<order id>-item-<n>``."""
    return execution_arn(stack.arn("OrderItemStateMachine"), f"{order_id}-item-{item_number}")
