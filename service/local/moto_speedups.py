"""Memoise what moto recomputes on every call, to make the local stack fast.

moto's interpreter parses the whole ASL definition with ANTLR for every execution, re-parses each
JSONPath (with a PLY parser) every time a state reads its input, builds a brand-new boto3 client
(SSL context included) for every service task, its request dispatch lists a response class's methods
with ``inspect`` on every request, and every backend lookup takes a global lock and scans all
backends. Each result depends only on its arguments. Caching them changes no behaviour; it makes an
order's execution several times cheaper, which matters for thousand-order benchmarks.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def memoised_moto_hot_paths() -> Iterator[None]:
    import sys

    from moto.core import base_backend, responses
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.utils import boto_client, json_path

    original_parse = json_path.parse
    original_method_names = responses.method_names_from_class
    original_client_for = boto_client.boto_client_for
    clients: dict[tuple[str, str], Any] = {}
    clients_lock = threading.Lock()

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # moto builds the same client whatever the state's credentials (it ignores them)
        key = (region, service)
        cached = clients.get(key)
        if cached is None:
            with clients_lock:  # concurrent executions would otherwise each build the same client
                if key not in clients:
                    clients[key] = original_client_for(region, service)
                cached = clients[key]
        return cached

    # The interpreter's modules import boto_client_for by name: replace it in each of them.
    importers = [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.parser")
        and getattr(module, "boto_client_for", None) is original_client_for
    ]
    original_asl_parse = asl_parser.AmazonStateLanguageParser.parse
    original_backend_for_account = base_backend.BackendDict._create_account_specific_backend

    def backend_for_account(self: Any, account_id: str) -> None:
        # moto takes a global lock and scans every registered backend on each lookup; once an
        # account's backend exists and is registered, there is nothing left to do
        if dict.__contains__(self, account_id) and self.__dict__.get("_registered_locally"):
            return
        original_backend_for_account(self, account_id)
        self.__dict__["_registered_locally"] = True

    base_backend.BackendDict._create_account_specific_backend = backend_for_account
    json_path.parse = functools.lru_cache(maxsize=4096)(original_parse)
    asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse_tree_once(original_asl_parse))
    responses.method_names_from_class = functools.lru_cache(maxsize=1024)(original_method_names)
    for module in importers:
        module.boto_client_for = client_for
    # Built before the first execution: on a loaded machine, building a client inside a task
    # can outlast the task's TimeoutSeconds.
    for service in ("dynamodb", "sqs", "lambda", "stepfunctions"):
        client_for("us-east-1", service)
    try:
        yield
    finally:
        json_path.parse = original_parse
        asl_parser.AmazonStateLanguageParser.parse = staticmethod(original_asl_parse)
        base_backend.BackendDict._create_account_specific_backend = original_backend_for_account
        responses.method_names_from_class = original_method_names
        for module in importers:
            module.boto_client_for = original_client_for


#: The embedded stack's default names: ``recovery-ops-<6 hex digits>``. Definitions of two stacks
#: differ only there, so one parse serves every stack.
_STACK_NAME = re.compile(r"recovery-ops-[0-9a-f]{6}")
_PLACEHOLDER = "recovery-ops-000000"
_TREES: dict[str, tuple[Any, list[tuple[Any, str]]]] = {}
_TREES_LOCK = threading.Lock()


def _parse_tree_once(original_parse: Any) -> Any:
    """Keep ANTLR's parse tree per definition; build fresh evaluation components from it each time.

    The tree is only read by the preprocessor, so sharing it between executions is safe, while the
    components (which hold evaluation state) stay one set per execution, as in moto. Parsing a
    definition takes about a second, once per state machine of every stack; trees are kept across
    stacks with the stack's name written into the few tokens that hold it just before each use.
    """
    from antlr4.tree.Tree import TerminalNode
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    def named_tokens(tree: Any) -> list[tuple[Any, str]]:
        found, pending = [], [tree]
        while pending:
            node = pending.pop()
            if isinstance(node, TerminalNode):
                if _PLACEHOLDER in node.symbol.text:
                    found.append((node.symbol, node.symbol.text))
            else:
                pending.extend(node.getChildren())
        return found

    def parse(definition: str) -> tuple[Any, Any]:
        names = set(_STACK_NAME.findall(definition))
        name = names.pop() if len(names) == 1 else None
        key = _STACK_NAME.sub(_PLACEHOLDER, definition) if name else definition
        with _TREES_LOCK:
            entry = _TREES.get(key)
            if entry is None:
                _, tree = original_parse(key)  # raises on a bad definition, as before
                entry = _TREES[key] = (tree, named_tokens(tree) if name else [])
            tree, tokens = entry
            for token, text in tokens:
                token.text = text.replace(_PLACEHOLDER, name)
            return Preprocessor().visit(tree), tree

    return parse


@contextmanager
def atomic_dynamodb_writes() -> Iterator[None]:
    """Make moto's DynamoDB operations atomic, as DynamoDB's are.

    moto checks a ConditionExpression and then writes without a lock, so two threads can both
    pass the same condition; DynamoDB never lets that happen. The circuit breaker's single probe
    relies on it, so the embedded stack serialises moto's item writes. Reads are serialised with
    them: many item actions reserving the same product update one stock item, and a read turning
    that item into its answer while a write changes it fails in moto ("dictionary changed size
    during iteration").
    """
    import threading

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    patched = [(DynamoDBBackend, name) for name in ("put_item", "update_item", "delete_item")] + [
        (DynamoHandler, name)
        for name in (
            "put_item",
            "update_item",
            "delete_item",
            "get_item",
            "batch_get_item",
            "batch_write_item",
            "query",
            "scan",
            "transact_get_items",
            "transact_write_items",
        )
    ]
    originals = {(owner, name): getattr(owner, name) for owner, name in patched}

    def locked(original: Any) -> Any:
        @functools.wraps(original)
        def operation(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(*args, **kwargs)

        return operation

    for (owner, name), original in originals.items():
        setattr(owner, name, locked(original))
    try:
        yield
    finally:
        for (owner, name), original in originals.items():
            setattr(owner, name, original)
