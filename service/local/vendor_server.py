"""The dummy vendor served over HTTP on 127.0.0.1, for tests, the demo and benchmarks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from service.vendor.dummy import DummyVendor


class _VendorRequestHandler(BaseHTTPRequestHandler):
    vendor: DummyVendor

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if len(segments) != 3 or segments[0] != "products" or segments[2] != "availability":
            self._answer(404, {"message": "no such route"}, {})
            return
        quantity = parse_qs(parts.query).get("quantity", [None])[0]
        answer = self.vendor.availability(segments[1], quantity)
        self._answer(answer.status, answer.body, answer.headers)

    def _answer(self, status: int, body: dict, headers: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
        return


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that timed out and hung up (the vendor-timeout tests) is not an error of the server.
        return


@contextmanager
def serve_dummy_vendor(vendor: DummyVendor) -> Iterator[str]:
    """Serve ``vendor`` on an ephemeral port of 127.0.0.1; yield its base URL."""
    handler = type("BoundVendorRequestHandler", (_VendorRequestHandler,), {"vendor": vendor})
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
