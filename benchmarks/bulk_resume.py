"""Bulk resume: 500 paused executions resumed by one "Run again all" from Slack; none lost, none sent twice.

The embedded stack is deployed with the Slack app (circuit breaker off, one group window for the
whole run, so every recovery shares one Slack message and one group). Orders are placed while the
dummy vendor is down; each execution retries, then pauses for a person; the collector (polled
locally, as Lambda's SQS event source would) stores every recovery and posts the group message.
The vendor comes back, and the whole group is resumed through the real Slack path: the group's
"Run again all" button, then the confirmation modal's submission, both signed and sent to the Slack
app's Lambda function (its lazy halves run through moto's asynchronous invoke, as on AWS).

Every SendTaskSuccess the stack's clients make is recorded. ``resumed``: executions SUCCEEDED;
``lost``: executions not SUCCEEDED at the end (after ``--timeout``); ``double_sent``: task tokens
sent more than once. ``wall_s``: from the modal's submission until every execution is terminal;
``first_round_s`` until the first Run again all has reported; an item run again that fails at the
vendor again pauses again and is run again in a later round (``later_rounds``, ``paused_again``).
Every order execution and every recovery is reported by end state: each execution must succeed
(FINISHED), each recovery end RESUMED; otherwise the benchmark exits non-zero. Last line: one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter

from _support import (
    WorkLedger,
    bulk_finished_posts,
    execution_work,
    orders_paused_by_an_outage,
    record_calls,
    recovery_work,
    run_again_all,
    run_again_until_done,
    running,
    statuses,
    wait,
)

from recovery_ops.service.example.supplier.dummy import VendorBehaviour
from recovery_ops.service.local.engine.stack import quiet_interpreter_logs
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore

POLL_SECONDS = 1.0


def run(count: int, timeout: float, ledger: WorkLedger) -> dict:
    with orders_paused_by_an_outage(count, timeout) as (stack, slack, vendor, arns, pause_wall_s):
        store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
        opened = store.list_by_status(RecoveryStatus.OPEN, limit=count + 10)
        groups = Counter(r.group_id for r in opened)
        group_id, _ = groups.most_common(1)[0]
        paused_tokens = {r.task_token for r in opened}
        print(
            f"  {len(opened)} recoveries open in {pause_wall_s:.1f}s, {len(groups)} group(s), "
            f"{statuses(stack, arns)['RUNNING']} executions waiting",
            flush=True,
        )
        vendor.set_behaviour(VendorBehaviour())
        successes = record_calls(stack, "SendTaskSuccess")
        failures = record_calls(stack, "SendTaskFailure")
        modal_s, ack_ms = run_again_all(stack, slack, group_id)
        submitted = time.perf_counter()
        try:
            wait(lambda: running(stack) == 0 or bulk_finished_posts(slack), timeout, "the bulk summary")
            first_round_s = time.perf_counter() - submitted
            # an item run again can fail at the vendor again and pause again: support runs it again
            later = run_again_until_done(stack, slack, timeout)
        except TimeoutError as exc:
            print(f"  {exc}", flush=True)
            first_round_s, later = time.perf_counter() - submitted, {"rounds": 0, "paused_again": 0}
        wall_s = time.perf_counter() - submitted

        def finished_posts() -> list[str]:
            return [
                c.body.get("text", "")
                for c in slack.calls_of("chat.postMessage")
                if "finished" in c.body.get("text", "")
            ]

        try:  # the lazy half posts its summary after its last SendTaskSuccess
            wait(finished_posts, 60, "the bulk summary in the thread")
        except TimeoutError as exc:
            print(f"  {exc}", flush=True)
        ended = statuses(stack, arns)
        sent = Counter(call["taskToken"] for call in successes)
        still_open = len(store.count_by_status(RecoveryStatus.OPEN))
        summary = (finished_posts() or [""])[-1]
        ledger.add(execution_work(stack, "orders", arns, "SUCCEEDED"))
        ledger.add(recovery_work(stack, "recoveries", "RESUMED"))
    succeeded = ended["SUCCEEDED"]
    return {
        "executions": count,
        "paused": len(opened),
        "groups": len(groups),
        "resumed": succeeded,
        "succeeded": succeeded,
        "lost": count - succeeded,
        "double_sent": sum(1 for n in sent.values() if n > 1),
        "task_successes_sent": len(successes),
        "distinct_tokens_sent": len(sent),
        "tokens_sent_not_paused": len(set(sent) - paused_tokens),
        "task_failures_sent": len(failures),
        "statuses": dict(ended),
        "recoveries_still_open": still_open,
        "modal_ack_ms": round(ack_ms, 1),
        "first_round_s": round(first_round_s, 1),
        "later_rounds": later["rounds"],
        "paused_again": later["paused_again"],
        "modal_open_s": round(modal_s, 2),
        "pause_wall_s": round(pause_wall_s, 1),
        "wall_s": round(wall_s, 1),
        "rate_per_second": round(succeeded / wall_s, 1) if wall_s else None,
        "bulk_summary": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=500)
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds for the pause, then for the resume (each)"
    )
    args = parser.parse_args()
    quiet_interpreter_logs()
    print(
        f"bulk_resume: {args.executions} executions paused by a vendor outage, then resumed by one "
        "Run again all (button, modal, submission) through the Slack app's Lambda function"
    )
    ledger = WorkLedger("bulk_resume")
    figures = run(args.executions, args.timeout, ledger)
    print(f"  {json.dumps(figures)}", flush=True)
    keys = (
        "executions",
        "paused",
        "resumed",
        "lost",
        "double_sent",
        "succeeded",
        "task_successes_sent",
        "recoveries_still_open",
        "pause_wall_s",
        "wall_s",
        "first_round_s",
        "later_rounds",
        "paused_again",
        "rate_per_second",
    )
    ledger.finish({key: figures[key] for key in keys})


if __name__ == "__main__":
    main()
