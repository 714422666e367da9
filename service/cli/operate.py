"""`recovery-ops list | show | retry | reject | reconcile | approve | deny | withdraw | approvals`: the
recoveries of a deployment, acted on from a terminal, and the approval requests of its policies.

The options here; the operator (``recovery_ops.service.operator``) and its heavy imports wait until a
command runs, so that building the parser stays cheap for every `recovery-ops` command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recovery_ops.service.config import OperatorSettings
    from recovery_ops.service.operator import Operator
    from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery


def add_list_arguments(listing: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops list`."""
    _filters(listing)
    listing.add_argument(
        "--in-flight",
        action="store_true",
        help="only the recoveries in flight: claimed (RESUMING) and their outcome not stored yet",
    )
    listing.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50)")
    deployment_options(listing)


def add_show_arguments(show: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops show`."""
    show.add_argument("recovery_id", help="the recovery's id (rec-…, as `list` shows it)")
    deployment_options(show)


def add_retry_arguments(retry: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops retry`."""
    retry.add_argument("recovery_id", nargs="?", help="the recovery to run again; omit it to use the filters")
    retry.add_argument("--input", type=Path, help="edited input (a JSON file) for one recovery")
    retry.add_argument("--yes", action="store_true", help="do not ask to confirm a bulk retry")
    retry.add_argument(
        "--reason",
        help="why: goes with the approval request when a rule's policy covers it (some require one)",
    )
    _filters(retry)
    deployment_options(retry)


def add_reject_arguments(reject: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops reject`."""
    reject.add_argument("recovery_id", help="the recovery's id (rec-…)")
    reject.add_argument("--reason", help="why, kept in the audit trail and in the rejection's cause")
    deployment_options(reject)


def add_approve_arguments(approve: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops approve`."""
    approve.add_argument(
        "request_id", help="the approval request's id (as `recovery-ops approvals` shows it)"
    )
    deployment_options(approve)


def add_deny_arguments(deny: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops deny`."""
    deny.add_argument("request_id", help="the approval request's id (as `recovery-ops approvals` shows it)")
    deny.add_argument("--reason", help="why, kept in the audit trail and shown to the requester")
    deployment_options(deny)


def add_withdraw_arguments(withdraw: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops withdraw`."""
    withdraw.add_argument("request_id", help="your approval request's id (`recovery-ops approvals --mine`)")
    deployment_options(withdraw)


def add_approvals_arguments(approvals: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops approvals`."""
    approvals.add_argument(
        "--mine", action="store_true", help="your own requests that wait, instead of those waiting for you"
    )
    deployment_options(approvals)


def add_reconcile_arguments(reconcile: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops reconcile`."""
    reconcile.add_argument(
        "recovery_id", nargs="?", help="the recovery to settle now; omit it to settle every expired lease"
    )
    deployment_options(reconcile)


def add_migrate_arguments(migrate: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops migrate`."""
    deployment_options(migrate)


def deployment_options(parser: argparse.ArgumentParser) -> None:
    """``--stack`` / ``--table``: which deployment a command acts on (every operator command's)."""
    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="the deployed stack (CloudFormation) whose output RecoveriesTableName names the table",
    )
    parser.add_argument(
        "--table", help="the recoveries table (stack output RecoveriesTableName; wins over --stack)"
    )


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", help="failed state name")
    parser.add_argument("--error", help="error name, e.g. VendorUnavailable")
    parser.add_argument("--machine", help="state machine name or ARN")
    parser.add_argument("--since", help="paused within this long, e.g. 30m, 2h, 7d")
    parser.add_argument("--owner", help="who took it: a Slack user id, or none (nobody has taken it)")


def run(args: argparse.Namespace) -> int:
    """list, show, retry, reject or reconcile on the ``OperatorSettings`` of the environment (a bad
    value stops it: exit code 2)."""
    from recovery_ops.service.cli.commands import environment_settings
    from recovery_ops.service.config import OperatorSettings

    return operate_command(args, environment_settings(OperatorSettings.from_environment, args.command))


def operate_command(args: argparse.Namespace, settings: OperatorSettings) -> int:
    """Run list, show, retry, reject and the approvals' commands: 0 done, 1 not done (already
    handled, a failed action, a decision refused), 2 a request to change (unknown id, invalid
    input, no deployment named, malformed filter), 3 a policy covers it: a request for approval
    was made and nothing ran."""
    from recovery_ops.service.cli.deployment import on_deployment
    from recovery_ops.service.operator import OperationError, build_operator
    from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome
    from recovery_ops.service.recovery.lifecycle.query import QueryError
    from recovery_ops.service.stack_outputs import PAYLOADS_BUCKET, RECOVERIES_TABLE, StackOutputError

    try:
        try:
            deployment = on_deployment(
                settings,
                args.stack,
                {"table": args.table, "payloads": settings.payloads_bucket},
                {"table": RECOVERIES_TABLE, "payloads": PAYLOADS_BUCKET},
                optional=("payloads",),  # a stack from before the bucket: every value in its item
            )
        except StackOutputError as exc:
            raise OperationError(str(exc)) from exc
        operator = build_operator(deployment)
        if args.command in APPROVAL_COMMANDS:
            return _decide(operator, args)
        if args.command == "list":
            operator.list(_query(args), limit=args.limit)
        elif args.command == "show":
            operator.show(args.recovery_id)
        elif args.command == "reconcile":
            return operator.reconcile(args.recovery_id)
        elif args.command == "migrate":
            return operator.migrate()
        elif args.command == "reject":
            result = operator.reject(args.recovery_id, args.reason)
            return WAITS_FOR_APPROVAL if operator.requested else 0 if result.done else 1
        elif args.recovery_id:
            schema = operator.schema_for(args.recovery_id)
            result = operator.retry(args.recovery_id, args.input, schema, reason=args.reason)
            if operator.requested:
                return WAITS_FOR_APPROVAL
            return 0 if result.outcome is ActionOutcome.RESUMED else 1
        else:
            report = operator.retry_matching(
                _query(args), confirm=lambda n: args.yes or _confirm(n), reason=args.reason
            )
            if report is not None and (
                report.refused
                or any(report.outcomes.get(bad, 0) for bad in (ActionOutcome.FAILED, ActionOutcome.IN_FLIGHT))
            ):
                return 1
            return WAITS_FOR_APPROVAL if operator.requested else 0
    except (OperationError, QueryError) as exc:
        print(f"recovery-ops: {exc}", file=sys.stderr)
        return 2
    return 0


#: the exit code of an action a policy covers: a request for approval was made, nothing ran yet
WAITS_FOR_APPROVAL = 3
APPROVAL_COMMANDS = ("approve", "deny", "withdraw", "approvals")


def _decide(operator: Operator, args: argparse.Namespace) -> int:
    """approve, deny, withdraw (0: done, 1: refused or already decided) or approvals (0)."""
    if args.command == "approve":
        return operator.approve(args.request_id)
    if args.command == "deny":
        return operator.deny(args.request_id, args.reason)
    if args.command == "withdraw":
        return operator.withdraw(args.request_id)
    operator.waiting(mine=args.mine)
    return 0


def _query(args: argparse.Namespace) -> RecoveryQuery:
    from recovery_ops.service.operator import OperationError
    from recovery_ops.service.recovery.lifecycle.in_flight import IN_FLIGHT
    from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery, check_owner

    if args.owner == "me":
        raise OperationError("--owner me means nobody on the command line: give a Slack user id, or none")
    query = RecoveryQuery(
        failed_state=args.state,
        error=args.error,
        state_machine=args.machine,
        since=args.since,
        owner=check_owner(args.owner) if args.owner else None,
        status=IN_FLIGHT if getattr(args, "in_flight", False) else None,
    )
    query.list_filter()  # a malformed --since fails here, before anything is read
    return query


def _confirm(count: int) -> bool:
    answer = input(f"Run again {count} open recoveries? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
