"""`recovery-ops`: the operator's command line, one module per command group.

  parser        the argument parser, assembled from the groups' options (``DESCRIPTION``: the help)
  operate       list, show, retry, reject (the operator itself: ``service.operator``)
  dead_letters  dlq [show|redrive]
  serve         serve [--local]
  demo          demo
  instrument    instrument, with its own options (the transform: ``service.instrumentation``)
  try_command   try: a definition run once beside the recovery service, answered from the terminal
  routes        routes show / routes test: the routing rules of a deployment or a file
  deployment    which deployment a command acts on: options, else ``--stack``, else the settings

The commands on a deployment (list, show, retry, reject, dlq) read their ``OperatorSettings``
from the environment once, here, before they start; a bad value stops them with exit code 2.
`routes` reads its own ``RoutesSettings`` the same way.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run `recovery-ops` with ``argv`` (default: the process's arguments); the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["instrument"]:  # its own options: see `recovery-ops instrument --help`
        from service.cli.instrument import instrument_command

        return instrument_command(argv[1:])
    from service.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    if args.command == "demo":
        from service.cli.demo import demo_command

        return demo_command(args)
    if args.command == "serve":
        from service.cli.serve import serve_command

        return serve_command(args)
    if args.command == "try":
        from service.cli.try_command import try_command

        return try_command(args)
    from service.config import ConfigurationError, OperatorSettings, RoutesSettings

    if args.command == "routes":
        from service.cli.routes import routes_command

        try:
            routes_settings = RoutesSettings.from_environment()
        except ConfigurationError as exc:
            print(f"recovery-ops routes: {exc}", file=sys.stderr)
            return 2
        return routes_command(args, routes_settings)

    try:
        settings = OperatorSettings.from_environment()
    except ConfigurationError as exc:
        print(f"recovery-ops {args.command}: {exc}", file=sys.stderr)
        return 2
    if args.command == "dlq":
        from service.cli.dead_letters import dlq_command

        return dlq_command(args, settings=settings)
    from service.cli.operate import operate_command

    return operate_command(args, settings)
