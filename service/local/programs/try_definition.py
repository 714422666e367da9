"""A state machine definition readied for `recovery-ops try`: read, checked, its Lambda tasks found.

Plain values in and out (no stack, no argparse): every refusal of the command is a ``TryError`` in
words for the person, raised before anything is deployed.

- The definition is read as JSON; it must be ASL (``StartAt`` and ``States``), and Standard: the
  recovery pattern waits for a task token (``.waitForTaskToken``), which Express workflows cannot,
  so ``workflow_type=EXPRESS`` is refused, as is a recovery request inside an Express child
  workflow of a distributed Map.
- Its **Lambda tasks** are the Task states that call Lambda, through ``lambda:invoke`` (their
  ``FunctionName``) or with a function's ARN as ``Resource``, at any depth (Parallel branches, Map
  iterations). Each is answered in this process: by the person's Python function when one is named
  for its function (``NAME=module:function``, ``NAME`` being the function's name or ARN as the
  definition calls it, or the key of its ``${Key}``), otherwise with its input back.
- ``--fail STATE[=Error]`` fails a Lambda task with ``Error`` (default ``FailedOnPurpose``). A state
  that ``recovery-ops instrument`` wrapped is named as before: its Task runs as ``"<STATE>: run"``.
- Its **recovery requests** are the ``sqs:sendMessage.waitForTaskToken`` tasks that send the
  integration contract (``contract_version``): their queue becomes the local recovery queue.
- ``${Key}`` placeholders are replaced as ``DefinitionSubstitutions`` would (``--sub KEY=VALUE``);
  ``${RecoveryQueueUrl}`` and the functions' names need none. One left without a value is refused.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from recovery_ops.service.errors import RecoveryOpsError

Handler = Callable[[Any, Any], Any]

STANDARD, EXPRESS = "STANDARD", "EXPRESS"
DEFAULT_ERROR = "FailedOnPurpose"
RUN_SUFFIX = ": run"  # what `recovery-ops instrument` names the Task of a state it wraps
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
RECOVERY_REQUEST = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
RECOVERY_QUEUE_KEY = "RecoveryQueueUrl"

_LAMBDA_INVOKE = re.compile(r":states:::lambda:invoke(?P<suffix>\.waitForTaskToken)?$")
_RECOVERY_REQUEST = re.compile(r":states:::sqs:sendMessage\.waitForTaskToken$")
_PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
_ERROR_NAME = re.compile(r"^[A-Za-z_][\w.]{0,127}$")
_MAX_LISTED = 30
CHOSEN_WHEN_RUN = "(chosen when it runs)"  # LambdaTask.function of a FunctionName.$ task
_INTEGRATION = re.compile(r":states:::(?P<service>[\w-]+):(?P<action>[\w.:-]+)$")


class TryError(RecoveryOpsError, ValueError):
    """A definition or an option `recovery-ops try` refuses; the message says why and what to do."""


@dataclass(frozen=True)
class LambdaTask:
    """A Task state that calls Lambda, and the function it calls as written (a name, an ARN, ``${Key}``)."""

    state: str
    function: str
    named: str  # how a person names it: "Charge card" for the "Charge card: run" of instrument
    chosen_when_run: bool = False  # FunctionName.$ (or a JSONata expression): the name is a run's


@dataclass(frozen=True)
class Failure:
    """``--fail``: the state as named, the Lambda task that fails, and the error it fails with."""

    state: str
    task: str
    error: str = DEFAULT_ERROR


@dataclass(frozen=True)
class TryPlan:
    """Everything `recovery-ops try` deploys and runs, checked."""

    path: Path
    definition: dict[str, Any]
    tasks: tuple[LambdaTask, ...]
    handlers: dict[str, Handler] = field(default_factory=dict)  # Lambda task state → the person's function
    handler_names: dict[str, str] = field(default_factory=dict)  # Lambda task state → "module:function"
    failures: tuple[Failure, ...] = ()
    substitutions: dict[str, str] = field(default_factory=dict)
    input: Any = field(default_factory=dict)
    recovery_states: tuple[str, ...] = ()  # the failed_state each recovery request reports
    # --function NAME=… for a name no task writes: a FunctionName.$ task may choose it when it runs
    runtime_functions: dict[str, Handler] = field(default_factory=dict)  # function name → function
    runtime_function_names: dict[str, str] = field(default_factory=dict)  # function name → "module:function"
    integrations: tuple[tuple[str, str], ...] = ()  # (state, "service:action") try does not create

    def unemulated(self) -> list[str]:
        """What this run calls that nothing here creates, in words, each with the path given."""
        return [
            f'{self.path}: "{state}" calls {call}; nothing here creates what it calls, so it fails when it '
            "runs unless the template that creates it is given (recovery-ops try --template)"
            for state, call in self.integrations
        ]

    @property
    def name(self) -> str:
        """A name for the state machine and its execution, from the file's name."""
        stem = self.path.name
        for suffix in (".json", ".asl"):
            stem = stem.removesuffix(suffix)
        return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:40] or "definition"

    def deployable(self, functions: Mapping[str, str], queue_url: str) -> str:
        """The definition to create: each Lambda task calling ``functions[its state]`` (a name or an
        ARN), each recovery request sending to ``queue_url``, the substitutions applied."""
        definition = copy.deepcopy(self.definition)
        for name, state, _ in _states(definition):
            if name in functions and _lambda_reference(name, state) is not None:
                _call_function(state, functions[name])
            elif _recovery_request(state) is not None:
                fields = _fields(state)
                fields["QueueUrl"] = queue_url
                fields.pop("QueueUrl.$", None)
                state["Resource"] = RECOVERY_REQUEST
        text = json.dumps(definition, indent=2, ensure_ascii=False)
        for key, value in self.substitutions.items():
            text = text.replace("${" + key + "}", value)
        return text.replace("${" + RECOVERY_QUEUE_KEY + "}", queue_url)


