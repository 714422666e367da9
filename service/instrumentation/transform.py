"""The recovery treatment for chosen Task states of any state machine: an ASL definition in, a new one out.

A transform over plain values (a definition dict in, a new dict and notes out; no files, no
argparse): ``recovery_ops.service.cli.instrument`` is its command line, `recovery-ops instrument`. In the new
definition each chosen Task, when it still fails after its retries, sends the integration contract
(docs/integrate/contract.md) to the recovery queue and pauses; Run again runs the Task
again with its input (or the edited input). Every other state is left as it is. The state machine
must be **Standard**: an Express workflow cannot pause for a task token (``.waitForTaskToken`` is
not supported there), so ``workflow_type=EXPRESS`` is refused.

Both query languages. A state in JSONPath (the default) is instrumented in JSONPath, a state in
JSONata (``"QueryLanguage": "JSONata"`` on the definition, on the state, or on the Parallel or Map
state around it) in JSONata: the generated states are written in the failed state's language, and
say so (``QueryLanguage``) where it differs from the one they inherit. Step Functions lets a state
move from JSONPath to JSONata, never back: a JSONPath state inside a JSONata one is refused.

How the input is kept exactly, in JSONPath. A Catch can only put the error into the state's input
(or replace the input with it), and JSONPath cannot remove a key again, so "the input without the
error" cannot be rebuilt after a plain Catch. Instead the chosen state's name now belongs to a Pass
state that wraps the input, ``{"input": <input>}``, and the Task itself runs as ``"<State>: run"``
on ``$.input`` (its InputPath, ResultPath and OutputPath are moved under ``$.input``, so what it
reads and what it outputs are unchanged). Its new last catcher (``States.ALL``,
``ResultPath: $.error``) gives ``{"input": <input>, "error": {...}}``: the recovery state sends
``$.input`` untouched, whatever its JSON type, and the task's output (what Run again sends: the
step's input, possibly edited) goes back to ``$.input`` before ``"<State>: run"`` runs again.

How the input is kept exactly, in JSONata. A JSONata catcher can read the failed state's input
(``$states.input``) and its error (``$states.errorOutput``) at once, so nothing needs wrapping and the
state keeps its name and every field (``Arguments``, ``Output``, ``Assign``, its catchers). Its new
last catcher assigns the error to a variable of its own, ``$recovery_error_<state>`` (one per
state: a Parallel branch or a Map iteration may not assign a variable of the scope around it), and
outputs ``$states.input`` unchanged: the recovery state's input *is* the failed state's
input, whatever its JSON type. It sends ``$states.input`` and the variable's ``Error`` and ``Cause``;
its output is what Run again sends (``$states.result``), the failed state's input when it runs again.
A former catch-all moved to the recovery state therefore still reads the failed state's input as
``$states.input``, and gets the rejection as ``$states.errorOutput``.

- **Retry**: a Task without a ``Retry`` field gets ``DEFAULT_RETRY``; an existing one (even empty) is
  kept as it is.
- **Existing catchers** keep their precedence: they come first, ours is last. In JSONPath their
  ``ResultPath`` is moved under ``$.input`` and a Pass ``"<State>: to <target>"`` unwraps the result
  before their target, so the target receives what it received before; in JSONata they stay as
  they are. A catch-all (``States.ALL``) catcher can only be last: it moves to the recovery state,
  so an error pauses for a person first, and a rejection (or the pause timing out) continues where
  the catch-all used to lead, as it did.
- **Rejection** (``RecoveryRejected``) or the pause timing out (``States.Timeout``): without
  ``on_reject`` and without a former catch-all, no catcher, so the execution (or the Parallel/Map
  branch, and with it the execution unless its own catchers say otherwise) fails with that error.
  ``on_reject`` (``--on-reject STATE``: a state in the same scope as each chosen state) continues
  there with the input plus ``recovery_error`` (in JSONata, ``$merge`` of the two).
- **Names**: state names are unique in the whole state machine (ASL), so a name found in more than
  one scope is refused, as is a generated name that is already taken. Generated names longer than
  80 characters are shortened with a hash.
- Refused (``InstrumentError``; the command exits with code 2): a definition that is not ASL, an
  unknown state, a state that is not a Task, an unknown ``QueryLanguage``, a JSONPath state in a
  JSONata context, a JSONata state with JSONPath fields (``Parameters``, ``ResultPath``…), a
  JSONPath Task whose paths cannot be moved (variables or context paths in
  ``InputPath``/``ResultPath``/``OutputPath``, ``TimeoutSecondsPath``/``HeartbeatSecondsPath``), a
  name collision (a state's or a variable's), a chosen state inside an Express child workflow (no
  ``.waitForTaskToken``), an Express state machine (``workflow_type=EXPRESS``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.model.contract import Routing

State = dict[str, Any]
Definition = dict[str, Any]

RECOVERY_QUEUE_PLACEHOLDER = "${RecoveryQueueUrl}"  # filled in by DefinitionSubstitutions
DEFAULT_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_TIMEOUT_SECONDS = 99_999_999  # ASL's limit for TimeoutSeconds
MAX_STATE_NAME_LENGTH = 80
# what a person's Reject sends (recovery_ops.service.recovery.lifecycle.actions)
REJECTED_ERROR = "RecoveryRejected"
INPUT_KEY = "input"
ERROR_KEY = "error"
REJECTION_KEY = "recovery_error"
CATCH_ALL = "States.ALL"
#: the field a definition's own catch-all finds the recovery's outcome in, beside the original Error
#: and Cause: {"Error": "RecoveryRejected", "Cause": the person's reason} (or States.Timeout)
RECOVERY_FIELD = "Recovery"
STANDARD, EXPRESS = "STANDARD", "EXPRESS"  # Step Functions' state machine types
JSONPATH, JSONATA = "JSONPath", "JSONata"  # the values of QueryLanguage; JSONPath is the default
ERROR_VARIABLE_PREFIX = "recovery_error_"  # + the state's name: where a JSONata catcher keeps the error
MAX_VARIABLE_NAME_LENGTH = 80

DEFAULT_RETRY: list[dict[str, Any]] = [
    {
        "ErrorEquals": ["States.TaskFailed", "States.Timeout"],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "FULL",
    }
]
SEND_RETRY: list[dict[str, Any]] = [
    {
        "ErrorEquals": ["SQS.SdkClientException", "SQS.AmazonSQSException", "SQS.InternalError"],
        "IntervalSeconds": 2,
        "MaxAttempts": 5,
        "BackoffRate": 2,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "FULL",
    }
]

_REWRITABLE_PATH = re.compile(r"^\$(?=$|[.\[])")  # "$", "$.a", "$['a']"; not "$$…" nor "$variable"
_ARN_PARTITION = re.compile(r"^arn:([^:]+):")
_PATH_FIELDS = ("InputPath", "ResultPath", "OutputPath")
_UNSUPPORTED_FIELDS = ("TimeoutSecondsPath", "HeartbeatSecondsPath")
_JSONPATH_ONLY_FIELDS = (
    "InputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "OutputPath",
    *_UNSUPPORTED_FIELDS,
)
_NOT_IN_A_VARIABLE_NAME = re.compile(r"[^A-Za-z0-9]+")


class InstrumentError(RecoveryOpsError, ValueError):
    """Why the definition cannot be instrumented as asked (the CLI exits with code 2)."""


@dataclass(frozen=True)
class InstrumentOptions:
    states: tuple[str, ...]
    queue_url: str = RECOVERY_QUEUE_PLACEHOLDER
    routing: Routing = Routing.TECHNICAL
    # how long a pause waits for a person; None: DEFAULT_TIMEOUT_SECONDS, bounded by the execution's
    # own TimeoutSeconds when it has one (a number given here is never changed: it is refused instead)
    timeout_seconds: int | None = None
    on_reject: str | None = None
    workflow_type: str = STANDARD


@dataclass(frozen=True)
class Scope:
    """One ``States`` object: the top level, a Parallel branch or a Map's item processor."""

    where: str
    states: dict[str, State]
    express: bool = False  # the child workflows of a distributed Map of type EXPRESS
    language: str = JSONPATH  # the QueryLanguage its states inherit


