"""The table of `recovery-ops` commands: each one's name, its line in the help, where its options and
its work are, and whether it needs the ``[local]`` extra.

A command's module is named here as text (``module:function``, as an entry point is) and imported
only when that command runs or its own help is asked for: `recovery-ops --help` imports none of
them, and no command imports another's moto, Flask or Bolt. A command that needs the embedded stack
says so before it starts, without the extra installed: "recovery-ops demo needs the local extra:
pip install 'recovery-ops[local]'", and exit code 2 (``missing_local_extra``).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from recovery_ops.service.errors import RecoveryOpsError

#: what the ``[local]`` extra (pyproject.toml) brings, by import name: the embedded moto stack, its
#: SAM translation, its JSONata engine and ASL parser, and Flask (the stand-ins, `serve` over HTTP).
#: pytest, the extra's last package, is for the fixtures of the pytest plugin: no command imports it.
LOCAL_EXTRA = (
    "moto",
    "flask",
    "yaml",
    "antlr4",
    "jsonata",
    "samtranslator",
    "aws_durable_execution_sdk_python",
    "aws_durable_execution_sdk_python_testing",
)
INSTALL_LOCAL = "pip install 'recovery-ops[local]'"

Settings = TypeVar("Settings")


def _always(args: argparse.Namespace) -> bool:
    return True


def _never(args: argparse.Namespace) -> bool:
    return False


def _with_local(args: argparse.Namespace) -> bool:
    return bool(args.local)


@dataclass(frozen=True)
class Command:
    """One subcommand of `recovery-ops`."""

    name: str
    summary: str  # its line in `recovery-ops --help`
    options: str | None  # ``module:function(parser)`` adding its options; None: it parses its own
    run: str  # ``module:function(args) -> exit status``; with ``options=None``, of the raw arguments
    needs_local: Callable[[argparse.Namespace], bool] = _never  # whether this run needs the extra

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        if self.options is not None:
            _function(self.options)(parser)

    def runner(self) -> Callable[[Any], int]:
        return _function(self.run)


COMMANDS: tuple[Command, ...] = (
    Command(
        "demo",
        "run the order flow end to end on an embedded moto stack",
        "recovery_ops.service.cli.demo:add_arguments",
        "recovery_ops.service.cli.demo:demo_command",
        needs_local=_always,
    ),
    Command(
        "list",
        "open recoveries, newest first, and those in flight (claimed, outcome not stored)",
        "recovery_ops.service.cli.operate:add_list_arguments",
        "recovery_ops.service.cli.operate:run",
    ),
    Command(
        "show",
        "one recovery in full, with its history",
        "recovery_ops.service.cli.operate:add_show_arguments",
        "recovery_ops.service.cli.operate:run",
    ),
    Command(
        "retry",
        "Run again one recovery, or every match of the filters",
        "recovery_ops.service.cli.operate:add_retry_arguments",
        "recovery_ops.service.cli.operate:run",
    ),
    Command(
        "reject",
        "Reject one recovery: the workflow compensates",
        "recovery_ops.service.cli.operate:add_reject_arguments",
        "recovery_ops.service.cli.operate:run",
    ),
    Command(
        "approve",
        "approve a request an approval policy made of an action (never your own)",
        "recovery_ops.service.cli.operate:add_approve_arguments",
        "recovery_ops.service.cli.operate:run",
    ),
    Command(
        "deny",
        "deny a request for approval: its recoveries stay open",
        "recovery_ops.service.cli.operate:add_deny_arguments",
        "recovery_ops.service.cli.operate:run",
    ),
    Command(
        "withdraw",
        "withdraw your own request for approval",
        "recovery_ops.service.cli.operate:add_withdraw_arguments",
        "recovery_ops.service.cli.operate:run",
    ),
    Command(
        "approvals",
        "the requests waiting for your approval (--mine: your own that wait)",
        "recovery_ops.service.cli.operate:add_approvals_arguments",
        "recovery_ops.service.cli.operate:run",
    ),
    Command(
        "reconcile",
        "settle in-flight recoveries from Step Functions' record now (one, or every expired lease)",
        "recovery_ops.service.cli.operate:add_reconcile_arguments",
        "recovery_ops.service.cli.operate:run",
    ),
    Command(
        "migrate",
        "move the recoveries an earlier release stored into lanes now (the reconciler does a page a run)",
        "recovery_ops.service.cli.operate:add_migrate_arguments",
        "recovery_ops.service.cli.operate:run",
    ),
    Command(
        "dlq",
        "the dead-letter queues: depth and oldest messages; redrive",
        "recovery_ops.service.cli.dead_letters:add_arguments",
        "recovery_ops.service.cli.dead_letters:run",
    ),
    Command(
        "audit",
        "verify the audit trails against their hash chains and the published events (audit verify --help)",
        "recovery_ops.service.cli.audit:add_arguments",
        "recovery_ops.service.cli.audit:run",
    ),
    Command(
        "instrument",
        "give chosen Task states of an ASL definition the recovery treatment (instrument --help)",
        None,
        "recovery_ops.service.cli.instrument:instrument_command",
    ),
    Command(
        "routes",
        "the routing rules: show them in order, or test which rule a recovery would match",
        "recovery_ops.service.cli.routes:add_arguments",
        "recovery_ops.service.cli.routes:run",
    ),
    Command(
        "serve",
        "serve the Slack app on this machine",
        "recovery_ops.service.cli.serve:add_arguments",
        "recovery_ops.service.cli.serve:serve_command",
        needs_local=_with_local,
    ),
    Command(
        "try",
        "run a state machine definition once beside the recovery service and answer it from here",
        "recovery_ops.service.cli.try_command:add_arguments",
        "recovery_ops.service.cli.try_command:try_command",
        needs_local=_always,
    ),
)

BY_NAME = {command.name: command for command in COMMANDS}


class CommandRefusedError(RecoveryOpsError):
    """A command stopped before its work began, with one line saying why: exit code 2."""


def environment_settings(model: Callable[[], Settings], command: str) -> Settings:
    """``model()`` (a settings class's ``from_environment``); a bad value stops ``command``."""
    from recovery_ops.service.config import ConfigurationError

    try:
        return model()
    except ConfigurationError as exc:
        raise CommandRefusedError(f"recovery-ops {command}: {exc}") from exc


def missing_local_extra() -> str | None:
    """The first module of the ``[local]`` extra that cannot be imported (None: all can), found
    without importing any of them."""
    for name in LOCAL_EXTRA:
        try:
            found = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            found = None
        if found is None:
            return name
    return None


def of_local_extra(error: ModuleNotFoundError) -> bool:
    """Whether ``error`` is a module of the ``[local]`` extra missing (not a fault of ours)."""
    return (error.name or "").partition(".")[0] in LOCAL_EXTRA


def needs_local_extra(command: str, missing: str) -> str:
    """What `recovery-ops` says when ``command`` runs without the extra (``missing`` not installed)."""
    module = missing.partition(".")[0]
    return f"recovery-ops {command} needs the local extra: {INSTALL_LOCAL} (no module named {module})"


def _function(reference: str) -> Callable[..., Any]:
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)
