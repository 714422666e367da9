"""`recovery-ops dlq`: the dead-letter queues from the command line, on the same core as the Slack app.

  recovery-ops dlq                             each DLQ's depth and oldest messages (nothing consumed)
  recovery-ops dlq redrive [--rate N] [--yes]  move the recovery DLQ back to the recovery queue

Queues come from ``--orders-dlq-url``, ``--recovery-dlq-url``, ``--recovery-queue-url``, else from
the outputs of the stack named by ``--stack`` (``OrdersDeadLetterQueueUrl``,
``RecoveryDeadLetterQueueUrl``, ``RecoveryQueueUrl``), else from the environment variables of the
same names as the options (``ORDERS_DLQ_URL`` …). Only the
recovery DLQ can be redriven (the orders DLQ is no queue's DLQ: SQS cannot move its messages, and
each is a decision already taken). The rate is ``--rate``, else ``DLQ_REDRIVE_RATE_PER_SECOND``,
else 10 a second. With ``--table``, ``--stack`` or ``RECOVERIES_TABLE_NAME`` the redrive is audited
as ``cli:<user>`` on the item ``dlq#<queue name>``, as a click in Slack would be. The heavy imports
wait until the command runs: building the parser stays cheap for every `recovery-ops` command.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.recovery.dead_letter_queues import DeadLetterQueues, DeadLetterReport

Print = Callable[[str], None]
DEFAULT_PREVIEW = 5  # the oldest messages shown per queue, as `/recoveries dlq` shows them
#: option (attribute) → the stack output it comes from with --stack
STACK_OUTPUTS = {
    "orders_dlq_url": "OrdersDeadLetterQueueUrl",
    "recovery_dlq_url": "RecoveryDeadLetterQueueUrl",
    "recovery_queue_url": "RecoveryQueueUrl",
    "table": "RecoveriesTableName",
}
OPTIONAL_OUTPUTS = ("orders_dlq_url",)  # a stack without the order example has no orders DLQ
_VARIABLES = {
    "orders_dlq_url": "ORDERS_DLQ_URL",
    "recovery_dlq_url": "RECOVERY_DLQ_URL",
    "recovery_queue_url": "RECOVERY_QUEUE_URL",
    "table": "RECOVERIES_TABLE_NAME",
}


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


def dlq_command(
    args: argparse.Namespace,
    out: Print = print,
    confirm: Callable[[str], bool] | None = None,
    sqs: object | None = None,
) -> int:
    """Run `recovery-ops dlq [show|redrive]`; the exit status (0 done, 1 AWS refused, 2 bad request)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from service import aws_clients
    from service.recovery.dead_letter_audit import DeadLetterAudit
    from service.recovery.dead_letter_queues import DeadLetterError, DeadLetterQueues, standard_queues
    from service.stack_outputs import StackOutputError

    try:
        settings = queue_settings(args)
    except StackOutputError as exc:
        print(f"recovery-ops dlq: {exc}", file=sys.stderr)
        return 2
    queues = standard_queues(
        settings["orders_dlq_url"], settings["recovery_dlq_url"], settings["recovery_queue_url"]
    )
    if not queues:
        print(
            "recovery-ops dlq: say where the DLQs are: --stack NAME, or --orders-dlq-url / "
            "--recovery-dlq-url (or ORDERS_DLQ_URL / RECOVERY_DLQ_URL)",
            file=sys.stderr,
        )
        return 2
    table = settings["table"]
    try:
        dead_letters = DeadLetterQueues(
            sqs or aws_clients.client("sqs"),
            queues,
            rate_per_second=_default_rate(),
            audit=DeadLetterAudit(table, aws_clients.client("dynamodb")) if table else None,
        )
        if (getattr(args, "action", None) or "show") == "redrive":
            return _redrive(dead_letters, args, out, confirm or _ask)
        _show(dead_letters, getattr(args, "preview", DEFAULT_PREVIEW), out)
        return 0
    except DeadLetterError as exc:
        print(f"recovery-ops dlq: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"recovery-ops dlq: AWS refused: {exc}", file=sys.stderr)
        return 1


def _show(dead_letters: DeadLetterQueues, preview: int, out: Print) -> list[DeadLetterReport]:
    from service.operations import printable
    from service.recovery.dead_letter_preview import age_text

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


def _redrive(dead_letters: DeadLetterQueues, args: argparse.Namespace, out: Print, ask: Callable) -> int:
    from service.recovery.dead_letter_queues import RECOVERY, DeadLetterError

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
    task = dead_letters.redrive(RECOVERY, f"cli:{getpass.getuser()}", rate_per_second=rate)
    if task.started:
        out(f"Redrive started: {task.summary()}")
        out(f"task handle: {task.task_handle}")
    else:
        out(f"Nothing new was started: {task.summary()}")
    return 0


def queue_settings(args: argparse.Namespace) -> dict[str, str | None]:
    """Each queue and the table: the option, else the stack's output (``--stack``), else the
    environment variable."""
    from service import aws_clients
    from service.stack_outputs import settings_from_stack

    given = {name: getattr(args, name, None) or None for name in STACK_OUTPUTS}
    settings = settings_from_stack(
        getattr(args, "stack", None),
        given,
        STACK_OUTPUTS,
        lambda: aws_clients.client("cloudformation"),
        optional=OPTIONAL_OUTPUTS,
    )
    return {name: value or os.environ.get(_VARIABLES[name]) or None for name, value in settings.items()}


def _default_rate() -> int:
    from service.recovery.dead_letter_queues import DEFAULT_REDRIVE_RATE, DeadLetterError

    raw = os.environ.get("DLQ_REDRIVE_RATE_PER_SECOND")
    if not raw:
        return DEFAULT_REDRIVE_RATE
    try:
        return int(raw)
    except ValueError as exc:
        raise DeadLetterError(f"DLQ_REDRIVE_RATE_PER_SECOND is not a whole number: {raw!r}") from exc


def _ask(question: str) -> bool:
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
