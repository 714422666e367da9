"""The dummy vendor: a scriptable stand-in for the third-party availability API.

Demos and benchmarks script its behaviour (failure rate, outage, throttling) to show how the
order workflow copes. The same logic serves the deployed dummy-vendor Lambda and the local
HTTP server used by tests and the demo.
"""

from __future__ import annotations

import random
import re
import threading
import time
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

PRODUCT_ID = re.compile(r"^sku-[a-z0-9-]{1,40}$")


class VendorBehaviour(BaseModel):
    model_config = ConfigDict(extra="forbid")

    failure_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="share of calls answered 500")
    outage: bool = Field(default=False, description="every call answered 503")
    throttle_rate: float = Field(default=0.0, ge=0.0, le=1.0, description="share of calls answered 429")
    retry_after_seconds: int = Field(default=2, ge=0, le=3600)
    latency_ms: int = Field(default=0, ge=0, le=30_000)
    stock: int = Field(default=1000, ge=0, description="units in stock of every known product")
    failing_products: list[str] = Field(
        default_factory=list, description="products whose every call is answered 503 (one item failing)"
    )


@dataclass(frozen=True)
class VendorResponse:
    status: int
    body: dict
    headers: dict[str, str] = field(default_factory=dict)


class DummyVendor:
    """Answers availability requests according to its current behaviour. Thread-safe."""

    def __init__(self, behaviour: VendorBehaviour | None = None, seed: int | None = None) -> None:
        self._behaviour = behaviour or VendorBehaviour()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.calls = 0

    @property
    def behaviour(self) -> VendorBehaviour:
        return self._behaviour

    def set_behaviour(self, behaviour: VendorBehaviour) -> None:
        self._behaviour = behaviour

    def availability(self, product_id: str, quantity: str | int | None) -> VendorResponse:
        behaviour = self._behaviour
        with self._lock:
            self.calls += 1
            roll_throttle, roll_failure = self._random.random(), self._random.random()
        if behaviour.latency_ms:
            time.sleep(behaviour.latency_ms / 1000)
        if behaviour.outage or product_id in behaviour.failing_products:
            return VendorResponse(503, {"message": "service unavailable"})
        if roll_throttle < behaviour.throttle_rate:
            return VendorResponse(
                429, {"message": "too many requests"}, {"Retry-After": str(behaviour.retry_after_seconds)}
            )
        if roll_failure < behaviour.failure_rate:
            return VendorResponse(500, {"message": "internal error"})
        if not PRODUCT_ID.match(product_id):
            return VendorResponse(404, {"message": f"unknown product {product_id!r}"})
        try:
            wanted = int(quantity) if quantity is not None else 1
        except (TypeError, ValueError):
            return VendorResponse(400, {"message": f"quantity must be an integer, got {quantity!r}"})
        if wanted < 1:
            return VendorResponse(400, {"message": "quantity must be at least 1"})
        if wanted > behaviour.stock:
            return VendorResponse(
                409, {"message": f"insufficient stock: {wanted} wanted, {behaviour.stock} available"}
            )
        return VendorResponse(200, {"product_id": product_id, "available": True, "in_stock": behaviour.stock})
