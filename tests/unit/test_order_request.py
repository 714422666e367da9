"""POST /orders bodies are validated before anything starts; every problem names its field."""

from __future__ import annotations

import json

import pytest

from recovery_ops.service.example.orders.errors import InvalidOrderRequestError
from recovery_ops.service.example.orders.order_api import parse_order_request


def problems(body: str | None) -> dict[str, str]:
    with pytest.raises(InvalidOrderRequestError) as raised:
        parse_order_request(body)
    return {p.field: p.reason for p in raised.value.problems}


def test_an_order_of_several_items_parses() -> None:
    request = parse_order_request(
        '{"customer_id": "c-1", "items": [{"product_id": "sku-lamp", "quantity": 2},'
        ' {"product_id": "sku-vase", "quantity": 1}]}'
    )

    assert request.customer_id == "c-1" and request.order_id is None
    assert request.workflow_input("ord-1") == {
        "order_id": "ord-1",
        "customer_id": "c-1",
        "items": [{"product_id": "sku-lamp", "quantity": 2}, {"product_id": "sku-vase", "quantity": 1}],
    }


def test_one_product_and_quantity_is_a_one_item_order() -> None:
    request = parse_order_request('{"customer_id": "c-1", "product_id": "sku-lamp", "quantity": 2}')

    assert [(i.product_id, i.quantity) for i in request.items] == [("sku-lamp", 2)]


def test_fifty_items_are_accepted_and_fifty_one_are_not() -> None:
    def body(count: int) -> str:
        items = [{"product_id": f"sku-{n}", "quantity": 1} for n in range(count)]
        return json.dumps({"customer_id": "c", "items": items})

    assert len(parse_order_request(body(50)).items) == 50
    assert "at most 50" in problems(body(51))["items"]


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
        ('{"customer_id": "c", "items": []}', "items"),
        ('{"customer_id": "c", "items": {"product_id": "sku-a"}}', "items"),
        ('{"customer_id": "c", "items": [{"product_id": "sku-a"}]}', "items.0.quantity"),
        (
            '{"customer_id": "c", "items": [{"product_id": "sku-a", "quantity": 1}, {"quantity": 1}]}',
            "items.1.product_id",
        ),
        ('{"customer_id": "c", "items": [{"product_id": "sku-a", "quantity": -1}]}', "items.0.quantity"),
        ('{"customer_id": "c", "items": [{"product_id": "sku-a", "quantity": 1}], "quantity": 1}', "body"),
        (
            '{"customer_id": "c", "product_id": "sku-a", "quantity": 1, "order_id": "' + "o" * 65 + '"}',
            "order_id",
        ),
    ],
)
def test_bad_bodies_name_the_field_at_fault(body: str | None, field: str) -> None:
    assert field in problems(body)
