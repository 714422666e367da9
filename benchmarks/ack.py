"""Ack: how fast the Slack app's Lambda handler acknowledges a button click, and what its cold import costs.

Warm acknowledgement: the embedded stack is deployed with the Slack app (secrets, allowed users,
the Slack stand-in) and one open recovery is seeded in the recoveries table. Signed Run again
clicks (each freshly signed) go to ``recovery_ops.slack_app.handler.lambda_handler`` in-process, as API
Gateway
would hand them over, with a Lambda context of the deployed function. Bolt's AWS Lambda adapter
starts the lazy half with an asynchronous invoke of the same function; that client is replaced by
a recorder (on AWS an async invoke is one quick API call), so only the acknowledgement path is
timed and the lazy halves do not run. Timed: ``lambda_handler`` alone (signing is not).

Cold import: ``import recovery_ops.slack_app.handler`` in a fresh interpreter, against a fresh interpreter
that
imports only Bolt and its AWS Lambda adapter (what any Bolt app on Lambda pays); interleaved runs,
median of each. The issue's goal: ack p99 <= 50 ms and cold import ratio <= 1.5; a missed goal
is reported, not raised. Every click (warm-up and timed) is reported by end state: each must be
acknowledged (HTTP 200) with its lazy half handed to one asynchronous invoke of the function; the
seeded recovery must still be OPEN (the lazy halves do not run). Otherwise the benchmark exits
non-zero. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from _support import (  # noqa: E402  (beside this script)
    ALLOWED,
    SIGNING_SECRET,
    Unit,
    Work,
    WorkLedger,
    recovery_work,
    slack_app_stack,
)

from recovery_ops.service.local.engine.lambda_dispatch import LambdaContext  # noqa: E402
from recovery_ops.service.local.engine.stack import EmbeddedStack, quiet_interpreter_logs  # noqa: E402
from recovery_ops.service.local.standin.requests import SlackRequests  # noqa: E402
from recovery_ops.service.local.standin.server import serve_slack_standin  # noqa: E402
from recovery_ops.service.recovery.model.contract import RecoveryRequest  # noqa: E402
from recovery_ops.service.recovery.model.recovery import Recovery  # noqa: E402
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore  # noqa: E402
from recovery_ops.slack_app.ids import RUN_AGAIN  # noqa: E402

P99_GOAL_MS = 50.0
RATIO_GOAL = 1.5
#: A click's expected end: answered 200, its lazy half handed to one asynchronous invoke.
ACKNOWLEDGED = "ACKNOWLEDGED"

_TIMED_IMPORT = (
    "import time\nt = time.perf_counter()\nimport {modules}\nprint((time.perf_counter() - t) * 1000)\n"
)
HANDLER_IMPORT = _TIMED_IMPORT.format(modules="recovery_ops.slack_app.handler")
BARE_BOLT_IMPORT = _TIMED_IMPORT.format(modules="slack_bolt, slack_bolt.adapter.aws_lambda")


class RecordingLambdaClient:
    """Stands in for the boto3 Lambda client of Bolt's lazy listener runner: records, runs nothing."""

    def __init__(self) -> None:
        self.invocations: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.invocations.append(kwargs)
        return {"StatusCode": 202}


def _seed_recovery(stack: EmbeddedStack) -> str:
    """One open recovery, as the collector stores it (no execution behind it: the lazy half never runs)."""
    machine = stack.arn("OrderStateMachine")
    request = RecoveryRequest(
        task_token="ack-benchmark-token",
        execution_arn=machine.replace(":stateMachine:", ":execution:") + ":order-ack",
        execution_name="order-ack",
        state_machine_arn=machine,
        failed_state="Check availability",
        input={"order_id": "order-ack"},
        error="VendorUnavailable",
        cause="vendor down",
    )
    recovery = Recovery.from_request(request, datetime.now(UTC))
    RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb")).create_if_absent(recovery)
    return recovery.recovery_id


