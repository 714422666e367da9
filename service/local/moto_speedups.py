"""Memoise what moto recomputes on every call, to make the local stack fast.

moto's interpreter re-parses each JSONPath (with a PLY parser) every time a state reads its
input, builds a brand-new boto3 client (SSL context included) for every service task, and its
request dispatch lists a response class's methods with ``inspect`` on every request. Each result
depends only on its arguments. Caching them changes no behaviour; it makes an order's execution
several times cheaper, which matters for thousand-order benchmarks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def memoised_moto_hot_paths() -> Iterator[None]:
    import sys

    from moto.core import responses
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    original_parse = json_path.parse
    original_method_names = responses.method_names_from_class
    original_client_for = boto_client.boto_client_for
    cached_client_for = functools.lru_cache(maxsize=64)(original_client_for)

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if state_credentials is not None:
            return original_client_for(region, service, state_credentials)
        return cached_client_for(region, service)

    # The interpreter's modules import boto_client_for by name: replace it in each of them.
    importers = [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.parser")
        and getattr(module, "boto_client_for", None) is original_client_for
    ]
    json_path.parse = functools.lru_cache(maxsize=4096)(original_parse)
    responses.method_names_from_class = functools.lru_cache(maxsize=1024)(original_method_names)
    for module in importers:
        module.boto_client_for = client_for
    try:
        yield
    finally:
        json_path.parse = original_parse
        responses.method_names_from_class = original_method_names
        for module in importers:
            module.boto_client_for = original_client_for


@contextmanager
def atomic_dynamodb_writes() -> Iterator[None]:
    """Make moto's DynamoDB writes atomic, as DynamoDB's are.

    moto checks a ConditionExpression and then writes without a lock, so two threads can both
    pass the same condition; DynamoDB never lets that happen. The circuit breaker's single probe
    relies on it, so the embedded stack serialises moto's item writes.
    """
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    originals = {name: getattr(DynamoDBBackend, name) for name in ("put_item", "update_item", "delete_item")}

    def locked(original: Any) -> Any:
        @functools.wraps(original)
        def write(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(*args, **kwargs)

        return write

    for name, original in originals.items():
        setattr(DynamoDBBackend, name, locked(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(DynamoDBBackend, name, original)
