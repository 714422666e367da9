"""The fault sweeps' figures at the end of a test run.

Each sweep test records its figures (``record_property(FIGURES, json)``); the reports carry them to
the process that prints the summary, also from pytest-xdist's workers. ``tests/conftest.py``
imports these hooks, so the controlling process has them whichever tests run.
"""

from __future__ import annotations

import json

import pytest

FIGURES = "fault_sweep"
_collected: list[dict] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _collected.extend(json.loads(value) for name, value in report.user_properties if name == FIGURES)


def pytest_terminal_summary(terminalreporter) -> None:  # noqa: ANN001 - pytest's TerminalReporter
    if not _collected:
        return
    terminalreporter.write_sep("-", "fault injection")
    by_kind: dict[str, list[dict]] = {}
    for figures in _collected:
        by_kind.setdefault(figures["kind"], []).append(figures)
    for kind, parts in sorted(by_kind.items()):
        for line in summary(kind, parts):
            terminalreporter.write_line(line)


def summary(kind: str, parts: list[dict]) -> list[str]:
    """One sweep's figures, added up over the tests that ran its parts."""
    per_path: dict[str, int] = {}
    per_mode: dict[str, int] = {}
    for part in parts:
        for path, n in part["schedules_per_path"].items():
            per_path[path] = per_path.get(path, 0) + n
        for mode, n in part["faults_per_mode"].items():
            per_mode[mode] = per_mode.get(mode, 0) + n
    schedules = sum(p["schedules"] for p in parts)
    violations = sum(p["violations"] for p in parts)
    dead_lettered = sum(p.get("dead_lettered", 0) for p in parts)
    wall = sum(p["wall_s"] for p in parts)
    return [
        f"{kind}: {schedules} schedules, {violations} violations, {dead_lettered} messages dead-lettered, "
        f"{wall:.1f} s of sweeping",
        "  per path: " + ", ".join(f"{k} {v}" for k, v in sorted(per_path.items())),
        "  faults fired: " + ", ".join(f"{k} {v}" for k, v in sorted(per_mode.items())),
    ]
