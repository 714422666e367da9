"""Schedules, their runs, and the sweeps over them, as FoundationDB's simulation and TigerBeetle's
VOPR do it: the same schedule (or seed) gives the same calls and the same faults, a fault is placed
at every call and not only where one is expected, the invariants are checked after every schedule,
and a failing schedule is its own reproduction:

    .venv/bin/python -m tests.faults.sweep --schedule 'run-again@4:lost,9:crash-before'
    .venv/bin/python -m tests.faults.sweep --single            # every path, every call, every fault
    .venv/bin/python -m tests.faults.sweep --double 2000 --seed 1
    .venv/bin/python -m tests.faults.sweep --random 1000 --seed 7

A schedule is a path and its faults, each a call index and a fault (``paths.py``, ``injection.py``).
For each path the fault-free run is made first and its calls counted (N); the single sweep is every
call index 0..N-1 of the faulted action with every fault its call can get. The double sweep places a
second fault on any later call of a single schedule's run (the person's second click, the rounds and
reconciles that follow): every such pair, or a seeded sample of them. Random schedules place one to
four faults at seeded random calls of a seeded random path.
"""

from __future__ import annotations

import argparse
import io
import logging
import random
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field

from recovery_ops.service.observability import logger
from tests.faults.injection import FaultPlan, modes_for
from tests.faults.invariants import violations
from tests.faults.paths import PATHS
from tests.faults.world import World


@dataclass(frozen=True)
class Schedule:
    path: str
    faults: tuple[tuple[int, str | int], ...] = ()
    label: str = ""  # where it came from ("seed 7 #12"), for the reader

    def __str__(self) -> str:
        faults = ",".join(f"{index}:{mode}" for index, mode in self.faults) or "no-fault"
        return f"{self.path}@{faults}" + (f" ({self.label})" if self.label else "")

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """``run-again@4:lost,9:crash-before`` as printed (a label in parentheses is left out); a
        number for a fault picks among the faults that call can get, as random schedules do."""
        path, _, faults = text.split(" (")[0].strip().partition("@")
        parsed: list[tuple[int, str | int]] = []
        for fault in filter(None, faults.split(",")):
            if fault == "no-fault":
                continue
            index, _, mode = fault.partition(":")
            parsed.append((int(index), int(mode) if mode.isdigit() else mode))
        return cls(path, tuple(parsed))


@dataclass
class Run:
    schedule: Schedule
    violations: list[str]
    trace: list[str]  # the kind of each numbered call
    action_calls: int  # calls made by the faulted action itself (N, fault-free)
    calls_before_final: int  # … and by everything after it, up to the final reconcile
    fired: list[tuple[int, str, str]]  # (index, kind, fault) of each fault that fired
    attempts: list[str]  # how each process ended: "ok", "crash", an error's name
    dead_lettered: int = 0  # contract messages SQS moved to the recovery DLQ (intake)


def run_schedule(schedule: Schedule) -> Run:
    """Set the path's world up, run its action under the schedule's faults, carry on as production
    would, reconcile once more with no fault, and check every invariant."""
    path = PATHS[schedule.path]
    plan = FaultPlan(dict(schedule.faults), armed=False)
    world = World(plan)
    context = path.setup(world)
    plan.count, plan.trace, plan.armed = 0, [], True  # the setup's calls are not the product's
    first = world.attempt(lambda: path.act(world, context))
    action_calls = plan.count
    path.carry_on(world, context, first)
    calls_before_final = plan.count
    final = world.final_reconcile()
    found = [] if final.ok else [f"the final reconcile, with no fault, failed: {final.failure}"]
    found += violations(world, context)
    found += [f"({path.name}) {problem}" for problem in path.check(world, context)]
    return Run(
        schedule,
        found,
        plan.trace,
        action_calls,
        calls_before_final,
        plan.fired,
        world.attempts,
        len(context.dead_lettered),
    )


# ---------------------------------------------------------------------- schedules
def baselines(paths: Iterable[str] = PATHS) -> dict[str, Run]:
    """Each path's fault-free run (it must hold every invariant too)."""
    return {name: run_schedule(Schedule(name)) for name in paths}


def single_schedules(base: Run) -> list[Schedule]:
    """Every call of the path's action (0..N-1) with every fault that call can get."""
    name = base.schedule.path
    return [
        Schedule(name, ((index, mode),))
        for index in range(base.action_calls)
        for mode in modes_for(base.trace[index])
    ]


def double_schedules(singles: Iterable[Run]) -> list[Schedule]:
    """Every second fault after a single schedule's fault, on any later call of that run."""
    pairs = []
    for run in singles:
        ((index, mode),) = run.schedule.faults
        for later in range(index + 1, run.calls_before_final):
            pairs += [
                Schedule(run.schedule.path, ((index, mode), (later, second)))
                for second in modes_for(run.trace[later])
            ]
    return pairs