@dataclass
class InstrumentReport:
    definition: Definition
    notes: list[str] = field(default_factory=list)
    #: what the person must know before deploying: a bound the pauses took from the definition
    warnings: list[str] = field(default_factory=list)


def instrument(definition: Definition, options: InstrumentOptions) -> Definition:
    """A new definition in which each of ``options.states`` pauses for a person when it fails."""
    return instrument_with_report(definition, options).definition


def instrument_with_report(definition: Definition, options: InstrumentOptions) -> InstrumentReport:
    _check_options(options)
    result = copy.deepcopy(definition)
    if not isinstance(result, dict):
        raise InstrumentError("the top level is not a JSON object: not an ASL definition")
    language = _language(result.get("QueryLanguage", JSONPATH), "the top level", JSONPATH)
    # states are replaced in place: the scopes stay valid
    scopes = list(_scopes(result, "the top level", language=language))
    taken = Counter(name for scope in scopes for name in scope.states)
    variables = set(_assigned_variables(result))
    partition = _partition(definition)
    report = InstrumentReport(result)
    pause_seconds, warning = _pause_seconds(result, options.timeout_seconds)
    if warning:
        report.warnings.append(warning)
    options = replace(options, timeout_seconds=pause_seconds)
    for name in dict.fromkeys(options.states):
        scope = _scope_of(name, scopes)
        where = f'"{name}" ({scope.where})'
        state = scope.states[name]
        state_language = _language(state.get("QueryLanguage", scope.language), where, scope.language)
        if state_language == JSONATA:
            note = _instrument_jsonata_state(name, scope, options, partition, taken, variables)
        else:
            note = _instrument_state(name, scope, options, partition, taken)
        report.notes.append(note)
    return report


