"""The dummy vendor served over HTTP on 127.0.0.1, for tests, the demo and benchmarks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, unquote, urlsplit

from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.http_serving import JsonRequestHandler, serve_locally


class _VendorRequestHandler(JsonRequestHandler):
    vendor: DummyVendor

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if len(segments) != 3 or segments[0] != "products" or segments[2] != "availability":
            self.answer_json(404, {"message": "no such route"})
            return
        quantity = parse_qs(parts.query).get("quantity", [None])[0]
        answer = self.vendor.availability(segments[1], quantity)
        self.answer_json(answer.status, answer.body, answer.headers)


@contextmanager
def serve_dummy_vendor(vendor: DummyVendor) -> Iterator[str]:
    """Serve ``vendor`` on an ephemeral port of 127.0.0.1; yield its base URL."""
    handler = type("BoundVendorRequestHandler", (_VendorRequestHandler,), {"vendor": vendor})
    with serve_locally(handler) as url:
        yield url
