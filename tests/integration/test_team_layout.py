"""recovery-ops beside a team whose repository has its own top-level ``service`` and ``slack_app``
packages (the aws-lambda-handler-cookbook layout): recovery-ops installs only under its own import root
(``recovery_ops.service``, ``recovery_ops.slack_app``), so the team's plugin test imports the team's
``service.handlers`` in the same process as the plugin, under ``pytest`` and ``python -m pytest``,
from the editable install the docs describe and from a wheel installed non-editable, and
``recovery-ops try`` runs from that wheel (its template.yaml and ASL definitions ship inside it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent  # the project's venv, where recovery-ops is installed editable

CHARGE = {
    "Comment": "Charge an order's card",
    "StartAt": "Charge card",
    "States": {
        "Charge card": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${ChargeFunction}", "Payload.$": "$"},
            "ResultSelector": {"charged.$": "$.Payload.charged"},
            "ResultPath": "$.payment",
            "End": True,
        }
    },
}

TEAM_FILES = {
    "service/__init__.py": '"""The payments team\'s service (the cookbook layout)."""\n',
    "service/handlers/__init__.py": "",
    "service/handlers/charge.py": (
        '"""Thin handler: parse, call the logic, return."""\n'
        "from service.logic.cards import charge\n\n\n"
        "def lambda_handler(event, context):\n"
        '    return {"charged": charge(event["order_id"], event["amount"])}\n'
    ),
    "service/logic/__init__.py": "",
    "service/logic/cards.py": (
        "DECLINED = set()\n\n\n"
        "class CardDeclined(Exception):\n    pass\n\n\n"
        "def charge(order_id, amount):\n"
        "    if order_id in DECLINED:\n"
        '        raise CardDeclined(f"card declined for {order_id}")\n'
        "    return amount\n"
    ),
    "slack_app/__init__.py": 'TEAM = "payments"\n',
    "tests/__init__.py": "",
    "tests/test_charge.py": (
        "from pathlib import Path\n\n"
        "import service\n"
        "import slack_app\n"
        "from service.handlers import charge\n"
        "from service.logic import cards\n\n\n"
        "def test_a_declined_card_is_charged_after_run_again(recovery_stack, desk):\n"
        "    team = Path(__file__).resolve().parents[1]\n"
        "    assert Path(service.__file__).parent == team / 'service' and slack_app.TEAM == 'payments'\n"
        "    cards.DECLINED.add('o-1')\n"
        "    machine = recovery_stack.deploy_state_machine(\n"
        "        team / 'statemachine' / 'charge.recovering.asl.json',\n"
        "        functions={'ChargeFunction': charge.lambda_handler},\n"
        "    )\n"
        "    execution = machine.start({'order_id': 'o-1', 'amount': 120})\n\n"
        "    recovery = desk.wait_for_recovery(execution)\n"
        "    assert (recovery.failed_state, recovery.error) == ('Charge card', 'CardDeclined')\n"
        "    cards.DECLINED.clear()\n"
        "    desk.run_again(recovery)\n\n"
        "    assert desk.wait_for_output(execution)['payment'] == {'charged': 120}\n"
    ),
}


def team_repository(directory: Path, bin_dir: Path, environment: dict[str, str]) -> Path:
    """The team's repository, its definition instrumented with ``recovery-ops instrument``."""
    directory.mkdir()
    for relative, text in TEAM_FILES.items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_text(text)
    definition = directory / "statemachine" / "charge.asl.json"
    definition.parent.mkdir()
    definition.write_text(json.dumps(CHARGE, indent=2))
    instrumented = definition.with_name("charge.recovering.asl.json")
    run([str(bin_dir / "recovery-ops"), "instrument", str(definition), "--state", "Charge card",
         "-o", str(instrumented)], directory, environment)  # fmt: skip
    return directory