def warm_ack(requests: int, warmup: int, ledger: WorkLedger) -> dict:
    from recovery_ops.slack_app import handler

    with (
        serve_slack_standin() as slack,
        slack_app_stack(slack) as stack,
    ):
        recovery_id = _seed_recovery(stack)
        function_name = stack.physical("SlackAppFunction")
        function_arn = stack.arn("SlackAppFunction")
        built = time.perf_counter()
        recorder = RecordingLambdaClient()
        handler.request_handler().app.listener_runner.lazy_listener_runner.lambda_client = recorder
        build_ms = (time.perf_counter() - built) * 1000
        signer = SlackRequests(SIGNING_SECRET, response_url=slack.response_url)

        clicks: list[Unit] = []

        def click(label: str) -> float:
            event = signer.click(ALLOWED, RUN_AGAIN, recovery_id).lambda_event()
            context = LambdaContext(
                function_name=function_name, invoked_function_arn=function_arn, timeout_seconds=900
            )
            invoked = len(recorder.invocations)
            began = time.perf_counter()
            answer = handler.lambda_handler(event, context)
            elapsed_ms = (time.perf_counter() - began) * 1000
            lazy = recorder.invocations[invoked:]
            handed_over = [i["InvocationType"] == "Event" and i["FunctionName"] == function_arn for i in lazy]
            if answer.get("statusCode") != 200:
                state = f"HTTP {answer.get('statusCode')}"
            elif handed_over != [True]:
                state = f"ACKNOWLEDGED, {len(lazy)} lazy invokes ({sum(handed_over)} async to the function)"
            else:
                state = ACKNOWLEDGED
            last = "" if state == ACKNOWLEDGED else f"answer {json.dumps(answer, default=str)[:160]}"
            clicks.append(Unit(label, state, last))
            return elapsed_ms

        first_ms = click("warm-up 1")
        for n in range(2, warmup + 1):
            click(f"warm-up {n}")
        recorder.invocations.clear()
        timings = [click(f"timed {n}") for n in range(1, requests + 1)]
        lazy_invocations = len(recorder.invocations)
        ledger.add(Work.of("Run again clicks", warmup + requests, clicks, ACKNOWLEDGED))
        ledger.add(recovery_work(stack, "recoveries (lazy halves not run)", expect="OPEN", started=1))
        slack_methods = sorted({call.method for call in slack.calls})
    cuts = statistics.quantiles(timings, n=100, method="inclusive")
    return {
        "requests": requests,
        "ack_p50_ms": round(cuts[49], 2),
        "ack_p99_ms": round(cuts[98], 2),
        "ack_max_ms": round(max(timings), 2),
        "first_request_ms": round(first_ms, 2),  # includes Bolt's one auth.test call
        "app_build_ms": round(build_ms, 2),
        "lazy_invocations": lazy_invocations,
        "slack_methods_called": slack_methods,  # auth.test only: the lazy halves did not run
    }


def _child_import_ms(code: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def cold_imports(runs: int) -> dict:
    handler_ms, bare_ms = [], []
    for _ in range(runs):  # interleaved, so the disk cache favours neither
        handler_ms.append(_child_import_ms(HANDLER_IMPORT))
        bare_ms.append(_child_import_ms(BARE_BOLT_IMPORT))
    cold = statistics.median(handler_ms)
    bare = statistics.median(bare_ms)
    return {
        "cold_import_ms": round(cold, 1),
        "bare_bolt_import_ms": round(bare, 1),
        "cold_import_ratio": round(cold / bare, 3),
        "cold_import_runs_ms": [round(v, 1) for v in handler_ms],
        "bare_bolt_import_runs_ms": [round(v, 1) for v in bare_ms],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed clicks")
    parser.add_argument("--warmup", type=int, default=10, help="untimed clicks first (at least 1)")
    parser.add_argument("--import-runs", type=int, default=5, help="fresh interpreters of each kind")
    args = parser.parse_args()
    quiet_interpreter_logs()
    print(
        f"ack: {args.requests} warm Run again clicks through the Slack app's Lambda handler (lazy "
        f"invokes recorded, not run); cold import of recovery_ops.slack_app.handler vs bare Bolt, median of "
        f"{args.import_runs}"
    )
    imports = cold_imports(args.import_runs)
    print(f"  cold import: {json.dumps(imports)}", flush=True)
    ledger = WorkLedger("ack")
    ack = warm_ack(args.requests, max(1, args.warmup), ledger)
    print(f"  warm ack:    {json.dumps(ack)}", flush=True)
    p99_met = ack["ack_p99_ms"] <= P99_GOAL_MS
    ratio_met = imports["cold_import_ratio"] <= RATIO_GOAL
    print(
        f"  goal ack p99 <= {P99_GOAL_MS:.0f} ms: {'met' if p99_met else 'MISSED'} ({ack['ack_p99_ms']} ms)"
    )
    print(
        f"  goal cold import ratio <= {RATIO_GOAL}: {'met' if ratio_met else 'MISSED'} "
        f"({imports['cold_import_ratio']})"
    )
    figures = {
        "requests": ack["requests"],
        "ack_p50_ms": ack["ack_p50_ms"],
        "ack_p99_ms": ack["ack_p99_ms"],
        "cold_import_ms": imports["cold_import_ms"],
        "bare_bolt_import_ms": imports["bare_bolt_import_ms"],
        "cold_import_ratio": imports["cold_import_ratio"],
    }
    ledger.finish(figures)


if __name__ == "__main__":
    main()
