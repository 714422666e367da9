"""The fault-injection suite's place in the test run.

The single-fault sweep (``test_fault_sweep.py``) runs with everything else (``make test``,
``make unit``). The double-fault and random schedules (``test_fault_search.py``) are marked
``faults`` and run only when ``-m`` selects that marker (``make faults``): any other run leaves
them out, whatever its own ``-m`` says. The figures each sweep records are printed at the end of
the run by ``figures.py`` (its hooks live in ``tests/conftest.py``, which the controlling process
of pytest-xdist loads too).
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "faults" in (config.getoption("markexpr") or ""):
        return
    left_out = [item for item in items if item.get_closest_marker("faults")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("faults")]
