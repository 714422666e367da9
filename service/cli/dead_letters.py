"""`recovery-ops dlq`: the dead-letter queues from the command line, on the same core as the Slack app.

  recovery-ops dlq                             each DLQ's depth and oldest messages (nothing consumed)
  recovery-ops dlq redrive [--rate N] [--yes]  move the recovery DLQ back to the recovery queue

Queues come from ``--orders-dlq-url``, ``--recovery-dlq-url``, ``--recovery-queue-url``, else from
the outputs of the stack named by ``--stack`` (``OrdersDeadLetterQueueUrl``,
``RecoveryDeadLetterQueueUrl``, ``RecoveryQueueUrl``), else from the ``OperatorSettings`` (the
environment variables of the same names as the options, ``ORDERS_DLQ_URL`` …). Only the
recovery DLQ can be redriven (the orders DLQ is no queue's DLQ: SQS cannot move its messages, and
each is a decision already taken). The rate is ``--rate``, else ``DLQ_REDRIVE_RATE_PER_SECOND``,
else 10 a second. With ``--table``, ``--stack`` or ``RECOVERIES_TABLE_NAME`` the redrive is audited
as ``cli:<user>`` on the item ``dlq#<queue name>``, as a click in Slack would be, and goes through
the same services: when a routing rule's approval policy lists ``dlq_redrive`` (the rules of
``--stack``'s ``RoutingRulesParameterName``, else ``ROUTING_RULES_PARAMETER``) it becomes a
request (``--reason`` gives the requester's reason) and nothing moves until others approve it;
without a table no request can be kept, so a redrive a policy covers is refused. The heavy imports
wait until the command runs: building the parser stays cheap for every `recovery-ops` command.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recovery_ops.service.config import OperatorSettings
    from recovery_ops.service.recovery.dead_letters.queues import DeadLetterQueues, DeadLetterReport

Print = Callable[[str], None]
DEFAULT_PREVIEW = 5  # the oldest messages shown per queue, as `/recoveries dlq` shows them
#: option (attribute) → the stack output it comes from with --stack
STACK_OUTPUTS = {
    "orders_dlq_url": "OrdersDeadLetterQueueUrl",
    "recovery_dlq_url": "RecoveryDeadLetterQueueUrl",
    "recovery_queue_url": "RecoveryQueueUrl",
    "table": "RecoveriesTableName",
    "routing_rules_parameter": "RoutingRulesParameterName",  # their policies may hold a redrive back
}
#: a stack without the order example has no orders DLQ; the rules parameter is read when there
OPTIONAL_OUTPUTS = ("orders_dlq_url", "routing_rules_parameter")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops dlq` (on the subparser ``dlq``)."""
    parser.add_argument(
        "action",
        nargs="?",
        choices=["show", "redrive"],
        default="show",
        help="show (default): each DLQ's depth and oldest messages, nothing consumed; "
        "redrive: move the recovery DLQ back to the recovery queue",
    )
    parser.add_argument(
        "--rate",
        type=int,
        help="redrive: messages a second, 1 to 500 (default DLQ_REDRIVE_RATE_PER_SECOND or 10)",
    )
    parser.add_argument("--yes", action="store_true", help="redrive: do not ask to confirm the count")
    parser.add_argument(
        "--reason", help="redrive: why, for the approvers when a routing rule's policy asks for approval"
    )
    parser.add_argument(
        "--preview",
        type=int,
        default=DEFAULT_PREVIEW,
        help=f"show: how many of each queue's oldest messages to show (default {DEFAULT_PREVIEW})",
    )
    parser.add_argument(
        "--stack",
        metavar="NAME",
        help="the deployed stack (CloudFormation): the queues and the table come from its outputs "
        "(explicit options win)",
    )
    parser.add_argument(
        "--orders-dlq-url", help="the orders DLQ (stack output OrdersDeadLetterQueueUrl; ORDERS_DLQ_URL)"
    )
    parser.add_argument(
        "--recovery-dlq-url",
        help="the recovery DLQ (stack output RecoveryDeadLetterQueueUrl; RECOVERY_DLQ_URL)",
    )
    parser.add_argument(
        "--recovery-queue-url",
        help="where the recovery DLQ is redriven (stack output RecoveryQueueUrl; RECOVERY_QUEUE_URL)",
    )
    parser.add_argument(
        "--table",
        help="the recoveries table, to audit a redrive "
        "(stack output RecoveriesTableName; RECOVERIES_TABLE_NAME)",
    )


