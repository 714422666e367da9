"""`recovery-ops try DEFINITION.asl.json`: run a state machine once beside the recovery service, on
this machine, and answer its pauses from the terminal (``recovery_ops.service.local.programs.try_session``).

    recovery-ops try payments.recovering.asl.json --function ChargeCardFunction=payments:charge \\
        --fail "Charge card" --sub Currency=EUR --input order.json
    recovery-ops try --durable payments:handler --input order.json    # a Lambda durable function

Refused before anything is deployed (exit code 2, saying why): a missing file, a file that is not
JSON or not ASL, an Express state machine, an unknown ``--fail`` state (the states are listed), a
``--function`` no task calls, a module that cannot be imported, a ``${Key}`` without a value. The exit
code is 0 when the execution succeeded and 1 when it ended otherwise or was left running.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TRY_ENVIRONMENT = """answers (read from standard input, a line each, so a script can give them):
  r  Run again      e  Edit input (opens $EDITOR on the input JSON)      j  Reject (asks a reason)
  q  Quit (the execution is left paused and ends with the local run)

environment:
  EDITOR                  what Edit input opens (unset: the new input is read as one line of JSON)
  SLACK_BOT_TOKEN         post the messages to your workspace instead of showing a local stand-in's
  SLACK_CHANNEL           where they are posted (default recoveries)
  SLACK_API_URL           another Slack Web API endpoint
"""


def add_arguments(command: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops try`, its description and the answers and environment it reads."""
    command.description = (
        "Deploy DEFINITION into an embedded moto stack beside the recovery service, run it "
        "once, show the Slack messages of each pause and answer them from the terminal, then print the "
        "execution's status and output. The state machine must be Standard (the recovery pattern waits "
        "for a task token); `recovery-ops instrument` gives its Tasks the recovery treatment."
    )
    command.epilog = TRY_ENVIRONMENT
    command.formatter_class = argparse.RawDescriptionHelpFormatter
    command.add_argument(
        "definition", type=Path, nargs="?", help="the state machine definition (.asl.json); or --template"
    )
    command.add_argument(
        "--template",
        type=Path,
        metavar="TEMPLATE",
        help="your own SAM template: deploy its functions, state machines, tables, queues and topics "
        "beside the recovery service (same SAM translation and IAM check as recovery-ops's) and try "
        "--state-machine; its functions are the template's, so no --function",
    )
    command.add_argument(
        "--durable",
        metavar="module:function",
        help="a Lambda durable function's handler (@durable_execution) instead of a definition: run once "
        "in AWS's local durable runner; its steps pause through wait_for_recovery; modules are found here",
    )
    command.add_argument(
        "--state-machine",
        metavar="LOGICAL_ID",
        help="with --template: the state machine to run (default: the template's only one)",
    )
    command.add_argument(
        "--parameter",
        action="append",
        default=[],
        dest="parameters",
        metavar="KEY=VALUE",
        help="with --template: a template parameter over its default (repeatable)",
    )
    command.add_argument(
        "--function",
        action="append",
        default=[],
        dest="functions",
        metavar="NAME=module:function",
        help="answer the Lambda function NAME (its name or ARN as the definition calls it, or the key "
        "of its ${Key}) with a Python function; modules are found beside the definition or here "
        "(repeatable; other Lambda tasks answer their input back)",
    )
    command.add_argument(
        "--fail",
        action="append",
        default=[],
        dest="fails",
        metavar="STATE[=Error]",
        help="fail this Lambda task (with Error, default FailedOnPurpose) every time until it is run "
        "again from the desk (repeatable)",
    )
    command.add_argument(
        "--sub",
        action="append",
        default=[],
        dest="subs",
        metavar="KEY=VALUE",
        help="replace ${KEY} in the definition, as DefinitionSubstitutions do (repeatable)",
    )
    command.add_argument(
        "--input", type=Path, metavar="FILE", help="the execution's input, a JSON file (default: {})"
    )
    command.add_argument(
        "--workflow-type",
        type=str.upper,
        choices=["STANDARD", "EXPRESS"],
        default="STANDARD",
        help="the state machine's type (default: STANDARD); EXPRESS is refused: it cannot pause for a person",
    )
    command.add_argument(
        "--wait-seconds",
        type=float,
        default=120.0,
        help="how long to wait for the execution to pause or end, after it starts and after each "
        "answer (default 120)",
    )


