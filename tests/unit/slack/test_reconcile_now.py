"""Reconcile now (an in-flight recovery's `show`) and `recovery-ops reconcile`: an admin settles a
recovery from Step Functions' record at once; anyone else is refused and audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest.mock import Mock

from recovery_ops.service.composition import Services
from recovery_ops.service.operator import Operator
from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.lifecycle.actions import RecoveryActions
from recovery_ops.service.recovery.lifecycle.reconciler import Reconciler
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from recovery_ops.slack_app.ids import RECONCILE_NOW
from recovery_ops.slack_app.listeners.recovery_buttons import reconcile_now
from recovery_ops.slack_app.views.listing import show_blocks
from tests.support.fakes import FakeDynamoDB, FakeStepFunctions
from tests.support.recoveries import claim, opened_recovery

ADMIN = "U0ADMIN"
STRANGER = "U0STRANGER"
LONG_AGO = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def some_services(sfn: FakeStepFunctions) -> Services:
    policy = AccessPolicy(allowed_users=frozenset({ADMIN}))
    store = RecoveryStore("recoveries", FakeDynamoDB())
    reconciler = Reconciler(store, sfn)
    return Services(
        store=store,
        groups=Mock(),
        actions=RecoveryActions(store, sfn, settler=reconciler),
        bulk=Mock(),
        policy=policy,
        schemas=Mock(),
        audit=Mock(),
        access=TeamAccess(policy, lambda: parse_rules('{"rules": []}', ChannelRouting(default="C-DEFAULT"))),
        owners=Mock(),
        runs=Mock(),
        reconciler=reconciler,
    )


def said(respond: Mock) -> str:
    return " ".join(call.kwargs["text"] for call in respond.call_args_list)


def test_an_in_flight_recovery_shows_reconcile_now_and_an_open_one_does_not() -> None:
    services = some_services(FakeStepFunctions())
    recovery = opened_recovery(services.store)
    open_actions = [e.action_id for b in show_blocks(recovery) if b.type == "actions" for e in b.elements]
    in_flight = claim(services.store, recovery.recovery_id, "U0ALICE", LONG_AGO)
    flight_actions = [e.action_id for b in show_blocks(in_flight) if b.type == "actions" for e in b.elements]

    assert RECONCILE_NOW not in open_actions
    assert flight_actions == [RECONCILE_NOW]


def test_an_admin_settles_a_claim_whose_call_landed_as_resumed() -> None:
    # Given a claim whose process died after its call landed
    sfn = FakeStepFunctions()
    services = some_services(sfn)
    recovery = opened_recovery(services.store)
    claim(services.store, recovery.recovery_id, "U0ALICE", LONG_AGO)
    sfn.send_success("token-0", "{}")
    respond = Mock()

    # When an admin presses Reconcile now
    reconcile_now(services, ADMIN, recovery.recovery_id, respond)

    # Then the record settles it RESUMED, under the person whose call landed
    assert services.store.get(recovery.recovery_id).status is RecoveryStatus.RESUMED
    assert "resumed" in said(respond) and "record" in said(respond)


def test_a_stranger_is_refused_and_the_attempt_audited() -> None:
    services = some_services(FakeStepFunctions())
    recovery = opened_recovery(services.store)
    claim(services.store, recovery.recovery_id, "U0ALICE", LONG_AGO)
    respond = Mock()

    reconcile_now(services, STRANGER, recovery.recovery_id, respond)

    stored = services.store.get(recovery.recovery_id)
    assert stored.status is RecoveryStatus.RESUMING
    assert (stored.audit[-1].actor, stored.audit[-1].action, stored.audit[-1].result) == (
        STRANGER,
        "reconcile now",
        "DENIED",
    )
    assert "cannot reconcile now" in said(respond)


def test_recovery_ops_reconcile_opens_again_a_claim_that_never_reached_step_functions() -> None:
    sfn = FakeStepFunctions()
    services = some_services(sfn)
    recovery = opened_recovery(services.store)
    claim(services.store, recovery.recovery_id, "U0ALICE", datetime.now(UTC) - timedelta(hours=1))
    printed: list[str] = []
    operator = Operator.at(services, "cli:alice", printed.append)

    assert operator.reconcile(recovery.recovery_id) == 0
    assert services.store.get(recovery.recovery_id).status is RecoveryStatus.OPEN
    assert printed == [
        f"{recovery.recovery_id}: open ({services.store.get(recovery.recovery_id).audit[-1].detail['why']})"
    ]
    assert operator.reconcile(None) == 0 and printed[-1].startswith("reconciled: ")