def run(command: Sequence[str], cwd: Path, environment: dict[str, str], stdin: str = "") -> str:
    finished = subprocess.run(
        command, cwd=cwd, env=environment, input=stdin, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, f"{command}:\n{finished.stdout}{finished.stderr}"
    return finished.stdout


def clean_environment() -> dict[str, str]:
    """This process's environment without what pytest, the test stack or an import path put in it."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AWS_")) and k != "PYTHONPATH"
    }


def run_both_ways(
    python: Path, pytest_command: Sequence[str], team: Path, environment: dict[str, str]
) -> None:
    """The team's test under ``pytest`` and under ``python -m pytest``, side by side."""
    commands = [[*pytest_command, "-q", "-p", "no:cacheprovider"], [str(python), "-m", "pytest", "-q"]]
    with ThreadPoolExecutor(2) as pool:
        outputs = list(pool.map(lambda command: run(command, team, environment), commands))
    for output in outputs:
        assert "1 passed" in output, output


def test_a_cookbook_layout_team_tests_with_the_plugin_under_pytest_and_python_m_pytest(
    tmp_path: Path,
) -> None:
    # Given a team repository with its own service/, service/handlers/ and slack_app/, beside
    # recovery-ops installed editable as the docs say (this project's venv)
    environment = clean_environment()
    team = team_repository(tmp_path / "payments", VENV_BIN, environment)

    # When its plugin test runs, Then it passes both ways, the team's packages its own
    run_both_ways(VENV_BIN / "python", [str(VENV_BIN / "pytest")], team, environment)


def installed_wheel(tmp_path: Path) -> Path:
    """A fresh environment with recovery-ops installed from a wheel built from the checkout (not
    editable); the dependencies come from this project's venv, whose editable install it never loads
    (its .pth files are not processed through a path entry). Its bin directory."""
    source = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("service", "slack_app", "infra"):
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md", "template.yaml"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(source)], tmp_path, clean_environment())
    (wheel,) = wheels.glob("recovery_ops-*.whl")

    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], tmp_path, clean_environment())
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(subprocess.check_output([python, "-c", purelib], text=True).strip())
    (site / "project_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return fresh / "bin"


@pytest.fixture(scope="module")
def wheel_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_wheel(tmp_path_factory.mktemp("wheel"))


def test_from_a_wheel_installed_non_editable_the_plugin_test_passes_and_try_runs(
    wheel_bin: Path, tmp_path: Path
) -> None:
    # Given recovery-ops from a wheel, alone under its import root in a fresh environment
    environment = clean_environment()
    python = wheel_bin / "python"
    where = "import recovery_ops.service as s, importlib.util as u; print(s.__file__, u.find_spec('service'))"
    package, team_name = run([str(python), "-c", where], tmp_path, environment).split()
    assert Path(package).parents[2].name == "site-packages" and wheel_bin.parent in Path(package).parents
    assert team_name == "None"  # nothing of recovery-ops is named service
    team = team_repository(tmp_path / "payments", wheel_bin, environment)

    # When the team's plugin test runs both ways, Then it passes
    pytest_main = [str(python), "-c", "import sys, pytest; sys.exit(pytest.console_main())"]  # bin/pytest
    run_both_ways(python, pytest_main, team, environment)

    # When `recovery-ops try` runs the team's definition, "Charge card" failing until Run again
    definition = team / "statemachine" / "charge.recovering.asl.json"
    functions, order = definition.parent / "try_functions.py", definition.parent / "order.json"
    functions.write_text("def charge(event, context):\n    return {'charged': event['amount']}\n")
    order.write_text('{"order_id": "o-1", "amount": 7}')
    shown = run(
        [str(wheel_bin / "recovery-ops"), "try", str(definition), "--fail", "Charge card",
         "--function", "ChargeFunction=try_functions:charge", "--input", str(order)],
        team, environment, stdin="r\n",
    )  # fmt: skip

    # Then the recovery is posted, run again, and the execution succeeds
    assert "recovery-ops posts to #recoveries:" in shown
    assert ": SUCCEEDED" in shown and '"charged": 7' in shown, shown
