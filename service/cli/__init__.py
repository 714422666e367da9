"""`recovery-ops`: the operator's command line, a table of commands, each in its own module.

  commands      the table: each command's name, summary, options, work, and whether it needs
                the ``[local]`` extra (its module imported only when it runs)
  parser        the argument parser, assembled from the table (``DESCRIPTION``: the help)
  operate       list, show, retry, reject, reconcile (the operator itself: ``recovery_ops.service.operator``)
  dead_letters  dlq [show|redrive]
  serve         serve [--local]
  demo          demo
  instrument    instrument, with its own options (the transform: ``recovery_ops.service.instrumentation``)
  try_command   try: a definition run once beside the recovery service, answered from the terminal
  routes        routes show / routes test: the routing rules of a deployment or a file
  deployment    which deployment a command acts on: options, else ``--stack``, else the settings

The commands on a deployment (list, show, retry, reject, reconcile, dlq) read their
``OperatorSettings`` from the environment once, before they start; a bad value stops them with
exit code 2. `routes` reads its own ``RoutesSettings`` the same way. demo, try and serve --local
need the ``[local]`` extra: without it they say what to install and exit with code 2.
"""

from __future__ import annotations

import sys

from recovery_ops.service.cli.commands import (
    BY_NAME,
    CommandRefusedError,
    missing_local_extra,
    needs_local_extra,
    of_local_extra,
)


def main(argv: list[str] | None = None) -> int:
    """Run `recovery-ops` with ``argv`` (default: the process's arguments); the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    command = BY_NAME.get(argv[0]) if argv else None
    try:
        if command is not None and command.options is None:  # its own options: instrument --help
            return command.runner()(argv[1:])
        from recovery_ops.service.cli.parser import build_parser

        args = build_parser(only=[command.name] if command else []).parse_args(argv)
        command = BY_NAME[args.command]
        if command.needs_local(args) and (missing := missing_local_extra()):
            print(needs_local_extra(command.name, missing), file=sys.stderr)
            return 2
        return command.runner()(args)
    except CommandRefusedError as refused:
        print(refused, file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # the extra, needed further on (serve over HTTP: Flask)
        if command is None or not of_local_extra(exc):
            raise
        print(needs_local_extra(command.name, exc.name or "?"), file=sys.stderr)
        return 2
