"""Lazily created, cached boto3 clients (cold start matters: created on first use, then reused).

Creation is locked: threads that ask for the same client at once (the local stack runs many
executions in one process) build it once instead of each loading the service model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

#: connections kept per client: self-healing's workers (SELF_HEALING_CONCURRENCY, at most 50) share
#: one client each for DynamoDB, Step Functions and S3 (botocore keeps 10 by default)
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=50,
)
_clients: dict[str, Any] = {}
_lock = threading.Lock()
_loader: Any = None  # botocore's service-model loader, kept across resets: models never change


def _session() -> boto3.session.Session:
    global _loader
    core = botocore.session.get_session()
    if _loader is None:
        _loader = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _loader)
    return boto3.session.Session(botocore_session=core)


def client(service_name: str, endpoint_url: str | None = None) -> Any:
    """The cached client of ``service_name``; at ``endpoint_url`` when given (a local stand-in of
    an API, such as the embedded stack's durable host), else at AWS's own endpoint."""
    key = service_name if endpoint_url is None else f"{service_name} {endpoint_url}"
    cached = _clients.get(key)
    if cached is not None:
        return cached
    with _lock:
        if key not in _clients:
            # the stubs overload client() on each service's literal name; this name comes at run time
            make: Callable[..., Any] = _session().client
            _clients[key] = make(service_name, config=_CONFIG, endpoint_url=endpoint_url)
        return _clients[key]


def reset() -> None:
    """Forget cached clients (a new region, new credentials, or a new embedded stack)."""
    with _lock:
        _clients.clear()
