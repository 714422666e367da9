"""`recovery-ops routes`: the routing rules of a deployment, shown and tried from a terminal.

  recovery-ops routes show [--stack S | --parameter NAME | --file F]
  recovery-ops routes test --machine M --state S [--error E] [--routing R] [--stack S | ...]

The rules document comes from ``--file``, else the SSM parameter ``--parameter``, else the output
``RoutingRulesParameterName`` of the stack ``--stack``, else ``ROUTING_RULES_PARAMETER``. The
channels that decide when no rule matches are the stack's parameters (``SlackDefaultChannel``,
``SlackTechnicalChannel``, ``SlackClientDataChannel``) with ``--stack``, else the
``SLACK_DEFAULT_CHANNEL`` … variables; when neither gives them, they are shown by parameter name.
A refused document prints every problem and exits 2. The work and its imports wait until the
command runs, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from recovery_ops.service.errors import RecoveryOpsError

if TYPE_CHECKING:
    from recovery_ops.service.config import RoutesSettings
    from recovery_ops.service.recovery.access.routing_rules import RoutingRules, Rule
    from recovery_ops.service.recovery.ports.notifier import ChannelRouting

Print = Callable[[str], None]


class RoutesError(RecoveryOpsError, RuntimeError):
    """A request to change: no document named, a file that cannot be read, a stack without rules."""


def add_arguments(routes: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops routes`: its actions show and test."""
    routes.description = "The collector's routing rules: which Slack channel each recovery goes to."
    actions = routes.add_subparsers(dest="routes_action", required=True)
    show = actions.add_parser("show", help="every rule in order (first match wins) and the fallback")
    test = actions.add_parser("test", help="which rule a recovery would match, and why")
    workflow = test.add_mutually_exclusive_group(required=True)
    workflow.add_argument("--machine", help="the state machine's name or ARN")
    workflow.add_argument("--function", help="a durable function's name or ARN (its recovery's)")
    test.add_argument("--state", required=True, help="the failed state's name (a durable function's step)")
    test.add_argument(
        "--error", help="the error's name, e.g. VendorUnavailable (omit: a recovery without one)"
    )
    test.add_argument(
        "--routing",
        choices=["technical", "client-data"],
        default="technical",
        help="the recovery's routing, as its contract message says (default: technical)",
    )
    for sub in (show, test):
        source = sub.add_mutually_exclusive_group()
        source.add_argument(
            "--stack",
            metavar="NAME",
            help="the deployed stack: its output RoutingRulesParameterName and its Slack channel parameters",
        )
        source.add_argument(
            "--parameter", metavar="NAME", help="the SSM parameter of the rules (ROUTING_RULES_PARAMETER)"
        )
        source.add_argument("--file", type=Path, metavar="F", help="a rules document on disk (JSON)")


def run(args: argparse.Namespace) -> int:
    """`routes` on the ``RoutesSettings`` of the environment (a bad value stops it: exit code 2)."""
    from recovery_ops.service.cli.commands import environment_settings
    from recovery_ops.service.config import RoutesSettings

    return routes_command(args, environment_settings(RoutesSettings.from_environment, "routes"))


