"""The one place where the embedded stack reaches into moto's (and botocore's, ANTLR's) internals.

moto vendors LocalStack's Step Functions interpreter and changes it wholesale from one release to
the next; nothing in its public API lets us scale its sleeps, run a Lambda in-process or memoise
its parser. Every such reach is declared here as a ``SeamTarget`` (module, attribute and, for a
function or method the patch replaces or calls, the parameter names it was written against), and
``check`` compares them all with the installed packages before the first patch, so a moto that
moved one of them fails at once with one error naming it, instead of hanging an execution or
giving a wrong result deep in a test. The patches below read their targets from the same list.

What the seam does, by area (each a context manager that undoes itself):

- ``memoised_hot_paths``: caches what moto recomputes on every call (ASL parse trees, JSONPath
  parses, the interpreter's boto3 clients, a response class's method names, backend lookups);
- ``atomic_dynamodb_writes``: moto's DynamoDB operations run one at a time, as DynamoDB's are atomic;
- ``transactions_backed_up_by_item``: a transaction backs up the items it names, not whole tables;
- ``scaled_interpreter_sleeps``: Retry, Wait and task-token timeouts sleep ``scale`` times as long;
- ``task_timeouts_as_on_aws``: a DynamoDB task's expired ``TimeoutSeconds`` is ``States.Timeout``;
- ``task_failure_causes_as_on_aws``: SendTaskFailure's ``cause`` reaches the execution's catchers;
- ``nested_executions_as_on_aws``: ``states:startExecution.sync:2`` works as on AWS;
- ``routed_lambda_invocations``: moto's Lambda invocations go to an in-process dispatcher;
- ``jsonata_engine``: JSONata states run (moto ships no engine), with their variables written intact;
- ``every_new_client`` / ``tasks_charged_to_state_machines``: what the IAM check hooks;
- read-only helpers on moto's models (IAM policy evaluation, bundled managed policies, a secret's
  ARN, an execution's status).

Some contracts cannot be checked without running moto (``env.program_state_event``, the
StartExecution answer on ``env.stack``, an execution's ``status``); the integration tests cover them.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import re
import threading
import time
import types
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from recovery_ops.service.errors import RecoveryOpsError

#: The moto releases the seam is written against (pyproject.toml pins the same range).
WRITTEN_AGAINST = "5.2.x"


@dataclass(frozen=True)
class SeamTarget:
    """One internal the embedded stack patches or calls: ``module``'s ``attribute`` (dotted for a
    class member), and the parameter names of the function the patch was written against
    (None: only its existence matters, e.g. a constant or a wrapper passing every argument on)."""

    module: str
    attribute: str
    parameters: tuple[str, ...] | None = None

    def __str__(self) -> str:
        return f"{self.module}:{self.attribute}"


class MotoSeamMismatchError(RecoveryOpsError, RuntimeError):
    """The installed moto (or botocore, ANTLR) lacks an internal the embedded stack relies on."""


_P = "moto.stepfunctions.parser.asl."
_TASK = _P + "component.state.exec.state_task."
_SERVICE = _TASK + "service."

# --- memoised hot paths
BACKEND_FOR_ACCOUNT = SeamTarget(
    "moto.core.base_backend", "BackendDict._create_account_specific_backend", ("self", "account_id")
)
JSON_PATH_PARSE = SeamTarget(_P + "utils.json_path", "parse", ("path", "debug"))
ASL_PARSE = SeamTarget(_P + "parse.asl_parser", "AmazonStateLanguageParser.parse", ("definition",))
ASL_PREPROCESSOR = SeamTarget(_P + "parse.preprocessor", "Preprocessor.visit", ("self", "tree"))
ANTLR_TERMINAL_NODE = SeamTarget("antlr4.tree.Tree", "TerminalNode")
ANTLR_TOKEN_TEXT = SeamTarget("antlr4.Token", "CommonToken.text")  # written into shared parse trees
METHOD_NAMES = SeamTarget("moto.core.responses", "method_names_from_class", ("clazz",))
BOTO_CLIENT_FOR = SeamTarget(
    _P + "utils.boto_client", "boto_client_for", ("region", "service", "state_credentials")
)
#: Every module of the interpreter that imports ``boto_client_for`` by name (rebound in each).
BOTO_CLIENT_IMPORTERS = tuple(
    SeamTarget(module, "boto_client_for", BOTO_CLIENT_FOR.parameters)
    for module in (
        _P + "utils.boto_client",
        _P + "component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
        _P + "component.state.exec.state_map.item_reader.eval.resource_eval_s3",
        _TASK + "lambda_eval_utils",
        *(
            _SERVICE + f"state_task_service_{name}"
            for name in (
                "unsupported",
                "glue",
                "events",
                "ecs",
                "sqs",
                "sfn",
                "dynamodb",
                "batch",
                "sns",
                "aws_sdk",
            )
        ),
    )
)

# --- atomic DynamoDB (wrappers pass every argument on: any signature will do)
_BACKEND_WRITES = ("put_item", "update_item", "delete_item")
_HANDLER_OPERATIONS = (
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
#: moto's transaction, which backs up every table it touches (a deep copy, per write) to roll back
TRANSACT_WRITE = SeamTarget(
    "moto.dynamodb.models", "DynamoDBBackend.transact_write_items", ("self", "transact_items")
)
#: the module whose ``copy`` that backup is taken with
DYNAMODB_MODELS_COPY = SeamTarget("moto.dynamodb.models", "copy")
DYNAMODB_OPERATIONS = tuple(
    SeamTarget("moto.dynamodb.models", f"DynamoDBBackend.{name}") for name in _BACKEND_WRITES
) + tuple(SeamTarget("moto.dynamodb.responses", f"DynamoHandler.{name}") for name in _HANDLER_OPERATIONS)

# --- the interpreter's sleeps
#: RetrierDecl sleeps with its module's ``time.sleep``: that module's ``time`` is replaced.
RETRY_TIME = SeamTarget(_P + "component.common.retry.retrier_decl", "time")
WAIT_INTERVAL = SeamTarget(
    _P + "component.state.wait.wait_function.wait_function",
    "WaitFunction._wait_interval",
    ("self", "env", "wait_seconds"),
)
TASK_TOKEN_WAIT = SeamTarget(
    _SERVICE + "state_task_service_callback",
    "StateTaskServiceCallback._wait_for_task_token_timeout",
    ("self", "timeout_seconds", "callback_endpoint"),
)

# --- task timeouts
DYNAMODB_TASK_ERROR = SeamTarget(
    _SERVICE + "state_task_service_dynamodb", "StateTaskServiceDynamoDB._from_error", ("self", "env", "ex")
)
TASK_ERROR = SeamTarget(_TASK + "state_task", "StateTask._from_error", ("self", "env", "ex"))

# --- waiting without a thread for it
PROGRAM_EVAL = SeamTarget(_P + "component.program.program", "Program.eval", ("self", "env"))
STATE_WITH_TIMEOUT = SeamTarget(
    _P + "component.state.exec.execute_state", "ExecutionState._evaluate_with_timeout", ("self", "env")
)
STATE_THREAD = SeamTarget(_P + "component.state.exec.execute_state", "Thread")  # threading.Thread
# the list of every thread moto's interpreter started, in each module that appends to it
THREAD_LISTS = tuple(
    SeamTarget(module, "TMP_THREADS")
    for module in (
        "moto.stepfunctions.parser.utils",
        _P + "component.program.program",
        _P + "component.test_state.program.test_state_program",
        _P + "component.state.exec.state_map.iteration.inline_iteration_component",
        _SERVICE + "state_task_service_callback",
        _P + "component.state.exec.state_parallel.branch_worker",
        _P + "component.state.exec.execute_state",
        "moto.stepfunctions.parser.backend.execution_worker",
    )
)

# --- nested executions
_SFN = _SERVICE + "state_task_service_sfn"
SFN_PARAMETERS = SeamTarget(
    _SFN,
    "StateTaskServiceSfn._normalise_parameters",
    ("self", "parameters", "boto_service_name", "service_action_name"),
)
SFN_RESPONSE = SeamTarget(
    _SFN,
    "StateTaskServiceSfn._normalise_response",
    ("self", "response", "boto_service_name", "service_action_name"),
)
SFN_SYNC2_RESOLVER = SeamTarget(
    _SFN,
    "StateTaskServiceSfn._build_sync2_resolver",
    ("self", "env", "resource_runtime_part", "normalised_parameters", "state_credentials"),
)
SYNC_CHECK_DELAY = SeamTarget(_SERVICE + "state_task_service_callback", "_DELAY_SECONDS_SYNC_CONDITION_CHECK")
EXECUTION_TERMINATED = SeamTarget(
    "moto.stepfunctions.parser.backend.execution", "BaseExecutionWorkerCommunication.terminated", ("self",)
)
# moto's SendTaskFailure handler passes the error on and drops the cause; its backend takes both
SEND_TASK_FAILURE = SeamTarget(
    "moto.stepfunctions.responses", "StepFunctionResponse.send_task_failure", ("self",)
)
PARSER_SEND_TASK_FAILURE = SeamTarget(
    "moto.stepfunctions.parser.models",
    "StepFunctionsParserBackend.send_task_failure",
    ("self", "task_token", "error", "cause"),
)
EMPTY_RESULT = SeamTarget("moto.core.responses", "EmptyResult")
# the backends that run executions (``execute_state_machine``): moto's responses use these, not
# ``moto.stepfunctions.models.stepfunctions_backends``
STEPFUNCTIONS_BACKENDS = SeamTarget("moto.stepfunctions.parser.models", "stepfunctions_parser_backends")
DESCRIBE_EXECUTION = SeamTarget(
    "moto.stepfunctions.models", "StepFunctionBackend.describe_execution", ("self", "execution_arn")
)

# --- Lambda
LAMBDA_INVOKE = SeamTarget(
    "moto.awslambda_simple.models",
    "LambdaSimpleBackend.invoke",
    ("self", "function_name", "qualifier", "body", "headers", "response_headers"),
)

# --- IAM check
CREATE_CLIENT = SeamTarget("botocore.session", "Session.create_client")  # wrapped, every argument passed on
TASK_EXECUTIONS = (
    SeamTarget(_SERVICE + "state_task_service", "StateTaskService._eval_execution", ("self", "env")),
    SeamTarget(_TASK + "state_task_lambda", "StateTaskLambda._eval_execution", ("self", "env")),
)
IAM_POLICY = SeamTarget("moto.iam.access_control", "IAMPolicy.__init__", ("self", "policy"))
IAM_POLICY_DECISION = SeamTarget(
    "moto.iam.access_control",
    "IAMPolicy.is_action_permitted",
    ("self", "action", "resource", "principal", "incoming_condition_values"),
)
PERMISSION_RESULT = SeamTarget("moto.iam.access_control", "PermissionResult")
MANAGED_POLICIES = SeamTarget("moto.iam.aws_managed_policies", "aws_managed_policies_data")
SECRETSMANAGER_BACKENDS = SeamTarget("moto.secretsmanager.models", "secretsmanager_backends")

# --- JSONata
_JSONATA = _P + "jsonata.jsonata"
#: Where moto's ``eval_jsonata_expression`` finds its engine: None in moto (its own is a JVM bridge
#: it never sets), so every JSONata state fails with a TypeError until one is put there.
JSONATA_EVALUATOR = SeamTarget(_JSONATA, "_eval_jsonata")
JSONATA_FAILURE = SeamTarget(_JSONATA, "JSONataException")  # what an engine raises for a failed expression
#: moto writes ``$states`` and every variable into the expression it evaluates, ``$name:=<literal>;``;
#: each module that imports the encoder by name (rebound in each).
JSONATA_VARIABLE_ENCODERS = tuple(
    SeamTarget(module, "encode_jsonata_variable_declarations", ("bindings",))
    for module in (_JSONATA, _P + "eval.states", _P + "eval.variable_store")
)

#: Everything ``check`` verifies: every target the patches and helpers below use.
TARGETS: tuple[SeamTarget, ...] = (
    BACKEND_FOR_ACCOUNT,
    JSON_PATH_PARSE,
    ASL_PARSE,
    ASL_PREPROCESSOR,
    ANTLR_TERMINAL_NODE,
    ANTLR_TOKEN_TEXT,
    METHOD_NAMES,
    *BOTO_CLIENT_IMPORTERS,
    *DYNAMODB_OPERATIONS,
    TRANSACT_WRITE,
    DYNAMODB_MODELS_COPY,
    RETRY_TIME,
    WAIT_INTERVAL,
    TASK_TOKEN_WAIT,
    DYNAMODB_TASK_ERROR,
    TASK_ERROR,
    PROGRAM_EVAL,
    STATE_WITH_TIMEOUT,
    STATE_THREAD,
    *THREAD_LISTS,
    SFN_PARAMETERS,
    SFN_RESPONSE,
    SFN_SYNC2_RESOLVER,
    SYNC_CHECK_DELAY,
    EXECUTION_TERMINATED,
    STEPFUNCTIONS_BACKENDS,
    SEND_TASK_FAILURE,
    PARSER_SEND_TASK_FAILURE,
    EMPTY_RESULT,
    DESCRIBE_EXECUTION,
    LAMBDA_INVOKE,
    CREATE_CLIENT,
    *TASK_EXECUTIONS,
    IAM_POLICY,
    IAM_POLICY_DECISION,
    PERMISSION_RESULT,
    MANAGED_POLICIES,
    SECRETSMANAGER_BACKENDS,
    JSONATA_EVALUATOR,
    JSONATA_FAILURE,
    *JSONATA_VARIABLE_ENCODERS,
)


# ---------------------------------------------------------------- the check


def _installed_moto() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("moto")
    except PackageNotFoundError:
        return "(not installed)"


def _lookup(target: SeamTarget) -> tuple[Any, str, Any]:
    """(the object holding the attribute, the attribute's last name, its value); raises LookupError."""
    try:
        owner: Any = importlib.import_module(target.module)
    except ImportError as exc:
        raise LookupError(f"module {target.module} cannot be imported ({exc})") from exc
    *path, name = target.attribute.split(".")
    for part in path:
        if not hasattr(owner, part):
            raise LookupError(f"{getattr(owner, '__name__', owner)} has no attribute {part}")
        owner = getattr(owner, part)
    if not hasattr(owner, name):
        raise LookupError(f"{getattr(owner, '__name__', owner)} has no attribute {name}")
    return owner, name, getattr(owner, name)


def _problem(target: SeamTarget) -> str | None:
    try:
        _, _, value = _lookup(target)
    except LookupError as exc:
        return f"{target}: expected it to exist, found that {exc}"
    if target.parameters is None:
        return None
    try:
        found = tuple(inspect.signature(value).parameters)
    except (TypeError, ValueError):
        return (
            f"{target}: expected a function of ({', '.join(target.parameters)}), found {type(value).__name__}"
        )
    if found != target.parameters:
        return f"{target}: expected parameters ({', '.join(target.parameters)}), found ({', '.join(found)})"
    return None


def check(targets: tuple[SeamTarget, ...] | list[SeamTarget] = TARGETS) -> None:
    """Raise ``MotoSeamMismatchError`` naming every target the installed packages do not match."""
    problems = [problem for problem in map(_problem, targets) if problem is not None]
    if problems:
        raise MotoSeamMismatchError(
            f"recovery-ops's embedded stack is written against moto {WRITTEN_AGAINST}; the installed "
            f"moto {_installed_moto()} differs in the internals it patches:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
            + f"\nInstall moto {WRITTEN_AGAINST} (the range pyproject.toml pins: `make venv`), or port the "
            "patches in service/local/engine/moto_seam.py to this moto, update their SeamTargets, and raise "
            "the pin once tests/unit/test_moto_seam.py passes."
        )


@functools.cache
def check_installed() -> None:
    """``check`` of every target, once per process: before the first embedded stack patches anything
    (afterwards some targets are the seam's own replacements while a stack is open)."""
    check(TARGETS)


def _get(target: SeamTarget) -> Any:
    return _lookup(target)[2]


@contextmanager
def _patched(target: SeamTarget, replacement: Any) -> Iterator[Any]:
    """Set the target to ``replacement``; yield what was there; put it back (or remove an override
    of an inherited member) on the way out."""
    owner, name, value = _lookup(target)
    own = vars(owner)
    had, raw = name in own, own.get(name)
    setattr(owner, name, replacement)
    try:
        yield value
    finally:
        if had:
            setattr(owner, name, raw)
        else:
            delattr(owner, name)


# ---------------------------------------------------------------- memoised hot paths


@contextmanager
def memoised_hot_paths() -> Iterator[None]:
    """Cache what moto recomputes on every call; each result depends only on its arguments.

    moto's interpreter parses the whole ASL definition with ANTLR for every execution, re-parses
    each JSONPath every time a state reads its input, builds a brand-new boto3 client (SSL context
    included) for every service task, lists a response class's methods with ``inspect`` on every
    request, and takes a global lock and scans all backends on every backend lookup.
    """
    original_client_for = _get(BOTO_CLIENT_FOR)
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

    original_backend_for_account = _get(BACKEND_FOR_ACCOUNT)

    def backend_for_account(self: Any, account_id: str) -> None:
        # once an account's backend exists and is registered, there is nothing left to do
        if dict.__contains__(self, account_id) and self.__dict__.get("_registered_locally"):
            return
        original_backend_for_account(self, account_id)
        self.__dict__["_registered_locally"] = True

    with ExitStack() as patches:
        patches.enter_context(_patched(BACKEND_FOR_ACCOUNT, backend_for_account))
        patches.enter_context(
            _patched(JSON_PATH_PARSE, functools.lru_cache(maxsize=4096)(_get(JSON_PATH_PARSE)))
        )
        patches.enter_context(_patched(ASL_PARSE, staticmethod(_parse_tree_once(_get(ASL_PARSE)))))
        patches.enter_context(_patched(METHOD_NAMES, functools.lru_cache(maxsize=1024)(_get(METHOD_NAMES))))
        for importer in BOTO_CLIENT_IMPORTERS:
            patches.enter_context(_patched(importer, client_for))
        # Built before the first execution: on a loaded machine, building a client inside a task
        # can outlast the task's TimeoutSeconds.
        for service in ("dynamodb", "sqs", "lambda", "stepfunctions"):
            client_for("us-east-1", service)
        yield


#: The embedded stack's default names: ``recovery-ops-<6 hex digits>``. Definitions of two stacks
#: differ only there, so one parse serves every stack.
_STACK_NAME = re.compile(r"recovery-ops-[0-9a-f]{6}")
_PLACEHOLDER = "recovery-ops-000000"
_TREES: dict[str, tuple[Any, list[tuple[Any, str]]]] = {}
_TREES_LOCK = threading.Lock()


def _parse_tree_once(original_parse: Callable[[str], tuple[Any, Any]]) -> Callable[[str], tuple[Any, Any]]:
    """Keep ANTLR's parse tree per definition; build fresh evaluation components from it each time.

    The tree is only read by the preprocessor, so sharing it between executions is safe, while the
    components (which hold evaluation state) stay one set per execution, as in moto. Parsing a
    definition takes about a second, once per state machine of every stack; trees are kept across
    stacks with the stack's name written into the few tokens that hold it just before each use.
    """
    terminal_node = _get(ANTLR_TERMINAL_NODE)
    preprocessor = _lookup(ASL_PREPROCESSOR)[0]

    def named_tokens(tree: Any) -> list[tuple[Any, str]]:
        found, pending = [], [tree]
        while pending:
            node = pending.pop()
            if isinstance(node, terminal_node):
                if _PLACEHOLDER in node.symbol.text:
                    found.append((node.symbol, node.symbol.text))
            else:
                pending.extend(node.getChildren())
        return found

    def parse(definition: str) -> tuple[Any, Any]:
        names = set(_STACK_NAME.findall(definition))
        name = names.pop() if len(names) == 1 else ""
        key = _STACK_NAME.sub(_PLACEHOLDER, definition) if name else definition
        with _TREES_LOCK:
            entry = _TREES.get(key)
            if entry is None:
                _, tree = original_parse(key)  # raises on a bad definition, as before
                entry = _TREES[key] = (tree, named_tokens(tree) if name else [])
            tree, tokens = entry
            for token, text in tokens:
                token.text = text.replace(_PLACEHOLDER, name)
            return preprocessor().visit(tree), tree

    return parse


# ---------------------------------------------------------------- atomic DynamoDB


@contextmanager
def atomic_dynamodb_writes() -> Iterator[None]:
    """Make moto's DynamoDB operations atomic, as DynamoDB's are.

    moto checks a ConditionExpression and then writes without a lock, so two threads can both
    pass the same condition; DynamoDB never lets that happen. The circuit breaker's single probe
    relies on it. Reads are serialised with the writes: many item actions reserving the same
    product update one stock item, and a read turning that item into its answer while a write
    changes it fails in moto ("dictionary changed size during iteration").
    """
    lock = threading.RLock()

    def locked(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def operation(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(*args, **kwargs)

        return operation

    with ExitStack() as patches:
        for target in DYNAMODB_OPERATIONS:
            patches.enter_context(_patched(target, locked(_get(target))))
        yield


@contextmanager
def transactions_backed_up_by_item() -> Iterator[None]:
    """Roll a cancelled DynamoDB transaction back by the items it names, not by whole tables.

    moto backs up a transaction by deep-copying every table it writes to, once per write, before
    it starts: with every recovery's transition a transaction, a table of a few thousand items made
    each transition copy it several times (a burst of 1,000 took minutes and gigabytes). Here the
    items the transaction names are copied instead, moto's table copy is skipped, and a transaction
    that fails has those items put back as they were (moto applies the writes before a failed
    condition, then rolls back). Runs under ``atomic_dynamodb_writes``' lock (the handler's).
    """
    models = importlib.import_module(DYNAMODB_MODELS_COPY.module)
    table_class = models.Table
    real_copy = models.copy

    class TablesKept:  # ``copy`` for moto's backup: a table is kept as it is (the items are saved here)
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, table_class) else real_copy.deepcopy(value, memo)

        def __getattr__(self, name: str) -> Any:
            return getattr(real_copy, name)

    def backed_up(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
            saved = []
            for write in transact_items:
                kind, request = next(iter(write.items()))
                table = self.get_table(request["TableName"])
                key = request["Key"] if kind != "Put" else _key_of(table, request["Item"])
                item = self.get_item(request["TableName"], key)
                saved.append(
                    (
                        request["TableName"],
                        key,
                        real_copy.deepcopy(item.to_json()["Attributes"]) if item else None,
                    )
                )
            setattr(models, DYNAMODB_MODELS_COPY.attribute, TablesKept())
            try:
                return original(self, transact_items)
            except Exception:
                for table_name, key, attributes in reversed(saved):
                    if attributes is None:
                        if self.get_item(table_name, key) is not None:
                            self.delete_item(table_name, key)
                    else:
                        self.put_item(table_name, attributes)
                raise
            finally:
                setattr(models, DYNAMODB_MODELS_COPY.attribute, real_copy)

        return transact_write_items

    with _patched(TRANSACT_WRITE, backed_up(_get(TRANSACT_WRITE))):
        yield


def _key_of(table: Any, item: dict[str, Any]) -> dict[str, Any]:
    key = {table.hash_key_attr: item[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = item[table.range_key_attr]
    return key


# ---------------------------------------------------------------- the interpreter's sleeps


@contextmanager
def scaled_interpreter_sleeps(scale: float, record: Callable[[str, float], None]) -> Iterator[None]:
    """Retry, Wait and task-token timeouts sleep ``scale`` times as long; each requested wait is
    first handed to ``record(kind, seconds)`` unscaled, kind being "retry", "wait" or "task_token".

    Only the interpreter's own sleeps change: the global ``time.sleep`` stays (moto polls with it).
    """
    real_time = _get(RETRY_TIME)
    original_token_wait = _get(TASK_TOKEN_WAIT)

    def retry_sleep(seconds: float) -> None:
        record("retry", seconds)
        real_time.sleep(seconds * scale)

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        record("wait", wait_seconds)
        if wait_seconds > 0:
            env.program_state_event.wait(wait_seconds * scale)  # woken early when the execution stops

    def token_wait(self: Any, timeout_seconds: int, callback_endpoint: Any) -> Any:
        record("task_token", timeout_seconds)
        return original_token_wait(self, timeout_seconds * scale, callback_endpoint)

    clock = types.SimpleNamespace(
        **{name: getattr(time, name) for name in dir(time) if not name.startswith("_")}
    )
    clock.sleep = retry_sleep
    with ExitStack() as patches:
        patches.enter_context(_patched(RETRY_TIME, clock))
        patches.enter_context(_patched(WAIT_INTERVAL, wait_interval))
        patches.enter_context(_patched(TASK_TOKEN_WAIT, token_wait))
        yield


# ---------------------------------------------------------------- task timeouts


@contextmanager
def task_timeouts_as_on_aws() -> Iterator[None]:
    """Report a DynamoDB task's expired ``TimeoutSeconds`` as ``States.Timeout``, as Step Functions does.

    moto's DynamoDB integration turns every error that is not a DynamoDB answer, its own task
    timeout included, into ``DynamoDB.AmazonDynamoDBException``, which no ``Retry`` for
    ``States.Timeout`` matches. On a loaded machine a task can outlast its ``TimeoutSeconds``; with
    this the workflow retries it as it would on AWS.
    """
    original = _get(DYNAMODB_TASK_ERROR)
    task_error = _get(TASK_ERROR)

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, TimeoutError):
            return task_error(self, env, ex)  # States.Timeout
        return original(self, env, ex)

    with _patched(DYNAMODB_TASK_ERROR, from_error):
        yield


@contextmanager
def task_failure_causes_as_on_aws() -> Iterator[None]:
    """Pass SendTaskFailure's ``cause`` to the paused task, as Step Functions does.

    moto's handler reads only ``taskToken`` and ``error``, so a catcher's ``Cause`` (a person's
    reason for a Reject) is null in the stack where it is text on AWS."""
    empty_result = _get(EMPTY_RESULT)

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return empty_result()

    with _patched(SEND_TASK_FAILURE, send_task_failure):
        yield


# ---------------------------------------------------------------- waiting without a thread for it


class _RanHere:
    """What moto's code gets instead of a Thread it would only wait for: ``start`` runs the target on
    the calling thread, so the wait that follows returns at once."""

    def __init__(self, target: Callable[..., Any], args: tuple = ()) -> None:
        self._target: Callable[..., Any] | None = target
        self._args = args

    def start(self) -> None:
        target, self._target = self._target, None  # moto keeps every thread it made in a list
        if target is not None:
            target(*self._args)

    def join(self, timeout: float | None = None) -> None:
        return None

    def is_alive(self) -> bool:
        return False


class _ForgetsThreads(list):
    """moto's ``TMP_THREADS``, which only ever appends: every thread the interpreter started stays
    referenced, so no ended thread is ever released and each keeps its 8 MiB stack mapped. After
    some 30,000 threads (a few thousand executions) the process runs out of memory mappings
    (``vm.max_map_count``) and moto can start no thread more. Nothing reads the list."""

    def append(self, thread: Any) -> None:
        return None


@contextmanager
def ended_threads_released() -> Iterator[None]:
    """Give every module's ``TMP_THREADS`` a list that keeps nothing (``_ForgetsThreads``)."""
    forgetful = _ForgetsThreads()
    with ExitStack() as patches:
        for thread_list in THREAD_LISTS:
            patches.enter_context(_patched(thread_list, forgetful))
        yield


class _RunHere(threading.local):
    asked = False  # the next Thread this thread makes is one it would only wait for, with no deadline


@contextmanager
def no_threads_only_to_wait() -> Iterator[None]:
    """Run on the calling thread what moto's interpreter starts a thread for and then only waits for.

    moto evaluates every program (an execution, a Map iteration, a Parallel branch) and every Task,
    Map and Parallel state on a new thread, and the thread that started it waits for its end, with
    the state's ``TimeoutSeconds`` as the deadline. Where there is no deadline (a program without
    ``TimeoutSeconds``, a state with the default one) the waiting thread does nothing else, so here
    it runs the work itself: the same order of events, one thread fewer for each. States with a
    ``TimeoutSeconds`` of their own keep moto's thread and deadline. A thousand paused orders then
    hold six threads each instead of thirteen.
    """
    run_here = _RunHere()
    original_program_eval = _get(PROGRAM_EVAL)
    program_class = _lookup(PROGRAM_EVAL)[0]
    original_with_timeout = _get(STATE_WITH_TIMEOUT)
    real_thread = _get(STATE_THREAD)

    def program_eval(self: Any, env: Any) -> None:
        if self.timeout_seconds is not None:
            return original_program_eval(self, env)
        env.next_state_name = self.start_at.start_at_name
        super(program_class, self).eval(env)  # what moto's worker thread would run, here
        return None

    def evaluate_with_timeout(self: Any, env: Any) -> None:
        run_here.asked = self.timeout.is_default_value()
        try:
            return original_with_timeout(self, env)
        finally:
            run_here.asked = False

    def thread(*args: Any, **kwargs: Any) -> Any:
        if run_here.asked:
            run_here.asked = False  # only the one thread asked for; the work may start its own
            return _RanHere(kwargs["target"], kwargs.get("args", ()))
        return real_thread(*args, **kwargs)

    with ExitStack() as patches:
        patches.enter_context(_patched(PROGRAM_EVAL, program_eval))
        patches.enter_context(_patched(STATE_WITH_TIMEOUT, evaluate_with_timeout))
        patches.enter_context(_patched(STATE_THREAD, thread))
        yield


# ---------------------------------------------------------------- nested executions

#: Between two checks of a nested ``startExecution.sync:2`` execution, when a check found it
#: running (moto: 0.5 s). Each check first waits for the nested execution's end (below), so this
#: delay only follows a wait that timed out.
SYNC_CHECK_SECONDS = 0.1
#: How long one check waits for the nested execution to end before it gives the interpreter its
#: turn (which looks whether the parent itself still runs). A waiting parent wakes this rarely.
SYNC_WAIT_SECONDS = 60.0


class ExecutionEnds:
    """One event per execution ARN, set when moto's worker reports that execution terminated.

    A parent waiting for its nested execution sleeps on the event instead of polling: at rest, a
    thousand parents on paused items cost nothing, as on AWS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, threading.Event] = {}
        #: how many times a parent began to wait for each nested execution (1 while it is at rest)
        self.waits: Counter[str] = Counter()

    def event(self, execution_arn: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(execution_arn, threading.Event())

    def wait(self, execution_arn: str, event: threading.Event) -> None:
        with self._lock:
            self.waits[execution_arn] += 1
        event.wait(SYNC_WAIT_SECONDS)

    def ended(self, execution_arn: str) -> None:
        with self._lock:
            waiting = self._events.get(execution_arn)
        if waiting is not None:  # nobody waits on most executions: no event is kept for them
            waiting.set()

    def forget(self, execution_arn: str) -> None:
        with self._lock:
            self._events.pop(execution_arn, None)


def _first(letter_case: str, key: str) -> str:
    return (key[:1].lower() if letter_case == "lower" else key[:1].upper()) + key[1:]


@contextmanager
def nested_executions_as_on_aws() -> Iterator[ExecutionEnds]:
    """Let moto's interpreter run ``states:startExecution.sync:2`` the way Step Functions does.

    The interpreter passes the task's parameters to boto3 as written in the ASL (``StateMachineArn``,
    ``Name``, ``Input``) where boto3 wants ``stateMachineArn``, ``name``, ``input``, and hands the
    answers back in boto3's casing where the ASL reads ``ExecutionArn`` and ``Output``: this converts
    both ways for the Step Functions integration only. While a nested execution runs, the
    interpreter asks for its status through a full boto3 call; here the status is read from moto's
    backend first, and the real call is made only once the nested execution has ended.
    """
    original_parameters = _get(SFN_PARAMETERS)
    original_response = _get(SFN_RESPONSE)
    original_sync2 = _get(SFN_SYNC2_RESOLVER)

    def parameters_for_boto(self: Any, parameters: dict, *args: Any, **kwargs: Any) -> None:
        original_parameters(self, parameters, *args, **kwargs)  # serialises Input to a string
        for key in list(parameters):
            parameters[_first("lower", key)] = parameters.pop(key)

    def response_for_asl(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        original_response(self, response, *args, **kwargs)
        if isinstance(response, dict):
            for key in list(response):
                value = response.pop(key)
                response[_first("upper", key)] = value.isoformat() if hasattr(value, "isoformat") else value

    ends = ExecutionEnds()
    original_terminated = _get(EXECUTION_TERMINATED)

    def terminated(self: Any) -> None:
        original_terminated(self)  # the status is final first, then the waiting parent wakes
        ends.ended(self.execution.exec_arn)

    def sync2_resolver(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        execution_arn = env.stack[-1]["ExecutionArn"]  # the StartExecution answer the original pops
        resolve = original_sync2(self, env, *args, **kwargs)
        execution = _backend_execution(execution_arn)
        ended = ends.event(execution_arn)

        def resolve_once_ended() -> Any:
            if execution is not None and execution.status == "RUNNING":
                ends.wait(execution_arn, ended)
                if execution.status == "RUNNING":
                    return None
            ends.forget(execution_arn)
            return resolve()

        return resolve_once_ended

    with ExitStack() as patches:
        patches.enter_context(_patched(SFN_PARAMETERS, parameters_for_boto))
        patches.enter_context(_patched(SFN_RESPONSE, response_for_asl))
        patches.enter_context(_patched(SFN_SYNC2_RESOLVER, sync2_resolver))
        patches.enter_context(_patched(SYNC_CHECK_DELAY, SYNC_CHECK_SECONDS))
        patches.enter_context(_patched(EXECUTION_TERMINATED, terminated))
        yield ends


def _backend_execution(execution_arn: str) -> Any:
    """moto's own record of an execution (its ``status`` changes in place), or None."""
    _, _, _, region, account, *_ = execution_arn.split(":")
    try:
        return _get(STEPFUNCTIONS_BACKENDS)[account][region].describe_execution(execution_arn)
    except Exception:  # noqa: BLE001 - unknown to the backend: the real call will say why
        return None


# ---------------------------------------------------------------- Lambda


@contextmanager
def routed_lambda_invocations(
    invoke: Callable[[str, Any, dict[str, str]], Any], invoke_asynchronously: Callable[[str, Any], None]
) -> Iterator[None]:
    """moto's Lambda invocations (``use_docker: False``) go to ``invoke(function, payload,
    response_headers)``, whose answer is the function's result (``response_headers`` takes
    ``x-amz-function-error``), or, for ``InvocationType=Event``, to ``invoke_asynchronously``."""

    def backend_invoke(
        self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        payload = json.loads(body) if body else {}
        if (headers or {}).get("X-Amz-Invocation-Type") == "Event":
            invoke_asynchronously(function_name, payload)
            return b""
        return json.dumps(invoke(function_name, payload, response_headers), default=str).encode()

    with _patched(LAMBDA_INVOKE, backend_invoke):
        yield


# ---------------------------------------------------------------- JSONata


def evaluate_jsonata(expression: str) -> Any:
    """What moto asks of a JSONata engine: the value of one self-contained expression (moto has
    written ``$states`` and the variables into it), as plain JSON values; None for undefined.

    An expression that fails raises moto's own ``JSONataException``, as moto's JVM bridge does."""
    import jsonata

    try:
        value = jsonata.Jsonata(expression).evaluate(None)
        # plain lists and dicts (the engine's lists are its own class), and characters outside the
        # BMP in one piece (the engine reads "\ud83d\ude00" as two lone surrogates)
        return json.loads(json.dumps(value))
    except Exception as exc:  # noqa: BLE001 - the engine raises JException, ZeroDivisionError, TypeError…
        raise _get(JSONATA_FAILURE)("UNKNOWN", str(exc)) from exc


def _json_literal(value: Any) -> str:
    def default(value: Any) -> str:
        return value.isoformat() if hasattr(value, "isoformat") else str(value)

    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=default)


def encode_jsonata_variables(bindings: dict[str, Any]) -> str:
    """``$name:=<value as JSON>;`` for each binding. moto writes a string value between quotes as it
    is, so a variable holding ``he said "hi"`` or a backslash breaks the expression it is written
    into; here every value is JSON (which JSONata reads), non-ASCII characters as they are."""
    return "".join(f"{reference}:={_json_literal(value)};" for reference, value in bindings.items())


@contextmanager
def jsonata_engine() -> Iterator[None]:
    """Run JSONata states in moto's interpreter: ``evaluate_jsonata`` (the pure-Python
    ``jsonata-python``) as its engine, ``encode_jsonata_variables`` as its variable writer."""
    with ExitStack() as patches:
        patches.enter_context(_patched(JSONATA_EVALUATOR, evaluate_jsonata))
        for encoder in JSONATA_VARIABLE_ENCODERS:
            patches.enter_context(_patched(encoder, encode_jsonata_variables))
        yield


# ---------------------------------------------------------------- IAM check


@contextmanager
def every_new_client(hook: Callable[[Any], None]) -> Iterator[None]:
    """``hook(client)`` on every botocore client created meanwhile (to register event handlers)."""
    create_client = _get(CREATE_CLIENT)

    def hooked_client(session: Any, *args: Any, **kwargs: Any) -> Any:
        client = create_client(session, *args, **kwargs)
        hook(client)
        return client

    with _patched(CREATE_CLIENT, hooked_client):
        yield


@contextmanager
def tasks_charged_to_state_machines(
    charge: Callable[[str], AbstractContextManager[Any]],
) -> Iterator[None]:
    """Run each Task state of moto's interpreter inside ``charge(state machine ARN)``."""

    def charged(original: Callable[..., Any]) -> Callable[..., Any]:
        def _eval_execution(self: Any, env: Any) -> Any:
            with charge(env.states.context_object.context_object_data["StateMachine"]["Id"]):
                return original(self, env)

        return _eval_execution

    with ExitStack() as patches:
        for target in TASK_EXECUTIONS:
            patches.enter_context(_patched(target, charged(_get(target))))
        yield


def iam_policy(document: dict[str, Any]) -> Any:
    """A policy document as moto's IAM evaluator reads it."""
    return _lookup(IAM_POLICY)[0](json.dumps(document))


def policies_allow(policies: list[Any], action: str, resource: str) -> bool:
    """As moto's ``IAMRequestBase.check_action_permitted``: any Deny wins, else any Allow."""
    result = _get(PERMISSION_RESULT)
    permitted = False
    for policy in policies:
        decision = policy.is_action_permitted(action, resource)
        if decision == result.DENIED:
            return False
        permitted = permitted or decision == result.PERMITTED
    return permitted


def bundled_managed_policies() -> str:
    """moto's copy of the AWS managed policies: one JSON document (name → policy), as text."""
    return _get(MANAGED_POLICIES)


def secret_arn(region: str, account: str, name: str) -> str | None:
    """A secret's ARN with its random suffix, as moto made it."""
    secret = _get(SECRETSMANAGER_BACKENDS)[account][region].secrets.get(name)
    return secret.arn if secret is not None else None
