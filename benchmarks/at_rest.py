"""At rest: N orders paused at a recovery step cost (almost) nothing while nobody acts, as on AWS.

For each size (default 100, then 1,000): a fresh embedded stack with the Slack app, the circuit
breaker off and one group window; N one-item orders are placed while the dummy vendor is down, each
item retries and pauses for a person (N order executions waiting on N item executions), and the
collector stores every recovery. Then nothing happens for ``--idle-seconds``: the process's CPU time
over that window, against wall time, is ``idle_cpu_percent`` (of one core). The vendor comes back and
the whole group is resumed by Run again all through the Slack app's function; ``resume_all_s``
runs from the first click until every order execution is terminal. An item run again can fail at
the vendor again (a thousand resumes at once in one process slow the local vendor past the
check's 3 s timeout) and pause again: it is collected and run again in another round, as support
would (``resume_rounds``, ``paused_again``).

Figures per size: ``place_and_pause_s``, ``threads``, ``idle_cpu_percent``, ``resume_all_s``,
``succeeded``, ``rss_mb`` (resident memory at rest). Every order and every recovery of each size is
reported by end state: each order must succeed (FINISHED), each recovery end RESUMED; otherwise the
benchmark exits non-zero. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from _support import (
    WorkLedger,
    execution_work,
    orders_paused_by_an_outage,
    recovery_work,
    run_again_until_done,
    statuses,
)

from recovery_ops.service.example.supplier.dummy import VendorBehaviour
from recovery_ops.service.local.engine.stack import quiet_interpreter_logs


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def at_rest(count: int, idle_seconds: float, timeout: float, ledger: WorkLedger) -> dict:
    with orders_paused_by_an_outage(count, timeout) as (stack, slack, vendor, arns, place_and_pause_s):
        threads = threading.active_count()
        waiting = statuses(stack, arns)["RUNNING"]

        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(idle_seconds)  # the measurement: nothing happens, the process is only watched
        idle_cpu_percent = 100 * (time.process_time() - cpu) / (time.monotonic() - wall)
        rss_mb = _rss_mb()

        vendor.set_behaviour(VendorBehaviour())
        submitted = time.perf_counter()
        try:
            resumes = run_again_until_done(stack, slack, timeout)
        except TimeoutError as exc:  # what did not end is reported below, by end state
            print(f"  {exc}", flush=True)
            resumes = {"rounds": None, "paused_again": None}
        resume_all_s = time.perf_counter() - submitted
        succeeded = statuses(stack, arns)["SUCCEEDED"]
        ledger.add(execution_work(stack, f"orders ({count})", arns, "SUCCEEDED"))
        ledger.add(recovery_work(stack, f"recoveries ({count})", "RESUMED"))
    return {
        "orders": count,
        "waiting": waiting,
        "place_and_pause_s": round(place_and_pause_s, 1),
        "threads": threads,
        "idle_cpu_percent": round(idle_cpu_percent, 2),
        "rss_mb": rss_mb,
        "resume_all_s": round(resume_all_s, 1),
        "resume_rounds": resumes["rounds"],
        "paused_again": resumes["paused_again"],
        "succeeded": succeeded,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="orders per run, comma-separated")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the pause, then the resume")
    args = parser.parse_args()
    quiet_interpreter_logs()
    print(f"at_rest: orders paused at a recovery step, {args.idle_seconds:.0f} s at rest, then resumed")
    figures = {}
    ledger = WorkLedger("at_rest")
    for size in (int(s) for s in args.sizes.split(",")):
        figures[size] = at_rest(size, args.idle_seconds, args.timeout, ledger)
        print(f"  {json.dumps(figures[size])}", flush=True)
    largest = max(figures)
    result = {**figures[largest]}
    for size, run in figures.items():
        if size != largest:
            result.update({f"{key}_at_{size}": run[key] for key in ("idle_cpu_percent", "threads", "rss_mb")})
    ledger.finish(result)


if __name__ == "__main__":
    main()