def routes_command(args: argparse.Namespace, settings: RoutesSettings, out: Print = print) -> int:
    """Run `routes show` or `routes test`: 0 done, 1 AWS refused, 2 a refused document or request."""
    from botocore.exceptions import BotoCoreError, ClientError

    from recovery_ops.service.recovery.access.routing_rules import RulesRefusedError, parse_rules
    from recovery_ops.service.stack_outputs import StackOutputError

    try:
        where, text, fallback = _document(args, settings)
        rules = parse_rules(text, fallback)
    except RulesRefusedError as refused:
        print(
            f"recovery-ops routes: the rules document is refused ({len(refused.problems)} problems):",
            file=sys.stderr,
        )
        for problem in refused.problems:
            print(f"  {_printable(problem)}", file=sys.stderr)
        return 2
    except (RoutesError, StackOutputError) as exc:
        print(f"recovery-ops routes: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"recovery-ops routes: AWS refused: {exc}", file=sys.stderr)
        return 1
    if args.routes_action == "show":
        _show(where, rules, out)
    else:
        decision = rules.route(_workflow_arn(args), args.state, args.error, args.routing)
        out(f"channel: {_printable(decision.channel)}")
        if decision.rule is None:
            out("rule:    none matched: the fallback decides")
        else:
            out(f"rule:    {_printable(decision.rule.name)} (rule {rules.rules.index(decision.rule) + 1})")
            if decision.rule.self_healing is not None:
                healing = "on" if decision.rule.self_healing else "off"
                if decision.rule.self_healing:
                    healing += f", at most {_healing_ceiling(decision.rule)}"
                out(f"self-healing: {healing}")
            out(f"approval: {_printable(_approval(decision.rule))}")
        for reason in decision.reasons:
            out(f"  because {_printable(reason)}")
    return 0


def _workflow_arn(args: argparse.Namespace) -> str:
    """What a recovery keeps of its workflow: a state machine's name or ARN as given; a durable
    function's ARN (a name alone is put in a Lambda ARN, which is what tells a durable recovery)."""
    if args.machine is not None:
        return str(args.machine)
    function = str(args.function)
    return function if function.startswith("arn:") else f"arn:aws:lambda:::function:{function}"


def _document(args: argparse.Namespace, settings: RoutesSettings) -> tuple[str, str | None, ChannelRouting]:
    """Where the document is (for the reader), its text, and the channels of the fallback."""
    from recovery_ops.service.recovery.ports.notifier import ChannelRouting

    channels = {
        "default": settings.default_channel,
        "technical": settings.technical_channel,
        "client_data": settings.client_data_channel,
    }
    known = bool(settings.default_channel)
    if args.file is not None:
        try:
            text = args.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise RoutesError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
        where = f"file {args.file}"
    else:
        parameter = args.parameter
        if args.stack:
            parameter, stack_channels = _from_stack(args.stack)
            channels, known = stack_channels, True
        parameter = parameter or settings.routing_rules_parameter
        if not parameter:
            raise RoutesError(
                "say where the rules are: --stack NAME, --parameter NAME or --file F "
                "(or ROUTING_RULES_PARAMETER)"
            )
        text = _parameter_text(parameter)
        where = f"parameter {parameter}"
    if not known:  # nothing says which channels the stack has: name the parameters instead
        channels = {
            "default": "<SlackDefaultChannel>",
            "technical": "<SlackTechnicalChannel>",
            "client_data": "<SlackClientDataChannel>",
        }
    fallback = ChannelRouting(
        default=channels["default"] or "<SlackDefaultChannel>",
        technical=channels["technical"],
        client_data=channels["client_data"],
    )
    return where, text, fallback


def _from_stack(stack: str) -> tuple[str, dict[str, str | None]]:
    from recovery_ops.service import aws_clients
    from recovery_ops.service.stack_outputs import ROUTING_RULES, stack_outputs_and_parameters

    outputs, parameters = stack_outputs_and_parameters(stack, aws_clients.client("cloudformation"))
    if not outputs.get(ROUTING_RULES):
        raise RoutesError(f"stack {stack!r} has no output {ROUTING_RULES}: is it a recovery-ops stack?")
    return outputs[ROUTING_RULES], {
        "default": parameters.get("SlackDefaultChannel") or None,
        "technical": parameters.get("SlackTechnicalChannel") or None,
        "client_data": parameters.get("SlackClientDataChannel") or None,
    }


def _parameter_text(name: str) -> str | None:
    from recovery_ops.service import aws_clients

    ssm = aws_clients.client("ssm")
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound as exc:
        raise RoutesError(f"no SSM parameter named {name!r} in this account and region") from exc


def _show(where: str, rules: RoutingRules, out: Print) -> None:
    from recovery_ops.service.recovery.access.routing_rules import fallback_reason
    from recovery_ops.service.recovery.model.contract import Routing

    if rules.rules:
        out(f"Routing rules ({_printable(where)}), first match wins:")
    else:
        out(f"No routing rules ({_printable(where)}): the fallback decides every recovery.")
    for number, rule in enumerate(rules.rules, start=1):
        _show_rule(number, rule, out)
    out("fallback (when no rule matches):")
    for routing in Routing:
        channel = rules.fallback.channel_for(routing)
        out(f"  {routing.value:<12} {_printable(channel)}  ({fallback_reason(rules.fallback, routing)})")


def _show_rule(number: int, rule: Rule, out: Print) -> None:
    out(f"{number}. {_printable(rule.name)}")
    out(f"     match:      {_printable(rule.match.describe())}")
    out(f"     channel:    {_printable(rule.channel)}")
    team = rule.team.describe() if rule.team else "none declared: only the admins act"
    out(f"     team:       {_printable(team)}")
    viewers = rule.viewers.describe() if rule.viewers else "none declared"
    out(f"     viewers:    {_printable(viewers)}")
    levels = [
        f"after {level.after_minutes} min mention {level.mention_user_group}"
        + (f" in {level.channel}" if level.channel else "")
        for level in rule.escalation
    ]
    out(f"     escalation: {_printable('; '.join(levels) or 'none')}")
    healing = {True: "on", False: "off"}.get(rule.self_healing, "the stack's SelfHealingByDefault")  # type: ignore[arg-type]
    out(f"     self-healing: {healing}")
    if rule.self_healing is not False:
        out(f"     self-healing at most: {_healing_ceiling(rule)}")
    out(f"     approval:   {_printable(_approval(rule))}")


def _approval(rule: Rule) -> str:
    """The rule's approval policy, for people (none: every action runs as it is asked)."""
    if rule.approval is None:
        return "none: every action runs when asked"
    return rule.approval.describe()


def _healing_ceiling(rule: Rule) -> str:
    """The most resumes a second self-healing ramps up to for the rule's recoveries."""
    if rule.self_healing_max_per_second is not None:
        return f"{rule.self_healing_max_per_second:g} a second"
    return "the stack's SelfHealingResumesPerSecond"


def _printable(value: object) -> str:
    from recovery_ops.service.operator import printable

    return printable(value)