def _language(value: Any, where: str, inherited: str) -> str:
    """A QueryLanguage, checked: known, and not JSONPath inside JSONata (Step Functions refuses it)."""
    if value not in (JSONPATH, JSONATA):
        raise InstrumentError(f'{where}: "QueryLanguage" is {json.dumps(value)}, not JSONPath or JSONata')
    if inherited == JSONATA and value == JSONPATH:
        raise InstrumentError(
            f"{where} is a JSONPath state in a JSONata context: Step Functions lets a state move from "
            "JSONPath to JSONata, not back"
        )
    return value


def _pause_seconds(definition: Definition, asked: int | None) -> tuple[int, str | None]:
    """How long each pause waits, and a warning when the definition bounded it.

    A Standard execution fails with ``States.Timeout`` once its own ``TimeoutSeconds`` (at the top
    level) have passed since it started, wherever it is, a pause included. So a pause of that long or
    longer would be cut short while a person may still act: asked for, it is refused; by default
    (7 days) it is bounded to the execution's timeout, and the warning says so. (ASL has no timeout
    on a Parallel or a Map; a Task's own TimeoutSeconds is the failed task's, not the pause's.)"""
    execution = definition.get("TimeoutSeconds")
    if execution is None:
        return (DEFAULT_TIMEOUT_SECONDS if asked is None else asked), None
    whole = isinstance(execution, int) and not isinstance(execution, bool)
    if not whole or not 1 <= execution <= MAX_TIMEOUT_SECONDS:
        raise InstrumentError(
            f'the top level\'s "TimeoutSeconds" is {json.dumps(execution)[:40]}: Step Functions takes '
            f"a whole number of seconds from 1 to {MAX_TIMEOUT_SECONDS} there"
        )
    if asked is not None:
        if asked >= execution:
            raise InstrumentError(
                f"--timeout-seconds {asked} is not shorter than the execution's own timeout "
                f'("TimeoutSeconds": {execution} at the top level): the execution would fail with '
                f"States.Timeout while the pause still waited for a person. Ask for fewer than {execution} "
                "seconds, or raise the definition's TimeoutSeconds"
            )
        return asked, None
    if execution > DEFAULT_TIMEOUT_SECONDS:
        return DEFAULT_TIMEOUT_SECONDS, None
    return execution, (
        f'the execution times out after {execution} s ("TimeoutSeconds" at the top level), so each pause '
        f"is bounded to {execution} s instead of {DEFAULT_TIMEOUT_SECONDS} s (7 days). A recovery nobody "
        "acts on by then ends with its execution, which fails with States.Timeout no later than "
        f"{execution} s after it started: the execution watcher closes the recovery and posts the failed "
        "execution. Raise the definition's TimeoutSeconds to give people longer, or give --timeout-seconds "
        "below it"
    )


