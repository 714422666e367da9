"""HTTP client of the vendor's availability API, mapping HTTP outcomes to the vendor error classes."""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import urllib3

from recovery_ops.service.example.supplier.errors import (
    VendorRejectedRequest,
    VendorThrottled,
    VendorUnavailable,
)

#: Statuses by which the vendor says the request itself is wrong.
REJECTED_STATUSES = frozenset({400, 404, 409, 422})
DEFAULT_RETRY_AFTER_SECONDS = 1
MAX_RETRY_AFTER_SECONDS = 3600


@dataclass(frozen=True)
class Availability:
    product_id: str
    available: bool
    in_stock: int


class VendorClient:
    """One vendor endpoint. Never retries by itself: retrying is the workflow's job."""

    def __init__(
        self, base_url: str, timeout_seconds: float, pool: urllib3.PoolManager | None = None
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = urllib3.Timeout(connect=timeout_seconds, read=timeout_seconds)
        self._timeout_seconds = timeout_seconds
        self._pool = pool or urllib3.PoolManager(num_pools=4, maxsize=10)

    def check_availability(self, product_id: str, quantity: int) -> Availability:
        url = (
            f"{self._base_url}/products/{quote(product_id, safe='')}/availability?"
            f"{urlencode({'quantity': quantity})}"
        )
        try:
            response = self._pool.request(
                "GET", url, timeout=self._timeout, retries=False, headers={"Accept": "application/json"}
            )
        except urllib3.exceptions.NewConnectionError as exc:  # before TimeoutError: it subclasses it
            raise VendorUnavailable(f"vendor unreachable: {exc.__class__.__name__}") from exc
        except urllib3.exceptions.TimeoutError as exc:
            raise VendorUnavailable(f"vendor did not answer within {self._timeout_seconds:g}s") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise VendorUnavailable(f"vendor unreachable: {type(exc).__name__}") from exc

        status = response.status
        if status == 200:
            return _parse_availability(product_id, response.data)
        detail = _detail(response.data) or f"HTTP {status}"
        if status == 429:
            raise VendorThrottled(parse_retry_after(response.headers.get("Retry-After")), detail)
        if status in REJECTED_STATUSES:
            raise VendorRejectedRequest(f"vendor rejected the request (HTTP {status}): {detail}")
        raise VendorUnavailable(f"vendor answered HTTP {status}: {detail}")


def parse_retry_after(value: str | None, now: float | None = None) -> int:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), clamped to a sane range."""
    if not value:
        return DEFAULT_RETRY_AFTER_SECONDS
    value = value.strip()
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER_SECONDS
        seconds = int(when.timestamp() - (now if now is not None else time.time()) + 0.999)
    return max(DEFAULT_RETRY_AFTER_SECONDS, min(seconds, MAX_RETRY_AFTER_SECONDS))


def _parse_availability(product_id: str, body: bytes) -> Availability:
    try:
        payload = json.loads(body)
        return Availability(
            product_id=str(payload.get("product_id", product_id)),
            available=bool(payload["available"]),
            in_stock=int(payload["in_stock"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VendorUnavailable("vendor answered 200 with a malformed body") from exc


def _detail(body: bytes) -> str:
    try:
        payload = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    if isinstance(payload, dict):
        return str(payload.get("message") or payload.get("error") or "")[:500]
    return ""
