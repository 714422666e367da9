"""`recovery-ops`: the operator's command line."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="recovery-ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the order flow end to end on an embedded moto stack")
    demo.add_argument("--orders", type=int, default=12, help="how many orders to place (default 12)")
    demo.add_argument(
        "--failure-rate", type=float, default=0.2, help="share of vendor calls that fail (default 0.2)"
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed, for a repeatable run")

    args = parser.parse_args(argv)
    if args.command == "demo":
        from service.local.demo import run_demo

        run_demo(order_count=args.orders, failure_rate=args.failure_rate, seed=args.seed)
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