def _check_options(options: InstrumentOptions) -> None:
    if options.workflow_type.upper() != STANDARD:
        raise InstrumentError(
            f"the state machine must be Standard, not {options.workflow_type}: an Express workflow cannot "
            "pause for a task token (.waitForTaskToken is not supported there)"
        )
    if not options.states:
        raise InstrumentError("name at least one state with --state")
    if options.timeout_seconds is not None and not 1 <= options.timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise InstrumentError(f"--timeout-seconds must be between 1 and {MAX_TIMEOUT_SECONDS}")
    if not options.queue_url.strip():
        raise InstrumentError("--queue-url must not be empty")
    if options.routing not in {routing.value for routing in Routing}:
        raise InstrumentError(f"--routing must be one of {', '.join(routing.value for routing in Routing)}")


def _scopes(machine: Any, where: str, express: bool = False, language: str = JSONPATH) -> Iterator[Scope]:
    """Every States object, depth first, checking the ASL shape on the way. The states of a Parallel
    branch or a Map's items inherit the QueryLanguage of the Parallel or Map state."""
    if not isinstance(machine, dict):
        raise InstrumentError(f"{where} is not a JSON object: not an ASL definition")
    states = machine.get("States")
    if not isinstance(states, dict) or not states:
        raise InstrumentError(f'{where} has no "States" object: not an ASL definition')
    if not isinstance(machine.get("StartAt"), str) or machine["StartAt"] not in states:
        raise InstrumentError(f'{where}: "StartAt" does not name one of its states')
    yield Scope(where, states, express, language)
    for name, state in states.items():
        if not isinstance(state, dict) or not isinstance(state.get("Type"), str):
            raise InstrumentError(f'state "{name}" has no "Type": not an ASL definition')
        inner = language
        if state["Type"] in ("Parallel", "Map"):
            inner = _language(state.get("QueryLanguage", language), f'"{name}" ({where})', language)
        if state["Type"] == "Parallel":
            branches = state.get("Branches")
            if not isinstance(branches, list) or not branches:
                raise InstrumentError(f'Parallel state "{name}" has no "Branches"')
            for index, branch in enumerate(branches, start=1):
                yield from _scopes(branch, f'branch {index} of "{name}"', express, inner)
        elif state["Type"] == "Map":
            processor = state.get("ItemProcessor", state.get("Iterator"))
            config = (processor or {}).get("ProcessorConfig", {}) if isinstance(processor, dict) else {}
            child_express = express or (
                config.get("Mode") == "DISTRIBUTED" and config.get("ExecutionType") == "EXPRESS"
            )
            yield from _scopes(processor, f'the items of "{name}"', child_express, inner)


def _scope_of(name: str, scopes: list[Scope]) -> Scope:
    found = [scope for scope in scopes if name in scope.states]
    if not found:
        raise InstrumentError(f'no state named "{name}" in the definition')
    if len(found) > 1:
        places = ", ".join(scope.where for scope in found)
        raise InstrumentError(
            f'"{name}" names a state in {len(found)} scopes ({places}); state names must be unique '
            "in a state machine, so it is ambiguous"
        )
    return found[0]


