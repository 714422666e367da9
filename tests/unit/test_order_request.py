"""POST /orders bodies are validated before anything starts; every problem names its field."""

from __future__ import annotations

import pytest

from service.orders.errors import InvalidOrderRequest
from service.orders.order_api import parse_order_request


def problems(body: str | None) -> dict[str, str]:
    with pytest.raises(InvalidOrderRequest) as raised:
        parse_order_request(body)
    return {p.field: p.reason for p in raised.value.problems}


def test_a_complete_order_parses() -> None:
    request = parse_order_request('{"customer_id": "c-1", "product_id": "sku-lamp", "quantity": 2}')

    assert (request.customer_id, request.product_id, request.quantity) == ("c-1", "sku-lamp", 2)
    assert request.order_id is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (None, "body"),
        ("not json", "body"),
        ("[1, 2]", "body"),
        ('{"customer_id": "c", "product_id": "sku-a"}', "quantity"),
        ('{"customer_id": "c", "product_id": "sku-a", "quantity": 0}', "quantity"),
        ('{"customer_id": "c", "product_id": "sku-a", "quantity": "2"}', "quantity"),
        ('{"customer_id": "", "product_id": "sku-a", "quantity": 1}', "customer_id"),
        ('{"customer_id": "c", "product_id": "sku-a", "quantity": 1, "order_id": "has space"}', "order_id"),
        ('{"customer_id": "c", "product_id": "sku-a", "quantity": 1, "price": 3}', "price"),
    ],
)
def test_bad_bodies_name_the_field_at_fault(body: str | None, field: str) -> None:
    assert field in problems(body)
