"""Four eyes under load: edits under a two-approval policy, approved by people clicking at once.

Over the plain fakes (the approval store, the recoveries store and the resolver over one in-memory
table, Step Functions a fake that records every call), with DynamoDB's published accounting
(``tests/support/partition_load.py``) for the units each approved edit costs. ``COUNT`` open
recoveries under one rule; for each, the editor's edit becomes a request; then the editor tries to
approve it (refused), and three approvers click Approve at the same moment, one of them twice, from
``WORKERS`` threads. Approvals count once each: a request needs two, so the third approver's and the
repeated click find it decided. Reported: requests made, approvals counted, self-approvals refused, edits sent
(each must be sent exactly once, with exactly the approved input), the decisions a second, and the
DynamoDB write and read units per approved edit (the request, its approvals and the run, the
resolver's claim and close included). Exits non-zero when an edit is not sent exactly once, a
self-approval counts, or an approver counts twice. Last line: one JSON object.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recovery_ops.service.recovery.access.authorization import AccessPolicy  # noqa: E402
from recovery_ops.service.recovery.access.routing_rules import parse_rules  # noqa: E402
from recovery_ops.service.recovery.access.team_access import TeamAccess  # noqa: E402
from recovery_ops.service.recovery.lifecycle.actions import RecoveryActions, ThrottleBackoff  # noqa: E402
from recovery_ops.service.recovery.lifecycle.approvals import (  # noqa: E402
    Approvals,
    DecisionOutcome,
    PolicyGate,
)
from recovery_ops.service.recovery.model.approval import ApprovalState, Gated  # noqa: E402
from recovery_ops.service.recovery.ports.notifier import ChannelRouting  # noqa: E402
from recovery_ops.service.recovery.storage.approvals import ApprovalStore  # noqa: E402
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore  # noqa: E402
from tests.support.fakes import FakeDynamoDB, FakeTaskTokens  # noqa: E402
from tests.support.partition_load import PartitionLoad, template_indexes  # noqa: E402
from tests.support.recoveries import opened_recovery  # noqa: E402

COUNT = 300
WORKERS = 8
TABLE = "recoveries"
EDITOR, APPROVERS = "U0EDITOR", ("U0LEADA", "U0LEADB", "U0LEADC")
RULES = json.dumps(
    {
        "rules": [
            {
                "name": "payments",
                "match": {"state_machine": "orders"},
                "channel": "C-PAY",
                "team": {"user_ids": [EDITOR, *APPROVERS]},
                "approval": {
                    "actions": ["edit"],
                    "approvals": 2,
                    "approvers": {"user_ids": [EDITOR, *APPROVERS]},
                },
            }
        ]
    }
)


def main() -> None:
    print(f"approvals: {COUNT} edits under a two-approval policy, three approvers clicking at once")
    load = PartitionLoad(lambda: datetime.now(UTC), indexes={TABLE: template_indexes()})
    db = FakeDynamoDB(load=load)
    store = RecoveryStore(TABLE, db)
    tokens = FakeTaskTokens()
    rules = parse_rules(RULES, ChannelRouting("C-DEFAULT"))
    gate = PolicyGate(TeamAccess(AccessPolicy(), lambda: rules))
    actions = RecoveryActions(store, tokens, backoff=ThrottleBackoff(sleep=lambda _: None), gate=gate)
    approvals = Approvals(ApprovalStore(TABLE, db), store, gate, actions)
    rule = rules.rules[0]
    recoveries = [
        opened_recovery(store, n, step_input={"amount": n, "account": "DE01"}) for n in range(COUNT)
    ]
    writes_before, reads_before = load.total_write_units, load.total_read_units

    started = time.perf_counter()
    requests = []
    for recovery in recoveries:
        asked = approvals.request(
            [recovery], Gated.EDIT, EDITOR, rule, new_input={"amount": -1, "account": "DE02"}, diff="amount"
        )
        assert asked.request is not None, asked.detail
        requests.append(asked.request.request_id)
    refused = [approvals.approve(r, EDITOR).outcome for r in requests]  # their own: refused
    outcomes: list[DecisionOutcome] = []
    lock = threading.Lock()

    def click(request_id: str, user: str) -> None:
        outcome = approvals.approve(request_id, user).outcome
        with lock:
            outcomes.append(outcome)

    with ThreadPoolExecutor(WORKERS) as pool:
        for request_id in requests:
            for user in (*APPROVERS, APPROVERS[0]):  # three at once, the first twice
                pool.submit(click, request_id, user)
    wall = time.perf_counter() - started

    stored = [approvals.store.get(r) for r in requests]
    sent = [c for c in tokens.calls if c.kind == "success"]
    per_token: dict[str, int] = {}
    for call in sent:
        per_token[call.token] = per_token.get(call.token, 0) + 1
    exact = all(json.loads(c.output or "null") == {"amount": -1, "account": "DE02"} for c in sent)
    self_counted = sum(EDITOR in r.approved_by for r in stored)
    twice = sum(len(set(r.approved_by)) != len(r.approved_by) for r in stored)
    done = sum(r.state is ApprovalState.DONE for r in stored)
    figures = {
        "benchmark": "approvals",
        "edits": COUNT,
        "requests": len(requests),
        "approved_and_run": done,
        "sent_exactly_once": sum(1 for n in per_token.values() if n == 1),
        "sent_more_than_once": sum(1 for n in per_token.values() if n > 1),
        "sent_exactly_the_approved_input": exact,
        "self_approvals_refused": refused.count(DecisionOutcome.REFUSED),
        "self_approvals_counted": self_counted,
        "approvers_counted_twice": twice,
        "approvals_counted": sum(len(r.approvals) for r in stored),
        "clicks": len(outcomes) + len(refused),
        "clicks_per_s": round((len(outcomes) + len(refused)) / wall, 1),
        "wall_s": round(wall, 2),
        "write_units_per_approved_edit": round((load.total_write_units - writes_before) / COUNT, 1),
        "read_units_per_approved_edit": round((load.total_read_units - reads_before) / COUNT, 1),
    }
    for name, value in figures.items():
        print(f"  {name}: {value}")
    print(json.dumps(figures))
    ok = done == COUNT and figures["sent_exactly_once"] == COUNT and exact and not self_counted and not twice
    ok = ok and refused.count(DecisionOutcome.REFUSED) == COUNT
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