def sample(schedules: list[Schedule], count: int, seed: int) -> list[Schedule]:
    """A seeded sample of about ``count``, the same share for each path (all of a path's schedules
    when it has no more than its share), in the order given."""
    by_path: dict[str, list[Schedule]] = {}
    for schedule in schedules:
        by_path.setdefault(schedule.path, []).append(schedule)
    share = -(-count // max(1, len(by_path)))
    rng = random.Random(seed)
    chosen = []
    for path in sorted(by_path):
        found = by_path[path]
        chosen += found if len(found) <= share else rng.sample(found, share)
    return chosen


def random_schedules(bases: dict[str, Run], count: int, seed: int) -> list[Schedule]:
    """``count`` schedules of 1 to 4 faults at random calls of random paths, all from ``seed``; each
    fault is "the k-th fault this call can get", so every one of them fires where it lands."""
    rng = random.Random(seed)
    names = sorted(bases)
    schedules = []
    for number in range(count):
        name = rng.choice(names)
        span = max(1, bases[name].calls_before_final * 3 // 2)  # faulted runs make more calls
        indexes = sorted(rng.sample(range(span), min(span, rng.randint(1, 4))))
        faults = tuple((index, rng.randrange(6)) for index in indexes)
        schedules.append(Schedule(name, faults, f"seed {seed} #{number}"))
    return schedules


# ---------------------------------------------------------------------- sweeps and their figures
@dataclass
class SweepReport:
    kind: str
    schedules: Counter[str] = field(default_factory=Counter)  # per path
    faults: Counter[str] = field(default_factory=Counter)  # faults that fired, per fault
    failed: list[Run] = field(default_factory=list)  # the runs with violations
    dead_lettered: int = 0  # contract messages sent to the recovery DLQ, over every run
    runs: list[Run] = field(default_factory=list, repr=False)
    wall_s: float = 0.0

    @property
    def violations(self) -> int:
        return sum(len(run.violations) for run in self.failed)

    def figures(self) -> dict:
        return {
            "kind": self.kind,
            "schedules": sum(self.schedules.values()),
            "schedules_per_path": dict(sorted(self.schedules.items())),
            "faults_per_mode": dict(sorted(self.faults.items())),
            "violations": self.violations,
            "dead_lettered": self.dead_lettered,
            "failing_schedules": [str(run.schedule) for run in self.failed],
            "wall_s": round(self.wall_s, 2),
        }

    def lines(self) -> list[str]:
        figures = self.figures()
        lines = [
            f"{self.kind}: {figures['schedules']} schedules, {figures['violations']} violations, "
            f"{figures['dead_lettered']} messages dead-lettered, {figures['wall_s']} s",
            "  per path: " + ", ".join(f"{k} {v}" for k, v in figures["schedules_per_path"].items()),
            "  faults fired: " + ", ".join(f"{k} {v}" for k, v in figures["faults_per_mode"].items()),
        ]
        for run in self.failed:
            lines.append(f"  FAILS {run.schedule}")
            lines += [f"    {problem}" for problem in run.violations]
        return lines


def sweep(
    kind: str,
    schedules: Iterable[Schedule],
    bases: dict[str, Run] | None = None,
) -> SweepReport:
    """Run every schedule; with ``bases``, also check that a run made the same calls as the
    fault-free one up to its first fault (the schedule means what it says)."""
    report = SweepReport(kind)
    started = time.perf_counter()
    for schedule in schedules:
        run = run_schedule(schedule)
        if bases is not None and schedule.faults:
            first = min(index for index, _ in schedule.faults)
            base = bases[schedule.path].trace
            if run.trace[:first] != base[:first]:
                run.violations.append(
                    f"not deterministic: the calls before {first} differ from the fault-free run"
                )
        report.schedules[schedule.path] += 1
        report.faults.update(mode for _, _, mode in run.fired)
        report.dead_lettered += run.dead_lettered
        report.runs.append(run)
        if run.violations:
            report.failed.append(run)
    report.wall_s = time.perf_counter() - started
    return report


def single_sweep(paths: Iterable[str] = PATHS) -> tuple[dict[str, Run], SweepReport]:
    bases = baselines(paths)
    schedules = [s for base in bases.values() for s in single_schedules(base)]
    return bases, sweep("single faults", schedules, bases)


# ---------------------------------------------------------------------- the command line
def _describe(run: Run) -> list[str]:
    lines = [f"schedule {run.schedule}"]
    lines.append(
        f"  calls: {run.action_calls} by the action, {run.calls_before_final} before the final reconcile"
    )
    fired = {index: mode for index, _, mode in run.fired}
    for index, kind in enumerate(run.trace):
        mark = f"  <- {fired[index]}" if index in fired else ""
        lines.append(f"  {index:3d} {kind}{mark}")
    lines.append(f"  processes: {', '.join(run.attempts)}")
    lines += [f"  VIOLATION {problem}" for problem in run.violations] or ["  no violation"]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.faults.sweep", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--schedule", help="run one schedule and show its calls, e.g. 'reject@3:lost'")
    parser.add_argument("--path", action="append", choices=sorted(PATHS), help="only these paths")
    parser.add_argument("--single", action="store_true", help="the single-fault sweep")
    parser.add_argument("--double", type=int, metavar="PAIRS", help="a seeded sample of double faults")
    parser.add_argument("--random", type=int, metavar="SCHEDULES", help="seeded random schedules")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="with the product's own logs and metrics")
    args = parser.parse_args(argv)
    if args.schedule:
        with _quiet(not args.verbose):
            run = run_schedule(Schedule.parse(args.schedule))
        print("\n".join(_describe(run)))
        return 1 if run.violations else 0
    paths = args.path or list(PATHS)
    with _quiet(not args.verbose):
        bases, single = single_sweep(paths)
        reports = [single] if args.single or not (args.double or args.random) else []
        if args.double:
            pairs = sample(double_schedules(single.runs), args.double, args.seed)
            reports.append(sweep(f"double faults (seed {args.seed})", pairs))
        if args.random:
            schedules = random_schedules(bases, args.random, args.seed)
            reports.append(sweep(f"random schedules (seed {args.seed})", schedules))
    for report in reports:
        print("\n".join(report.lines()))
    return 1 if any(report.violations for report in reports) else 0


@contextmanager
def _quiet(quiet: bool) -> Iterator[None]:
    """The product's logs and metrics (JSON lines on stdout) kept out of the sweep's own output."""
    if not quiet:
        yield
        return
    level = logger.log_level
    logger.setLevel(logging.CRITICAL)
    try:
        with redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


if __name__ == "__main__":
    raise SystemExit(main())
