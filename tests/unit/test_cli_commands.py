"""`recovery-ops` is a table of commands, each imported only when it runs: its help and instrument
load no moto, Flask or Bolt, and a command that needs the ``[local]`` extra says what to install
when it is missing instead of a traceback. Each case runs `recovery-ops` in a fresh interpreter,
the only place that shows what a command imports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from recovery_ops.service.cli.commands import COMMANDS, INSTALL_LOCAL, LOCAL_EXTRA

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "shipping_workflow.asl.json"
HEAVY = ("moto", "flask", "slack_bolt")
COMMAND_MODULES = {command.run.partition(":")[0] for command in COMMANDS}
#: `recovery-ops ARGV` in a fresh interpreter whose imports of the top-level packages REFUSED fail
#: as if they were not installed; the modules it imported are written to REPORT when it exits
RECOVERY_OPS = """
import atexit, json, sys

report, refused, *argv = sys.argv[1:]


class NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in refused.split(","):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
atexit.register(lambda: open(report, "w").write(json.dumps(sorted(sys.modules))))
from recovery_ops.service.cli import main

sys.exit(main(argv))
"""


@dataclass
class Run:
    status: int
    out: str
    err: str
    modules: set[str]

    def imported(self, *packages: str) -> set[str]:
        return {name for name in self.modules if name.partition(".")[0] in packages}


def recovery_ops(
    tmp_path: Path, *argv: str, refused: tuple[str, ...] = (), environ: dict[str, str] | None = None
) -> Run:
    report = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RECOVERY_OPS, str(report), ",".join(refused), *argv],
        cwd=ROOT,
        env={**os.environ, **(environ or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, set(json.loads(report.read_text())))


def test_the_help_imports_no_command_and_nothing_heavy(tmp_path: Path) -> None:
    # Given / When
    run = recovery_ops(tmp_path, "--help")

    # Then every command is named, none of their modules was imported, nor moto, Flask or Bolt
    assert run.status == 0
    assert all(re.search(rf"^    {command.name}\b", run.out, re.MULTILINE) for command in COMMANDS)
    assert run.imported(*HEAVY) == set()
    assert run.modules & COMMAND_MODULES == set()


def test_a_commands_help_imports_its_own_module_only(tmp_path: Path) -> None:
    # Given / When
    run = recovery_ops(tmp_path, "list", "--help")

    # Then
    assert run.status == 0 and "--in-flight" in run.out
    assert run.modules & COMMAND_MODULES == {"recovery_ops.service.cli.operate"}
    assert run.imported(*HEAVY) == set()


def test_instrument_imports_nothing_heavy(tmp_path: Path) -> None:
    # Given
    output = tmp_path / "out.asl.json"

    # When
    run = recovery_ops(
        tmp_path, "instrument", str(FIXTURE), "--state", "Book carrier", "--output", str(output)
    )

    # Then it wrote the definition, and imported neither moto, Flask nor Bolt
    assert run.status == 0, run.err
    assert "Request recovery: Book carrier" in output.read_text()
    assert run.imported(*HEAVY) == set()
    assert run.modules & COMMAND_MODULES == {"recovery_ops.service.cli.instrument"}


@pytest.mark.parametrize(
    ("argv", "command"),
    [(["demo"], "demo"), (["try", str(FIXTURE)], "try"), (["serve", "--local"], "serve")],
    ids=["demo", "try", "serve --local"],
)
def test_without_the_local_extra_a_command_that_needs_it_says_what_to_install(
    argv: list[str], command: str, tmp_path: Path
) -> None:
    # Given an interpreter without moto

    # When
    run = recovery_ops(tmp_path, *argv, refused=("moto",))

    # Then one line says what to install, with exit code 2, and nothing started
    assert run.err == (
        f"recovery-ops {command} needs the local extra: pip install 'recovery-ops[local]' "
        "(no module named moto)\n"
    )
    assert run.status == 2
    assert run.out == ""


def test_serve_over_http_without_flask_says_what_to_install(tmp_path: Path) -> None:
    # Given an interpreter without Flask, and the Slack app's settings for HTTP
    environ = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "secret", "SLACK_APP_TOKEN": ""}

    # When
    run = recovery_ops(tmp_path, "serve", refused=("flask",), environ=environ)

    # Then the extra is named when Flask is reached, instead of a traceback
    assert run.status == 2
    assert run.err.endswith(
        f"recovery-ops serve needs the local extra: {INSTALL_LOCAL} (no module named flask)\n"
    )
    assert "Traceback" not in run.err


def test_a_command_that_does_not_need_the_extra_runs_without_it(tmp_path: Path) -> None:
    # Given an interpreter without any of the extra's packages
    output = tmp_path / "out.asl.json"

    # When
    run = recovery_ops(
        tmp_path,
        "instrument",
        str(FIXTURE),
        "--state",
        "Book carrier",
        "--output",
        str(output),
        refused=LOCAL_EXTRA,
    )

    # Then
    assert run.status == 0, run.err
    assert output.exists()


def test_the_extras_modules_are_the_packages_of_the_local_extra() -> None:
    # Given the local extra as pyproject.toml declares it (pytest: the plugin's, no command's)
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["local"]
    declared = {canonicalize_name(Requirement(line).name) for line in extra} - {"pytest"}

    # When the modules the command line looks for are traced to their packages
    distributions = packages_distributions()
    checked = {canonicalize_name(d) for module in LOCAL_EXTRA for d in distributions.get(module, [])}

    # Then each package of the extra is looked for, and nothing else
    assert checked == declared


def test_every_command_names_work_that_exists() -> None:
    # Given / When
    missing = []
    for command in COMMANDS:
        try:
            command.runner()
        except (ImportError, AttributeError) as exc:
            missing.append(f"{command.name}: {exc}")

    # Then
    assert missing == []


def test_only_serve_imports_the_slack_app() -> None:
    # Given the command line's modules
    modules = sorted((ROOT / "service" / "cli").glob("*.py"))

    # When
    slack_import = re.compile(r"^\s*(from|import) recovery_ops\.slack_app\b", re.M)
    importing = [p.name for p in modules if slack_import.search(p.read_text())]

    # Then its services come from service/composition.py: only serve reaches into the Slack app
    assert importing == ["serve.py"]
