"""The embedded stack's durable functions: AWS's local runner, and Lambda's durable-execution API
over HTTP for the product's own Lambda client.

moto has no durable functions. AWS's testing SDK has an in-process runner
(``DurableFunctionTestRunner``) that runs durable handlers with their checkpoints, waits and
callbacks, and a web server (``web/server.py``) answering the paths boto3's Lambda client uses
(``/2025-12-01/durable-execution-callbacks/...``, ``/2025-12-01/durable-executions/...``). The host
runs one runner for every durable function registered by name (its invoker routes each execution
by the function name it was started with) and serves that runner on 127.0.0.1 at an ephemeral
port: the product's client, pointed there by ``DURABLE_ENDPOINT_URL``, makes the real
SendDurableExecutionCallback* / GetDurableExecution / GetDurableExecutionHistory calls. moto's
``mock_aws`` lets requests to a URL outside amazonaws.com through untouched.

This module is the one place that touches the testing SDK's internals, each named and checked by
``check_installed`` before the first use:

- the runner's executor (``DurableFunctionTestRunner._executor``): what the web server serves;
- the web server's request handler (``RequestHandler._send_response``): its error answers carry
  their type in the body only, so botocore would read the HTTP status ("404") as the error code;
  the host adds the ``x-amzn-ErrorType`` header Lambda sends;
- the callback id's encoding (``token.CallbackToken``): which execution a callback belongs to,
  for the IAM check (product code never decodes callback ids);
- the web server calls ``logging.basicConfig`` when built: the root logger is put back as it was.

Callback ids are secrets: the testing SDK logs them (request paths, timeouts), so its loggers are
kept to CRITICAL while a host lives.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from recovery_ops.service.errors import RecoveryOpsError

#: the testing SDK's loggers, which name callback ids in their INFO and WARNING lines
_RUNNER_LOGGER = "aws_durable_execution_sdk_python_testing"
#: how often the runner looks for a callback it is asked about (its default is a second)
_POLL_SECONDS = 0.02


class DurableHostError(RecoveryOpsError, RuntimeError):
    """The host was asked about a function or execution it does not run."""


@dataclass(frozen=True)
class DurableResult:
    """How a durable execution ended: its status (SUCCEEDED, FAILED, TIMED_OUT, STOPPED), its
    result (a JSON text) or its error (``{"ErrorType": ..., "ErrorMessage": ...}``)."""

    status: str
    result: str | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Started:
    function_name: str
    execution_name: str


def check_installed() -> None:
    """Refuse a testing SDK whose internals this host relies on have moved, naming what is missing."""
    from aws_durable_execution_sdk_python_testing import DurableFunctionTestRunner, token
    from aws_durable_execution_sdk_python_testing.web import server

    missing = [
        name
        for name, present in (
            (
                "DurableFunctionTestRunner.register_durable_function",
                hasattr(DurableFunctionTestRunner, "register_durable_function"),
            ),
            ("web.server.RequestHandler._send_response", hasattr(server.RequestHandler, "_send_response")),
            ("web.server.WebServer", hasattr(server, "WebServer")),
            ("token.CallbackToken.from_str", hasattr(getattr(token, "CallbackToken", None), "from_str")),
        )
        if not present
    ]
    if missing:
        raise DurableHostError(f"the installed durable-execution testing SDK lacks {', '.join(missing)}")


def _no_function(event: Any, context: Any) -> Any:
    raise DurableHostError("no durable function is registered under the name this execution was started with")


class DurableHost:
    """Durable functions run in this process, and Lambda's durable-execution API at ``endpoint_url``."""

    def __init__(self, region: str, account_id: str) -> None:
        check_installed()
        from aws_durable_execution_sdk_python_testing import DurableFunctionTestRunner

        self.region, self.account_id = region, account_id
        self._runner_log_level = _quiet_runner_logs()
        self._runner = DurableFunctionTestRunner(handler=_no_function, region=region)
        self._runner.poll_interval = _POLL_SECONDS
        self._functions: set[str] = set()
        self._started: dict[str, _Started] = {}
        self._client: Any = None  # a boto3 Lambda client at endpoint_url, made on first use
        self._server = _serve(self._runner._executor)  # noqa: SLF001 - what the web server serves
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="durable-host",
            daemon=True,
        )
        self._thread.start()

    # ------------------------------------------------------------ functions and executions
    def register(self, function_name: str, handler: Callable[..., Any]) -> None:
        """Run ``handler`` (a ``@durable_execution`` function) for executions of ``function_name``."""
        self._runner.register_durable_function(function_name, handler)
        self._functions.add(function_name)

    def start(self, function_name: str, input: Any = None, execution_name: str | None = None) -> str:  # noqa: A002
        """Start a durable execution of ``function_name`` with ``input`` (any JSON value); its
        durable execution ARN (the local runner's form: not AWS's, see ``aws_arn``)."""
        if function_name not in self._functions:
            raise DurableHostError(f"no durable function {function_name!r} is registered")
        name = execution_name or uuid.uuid4().hex
        arn = self._runner.run_async(
            input=None if input is None else json.dumps(input),
            function_name=function_name,
            execution_name=name,
            account_id=self.account_id,
        )
        self._started[arn] = _Started(function_name, name)
        return arn

    def wait_for_result(self, arn: str, timeout: float = 30.0) -> DurableResult:
        """Block until the execution ends (``TimeoutError`` after ``timeout`` seconds)."""
        ended = self._runner.wait_for_result(arn, timeout=timeout)  # type: ignore[arg-type]
        status = ended.execution_status or ended.status
        error = dict(ended.error.to_dict()) if ended.error is not None else None
        return DurableResult(str(getattr(status, "value", status)), ended.result, error)

    def knows(self, arn: str) -> bool:
        """Whether ``arn`` is an execution this host started."""
        return arn in self._started

    def describe(self, arn: str) -> DurableResult:
        """What GetDurableExecution says of the execution now (status RUNNING while it runs), asked
        through Lambda's API at ``endpoint_url`` as any client would."""
        answer = self._api().get_durable_execution(DurableExecutionArn=arn)
        error = answer.get("Error")
        return DurableResult(answer["Status"], answer.get("Result"), dict(error) if error else None)

    def function_of(self, arn: str) -> str:
        """The name of the function ``arn`` is an execution of."""
        return self._started[arn].function_name

    def _api(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client(
                "lambda",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id="local",
                aws_secret_access_key="local",  # noqa: S106 - the local host checks none
            )
        return self._client

    def history(self, arn: str) -> list[dict[str, Any]]:
        """The execution's history events as GetDurableExecutionHistory answers them, oldest first."""
        response = self._runner.get_execution_history(arn, include_execution_data=True)
        events: list[dict[str, Any]] = response.to_dict()["Events"]
        return events

    def callback_id_for(self, arn: str, name: str | None = None, timeout: float = 10.0) -> str:
        """The callback id the execution waits on (its callback ``name``, or its first): for tests,
        which stand in for the product's intake (a durable function sends it in its contract)."""
        return self._runner.wait_for_callback(arn, name=name, timeout=timeout)  # type: ignore[arg-type]

    # ------------------------------------------------------------ for the IAM check
    def execution_of_callback(self, callback_id: str) -> str | None:
        """The durable execution ARN (the runner's form) a callback id belongs to; None: not one of
        this host's executions."""
        from aws_durable_execution_sdk_python_testing.token import CallbackToken

        try:
            arn = CallbackToken.from_str(callback_id).execution_arn
        except (ValueError, KeyError, TypeError):
            return None
        return arn if arn in self._started else None

    def aws_arn(self, arn: str) -> str | None:
        """The ARN Lambda would give this execution (what IAM authorizes a durable call against):
        ``arn:aws:lambda:REGION:ACCOUNT:function:NAME:$LATEST/durable-execution/EXECUTION_NAME/ID``;
        None: not one of this host's executions."""
        started = self._started.get(arn)
        if started is None:
            return None
        execution_id = arn.split("/", 1)[0]
        return (
            f"arn:aws:lambda:{self.region}:{self.account_id}:function:{started.function_name}:$LATEST"
            f"/durable-execution/{started.execution_name}/{execution_id}"
        )

    # ------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Stop serving, stop the runner's executions and timers, let the runner's logs out again."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._runner.close()
        logging.getLogger(_RUNNER_LOGGER).setLevel(self._runner_log_level)


@contextmanager
def durable_host(region: str, account_id: str) -> Iterator[DurableHost]:
    host = DurableHost(region, account_id)
    try:
        yield host
    finally:
        host.close()


def _serve(executor: Any) -> Any:
    """The testing SDK's web server over ``executor`` on 127.0.0.1, at a port the system chooses,
    answering errors with Lambda's ``x-amzn-ErrorType`` header; the root logger left as it was."""
    from aws_durable_execution_sdk_python_testing.web import server

    class LambdaShapedErrors(server.RequestHandler):
        def _send_response(self, response: Any) -> None:
            error_type = response.body.get("Type") if isinstance(response.body, dict) else None
            if response.status_code >= 400 and isinstance(error_type, str):
                response.headers.setdefault("x-amzn-ErrorType", error_type)
            super()._send_response(response)

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        web = server.WebServer(
            server.WebServiceConfig(host="127.0.0.1", port=0, log_level=logging.WARNING), executor
        )
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    web.RequestHandlerClass = LambdaShapedErrors
    return web


def _quiet_runner_logs() -> int:
    """Keep the testing SDK's logs (which name callback ids) to CRITICAL; the level they had."""
    runner_logger = logging.getLogger(_RUNNER_LOGGER)
    level = runner_logger.level
    runner_logger.setLevel(logging.CRITICAL)
    return level
