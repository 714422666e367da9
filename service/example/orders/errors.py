"""Errors of the order domain; the API maps them to HTTP answers at its edge."""

from __future__ import annotations

from service.example.orders.models import FieldProblem


class InvalidOrderRequest(ValueError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))


class OrderAlreadyExists(Exception):
    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        super().__init__(f"order {order_id} already exists")


class InvalidOrderData(ValueError):
    """A workflow step received an order it cannot work with (client data problem)."""