def plan_try(
    definition_path: Path,
    *,
    functions: Sequence[str] = (),
    fails: Sequence[str] = (),
    subs: Sequence[str] = (),
    input_path: Path | None = None,
    workflow_type: str = STANDARD,
    search: Sequence[Path] = (),
) -> TryPlan:
    """Read and check everything `recovery-ops try` was given; ``TryError`` says what is refused.

    ``functions`` are ``NAME=module:function``, ``fails`` ``STATE[=Error]``, ``subs`` ``KEY=VALUE``;
    the modules are looked for beside the definition, then in ``search`` (e.g. the working
    directory), then on the import path."""
    if workflow_type.upper() != STANDARD:
        raise TryError(
            f"the state machine must be Standard, not {workflow_type}: the recovery pattern pauses with "
            ".waitForTaskToken, which an Express workflow cannot do, so nothing in it could wait for a person"
        )
    definition = read_definition(definition_path)
    substitutions = dict(_assignment(text, "--sub", "KEY=VALUE") for text in subs)
    tasks = lambda_tasks(definition)
    recovery_states = _recovery_states(definition)
    plan = TryPlan(
        path=definition_path,
        definition=definition,
        tasks=tasks,
        failures=tuple(_failure(text, definition, tasks) for text in fails),
        substitutions=substitutions,
        input={} if input_path is None else read_json(input_path, "the input (--input)"),
        recovery_states=recovery_states,
    )
    handlers: dict[str, Handler] = {}
    handler_names: dict[str, str] = {}
    runtime: dict[str, Handler] = {}
    runtime_names: dict[str, str] = {}
    chosen = [task for task in tasks if task.chosen_when_run]
    dirs = [definition_path.resolve().parent, *search]
    for text in functions:
        name, spec = _assignment(text, "--function", "NAME=module:function")
        answered = [task for task in tasks if not task.chosen_when_run and _calls(task, name, substitutions)]
        if not answered and chosen:  # a name a FunctionName.$ task may choose when it runs
            runtime[_base(name)] = load_function(spec, dirs, option=f"--function {name}")
            runtime_names[_base(name)] = spec
            continue
        if not answered:
            called = sorted({task.function for task in tasks})
            raise TryError(
                f"--function {name}: no Lambda task of {definition_path} calls it; "
                + (f"the functions it calls: {_listing(called)}" if called else "it calls no Lambda function")
            )
        handler = load_function(spec, dirs, option=f"--function {name}")
        for task in answered:
            handlers[task.state], handler_names[task.state] = handler, spec
    if chosen and not runtime:
        raise TryError(
            f"{_listing([task.named for task in chosen])} of {definition_path}: each chooses its Lambda "
            "function when it runs (FunctionName.$); answer each function it may call with --function "
            "NAME=module:function, NAME being the function's name as the run resolves it"
        )
    _check_substitutions(plan, substitutions)
    return replace(
        plan,
        handlers=handlers,
        handler_names=handler_names,
        runtime_functions=runtime,
        runtime_function_names=runtime_names,
        integrations=_integrations(definition),
    )


