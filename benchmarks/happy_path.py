"""Happy path on the embedded stack: deploy time, and N orders from POST /orders to FINISHED.

These are figures of the local emulation (moto's interpreter, handlers in-process), useful to
compare changes to the workflow and the harness; they say nothing of latency on AWS.
Every order must end FINISHED (its execution SUCCEEDED): the orders are reported by end state, and
the benchmark exits non-zero when they do not all finish. Last line: one JSON object.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _support import WorkLedger, execution_work  # noqa: E402  (beside this script)

from recovery_ops.service.example.supplier.dummy import DummyVendor  # noqa: E402
from recovery_ops.service.local.engine.execution_history import (  # noqa: E402
    TERMINAL,
    ExecutionsStillRunningError,
    wait_for_all,
    workflow_transitions,
)
from recovery_ops.service.local.engine.stack import embedded_stack, quiet_interpreter_logs  # noqa: E402
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi  # noqa: E402
from recovery_ops.service.local.programs.order_stock import stock_local_catalogue  # noqa: E402
from recovery_ops.service.local.programs.vendor_server import serve_dummy_vendor  # noqa: E402

ORDERS = 100


def main() -> None:
    quiet_interpreter_logs()
    print(
        f"happy_path: deploy template.yaml into moto, then {ORDERS} orders through POST /orders to FINISHED"
    )
    vendor = DummyVendor(seed=1)
    api = LocalOrderApi()
    ledger = WorkLedger("happy_path")
    with serve_dummy_vendor(vendor) as url:
        started = time.perf_counter()
        with embedded_stack(
            parameters={"VendorUrl": url}, quiet=True, prepare=stock_local_catalogue
        ) as stack:
            deploy_s = time.perf_counter() - started
            sfn = stack.client("stepfunctions")
            began = time.perf_counter()
            arns = []
            for index in range(ORDERS):
                body = {"customer_id": f"c-{index}", "product_id": "sku-lamp", "quantity": 1}
                arns.append(api.place(body).body["execution_arn"])
            try:
                finished = wait_for_all(sfn, arns, timeout=600)
            except ExecutionsStillRunningError as exc:  # reported below, by end state
                print(f"  {exc}", flush=True)
                described = (sfn.describe_execution(executionArn=arn) for arn in arns)
                finished = {d["executionArn"]: d for d in described if d["status"] in TERMINAL}
            wall_s = time.perf_counter() - began
            durations = sorted((d["stopDate"] - d["startDate"]).total_seconds() for d in finished.values())
            succeeded = sum(1 for d in finished.values() if d["status"] == "SUCCEEDED")
            transitions = workflow_transitions(sfn, arns[0])  # the order and its item action
            ledger.add(execution_work(stack, "orders", arns, expect="SUCCEEDED"))
    figures = {
        "orders": ORDERS,
        "succeeded": succeeded,
        "deploy_s": round(deploy_s, 3),
        "wall_s": round(wall_s, 3),
        "orders_per_s": round(ORDERS / wall_s, 1),
        "execution_p50_s": round(statistics.median(durations), 3) if durations else None,
        "execution_p95_s": round(durations[max(0, int(len(durations) * 0.95) - 1)], 3) if durations else None,
        "billed_transitions_per_order": transitions,
    }
    ledger.finish(figures)


if __name__ == "__main__":
    main()
