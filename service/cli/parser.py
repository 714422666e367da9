"""The argument parser of `recovery-ops`, assembled from each command group's options.

Building it imports only argparse and the command modules' option definitions (their work and its
heavy imports wait until a command runs), so `recovery-ops --help` stays fast.
"""

from __future__ import annotations

import argparse

from service.cli import dead_letters, demo, operate, routes, serve, try_command

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


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand but instrument's own options (`recovery-ops instrument --help`)."""
    parser = argparse.ArgumentParser(
        prog="recovery-ops", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo.add_command(commands)
    operate.add_commands(commands)
    dlq = commands.add_parser("dlq", help="the dead-letter queues: depth and oldest messages; redrive")
    dead_letters.add_arguments(dlq)
    commands.add_parser(
        "instrument",
        help="give chosen Task states of an ASL definition the recovery treatment (instrument --help)",
        add_help=False,
    )
    routes.add_command(commands)
    serve.add_command(commands)
    try_command.add_command(commands)
    return parser