# ---------------------------------------------------------------------- reading
def read_json(path: Path, what: str) -> Any:
    """The JSON in ``path``; ``TryError`` when it is missing, unreadable or not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TryError(f"{what}: no file {path}") from exc
    except OSError as exc:
        raise TryError(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TryError(f"{what}: {path} is not valid JSON: {exc}") from exc


def read_definition(path: Path) -> dict[str, Any]:
    """The ASL definition in ``path`` (``TryError``: missing, not JSON, not ASL)."""
    definition = read_json(path, "the definition")
    if not isinstance(definition, dict) or not isinstance(definition.get("States"), dict):
        raise TryError(f'the definition: {path} is not an ASL state machine (no "States" object)')
    if definition.get("StartAt") not in definition["States"]:
        raise TryError(f'the definition: {path}: "StartAt" does not name one of its states')
    for name, state, _ in _states(definition):
        if not isinstance(state, dict) or not isinstance(state.get("Type"), str):
            raise TryError(f'the definition: state "{name}" has no "Type": not an ASL state machine')
    return definition


def lambda_tasks(definition: dict[str, Any]) -> tuple[LambdaTask, ...]:
    """Every Task state that calls Lambda, at any depth, in the order of the definition."""
    names = {name: state for name, state, _ in _states(definition)}
    tasks = []
    for name, state, _ in _states(definition):
        function = _lambda_reference(name, state)
        if function is not None:
            tasks.append(LambdaTask(name, function, _named(name, names), function == CHOSEN_WHEN_RUN))
    return tuple(tasks)


def _integrations(definition: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The Task states that call an AWS service other than Lambda and the recovery queue (DynamoDB,
    SNS, SQS, nested executions, the AWS SDK): a definition alone does not say how to create what
    they call, so a run without the template fails there."""
    found = []
    for name, state, _ in _states(definition):
        resource = state.get("Resource") if isinstance(state, dict) and state.get("Type") == "Task" else None
        if not isinstance(resource, str) or _LAMBDA_INVOKE.search(resource) or _recovery_request(state):
            continue
        matched = _INTEGRATION.search(resource)
        if matched:
            found.append((name, f"{matched['service']}:{matched['action']}"))
        elif resource.startswith("arn:") and ":activity:" in resource:
            found.append((name, "an activity"))
    return tuple(found)


def state_names(definition: dict[str, Any]) -> list[str]:
    return [name for name, _, _ in _states(definition)]


def load_function(spec: str, dirs: Sequence[Path] = (), option: str = "--function NAME") -> Handler:
    """The function ``module:function`` names: ``module`` a file beside the definition (``dirs``),
    a path to a ``.py`` file, or an importable module."""
    module_name, sep, attribute = spec.rpartition(":")
    if not sep or not module_name or not attribute:
        raise TryError(f"{option}={spec}: say module:function, e.g. payments:charge_card")
    try:
        module = _import(module_name, list(dict.fromkeys(dirs)))
    except TryError as problem:
        raise TryError(f"{option}={spec}: {problem}") from problem
    except Exception as exc:  # noqa: BLE001 - the person's module: whatever it raises is reported
        raise TryError(
            f"{option}={spec}: importing {module_name} failed: {type(exc).__name__}: {exc}"
        ) from exc
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise TryError(f"{option}={spec}: {module_name} has no function {attribute}")
    return handler


