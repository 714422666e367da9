"""The order example's stock on a local stack: every product the demo, the tests and the benchmarks
order, put in the example's stock table once the stack is deployed.

The engine knows nothing of the example; a program or a test that deploys it passes
``prepare=stock_local_catalogue`` to ``embedded_stack``.
"""

from __future__ import annotations

from collections.abc import Mapping

from recovery_ops.service.example.orders.stock import StockStore
from recovery_ops.service.local.engine.stack import EmbeddedStack

#: What the local stack has in stock: every product the demo, the tests and the benchmarks order.
LOCAL_STOCK: dict[str, int] = {
    f"sku-{name}": 100_000 for name in ("lamp", "kettle", "vase", "desk", "chair", "a", "b", "c", "lamp-x1")
}


def stock_local_catalogue(stack: EmbeddedStack, stock: Mapping[str, int] = LOCAL_STOCK) -> None:
    """Put ``stock`` in the order example's stock table; nothing when the stack leaves the example out."""
    if "StockTable" not in stack.context.resources:
        return
    stock_store = StockStore(stack.physical("StockTable"), stack.client("dynamodb"))
    for product_id, available in stock.items():
        stock_store.set_available(product_id, available)
