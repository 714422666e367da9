"""One error root: every exception class of service/ and slack_app/ is a ``RecoveryOpsError``, and its
name ends in ``Error`` unless a state machine's ``Retry`` or ``Catch`` matches it by name."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.lifecycle.actions import REJECTED_ERROR

ROOT = Path(__file__).resolve().parents[2]


def project_exceptions() -> list[type[BaseException]]:
    """Every exception class defined in a module of service/ or slack_app/."""
    found = []
    for package in ("recovery_ops.service", "recovery_ops.slack_app"):
        modules = pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}.")
        for name in [package, *(info.name for info in modules if not info.name.endswith("__main__"))]:
            module = importlib.import_module(name)
            found += [
                value
                for value in vars(module).values()
                if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == name
            ]
    return found


def _error_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        yield from node.get("ErrorEquals", [])
        for value in node.values():
            yield from _error_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _error_names(value)


def asl_error_names() -> set[str]:
    """The error names the definitions in infra/ match in a ``Retry`` or a ``Catch``."""
    return {
        name
        for path in ROOT.glob("infra/**/*.asl.json")
        for name in _error_names(json.loads(path.read_text()))
    }


def fail_state_error_names() -> set[str]:
    """The error names the definitions in infra/ end an execution with (a ``Fail`` state's ``Error``)."""
    return {
        state["Error"]
        for path in ROOT.glob("infra/**/*.asl.json")
        for state in _states(json.loads(path.read_text()))
        if state.get("Type") == "Fail" and isinstance(state.get("Error"), str)
    }


def _states(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        yield from (s for s in node.get("States", {}).values() if isinstance(s, dict))
        for value in node.values():
            yield from _states(value)
    elif isinstance(node, list):
        for value in node:
            yield from _states(value)


def test_every_exception_class_of_the_project_derives_from_recovery_ops_error() -> None:
    # Given every exception class the project defines (about forty: none may be missed silently)
    classes = project_exceptions()
    assert len(classes) > 30

    # When those outside the root are picked
    outside = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, RecoveryOpsError)]

    # Then there are none
    assert outside == []


def test_an_error_name_not_ending_in_error_is_one_a_state_machine_matches() -> None:
    # Given the project's exception classes and the error names its state machines match
    classes = project_exceptions()
    matched = asl_error_names()

    # When those whose name does not end in Error are picked
    other_names = {c.__name__ for c in classes if not c.__name__.endswith("Error")} - {"RecoveryOpsError"}

    # Then each is an error name of a Retry or a Catch (renaming it would change the workflow's contract),
    # or one a paused step is answered or ended with, which a durable function's handler catches by
    # name (service/durable: the desk's RecoveryRejected, the order example's RecoveryTimedOut)
    answered = {REJECTED_ERROR} | fail_state_error_names()
    assert other_names <= matched | answered, sorted(other_names - matched - answered)
    assert other_names  # the order example's CircuitOpen, Vendor... and InvalidOrderData