# ---------------------------------------------------------------------- the walk
def _states(machine: dict[str, Any], express: bool = False) -> Iterator[tuple[str, Any, bool]]:
    """Every state (name, state, inside an Express child workflow), depth first."""
    states = machine.get("States") if isinstance(machine, dict) else None
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        yield name, state, express
        if not isinstance(state, dict):
            continue
        if state.get("Type") == "Parallel":
            for branch in state.get("Branches") or []:
                yield from _states(branch, express)
        elif state.get("Type") == "Map":
            processor = state.get("ItemProcessor", state.get("Iterator")) or {}
            config = processor.get("ProcessorConfig", {}) if isinstance(processor, dict) else {}
            child_express = express or (
                config.get("Mode") == "DISTRIBUTED" and config.get("ExecutionType") == EXPRESS
            )
            yield from _states(processor, child_express)


def _fields(state: dict[str, Any]) -> dict[str, Any]:
    """A Task's parameters: ``Parameters`` (JSONPath) or ``Arguments`` (JSONata)."""
    for key in ("Parameters", "Arguments"):
        if isinstance(state.get(key), dict):
            return state[key]
    return {}


def _lambda_reference(name: str, state: dict[str, Any]) -> str | None:
    resource = state.get("Resource")
    if state.get("Type") != "Task" or not isinstance(resource, str):
        return None
    if _LAMBDA_INVOKE.search(resource):
        fields = _fields(state)
        written = fields.get("FunctionName")
        if isinstance(written, str) and written.lstrip().startswith("{%"):
            return CHOSEN_WHEN_RUN  # a JSONata expression
        if isinstance(written, str):
            return written
        if "FunctionName.$" in fields:
            return CHOSEN_WHEN_RUN
        raise TryError(f'"{name}" calls Lambda without a FunctionName')
    if resource.startswith("arn:") and ":lambda:" in resource and ":function:" in resource:
        return resource
    return None


def _call_function(state: dict[str, Any], function: str) -> None:
    resource = state["Resource"]
    found = _LAMBDA_INVOKE.search(resource)
    if found:
        _fields(state)["FunctionName"] = function
        state["Resource"] = LAMBDA_INVOKE + (found.group("suffix") or "")
    else:
        state["Resource"] = function


def _recovery_request(state: Any) -> dict[str, Any] | None:
    """The contract a recovery request sends (its MessageBody), or None."""
    if not isinstance(state, dict) or state.get("Type") != "Task":
        return None
    if not _RECOVERY_REQUEST.search(str(state.get("Resource", ""))):
        return None
    body = _fields(state).get("MessageBody")
    return body if isinstance(body, dict) and "contract_version" in body else None


def recovery_states(definition: dict[str, Any]) -> tuple[str, ...]:
    """The failed state each recovery request of ``definition`` reports (refused inside Express)."""
    return _recovery_states(definition)


def _recovery_states(definition: dict[str, Any]) -> tuple[str, ...]:
    found = []
    for name, state, express in _states(definition):
        body = _recovery_request(state)
        if body is None:
            continue
        if express:
            raise TryError(
                f'"{name}" waits for a person inside an Express child workflow (a distributed Map of '
                "ExecutionType EXPRESS): Express workflows cannot wait for a task token; make it STANDARD"
            )
        found.append(str(body.get("failed_state") or name))
    return tuple(found)


def _named(state: str, states: Mapping[str, Any]) -> str:
    base = state.removesuffix(RUN_SUFFIX)
    if base != state and isinstance(states.get(base), dict) and states[base].get("Type") == "Pass":
        return base
    return state


