"""The vendor client maps every HTTP outcome to one of the vendor error classes."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from email.utils import formatdate

import pytest

from recovery_ops.service.example.supplier.client import (
    MAX_RETRY_AFTER_SECONDS,
    VendorClient,
    parse_retry_after,
)
from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.example.supplier.errors import (
    VendorRejectedRequest,
    VendorThrottled,
    VendorUnavailable,
)


def client(url: str, timeout: float = 2.0) -> VendorClient:
    return VendorClient(url, timeout)


def test_available_product_is_reported_with_its_stock(vendor_url: str) -> None:
    availability = client(vendor_url).check_availability("sku-lamp", 3)

    assert availability.available is True
    assert availability.in_stock == 1000
    assert availability.product_id == "sku-lamp"


def test_throttling_raises_throttled_with_the_vendors_retry_after(
    vendor: DummyVendor, vendor_url: str
) -> None:
    vendor.set_behaviour(VendorBehaviour(throttle_rate=1.0, retry_after_seconds=7))

    with pytest.raises(VendorThrottled) as raised:
        client(vendor_url).check_availability("sku-lamp", 1)

    assert raised.value.retry_after_seconds == 7
    retry_at = datetime.strptime(str(raised.value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 5 <= (retry_at - datetime.now(UTC)).total_seconds() <= 8


@pytest.mark.parametrize(
    ("product_id", "quantity", "reason"),
    [("sku-unknown!", 1, "unknown product"), ("sku-lamp", 5000, "insufficient stock")],
)
def test_data_the_vendor_refuses_is_a_rejected_request(
    vendor_url: str, product_id: str, quantity: int, reason: str
) -> None:
    with pytest.raises(VendorRejectedRequest, match=reason):
        client(vendor_url).check_availability(product_id, quantity)


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        (VendorBehaviour(outage=True), "HTTP 503"),
        (VendorBehaviour(failure_rate=1.0), "HTTP 500"),
    ],
)
def test_server_errors_are_unavailable(
    vendor: DummyVendor, vendor_url: str, behaviour: VendorBehaviour, message: str
) -> None:
    vendor.set_behaviour(behaviour)

    with pytest.raises(VendorUnavailable, match=message):
        client(vendor_url).check_availability("sku-lamp", 1)


def test_a_vendor_slower_than_the_timeout_is_unavailable(vendor: DummyVendor, vendor_url: str) -> None:
    vendor.set_behaviour(VendorBehaviour(latency_ms=600))

    with pytest.raises(VendorUnavailable, match="did not answer within 0.2s"):
        client(vendor_url, timeout=0.2).check_availability("sku-lamp", 1)


def test_an_unreachable_vendor_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]

    with pytest.raises(VendorUnavailable, match="unreachable"):
        client(f"http://127.0.0.1:{free_port}", timeout=0.5).check_availability("sku-lamp", 1)


def test_retry_after_accepts_seconds_and_http_dates_and_clamps_nonsense() -> None:
    now = 1_800_000_000.0

    assert parse_retry_after("12") == 12
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == 30
    assert parse_retry_after(None) == 1
    assert parse_retry_after("soon") == 1
    assert parse_retry_after("999999") == MAX_RETRY_AFTER_SECONDS