def _partition(definition: Definition) -> str:
    """The partition the definition's own ARNs use (``aws``, ``aws-cn``, ``${Partition}``…)."""
    for value in _resources(definition):
        match = _ARN_PARTITION.match(value)
        if match:
            return match.group(1)
    return "aws"


def _resources(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Resource" and isinstance(item, str):
                yield item
            else:
                yield from _resources(item)
    elif isinstance(value, list):
        for item in value:
            yield from _resources(item)


def _instrument_state(
    name: str,
    scope: Scope,
    options: InstrumentOptions,
    partition: str,
    taken: Counter[str],
) -> str:
    """Replace the state with the wrapper, the task and the recovery state; say what was done."""
    states = scope.states
    task = states[name]
    where = f'"{name}" ({scope.where})'
    _check_task(task, where, scope)
    for unsupported in _UNSUPPORTED_FIELDS:
        if unsupported in task:
            raise InstrumentError(f"{where} uses {unsupported}, which instrument does not support")
    _check_on_reject(options, states, where)

    names = _Names(name, taken)
    run_name = names.new(f"{name}: run")
    recovery_name = names.new(f"Request recovery: {name}")
    unwraps: dict[str, State] = {}

    def unwrap_to(target: str) -> str:
        unwrap_name = names.new(f"{name}: to {target}")
        if unwrap_name not in unwraps:
            unwraps[unwrap_name] = {
                "Type": "Pass",
                "Comment": f'recovery-ops instrument: the output of "{name}" as before, without the wrapper.',
                "OutputPath": f"$.{INPUT_KEY}",
                "Next": target,
            }
        return unwrap_name

    run = _moved_under_input(task, where)
    notes = []
    if "Retry" not in task:
        run["Retry"] = copy.deepcopy(DEFAULT_RETRY)
        notes.append("default Retry added")
    catchers, catch_all = _split_catchers(task.get("Catch", []), where)
    for catcher in catchers:
        catcher["ResultPath"] = _under_input(catcher.get("ResultPath", "$"), "a catcher's ResultPath", where)
        catcher["Next"] = unwrap_to(catcher["Next"])
    catchers.append({"ErrorEquals": [CATCH_ALL], "ResultPath": f"$.{ERROR_KEY}", "Next": recovery_name})
    run["Catch"] = catchers
    if len(catchers) > 1:
        notes.append(f"{len(catchers) - 1} existing catcher(s) kept first")

    recovery = _recovery_state(name, run_name, options, partition)
    rejection = []
    if options.on_reject is not None:
        rejection.append(
            {
                "ErrorEquals": [REJECTED_ERROR, "States.Timeout"],
                "ResultPath": f"$.{INPUT_KEY}.{REJECTION_KEY}",
                "Next": unwrap_to(options.on_reject),
            }
        )
        notes.append(f'rejection or timeout → "{options.on_reject}"')
    restored: dict[str, State] = {}
    if catch_all is not None:
        # the catch-all sees what it saw before: the failed task's own Error and Cause, at its own
        # ResultPath on the task's input, with the recovery's outcome added under RECOVERY_FIELD
        restore_name = names.new(f"{name}: as it failed")
        moved = {key: value for key, value in catch_all.items() if key not in ("ResultPath", "Next")}
        moved["ResultPath"] = f"$.{REJECTION_KEY}"
        moved["Next"] = restore_name
        rejection.append(moved)
        restored[restore_name] = {
            "Type": "Pass",
            "Comment": (
                f'recovery-ops instrument: the error of "{name}" as its catch-all saw it before, with what '
                f'the recovery ended in under "{RECOVERY_FIELD}".'
            ),
            "Parameters": {
                "Error.$": f"$.{ERROR_KEY}.Error",
                "Cause.$": f"$.{ERROR_KEY}.Cause",
                f"{RECOVERY_FIELD}.$": f"$.{REJECTION_KEY}",
            },
            "ResultPath": _under_input(catch_all.get("ResultPath", "$"), "a catcher's ResultPath", where),
            "OutputPath": f"$.{INPUT_KEY}",
            "Next": catch_all["Next"],
        }
        notes.append(
            f'its catch-all now follows the recovery (rejection → "{catch_all["Next"]}", with the '
            "original error)"
        )
    if rejection:
        recovery["Catch"] = rejection
    else:
        notes.append("rejection or timeout fails the execution")

    wrapper: State = {
        "Type": "Pass",
        "Comment": (
            f'recovery-ops instrument: keeps the input of "{name}" under "{INPUT_KEY}", so that a '
            f'recovery can send it back unchanged; the task runs in "{run_name}".'
        ),
        "Parameters": {f"{INPUT_KEY}.$": "$"},
        "Next": run_name,
    }
    _replace(states, name, {name: wrapper, run_name: run, recovery_name: recovery, **restored, **unwraps})
    return f"{where}: " + "; ".join([f'recovery state "{recovery_name}"', *notes])


def _instrument_jsonata_state(
    name: str,
    scope: Scope,
    options: InstrumentOptions,
    partition: str,
    taken: Counter[str],
    variables: set[str],
) -> str:
    """Give the JSONata state a last catcher to the recovery state, which loops back to it."""
    states = scope.states
    task = copy.deepcopy(states[name])
    where = f'"{name}" ({scope.where})'
    _check_task(task, where, scope)
    for field_name in _JSONPATH_ONLY_FIELDS:
        if field_name in task:
            raise InstrumentError(f"{where} is a JSONata state but has {field_name}, a JSONPath field")
    _check_on_reject(options, states, where)

    recovery_name = _Names(name, taken).new(f"Request recovery: {name}")
    error_variable = _error_variable(name, variables, where)
    notes = ["JSONata"]
    if "Retry" not in task:
        task["Retry"] = copy.deepcopy(DEFAULT_RETRY)
        notes.append("default Retry added")
    catchers, catch_all = _split_catchers(task.get("Catch", []), where)
    if catchers:
        notes.append(f"{len(catchers)} existing catcher(s) kept first")
    catchers.append(
        {
            "ErrorEquals": [CATCH_ALL],
            "Assign": {error_variable: "{% $states.errorOutput %}"},
            "Output": "{% $states.input %}",
            "Next": recovery_name,
        }
    )
    task["Catch"] = catchers

    recovery = _jsonata_recovery_state(name, error_variable, options, partition)
    if scope.language != JSONATA:
        recovery = {"Type": recovery.pop("Type"), "QueryLanguage": JSONATA, **recovery}
    rejection = []
    if options.on_reject is not None:
        rejection.append(
            {
                "ErrorEquals": [REJECTED_ERROR, "States.Timeout"],
                "Output": f"{{% $merge([$states.input, {{'{REJECTION_KEY}': $states.errorOutput}}]) %}}",
                "Next": options.on_reject,
            }
        )
        notes.append(f'rejection or timeout → "{options.on_reject}"')
    if catch_all is not None:
        rejection.append(_as_it_failed(catch_all, name, error_variable))
        notes.append(
            f'its catch-all now follows the recovery (rejection → "{catch_all["Next"]}", with the '
            "original error)"
        )
    if rejection:
        recovery["Catch"] = rejection
    else:
        notes.append("rejection or timeout fails the execution")

    _replace(states, name, {name: task, recovery_name: recovery})
    return f"{where}: " + "; ".join([f'recovery state "{recovery_name}"', *notes])


def _as_it_failed(catcher: dict[str, Any], name: str, error_variable: str) -> dict[str, Any]:
    """A JSONata catch-all moved to the recovery state, seeing what it saw on the failed state: its
    ``$states.input`` is the failed state's input already; ``$states.errorOutput`` becomes the failed
    state's error with the recovery's outcome under RECOVERY_FIELD, and ``$states.context.State.Name``
    the failed state's name. Without an Output it outputs that error, as it did."""
    error = f"$merge([${error_variable}, {{'{RECOVERY_FIELD}': $states.errorOutput}}])"

    def as_before(value: Any) -> Any:
        if isinstance(value, str) and value.lstrip().startswith("{%"):
            return value.replace("$states.errorOutput", f"({error})").replace(
                "$states.context.State.Name", json.dumps(name)
            )
        if isinstance(value, dict):
            return {key: as_before(item) for key, item in value.items()}
        if isinstance(value, list):
            return [as_before(item) for item in value]
        return value

    moved = {key: as_before(item) if key in ("Output", "Assign") else item for key, item in catcher.items()}
    moved.setdefault("Output", f"{{% {error} %}}")
    return moved


def _check_on_reject(options: InstrumentOptions, states: dict[str, State], where: str) -> None:
    if options.on_reject is not None and options.on_reject not in states:
        raise InstrumentError(f'--on-reject "{options.on_reject}" is not a state in the scope of {where}')


def _replace(states: dict[str, State], name: str, generated: dict[str, State]) -> None:
    """The generated states in the place of ``name``, in that order; the other states as they were."""
    replaced: dict[str, State] = {}
    for existing, state in states.items():
        if existing == name:
            replaced.update(generated)
        else:
            replaced[existing] = state
    states.clear()
    states.update(replaced)


def _assigned_variables(value: Any) -> Iterator[str]:
    """The name of every variable the definition assigns (``Assign`` of states, catchers, choices)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Assign" and isinstance(item, dict):
                yield from (variable.removesuffix(".$") for variable in item)
            yield from _assigned_variables(item)
    elif isinstance(value, list):
        for item in value:
            yield from _assigned_variables(item)


def _error_variable(name: str, variables: set[str], where: str) -> str:
    """The variable where the state's catcher keeps the error: ``recovery_error_`` + the state's name
    in letters, digits and underscores (shortened with a hash past 80 characters); never one the
    definition already assigns."""
    wanted = ERROR_VARIABLE_PREFIX + _NOT_IN_A_VARIABLE_NAME.sub("_", name).strip("_").lower()
    if len(wanted) > MAX_VARIABLE_NAME_LENGTH:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        wanted = f"{wanted[: MAX_VARIABLE_NAME_LENGTH - 9]}_{digest}"
    if wanted in variables:
        raise InstrumentError(
            f'cannot instrument {where}: the variable "{wanted}" it needs is already assigned'
        )
    variables.add(wanted)
    return wanted


def _check_task(task: State, where: str, scope: Scope) -> None:
    if task["Type"] != "Task":
        raise InstrumentError(f"{where} is a {task['Type']} state, not a Task")
    if scope.express:
        raise InstrumentError(f"{where} runs in Express child workflows, which cannot wait for a task token")


def _moved_under_input(task: State, where: str) -> State:
    """The task, reading and writing ``$.input`` of the wrapper: same effective input and output."""
    run = copy.deepcopy(task)
    for path_field in _PATH_FIELDS:
        run[path_field] = _under_input(task.get(path_field, "$"), path_field, where)
    return run


def _under_input(path: Any, what: str, where: str) -> str | None:
    if path is None:
        return None
    if not isinstance(path, str) or not _REWRITABLE_PATH.match(path):
        raise InstrumentError(
            f"{where}: {what} {json.dumps(path)} is not a plain JSONPath on the state's input"
        )
    return f"$.{INPUT_KEY}{path[1:]}"


def _split_catchers(catch: Any, where: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The specific catchers (copies) and the catch-all, if there is one (ASL: last and alone)."""
    if not isinstance(catch, list) or not all(
        isinstance(c, dict) and isinstance(c.get("ErrorEquals"), list) and isinstance(c.get("Next"), str)
        for c in catch
    ):
        raise InstrumentError(f'{where}: "Catch" is not a list of catchers with ErrorEquals and Next')
    specific = [copy.deepcopy(c) for c in catch if CATCH_ALL not in c["ErrorEquals"]]
    catch_all = [copy.deepcopy(c) for c in catch if CATCH_ALL in c["ErrorEquals"]]
    if len(catch_all) > 1 or (catch_all and catch[-1]["ErrorEquals"] != [CATCH_ALL]):
        raise InstrumentError(f'{where}: "States.ALL" must be alone in the last catcher')
    return specific, (catch_all[0] if catch_all else None)


def _recovery_state(name: str, run_name: str, options: InstrumentOptions, partition: str) -> State:
    return {
        "Type": "Task",
        "Comment": (
            f'recovery-ops instrument: pause until a person runs "{name}" again (the output, its input '
            "possibly edited, becomes its input) or rejects it (RecoveryRejected)."
        ),
        "Resource": f"arn:{partition}:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {
            "QueueUrl": options.queue_url,
            "MessageBody": {
                "contract_version": 1,
                "task_token.$": "$$.Task.Token",
                "execution_arn.$": "$$.Execution.Id",
                "execution_name.$": "$$.Execution.Name",
                "state_machine_arn.$": "$$.StateMachine.Id",
                "failed_state": name,
                "input.$": f"$.{INPUT_KEY}",
                "error.$": f"$.{ERROR_KEY}.Error",
                "cause.$": f"$.{ERROR_KEY}.Cause",
                "routing": str(options.routing),
                "requested_at.$": "$$.State.EnteredTime",
            },
        },
        "ResultPath": f"$.{INPUT_KEY}",
        "TimeoutSeconds": options.timeout_seconds,
        "Retry": copy.deepcopy(SEND_RETRY),
        "Next": run_name,
    }


