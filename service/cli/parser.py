"""The argument parser of `recovery-ops`, assembled from the table of commands (``commands``).

Every command is named with its summary; only the options of the command that runs are added (its
module imported for them), so `recovery-ops --help` imports no command module at all.
"""

from __future__ import annotations

import argparse
from collections.abc import Collection

from recovery_ops.service.cli.commands import COMMANDS

DESCRIPTION = """`recovery-ops`: the operator's command line.

  recovery-ops demo                      the whole flow on an embedded moto stack
  recovery-ops list [filters]            open recoveries, newest first, with counts
  recovery-ops list --in-flight          the recoveries in flight: claimed, outcome not stored yet
  recovery-ops show ID                   one recovery in full, with its audit trail
  recovery-ops retry ID [--input F]      Run again (with an edited input from a JSON file)
  recovery-ops retry --error X [...]     Run again every match, after confirming the count
  recovery-ops reject ID [--reason R]    Reject: the workflow compensates
  recovery-ops reconcile [ID]            settle in-flight recoveries from Step Functions' record now
  recovery-ops dlq [redrive [--rate N]]  the dead-letter queues: depth, oldest messages; redrive
  recovery-ops routes show               the routing rules in order, and the fallback channels
  recovery-ops routes test --machine M --state S [--error E]   which rule a recovery would match
  recovery-ops serve [--local]           the Slack app on this machine (Flask or Socket Mode)
  recovery-ops instrument F --state S    a definition whose state S pauses for a person on failure
  recovery-ops try F [--fail S]          run definition F once beside the recovery service, answer here

list/show/retry/reject/reconcile/dlq act on a deployment with your AWS credentials: name its stack with
--stack (the table and queues come from the stack's outputs), or pass --table / the queue URLs,
or set RECOVERIES_TABLE_NAME and the queue variables. Explicit options win over --stack.
"""


def build_parser(only: Collection[str] | None = None) -> argparse.ArgumentParser:
    """Every subcommand, with the options of those in ``only`` (default: all of them, each module
    imported); instrument's options are its own (`recovery-ops instrument --help`)."""
    parser = argparse.ArgumentParser(
        prog="recovery-ops", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    subcommands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        sub = subcommands.add_parser(command.name, help=command.summary, add_help=command.options is not None)
        if only is None or command.name in only:
            command.add_options(sub)
    return parser
