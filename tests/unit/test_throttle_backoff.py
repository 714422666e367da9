"""The pause between throttled SendTask* calls: full jitter under an exponential, capped ceiling."""

from __future__ import annotations

import pytest

from recovery_ops.service.recovery.lifecycle import actions
from recovery_ops.service.recovery.lifecycle.actions import ThrottleBackoff


def test_each_pause_is_drawn_up_to_a_ceiling_that_doubles_and_is_capped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a backoff whose random draw always lands on its upper bound
    monkeypatch.setattr(actions.random, "uniform", lambda low, high: high)
    pauses: list[float] = []
    backoff = ThrottleBackoff(sleep=pauses.append)

    # When it pauses after each of the first eight attempts
    for attempt in range(8):
        backoff.pause(attempt)

    # Then the ceilings are 0.2 s doubling each time, never above 5 s
    assert pauses == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])


def test_each_pause_is_drawn_from_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a backoff that records the range of each draw
    ranges: list[tuple[float, float]] = []
    monkeypatch.setattr(actions.random, "uniform", lambda low, high: ranges.append((low, high)) or low)
    backoff = ThrottleBackoff(base_seconds=1.0, max_seconds=3.0, sleep=lambda _: None)

    # When it pauses three times
    for attempt in range(3):
        backoff.pause(attempt)

    # Then every draw starts at zero (full jitter) and stops at the capped ceiling
    assert ranges == [(0, 1.0), (0, 2.0), (0, 3.0)]
