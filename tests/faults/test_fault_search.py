"""Beyond the single sweep (``make faults``): two faults in one schedule, and seeded random
schedules of one to four faults. Marked ``faults``: only a run whose ``-m`` selects the marker
collects them (``conftest.py``).

``FAULT_PAIRS`` (default 2000) double-fault schedules are sampled, the same share per path, from
every pair (a single schedule's fault, then any later call of that run: the second click, the rounds
and reconciles after it) with ``FAULT_SEED`` (default 1); ``FAULT_SCHEDULES`` (default 1000) random
schedules come from the same seed. A schedule that breaks an invariant fails, with the command
that reproduces it.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.faults.figures import FIGURES
from tests.faults.paths import PATHS
from tests.faults.sweep import (
    SweepReport,
    baselines,
    double_schedules,
    random_schedules,
    sample,
    single_sweep,
    sweep,
)

pytestmark = pytest.mark.faults

SEED = int(os.environ.get("FAULT_SEED", "1"))
PAIRS = int(os.environ.get("FAULT_PAIRS", "2000"))
SCHEDULES = int(os.environ.get("FAULT_SCHEDULES", "1000"))
RANDOM_PARTS = 4  # random schedules are run in this many tests, so pytest-xdist shares them out


def _verdict(report: SweepReport, record_property: pytest.RecordProperty) -> None:
    record_property(FIGURES, json.dumps(report.figures()))
    print("\n".join(report.lines()))
    reproduce = [
        f".venv/bin/python -m tests.faults.sweep --schedule '{run.schedule}'" for run in report.failed
    ]
    assert report.violations == 0, "\n".join([*report.lines(), *reproduce])


@pytest.mark.parametrize("path", sorted(PATHS))
def test_two_faults_in_one_schedule_keep_every_invariant(
    path: str, record_property: pytest.RecordProperty
) -> None:
    _, single = single_sweep([path])
    share = -(-PAIRS // len(PATHS))

    report = sweep(f"double faults (seed {SEED})", sample(double_schedules(single.runs), share, SEED))

    _verdict(report, record_property)


@pytest.mark.parametrize("part", range(RANDOM_PARTS))
def test_seeded_random_schedules_keep_every_invariant(
    part: int, record_property: pytest.RecordProperty
) -> None:
    schedules = random_schedules(baselines(), SCHEDULES, SEED)[part::RANDOM_PARTS]

    report = sweep(f"random schedules (seed {SEED})", schedules)

    _verdict(report, record_property)