def _jsonata_recovery_state(
    name: str, error_variable: str, options: InstrumentOptions, partition: str
) -> State:
    error = f"${error_variable}"
    return {
        "Type": "Task",
        "Comment": (
            f'recovery-ops instrument: pause until a person runs "{name}" again (the output, its input '
            "possibly edited, becomes its input) or rejects it (RecoveryRejected)."
        ),
        "Resource": f"arn:{partition}:states:::sqs:sendMessage.waitForTaskToken",
        "Arguments": {
            "QueueUrl": options.queue_url,
            "MessageBody": {
                "contract_version": 1,
                "task_token": "{% $states.context.Task.Token %}",
                "execution_arn": "{% $states.context.Execution.Id %}",
                "execution_name": "{% $states.context.Execution.Name %}",
                "state_machine_arn": "{% $states.context.StateMachine.Id %}",
                "failed_state": name,
                "input": "{% $states.input %}",
                "error": f"{{% {error}.Error %}}",
                "cause": f"{{% {error}.Cause %}}",
                "routing": str(options.routing),
                "requested_at": "{% $states.context.State.EnteredTime %}",
            },
        },
        "Output": "{% $states.result %}",
        "TimeoutSeconds": options.timeout_seconds,
        "Retry": copy.deepcopy(SEND_RETRY),
        "Next": name,
    }


class _Names:
    """Generated names: at most 80 characters, never one already in the definition."""

    def __init__(self, state: str, taken: Counter[str]) -> None:
        self._state = state
        self._taken = taken
        self._mine: set[str] = set()

    def new(self, wanted: str) -> str:
        name = wanted
        if len(name) > MAX_STATE_NAME_LENGTH:
            digest = hashlib.sha256(wanted.encode()).hexdigest()[:8]
            name = f"{wanted[: MAX_STATE_NAME_LENGTH - 9]}~{digest}"
        if name in self._mine:
            return name
        if self._taken[name]:
            raise InstrumentError(
                f'cannot instrument "{self._state}": the state name "{name}" it needs is already taken'
            )
        self._taken[name] += 1
        self._mine.add(name)
        return name
