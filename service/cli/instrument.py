"""`recovery-ops instrument`: the command line of the recovery treatment for any state machine.

    recovery-ops instrument definition.asl.json --state "Charge card" [--state ...] [--output out.asl.json]
        [--queue-url URL] [--routing technical|client-data] [--timeout-seconds N] [--on-reject STATE]

Reads the definition, runs the transform (``recovery_ops.service.instrumentation.transform``, where what it
does
is described) and writes the new definition to ``--output`` or stdout, with a note per state on
stderr. Refused (exit code 2): a file that cannot be read, is not JSON or not ASL, an ``--output``
naming the definition itself, and whatever the transform refuses.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from recovery_ops.service.instrumentation.transform import (
    DEFAULT_TIMEOUT_SECONDS,
    EXPRESS,
    RECOVERY_QUEUE_PLACEHOLDER,
    STANDARD,
    Definition,
    InstrumentError,
    InstrumentOptions,
    instrument_with_report,
)
from recovery_ops.service.recovery.model.contract import Routing


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recovery-ops instrument",
        description=(
            "Write a new definition in which the chosen Task states pause for a person on failure. "
            "The state machine must be Standard: Express workflows cannot wait for a task token."
        ),
    )
    parser.add_argument("definition", type=Path, help="the state machine definition (.asl.json)")
    parser.add_argument(
        "--state",
        action="append",
        required=True,
        dest="states",
        metavar="STATE",
        help="a Task state to instrument (repeatable)",
    )
    parser.add_argument(
        "--queue-url",
        default=RECOVERY_QUEUE_PLACEHOLDER,
        help=f"the recovery queue's URL (default: the placeholder {RECOVERY_QUEUE_PLACEHOLDER})",
    )
    parser.add_argument(
        "--output", "-o", type=Path, help="where to write the new definition (default: stdout)"
    )
    parser.add_argument(
        "--routing",
        choices=[routing.value for routing in Routing],
        default=Routing.TECHNICAL.value,
        help="which support team the recoveries go to (default: technical)",
    )
    parser.add_argument(
        "--timeout-seconds",
        type=int,
        default=None,
        help=(
            f"how long a paused execution waits for a person (default: {DEFAULT_TIMEOUT_SECONDS}, 7 days, "
            "or the definition's own TimeoutSeconds if that is shorter: a warning says so); refused if "
            "not shorter than the definition's TimeoutSeconds"
        ),
    )
    parser.add_argument(
        "--on-reject",
        metavar="STATE",
        help="a state (in the same scope) to continue at on rejection or timeout, instead of failing",
    )
    parser.add_argument(
        "--workflow-type",
        type=str.upper,
        choices=[STANDARD, EXPRESS],
        default=STANDARD,
        help="the state machine's type (default: STANDARD); EXPRESS is refused: it cannot pause for a person",
    )
    return parser


def instrument_command(argv: Sequence[str]) -> int:
    """The ``instrument`` subcommand: 0 when written, 2 when the definition or the arguments are refused."""
    try:
        args = build_parser().parse_args(list(argv))
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        definition = _read_definition(args.definition)
        if args.output is not None and _same_file(args.output, args.definition):
            raise InstrumentError("--output names the definition itself; write the new definition elsewhere")
        report = instrument_with_report(
            definition,
            InstrumentOptions(
                states=tuple(args.states),
                queue_url=args.queue_url,
                routing=Routing(args.routing),
                timeout_seconds=args.timeout_seconds,
                on_reject=args.on_reject,
                workflow_type=args.workflow_type,
            ),
        )
    except InstrumentError as problem:
        print(f"recovery-ops instrument: {problem}", file=sys.stderr)
        return 2
    text = json.dumps(report.definition, indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    for note in report.notes:
        print(f"instrumented {note}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.queue_url == RECOVERY_QUEUE_PLACEHOLDER:
        print(
            f"QueueUrl is {RECOVERY_QUEUE_PLACEHOLDER}: set it with DefinitionSubstitutions "
            "(the RecoveryQueueUrl output); the role needs sqs:SendMessage on the recovery queue",
            file=sys.stderr,
        )
    return 0


def _read_definition(path: Path) -> Definition:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InstrumentError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        definition = json.loads(text)
    except ValueError as exc:
        raise InstrumentError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(definition, dict) or "States" not in definition:
        raise InstrumentError(f'{path} is not an ASL definition (no "States")')
    return definition


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


if __name__ == "__main__":
    raise SystemExit(instrument_command(sys.argv[1:]))
