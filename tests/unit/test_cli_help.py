"""`recovery-ops --help` tells the whole truth: every option explained, only real commands named,
and `serve` naming every environment variable it reads."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from recovery_ops.service.cli import instrument
from recovery_ops.service.cli.dead_letters import DEFAULT_PREVIEW
from recovery_ops.service.cli.parser import build_parser
from recovery_ops.service.config import ServeSettings, ServicesConfig
from recovery_ops.service.local.engine.cfn_template import TEMPLATE_PATH
from recovery_ops.service.recovery.dead_letters.queues import PREVIEW_SIZE

ROOT = Path(__file__).resolve().parents[2]
COMMAND = re.compile(r"\brecovery-ops (?!-)([\w-]+)")
# in template descriptions the product's name is also prose ("the recovery-ops functions"): commands
# are the ones in backticks there
QUOTED_COMMAND = re.compile(r"`recovery-ops ([\w-]+)")
ENVIRONMENT_READ = re.compile(r"\bos\.environ\b|\bgetenv\(")


def parsers() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser of the command line: the top level, each subcommand, and instrument's own."""
    yield from _with_subcommands("recovery-ops", build_parser())
    yield "recovery-ops instrument", instrument.build_parser()


def _with_subcommands(
    where: str, parser: argparse.ArgumentParser
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """``parser`` and its subcommands' parsers, at any depth (`routes show`, `routes test`)."""
    yield where, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _with_subcommands(f"{where} {name}", sub)


def subcommands() -> set[str]:
    top = build_parser()
    return {
        name
        for action in top._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


def documented_options() -> list[tuple[str, argparse.Action]]:
    return [
        (where, action)
        for where, parser in parsers()
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
    ]


def texts() -> Iterator[tuple[str, str]]:
    """Everything help shows: descriptions, epilogs, subcommand summaries, option help."""
    for where, parser in parsers():
        yield f"{where} (description)", parser.description or ""
        yield f"{where} (epilog)", parser.epilog or ""
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    yield f"{where} {choice.dest}", choice.help or ""
            else:
                yield f"{where} {'/'.join(action.option_strings) or action.dest}", action.help or ""


@pytest.mark.parametrize(
    ("where", "action"), documented_options(), ids=lambda v: v if isinstance(v, str) else v.dest
)
def test_every_option_of_every_subcommand_says_what_it_is_for(where: str, action: argparse.Action) -> None:
    # Given / When / Then
    assert action.help and action.help != argparse.SUPPRESS, f"{where}: {action.dest} has no help"


def test_help_names_no_command_that_does_not_exist() -> None:
    # Given
    known = subcommands()

    # When
    named = {(where, word) for where, text in texts() for word in COMMAND.findall(text)}

    # Then
    assert {(where, word) for where, word in named if word not in known} == set()
    assert ("recovery-ops (description)", "dlq") in named  # the check reads what it should


def test_template_descriptions_name_no_command_that_does_not_exist() -> None:
    # Given
    known = subcommands()

    # When (its descriptions, parameter texts and comments alike)
    named = set(QUOTED_COMMAND.findall(TEMPLATE_PATH.read_text()))

    # Then
    assert named - known == set()
    assert "dlq" in named  # the check reads what it should


def test_serve_help_names_every_environment_variable_it_reads() -> None:
    # Given what serve reads: its settings and the desk's configuration (as the Slack app's function)
    read = {field.alias for model in (ServeSettings, ServicesConfig) for field in model.model_fields.values()}
    assert {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "RECOVERIES_TABLE_NAME"} <= read

    # When
    shown = dict(parsers())["recovery-ops serve"].format_help()

    # Then
    assert sorted(name for name in read if name not in shown) == []


def test_no_command_reads_the_environment_itself_only_through_its_typed_settings() -> None:
    # Given every module a command runs in: the command line, serve, serve --local, the demo, try
    local = ROOT / "service" / "local"
    commands = [*(ROOT / "service" / "cli").glob("*.py"), ROOT / "slack_app" / "serve.py"]
    commands += [*(local / "programs").glob("*.py"), *(local / "standin").glob("*.py"), local / "desk.py"]

    # When they are read
    reading = [path.relative_to(ROOT) for path in commands if ENVIRONMENT_READ.search(path.read_text())]

    # Then none of them reads os.environ: service/config.py's settings do, once, where the command starts
    assert reading == []


def test_the_dlq_preview_default_is_the_one_slack_shows() -> None:
    # Given / When / Then
    assert DEFAULT_PREVIEW == PREVIEW_SIZE
