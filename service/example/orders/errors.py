"""Errors of the order domain; the API maps them to HTTP answers at its edge."""

from __future__ import annotations

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.example.orders.models import FieldProblem


class InvalidOrderRequestError(RecoveryOpsError, ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))


class OrderAlreadyExistsError(RecoveryOpsError):
    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        super().__init__(f"order {order_id} already exists")


class InvalidOrderData(RecoveryOpsError, ValueError):
    """A workflow step received an order it cannot work with (client data problem).

    Its name is an error name of the item action (order_item.asl.json's ``Catch``), so it keeps it
    rather than ending in ``Error``."""
