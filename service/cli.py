"""`recovery-ops`: the operator's command line.

  recovery-ops demo                      the whole flow on an embedded moto stack
  recovery-ops list [filters]            open recoveries, newest first, with counts
  recovery-ops show ID                   one recovery in full, with its audit trail
  recovery-ops retry ID [--input F]      Run again (with an edited input from a JSON file)
  recovery-ops retry --error X [...]     Run again every match, after confirming the count
  recovery-ops reject ID [--reason R]    Reject: the workflow compensates
  recovery-ops dlq [redrive [--rate N]]  the dead-letter queues: depth, oldest messages; redrive
  recovery-ops serve [--local]           the Slack app on this machine (Flask or Socket Mode)
  recovery-ops instrument F --state S    a definition whose state S pauses for a person on failure

list/show/retry/reject/dlq act on a deployment with your AWS credentials: name its stack with
--stack (the table and queues come from the stack's outputs), or pass --table / the queue URLs,
or set RECOVERIES_TABLE_NAME and the queue variables. Explicit options win over --stack.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SERVE_ENVIRONMENT = """environment:
  SLACK_BOT_TOKEN         the app's bot token (xoxb-…), always needed
  SLACK_APP_TOKEN         an app-level token (xapp-…): Socket Mode instead of HTTP on --port
  SLACK_SIGNING_SECRET    the app's signing secret (HTTP, when SLACK_APP_TOKEN is not set)
  SLACK_API_URL           another Slack Web API endpoint (a local stand-in)
  SLACK_ALLOWED_USER_IDS, SLACK_ALLOWED_USER_GROUP   who may act (with --local: everyone when unset)

against a deployed stack (as its Slack app function reads them):
  RECOVERIES_TABLE_NAME   the recoveries table (stack output RecoveriesTableName), needed
  SLACK_VIEWER_USER_IDS, SLACK_VIEWER_USER_GROUP     who may see without acting
  SLACK_MEMBERSHIP_CACHE_SECONDS   how long a user group's members are cached (default 300)
  INPUT_SCHEMAS_PARAMETER the SSM parameter of the input schemas (/<stack>/recovery/input-schemas)
  BULK_RESUME_RATE_PER_SECOND      pace of bulk actions (default 50)
  RECOVERY_RETENTION_DAYS          how long closed recoveries are kept (default 90)
  ORDERS_DLQ_URL, RECOVERY_DLQ_URL, RECOVERY_QUEUE_URL   the queues of `/recoveries dlq`
  DLQ_REDRIVE_RATE_PER_SECOND      pace of a DLQ redrive (default 10)

with --local:
  SLACK_CHANNEL           where the local recoveries are posted (default recoveries)
