"""Dispatch moto's Lambda invocations to the project's real handlers, in-process.

moto (with ``use_docker: False``) sends every invoke to its Lambda backend; ``moto_seam`` routes
them here: the function name maps to the handler named in template.yaml, which runs with the
payload. A handler that raises becomes a function error whose ``errorType`` is the exception's
class name, exactly as on AWS, so the state machine's Retry and Catch see the real error names.
The handler runs as its template function (``iam_check.acting_as``): its AWS calls are held to its role.
"""

from __future__ import annotations

import importlib
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.local.engine import moto_seam
from recovery_ops.service.local.engine.iam_check import acting_as

Handler = Callable[[Any, Any], Any]


class HandlerPathError(RecoveryOpsError, ValueError):
    """A function's ``Handler`` names no function that can be called: refused when it is deployed,
    never found by the state machine's task failing (which a catch-all would hide)."""


def checked_handler(function_name: str, handler_path: str) -> Handler:
    """The callable ``handler_path`` (``package.module.function``, as Lambda's Python runtime reads
    it) names, imported now; a ``HandlerPathError`` naming the function, the path and what is wrong
    otherwise: a path of the wrong form, a module that is not there (or fails to import), a missing
    attribute, or one that cannot be called."""
    module_name, dot, attribute = handler_path.rpartition(".")
    if not dot or not module_name or not attribute.isidentifier():
        raise HandlerPathError(
            f'function {function_name}: Handler "{handler_path[:200]}" is not "module.function" '
            "(e.g. recovery_ops.service.handlers.charge.lambda_handler)"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        where = "" if missing == module_name else f" (it imports {missing}, which is not installed)"
        raise HandlerPathError(
            f'function {function_name}: Handler "{handler_path}": no module {module_name} can be '
            f"imported{where}"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - whatever the module raises as it loads, named
        raise HandlerPathError(
            f'function {function_name}: Handler "{handler_path}": importing {module_name} failed '
            f"with {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc
    handler = getattr(module, attribute, None)
    if handler is None:
        raise HandlerPathError(
            f'function {function_name}: Handler "{handler_path}": module {module_name} has no {attribute}'
        )
    if not callable(handler):
        raise HandlerPathError(
            f'function {function_name}: Handler "{handler_path}": {attribute} in {module_name} is '
            "not a function"
        )
    return handler


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the Lambda context object that our handlers, Powertools and Bolt read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    timeout_seconds: float = 10.0
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_seconds - time.monotonic()) * 1000))


@dataclass
class LocalFunction:
    name: str
    arn: str
    handler_path: str  # "package.module.function"
    timeout_seconds: float = 10.0
    logical_id: str | None = None  # its name in template.yaml: the AWS calls it makes are charged to it

    def handler(self) -> Handler:
        module_name, _, attribute = self.handler_path.rpartition(".")
        return getattr(importlib.import_module(module_name), attribute)


class LambdaDispatcher:
    """Maps function names to local handlers and counts invocations."""

    def __init__(self) -> None:
        self._functions: dict[str, LocalFunction] = {}
        self.invocations: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._asynchronous: list[threading.Thread] = []

    def register(self, function: LocalFunction) -> None:
        self._functions[function.name] = function

    def invoke(self, function_name: str, payload: Any, response_headers: dict[str, str] | None = None) -> Any:
        function = self._functions[function_name.split(":function:")[-1].split(":")[0]]
        with self._lock:
            self.invocations[function.name] += 1
        context = LambdaContext(
            function_name=function.name,
            invoked_function_arn=function.arn,
            timeout_seconds=function.timeout_seconds,
        )
        try:
            with acting_as(function.logical_id):
                return function.handler()(payload, context)
        except Exception as exc:  # noqa: BLE001 - every handler error becomes a function error, as on AWS
            if response_headers is not None:
                response_headers["x-amz-function-error"] = "Unhandled"
            return {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }

    def invoke_asynchronously(self, function_name: str, payload: Any) -> None:
        """The caller gets 202 at once, the handler runs on its own (as with InvocationType Event)."""
        thread = threading.Thread(target=self.invoke, args=(function_name, payload), daemon=True)
        with self._lock:
            self._asynchronous = [t for t in self._asynchronous if t.is_alive()] + [thread]
        thread.start()

    def settle(self, timeout: float = 30) -> None:
        """Wait until every asynchronous invocation started so far has ended (e.g. Bolt's lazy halves)."""
        with self._lock:
            started = list(self._asynchronous)
        for thread in started:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"an asynchronous invocation still runs after {timeout} s")

    @contextmanager
    def installed(self) -> Iterator[LambdaDispatcher]:
        """Route moto's Lambda invocations here while the context is open."""
        with moto_seam.routed_lambda_invocations(self.invoke, self.invoke_asynchronously):
            yield self
