"""`recovery-ops demo`: the order flow end to end on an embedded moto stack
(``recovery_ops.service.local.programs.demo``)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(demo: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops demo`."""
    demo.add_argument("--orders", type=int, default=12, help="how many orders to place (default 12)")
    demo.add_argument("--failure-rate", type=float, default=0.2, help="share of vendor calls that fail")
    demo.add_argument("--seed", type=int, default=7, help="random seed, for a repeatable run")


def demo_command(args: argparse.Namespace) -> int:
    """Run the demo: 0 when it ran, 2 when its settings are refused."""
    from recovery_ops.service.config import ConfigurationError, ServeSettings
    from recovery_ops.service.local.programs.demo import run_demo

    try:
        settings = ServeSettings.from_environment()
    except ConfigurationError as exc:
        print(f"recovery-ops demo: {exc}", file=sys.stderr)
        return 2
    run_demo(order_count=args.orders, failure_rate=args.failure_rate, seed=args.seed, settings=settings)
    return 0