"""


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", help="failed state name")
    parser.add_argument("--error", help="error name, e.g. VendorUnavailable")
    parser.add_argument("--machine", help="state machine name or ARN")
    parser.add_argument("--since", help="paused within this long, e.g. 30m, 2h, 7d")


def _query(args: argparse.Namespace):
    from service.recovery.query import RecoveryQuery

    query = RecoveryQuery(
        failed_state=args.state, error=args.error, state_machine=args.machine, since=args.since
    )
    query.list_filter()  # a malformed --since fails here, before anything is read
    return query


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recovery-ops", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the order flow end to end on an embedded moto stack")
    demo.add_argument("--orders", type=int, default=12, help="how many orders to place (default 12)")
    demo.add_argument("--failure-rate", type=float, default=0.2, help="share of vendor calls that fail")
    demo.add_argument("--seed", type=int, default=7, help="random seed, for a repeatable run")

    listing = commands.add_parser("list", help="open recoveries, newest first")
    _filters(listing)
    listing.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    show = commands.add_parser("show", help="one recovery in full, with its history")
    show.add_argument("recovery_id", help="the recovery's id (rec-…, as `list` shows it)")
    retry = commands.add_parser("retry", help="Run again one recovery, or every match of the filters")
    retry.add_argument("recovery_id", nargs="?", help="the recovery to run again; omit it to use the filters")
    retry.add_argument("--input", type=Path, help="edited input (a JSON file) for one recovery")
    retry.add_argument("--yes", action="store_true", help="do not ask to confirm a bulk retry")
    _filters(retry)
    reject = commands.add_parser("reject", help="Reject one recovery: the workflow compensates")
    reject.add_argument("recovery_id", help="the recovery's id (rec-…)")
    reject.add_argument("--reason", help="why, kept in the audit trail and in the rejection's cause")
    for sub in (listing, show, retry, reject):
        sub.add_argument(
            "--stack",
            metavar="NAME",
            help="the deployed stack (CloudFormation) whose output RecoveriesTableName names the table",
        )
        sub.add_argument(
            "--table", help="the recoveries table (stack output RecoveriesTableName; wins over --stack)"
        )
    from service.dead_letter_cli import add_arguments as dlq_arguments

    dlq = commands.add_parser("dlq", help="the dead-letter queues: depth and oldest messages; redrive")
    dlq_arguments(dlq)

    commands.add_parser(
        "instrument",
        help="give chosen Task states of an ASL definition the recovery treatment (instrument --help)",
        add_help=False,
    )
    serve = commands.add_parser(
        "serve",
        help="serve the Slack app on this machine",
        description="The Slack app on this machine, against your real workspace: Socket Mode when "
        "SLACK_APP_TOKEN is set, otherwise HTTP on --port at /slack/events.",
        epilog=SERVE_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--port", type=int, default=3000, help="HTTP port, without SLACK_APP_TOKEN (default 3000)"
    )
    serve.add_argument(
        "--local", action="store_true", help="act on an embedded moto stack with paused demo orders, not AWS"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["instrument"]:  # its own options: see `recovery-ops instrument --help`
        from service.instrument import instrument_command

        return instrument_command(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from service.local.demo import run_demo

        run_demo(order_count=args.orders, failure_rate=args.failure_rate, seed=args.seed)
        return 0
    if args.command == "serve":
        return _serve(args)
    if args.command == "dlq":
        from service.dead_letter_cli import dlq_command

        return dlq_command(args)
    return _operate(args)


def _operate(args: argparse.Namespace) -> int:
    from service.operations import OperationError, operator_from_environment
    from service.recovery.actions import ActionOutcome
    from service.recovery.query import QueryError

    try:
        operator = operator_from_environment(args.table, stack_name=args.stack)
        if args.command == "list":
            operator.list(_query(args), limit=args.limit)
        elif args.command == "show":
            operator.show(args.recovery_id)
        elif args.command == "reject":
            return 0 if operator.reject(args.recovery_id, args.reason).done else 1
        elif args.recovery_id:
            result = operator.retry(args.recovery_id, args.input, _schema_for(operator, args.recovery_id))
            return 0 if result.outcome is ActionOutcome.RESUMED else 1
        else:
            report = operator.retry_matching(_query(args), confirm=lambda n: args.yes or _confirm(n))
            return 0 if report is None or report.outcomes.get(ActionOutcome.FAILED, 0) == 0 else 1
    except (OperationError, QueryError) as exc:
        print(f"recovery-ops: {exc}", file=sys.stderr)
        return 2
    return 0


def _schema_for(operator, recovery_id: str) -> dict | None:
    """The JSON Schema of the recovery's state, from INPUT_SCHEMAS_PARAMETER when it is set."""
    import os

    name = os.environ.get("INPUT_SCHEMAS_PARAMETER")
    if not name:
        return None
    from aws_lambda_powertools.utilities import parameters

    from service.recovery.input_edit import SchemaCatalog

    recovery = operator.store.get(recovery_id)
    catalog = SchemaCatalog(lambda: parameters.get_parameter(name, transform="json") or {})
    return catalog.for_state(recovery.state_machine_name, recovery.failed_state)


def _confirm(count: int) -> bool:
    answer = input(f"Run again {count} open recoveries? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _serve(args: argparse.Namespace) -> int:
    from slack_app.serve import ServeError, app_for_this_machine, deployed_desk, run

    try:
        if args.local:
            from service.local.serve_local import local_desk

            with local_desk() as desk:
                run(app_for_this_machine(desk), args.port)
        else:
            run(app_for_this_machine(deployed_desk), args.port)
    except ServeError as exc:
        print(f"recovery-ops serve: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