def run(args: argparse.Namespace) -> int:
    """`dlq` on the ``OperatorSettings`` of the environment (a bad value stops it: exit code 2)."""
    from recovery_ops.service.cli.commands import environment_settings
    from recovery_ops.service.config import OperatorSettings

    return dlq_command(args, settings=environment_settings(OperatorSettings.from_environment, "dlq"))


def dlq_command(
    args: argparse.Namespace,
    out: Print = print,
    confirm: Callable[[str], bool] | None = None,
    *,
    settings: OperatorSettings | None = None,
) -> int:
    """Run `recovery-ops dlq [show|redrive]`; the exit status (0 done, 1 AWS refused, 2 bad request).
    ``settings``: as read when the command line started (default: read from the environment now)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from recovery_ops.service.config import ConfigurationError
    from recovery_ops.service.recovery.dead_letters.queues import DeadLetterError
    from recovery_ops.service.stack_outputs import StackOutputError

    try:
        deployment = _deployment(args, settings)
    except (ConfigurationError, StackOutputError) as exc:
        print(f"recovery-ops dlq: {exc}", file=sys.stderr)
        return 2
    try:
        dead_letters = _dead_letters(deployment)
        if dead_letters is None:
            print(
                "recovery-ops dlq: say where the DLQs are: --stack NAME, or --orders-dlq-url / "
                "--recovery-dlq-url (or ORDERS_DLQ_URL / RECOVERY_DLQ_URL)",
                file=sys.stderr,
            )
            return 2
        if (getattr(args, "action", None) or "show") == "redrive":
            return _redrive(dead_letters, args, out, confirm or _ask, deployment.routing_rules_parameter)
        _show(dead_letters, getattr(args, "preview", DEFAULT_PREVIEW), out)
        return 0
    except DeadLetterError as exc:
        print(f"recovery-ops dlq: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"recovery-ops dlq: AWS refused: {exc}", file=sys.stderr)
        return 1


def _dead_letters(deployment: OperatorSettings) -> DeadLetterQueues | None:
    """The DLQs on the services a click in Slack uses (the rules' approval policies gate a redrive)
    when the deployment's table is known; else the bare queues, unaudited."""
    from recovery_ops.service import aws_clients
    from recovery_ops.service.composition import build_services, dead_letter_queues

    if deployment.recoveries_table_name:
        return build_services(deployment.services_config(), aws_clients.client, None).dead_letters
    return dead_letter_queues(deployment, aws_clients.client, audit_table=None)


def _show(dead_letters: DeadLetterQueues, preview: int, out: Print) -> list[DeadLetterReport]:
    from recovery_ops.service.operator import printable
    from recovery_ops.service.recovery.dead_letters.preview import age_text

    now = datetime.now(UTC)
    reports = dead_letters.reports(preview=max(0, preview))
    for report in reports:
        queue = report.queue
        if report.problem:
            out(f"{queue.label}  {queue.name}: could not be read: {report.problem}")
            continue
        flight = f", {report.in_flight} in flight" if report.in_flight else ""
        out(f"{queue.label}  {queue.name}: {report.depth} messages ({report.visible} visible{flight})")
        if queue.redrivable:
            out(f"  redrive: `recovery-ops dlq redrive` moves them back to {queue.destination_name}")
        else:
            out(f"  not redrivable: {queue.not_redrivable_because}")
        if dead_letters.audit is not None:
            last = dead_letters.audit.last_redrive(queue)
            if last is not None:
                out(f"  last redrive: {last.actor} at {last.at} (task {last.detail.get('task_handle', '?')})")
        for message in report.oldest:
            sent = message.sent_at.isoformat(timespec="seconds") if message.sent_at else "unknown"
            out(
                f"  {message.message_id}  sent {sent} ({age_text(message.age(now))} ago)  "
                f"received {message.receive_count}x"
            )
            if message.reason:  # reasons and excerpts come without token fields (DeadLetterQueues.peek)
                out(f"      reason: {printable(message.reason)}")
            out(f"      {printable(message.excerpt)}")
    return reports


def _redrive(
    dead_letters: DeadLetterQueues,
    args: argparse.Namespace,
    out: Print,
    ask: Callable,
    rules_parameter: str | None = None,
) -> int:
    from recovery_ops.service.recovery.dead_letters.queues import RECOVERY, DeadLetterError
    from recovery_ops.service.recovery.model.approval import Held

    queue = dead_letters.queue(RECOVERY)
    if not queue.redrivable:
        raise DeadLetterError(f"the {queue.label} cannot be redriven: {queue.not_redrivable_because}")
    rate = getattr(args, "rate", None)
    rate = dead_letters.rate_per_second if rate is None else rate
    visible, in_flight = dead_letters.depth(queue)
    if not visible:
        out(f"Nothing to redrive: {queue.name} has no visible message ({in_flight} in flight).")
        return 0
    question = f"Move {visible} messages from {queue.name} back to {queue.destination_name} at {rate}/s?"
    if not (getattr(args, "yes", False) or ask(question)):
        out("Cancelled: nothing was redriven.")
        return 0
    held_by = None if dead_letters.gate is not None else _dlq_rule(rules_parameter)
    if held_by is not None:
        raise DeadLetterError(
            f"rule {held_by!r} puts a DLQ redrive under approval and a request needs the "
            "recoveries table: pass --stack NAME or --table (or set RECOVERIES_TABLE_NAME)"
        )
    task = dead_letters.redrive(
        RECOVERY, f"cli:{getpass.getuser()}", rate_per_second=rate, reason=getattr(args, "reason", None)
    )
    if isinstance(task, Held):
        out(f"Waiting for approval: {task.detail}.")
        if rate != dead_letters.rate_per_second:
            out(f"Once approved it moves at the deployment's rate ({dead_letters.rate_per_second}/s).")
        return 0 if task.request_id else 2
    if task.started:
        out(f"Redrive started: {task.summary()}")
        out(f"task handle: {task.task_handle}")
    else:
        out(f"Nothing new was started: {task.summary()}")
    return 0


def _dlq_rule(parameter: str | None) -> str | None:
    """The first rule whose approval policy lists ``dlq_redrive`` (None: none, or no rules)."""
    if not parameter:
        return None
    from recovery_ops.service.recovery.access.rules_parameter import rules_source
    from recovery_ops.service.recovery.model.approval import Gated
    from recovery_ops.service.recovery.ports.notifier import ChannelRouting

    rules = rules_source(parameter, ChannelRouting(default="")).rules().rules
    held = (r.name for r in rules if r.approval is not None and r.approval.covers(Gated.DLQ_REDRIVE))
    return next(held, None)


def queue_settings(
    args: argparse.Namespace, settings: OperatorSettings | None = None
) -> dict[str, str | None]:
    """Each queue and the table: the option, else the stack's output (``--stack``), else the
    settings (default: read from the environment now)."""
    from recovery_ops.service.cli.deployment import SETTING_OF_OPTION

    deployment = _deployment(args, settings)
    return {name: getattr(deployment, SETTING_OF_OPTION.get(name, name)) or None for name in STACK_OUTPUTS}


def _deployment(args: argparse.Namespace, settings: OperatorSettings | None) -> OperatorSettings:
    from recovery_ops.service.cli.deployment import on_deployment
    from recovery_ops.service.config import OperatorSettings

    return on_deployment(
        OperatorSettings.from_environment() if settings is None else settings,
        getattr(args, "stack", None),
        {name: getattr(args, name, None) for name in STACK_OUTPUTS},
        STACK_OUTPUTS,
        optional=OPTIONAL_OUTPUTS,
    )


def _ask(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