# ---------------------------------------------------------------------- options
def _assignment(text: str, option: str, shape: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise TryError(f"{option} {text}: say {shape}")
    return key.strip(), value


def _calls(task: LambdaTask, name: str, substitutions: Mapping[str, str]) -> bool:
    written = task.function
    resolved = _PLACEHOLDER.sub(lambda found: substitutions.get(found[1], found[0]), written)
    return name in (written, resolved) or written == "${" + name + "}" or _base(resolved) == _base(name)


def _base(function: str) -> str:
    """A function's name from its name, ARN or partial ARN (without a version or alias)."""
    return function.split(":function:", 1)[-1].split(":", 1)[0]


def _failure(text: str, definition: dict[str, Any], tasks: Sequence[LambdaTask]) -> Failure:
    names = state_names(definition)
    state, error = text, DEFAULT_ERROR
    if text not in names and "=" in text:
        state, _, error = text.rpartition("=")
        if not _ERROR_NAME.match(error):
            raise TryError(f"--fail {text}: {error!r} is not an error name (letters, digits, _ and .)")
    by_state = {task.state: task for task in tasks if not task.chosen_when_run}
    failable = _listing([task.named for task in by_state.values()]) or "none: it calls no Lambda function"
    chosen = {task.state for task in tasks if task.chosen_when_run} | {
        task.named for task in tasks if task.chosen_when_run
    }
    if state in chosen:
        raise TryError(
            f'--fail "{state}": it chooses its Lambda function when it runs (FunctionName.$); make the '
            "function given with --function raise instead"
        )
    if state in by_state:
        return Failure(state, state, error)
    if state + RUN_SUFFIX in by_state and by_state[state + RUN_SUFFIX].named == state:
        return Failure(state, state + RUN_SUFFIX, error)
    if state in names:
        kind = next(s.get("Type") for n, s, _ in _states(definition) if n == state)
        raise TryError(
            f'--fail "{state}": it is a {kind} state, not a Lambda task; the Lambda tasks: {failable}'
        )
    raise TryError(
        f'--fail "{state}": no such state in the definition. Its states: {_listing(names)}. '
        f"The Lambda tasks --fail can fail: {failable}"
    )


def _check_substitutions(plan: TryPlan, substitutions: Mapping[str, str]) -> None:
    raw = json.dumps(plan.definition, ensure_ascii=False)
    unused = [key for key in substitutions if "${" + key + "}" not in raw]
    if unused:
        raise TryError(
            f"--sub {', '.join(unused)}: the definition has no {', '.join('${' + k + '}' for k in unused)}"
        )
    text = plan.deployable({task.state: "local-function" for task in plan.tasks}, "local-queue")
    left = sorted(set(_PLACEHOLDER.findall(text)))
    if left:
        raise TryError(
            f"no value for {', '.join('${' + key + '}' for key in left)}: pass "
            + " ".join(f"--sub {key}=VALUE" for key in left)
        )


def _listing(names: Sequence[str]) -> str:
    quoted = [f'"{name}"' for name in dict.fromkeys(names)]
    more = f" and {len(quoted) - _MAX_LISTED} more" if len(quoted) > _MAX_LISTED else ""
    return ", ".join(quoted[:_MAX_LISTED]) + more


def _import(module_name: str, dirs: Sequence[Path]) -> Any:
    path = Path(module_name)
    if module_name.endswith(".py") or "/" in module_name:
        candidates = [path] if path.is_absolute() else [path, *(d / path for d in dirs)]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise TryError(f"no file {module_name}")
        return _load_file(found)
    for directory in dirs:
        candidate = directory / (module_name.replace(".", "/") + ".py")
        if candidate.is_file() and "." in module_name:
            # a module of the team's own package (service.handlers.charge): imported as part of it,
            # with its root on the import path, so that its own imports (from service.logic …) work
            root = str(directory.resolve())
            if root not in sys.path:
                sys.path.insert(0, root)
            return importlib.import_module(module_name)
        if candidate.is_file():
            return _load_file(candidate)
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.split(".")[0] and exc.name != module_name:
            raise  # the module itself imports something missing: reported as its import failing
        where = ", ".join(str(d) for d in dirs)
        raise TryError(f"no module {module_name} (looked in {where} and on the import path)") from exc


def _load_file(path: Path) -> Any:
    """A module from its file, under a name of its own (two definitions' ``functions.py`` stay apart);
    its directory joins the import path, so it can import its neighbours."""
    path = path.resolve()
    name = f"recovery_ops_try_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TryError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
