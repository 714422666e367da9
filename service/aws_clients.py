"""Lazily created, cached boto3 clients (cold start matters: created on first use, then reused)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


@cache
def client(service_name: str) -> Any:
    return boto3.session.Session().client(service_name, config=_CONFIG)


def reset() -> None:
    """Forget cached clients (a new region, new credentials, or a new embedded stack)."""
    client.cache_clear()