def try_command(args: argparse.Namespace) -> int:
    """0: the execution succeeded; 1: it failed or was left running; 2: refused."""
    from recovery_ops.service.config import ConfigurationError, TrySettings
    from recovery_ops.service.local.programs.try_definition import TryError, plan_try

    if args.template is not None:
        return _try_template(args)
    if args.durable is not None:
        return _try_durable(args)
    if args.definition is None:
        print(
            "recovery-ops try: give a DEFINITION, --template TEMPLATE or --durable module:function",
            file=sys.stderr,
        )
        return 2
    try:
        settings = TrySettings.from_environment()
        plan = plan_try(
            args.definition,
            functions=args.functions,
            fails=args.fails,
            subs=args.subs,
            input_path=args.input,
            workflow_type=args.workflow_type,
            search=[Path.cwd()],
        )
    except (ConfigurationError, TryError) as problem:
        print(f"recovery-ops try: {problem}", file=sys.stderr)
        return 2
    from recovery_ops.service.local.programs.try_session import Terminal, run_try

    outcome = run_try(plan, settings, Terminal(sys.stdin, sys.stdout), wait_seconds=args.wait_seconds)
    return 0 if outcome.status == "SUCCEEDED" else 1


def _try_template(args: argparse.Namespace) -> int:
    """`try --template`: the team's template checked (before the stack is deployed where it can be),
    then deployed and its state machine run."""
    from recovery_ops.service.config import ConfigurationError, TrySettings
    from recovery_ops.service.errors import RecoveryOpsError
    from recovery_ops.service.local.programs.try_definition import TryError, read_json

    try:
        settings = TrySettings.from_environment()
        state_machine = _template_state_machine(args)
        parameters = dict(_pair(text) for text in args.parameters)
        execution_input = None if args.input is None else read_json(args.input, "the input (--input)")
    except (ConfigurationError, TryError, RecoveryOpsError) as problem:
        print(f"recovery-ops try: {problem}", file=sys.stderr)
        return 2
    from recovery_ops.service.local.programs.try_session import Terminal, run_try_template

    try:
        outcome = run_try_template(
            args.template,
            state_machine,
            settings,
            Terminal(sys.stdin, sys.stdout),
            input=execution_input,
            parameters=parameters,
            wait_seconds=args.wait_seconds,
        )
    except RecoveryOpsError as problem:  # a wrong handler path, a missing grant: nothing has run
        print(f"recovery-ops try: {problem}", file=sys.stderr)
        return 2
    return 0 if outcome.status == "SUCCEEDED" else 1


def _try_durable(args: argparse.Namespace) -> int:
    """`try --durable module:function`: the durable handler imported (refused before anything is
    deployed when it cannot be), then run in the local durable runner beside the recovery service."""
    import re

    from recovery_ops.service.config import ConfigurationError, TrySettings
    from recovery_ops.service.local.programs.try_definition import TryError, load_function, read_json

    try:
        given = _definition_options(args)
        if given:
            raise TryError(
                f"--durable takes no {', '.join(given)}: the durable function's own code decides what fails"
            )
        settings = TrySettings.from_environment()
        handler = load_function(args.durable, [Path.cwd()], option="--durable")
        execution_input = None if args.input is None else read_json(args.input, "the input (--input)")
    except (ConfigurationError, TryError) as problem:
        print(f"recovery-ops try: {problem}", file=sys.stderr)
        return 2
    from recovery_ops.service.local.programs.try_session import Terminal, run_try_durable

    module = args.durable.partition(":")[0].rsplit(".", 1)[-1]
    name = re.sub(r"[^A-Za-z0-9-]+", "-", module).strip("-")[:40] or "durable-function"
    outcome = run_try_durable(
        handler,
        name,
        settings,
        Terminal(sys.stdin, sys.stdout),
        input=execution_input,
        wait_seconds=args.wait_seconds,
    )
    return 0 if outcome.status == "SUCCEEDED" else 1


def _template_state_machine(args: argparse.Namespace) -> str:
    from recovery_ops.service.local.engine.team_template import (
        STATE_MACHINE,
        read_team_template,
        refuse_unsupported,
    )
    from recovery_ops.service.local.programs.try_definition import TryError

    given = _definition_options(args)
    if given:
        raise TryError(
            f"--template takes no {', '.join(given)}: the template names its definitions, functions and "
            "substitutions (its functions decide when a task fails)"
        )
    template = read_team_template(args.template)
    refuse_unsupported(template, args.template)
    machines = [lid for lid, res in template["Resources"].items() if res.get("Type") == STATE_MACHINE]
    if args.state_machine is None and len(machines) == 1:
        return machines[0]
    if args.state_machine not in machines:
        said = "no --state-machine given" if args.state_machine is None else f"no {args.state_machine}"
        raise TryError(f"{args.template}: {said}; its state machines: {', '.join(machines) or 'none'}")
    return str(args.state_machine)


def _definition_options(args: argparse.Namespace) -> list[str]:
    """The options given that only a DEFINITION takes (refused with --template and --durable)."""
    return [
        option
        for option, value in (
            ("DEFINITION", args.definition),
            ("--function", args.functions),
            ("--fail", args.fails),
            ("--sub", args.subs),
        )
        if value
    ]


def _pair(text: str) -> tuple[str, str]:
    from recovery_ops.service.local.programs.try_definition import TryError

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise TryError(f"--parameter {text}: say KEY=VALUE")
    return key.strip(), value
