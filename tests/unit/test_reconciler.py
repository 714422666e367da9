"""Leases and the reconciler over fakes: a claim whose process is gone, a lost answer, an outcome
write that fails, are settled from Step Functions' record, and no token is sent twice by the
product even against a Step Functions that would accept it twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from recovery_ops.service.recovery.failed_executions.failures import FailureStore
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, RecoveryActions, ThrottleBackoff
from recovery_ops.service.recovery.lifecycle.execution_end import ExecutionEnded, OutermostCatch
from recovery_ops.service.recovery.lifecycle.reconciler import HELD, REOPENED, UNSETTLED, Reconciler
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import DueKind, RecoveryStore
from tests.support.fakes import Crash, FakeDynamoDB, FakeStepFunctions
from tests.support.recoveries import claim as legacy_claim
from tests.support.recoveries import opened_recovery

TABLE = "recoveries"
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def pass_(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Display:
    """The recovery's message: what it shows, or a failure while ``down``."""

    def __init__(self) -> None:
        self.shown: dict[str, str] = {}
        self.down = False

    def show_outcome(self, recovery: Recovery) -> None:
        self._show(recovery)

    def show_open(self, recovery: Recovery, change: str) -> None:
        self._show(recovery)

    def _show(self, recovery: Recovery) -> None:
        if self.down:
            from recovery_ops.service.recovery.ports.notifier import NotifierUnavailableError

            raise NotifierUnavailableError("chat.update: 503")
        self.shown[recovery.recovery_id] = str(recovery.status)


class Rig:
    """The reconciler and the actions over fakes: a table, Step Functions, a display and a clock."""

    def __init__(self, sfn: FakeStepFunctions | None = None) -> None:
        self.dynamodb = FakeDynamoDB()
        self.store = RecoveryStore(TABLE, self.dynamodb)
        self.sfn = sfn or FakeStepFunctions(accepts_twice=True)
        self.clock = Clock()
        self.display = Display()
        self.reconciler = Reconciler(self.store, self.sfn, self.display, clock=self.clock, page_size=2)
        self.actions = RecoveryActions(
            self.store,
            self.sfn,
            self.display,
            backoff=ThrottleBackoff(sleep=self.clock.pass_),
            clock=self.clock,
            settler=self.reconciler,
        )

    def opened(self, n: int = 0) -> Recovery:
        return opened_recovery(self.store, n)

    def status(self, recovery: Recovery) -> RecoveryStatus:
        return self.store.get(recovery.recovery_id).status

    def past_the_lease(self) -> None:
        self.clock.pass_(121)


def throttled() -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")


# ---------------------------------------------------------------------- the claim
def test_a_claim_whose_answer_was_lost_is_read_back_and_the_clicker_goes_on() -> None:
    # Given a claim that lands but whose answer never comes back
    rig = Rig()
    recovery = rig.opened()
    real_claim = rig.store.claim

    def lost(*args, **kwargs):
        real_claim(*args, **kwargs)
        raise ReadTimeoutError(endpoint_url="https://dynamodb")

    rig.store.claim = lost  # type: ignore[method-assign]

    # When the person runs it again
    result = rig.actions.run_again(recovery.recovery_id, "UALICE")

    # Then the lease names them: the call is made once and the recovery is resumed
    assert result.outcome is ActionOutcome.RESUMED
    assert len(rig.sfn.landed_for("token-0")) == 1
    assert rig.status(recovery) is RecoveryStatus.RESUMED


def test_a_claim_holds_a_lease_that_puts_it_in_the_due_index() -> None:
    rig = Rig()
    recovery = rig.opened()
    rig.sfn.fault = lambda kind, token: "crash-before"

    with pytest.raises(Crash):
        rig.actions.run_again(recovery.recovery_id, "UALICE")

    stored = rig.store.get(recovery.recovery_id)
    assert stored.status is RecoveryStatus.RESUMING and stored.lease_owner
    assert stored.lease_until == (START + timedelta(seconds=120)).isoformat(timespec="milliseconds")
    assert rig.store.due(DueKind.LEASE, START, 10)[0] == []  # not due yet
    assert rig.store.due(DueKind.LEASE, START + timedelta(seconds=121), 10)[0] == [recovery.recovery_id]


# ---------------------------------------------------------------------- crashes around the call
def test_a_crash_before_the_call_is_reopened_after_the_lease_and_the_next_click_resumes_once() -> None:
    # Given a Run again whose process died before calling Step Functions
    rig = Rig()
    recovery = rig.opened()
    rig.sfn.fault = lambda kind, token: "crash-before"
    with pytest.raises(Crash):
        rig.actions.run_again(recovery.recovery_id, "UALICE")
    rig.sfn.fault = lambda kind, token: None

    # When the reconciler runs within the lease, and then past it
    within = rig.reconciler.run()
    rig.past_the_lease()
    past = rig.reconciler.run()

    # Then it waits for the live claim, then opens the recovery again and says why
    assert within.settled == {}
    assert past.settled == {REOPENED: 1}
    reopened = rig.store.get(recovery.recovery_id)
    assert reopened.status is RecoveryStatus.OPEN and reopened.lease_owner is None
    assert reopened.audit[-1].action == "reopen" and "UALICE" in reopened.audit[-1].detail["why"]
    assert rig.display.shown[recovery.recovery_id] == "OPEN"
    # and a second click resumes it, the token sent once in all
    assert rig.actions.run_again(recovery.recovery_id, "UBOB").outcome is ActionOutcome.RESUMED
    assert len(rig.sfn.landed_for("token-0")) == 1


def test_a_crash_after_the_call_landed_is_settled_resumed_and_never_sent_again() -> None:
    # Given a Run again whose call landed, then the process died
    rig = Rig()
    recovery = rig.opened()
    rig.sfn.fault = lambda kind, token: "crash-after"
    with pytest.raises(Crash):
        rig.actions.run_again(recovery.recovery_id, "UALICE")
    rig.sfn.fault = lambda kind, token: None

    # When someone clicks meanwhile, and the reconciler runs past the lease
    again = rig.actions.run_again(recovery.recovery_id, "UBOB")
    rig.past_the_lease()
    report = rig.reconciler.run()

    # Then the second click is told it is being handled, and the record settles it RESUMED,
    # completed in the audit under the person whose call landed
    assert again.outcome is ActionOutcome.ALREADY_HANDLED and again.handled_by == "UALICE"
    assert report.settled == {"RESUMED": 1}
    settled = rig.store.get(recovery.recovery_id)
    assert settled.status is RecoveryStatus.RESUMED
    assert (settled.audit[-1].actor, settled.audit[-1].action) == ("UALICE", "run again")
    assert settled.audit[-1].detail["settled_by"] == "reconciler"
    assert len(rig.sfn.landed_for("token-0")) == 1
    assert rig.display.shown[recovery.recovery_id] == "RESUMED"


# ---------------------------------------------------------------------- a lost answer
def test_a_success_whose_answer_was_lost_is_settled_resumed_at_once_from_the_record() -> None:
    rig = Rig()
    recovery = rig.opened()
    rig.sfn.fault = lambda kind, token: "lost"

    result = rig.actions.run_again(recovery.recovery_id, "UALICE")

    assert result.outcome is ActionOutcome.RESUMED
    assert rig.status(recovery) is RecoveryStatus.RESUMED
    assert [e.result for e in rig.store.get(recovery.recovery_id).audit[1:]] == [
        "RESUMING",
        "UNKNOWN",
        "RESUMED",
    ]
    assert len(rig.sfn.landed_for("token-0")) == 1


def test_a_reject_whose_answer_was_lost_is_settled_rejected() -> None:
    rig = Rig()
    recovery = rig.opened()
    rig.sfn.fault = lambda kind, token: "lost"

    result = rig.actions.reject(recovery.recovery_id, "UALICE", "wrong product")

    assert result.outcome is ActionOutcome.REJECTED
    assert rig.status(recovery) is RecoveryStatus.REJECTED


def test_an_answer_that_never_came_stays_in_flight_and_nothing_is_sent_again_before_the_record_says() -> None:
    # Given a call that timed out without landing
    rig = Rig()
    recovery = rig.opened()
    rig.sfn.fault = lambda kind, token: "timeout"

    # When the person runs it again, and clicks once more
    first = rig.actions.run_again(recovery.recovery_id, "UALICE")
    rig.sfn.fault = lambda kind, token: None
    second = rig.actions.run_again(recovery.recovery_id, "UALICE")

    # Then they are told it is not known yet, never "nothing was resumed", and nothing more is sent
    assert first.outcome is ActionOutcome.IN_FLIGHT
    assert "not known yet" in first.detail and "Nothing will be sent again" in first.detail
    assert second.outcome is ActionOutcome.ALREADY_HANDLED
    assert rig.sfn.calls == 1
    # and past the lease the record shows the step still waits: open again, for a person
    rig.past_the_lease()
    assert rig.reconciler.run().settled == {REOPENED: 1}
    assert rig.actions.run_again(recovery.recovery_id, "UALICE").outcome is ActionOutcome.RESUMED
    assert len(rig.sfn.landed_for("token-0")) == 1


def test_a_record_that_cannot_tell_leaves_the_recovery_in_flight_for_the_next_run() -> None:
    rig = Rig()
    recovery = rig.opened()
    rig.sfn.fault = lambda kind, token: "crash-after"
    with pytest.raises(Crash):
        rig.actions.run_again(recovery.recovery_id, "UALICE")
    rig.sfn.record_fault = lambda token: True
    rig.past_the_lease()

    assert rig.reconciler.run().settled == {UNSETTLED: 1}
    assert rig.status(recovery) is RecoveryStatus.RESUMING

    rig.sfn.record_fault = lambda token: False
    assert rig.reconciler.run().settled == {"RESUMED": 1}


# ---------------------------------------------------------------------- the outcome write
def test_an_outcome_write_that_keeps_failing_is_told_as_resumed_and_settled_by_the_reconciler() -> None:
    # Given Step Functions accepts the call, but every write after it is throttled
    rig = Rig()
    recovery = rig.opened()
    real_transition = rig.store.transition

    def throttled_transition(*args, **kwargs):
        raise throttled()

    rig.store.transition = throttled_transition  # type: ignore[method-assign]

    # When the person runs it again
    result = rig.actions.run_again(recovery.recovery_id, "UALICE")

    # Then they are told the truth: it resumed; its record follows
    assert result.outcome is ActionOutcome.RESUMED
    assert "being recorded" in result.detail
    rig.store.transition = real_transition  # type: ignore[method-assign]
    assert rig.status(recovery) is RecoveryStatus.RESUMING
    rig.past_the_lease()
    assert rig.reconciler.run().settled == {"RESUMED": 1}
    assert len(rig.sfn.landed_for("token-0")) == 1


def test_a_lease_is_renewed_before_a_call_that_would_outlive_it_and_no_call_is_made_once_it_is_lost() -> None:
    # Given Step Functions throttles for longer than the lease
    rig = Rig()
    recovery = rig.opened()
    throttles = iter(range(3))
    rig.sfn.fault = lambda kind, token: "throttle" if next(throttles, None) is not None else None
    rig.actions._backoff = ThrottleBackoff(sleep=lambda _: rig.clock.pass_(50))

    # When the person runs it again
    result = rig.actions.run_again(recovery.recovery_id, "UALICE")

    # Then the lease was renewed along the way, and the call landed once
    assert result.outcome is ActionOutcome.RESUMED
    assert len(rig.sfn.landed_for("token-0")) == 1


def test_a_claim_taken_over_by_the_reconciler_makes_no_call() -> None:
    rig = Rig()
    recovery = rig.opened()

    def reconciler_takes_it(seconds: float) -> None:
        rig.clock.pass_(200)
        rig.reconciler.run()  # the lease ran out: the step still waits, so it is open again

    rig.sfn.fault = lambda kind, token: "throttle" if rig.sfn.calls == 1 else None
    rig.actions._backoff = ThrottleBackoff(sleep=reconciler_takes_it)

    result = rig.actions.run_again(recovery.recovery_id, "UALICE")

    assert result.outcome is ActionOutcome.FAILED
    assert "open again" in result.detail
    assert rig.sfn.calls == 1 and rig.sfn.landed == []
    assert rig.status(recovery) is RecoveryStatus.OPEN


# ---------------------------------------------------------------------- the run
def test_a_run_is_bounded_and_paged_and_the_next_run_goes_on() -> None:
    rig = Rig()
    rig.sfn.fault = lambda kind, token: "crash-after"
    recoveries = [rig.opened(n) for n in range(7)]
    for recovery in recoveries:
        with pytest.raises(Crash):
            rig.actions.run_again(recovery.recovery_id, "UALICE")
    rig.past_the_lease()
    rig.reconciler.budget = 5

    first = rig.reconciler.run()
    second = rig.reconciler.run()

    assert (first.settled, first.complete) == ({"RESUMED": 5}, False)
    assert (second.settled, second.complete) == ({"RESUMED": 2}, True)
    assert {rig.status(r) for r in recoveries} == {RecoveryStatus.RESUMED}
    assert rig.store.due(DueKind.LEASE, rig.clock(), 10)[0] == []


def test_a_claim_made_before_leases_existed_is_settled_too() -> None:
    rig = Rig()
    recovery = rig.opened()
    legacy_claim(rig.store, recovery.recovery_id, "UALICE", START)

    assert rig.reconciler.run().settled == {REOPENED: 1}


def test_an_admins_reconcile_now_leaves_a_live_claim_to_its_holder() -> None:
    rig = Rig()
    recovery = rig.opened()
    rig.sfn.fault = lambda kind, token: "crash-before"
    with pytest.raises(Crash):
        rig.actions.run_again(recovery.recovery_id, "UALICE")

    settled = rig.reconciler.settle(recovery.recovery_id, actor="UADMIN")

    assert settled.result == HELD and rig.status(recovery) is RecoveryStatus.RESUMING


# ---------------------------------------------------------------------- stale messages
def test_a_message_that_could_not_be_updated_is_carried_on_until_it_shows_the_stored_state() -> None:
    # Given Slack fails while a recovery is resumed
    rig = Rig()
    recovery = rig.opened()
    rig.display.down = True
    assert rig.actions.run_again(recovery.recovery_id, "UALICE").outcome is ActionOutcome.RESUMED
    assert recovery.recovery_id not in rig.display.shown

    # When the reconciler runs while Slack is still down, then after it is back
    behind = rig.reconciler.run()
    rig.display.down = False
    rig.clock.pass_(301)
    caught_up = rig.reconciler.run()

    # Then the message shows RESUMED, and nothing is left due
    assert behind.messages_behind == 1
    assert caught_up.messages_updated == 1
    assert rig.display.shown[recovery.recovery_id] == "RESUMED"
    assert rig.store.due(DueKind.DISPLAY, rig.clock() + timedelta(days=1), 10)[0] == []


# ---------------------------------------------------------------------- the execution ended
def test_the_watcher_settles_an_in_flight_recovery_from_the_ended_executions_record() -> None:
    # Given a Run again whose call landed and whose process died; the execution then failed later on
    rig = Rig()
    recovery = rig.opened()
    rig.sfn.fault = lambda kind, token: "crash-after"
    with pytest.raises(Crash):
        rig.actions.run_again(recovery.recovery_id, "UALICE")
    rig.sfn.end_execution("token-0", "FAILED")
    catch = OutermostCatch(rig.store, FailureStore(TABLE, rig.dynamodb), reconciler=rig.reconciler)

    # When the watcher hears it ended
    report = catch.handle(
        ExecutionEnded(
            recovery.execution_arn,
            recovery.execution_name,
            recovery.state_machine_arn,
            "FAILED",
            "X",
            None,
            START,
        )
    )

    # Then the recovery is RESUMED (the step did resume), not EXPIRED, within its lease
    assert report.closed == [recovery.recovery_id]
    assert rig.status(recovery) is RecoveryStatus.RESUMED


# ---------------------------------------------------------------------- Redrive
class RedrivingStepFunctions:
    """RedriveExecution that lands and loses its answer (``lost``) or never lands (``dies``)."""

    def __init__(self, clock: Clock, fault: str) -> None:
        self.clock, self.fault, self.redriven_at, self.calls = clock, fault, None, 0

    def redrive_execution(self, executionArn: str) -> dict:  # noqa: N803
        self.calls += 1
        if self.fault == "dies":
            raise Crash("before the call")
        self.redriven_at = self.clock()
        raise ReadTimeoutError(endpoint_url="https://states")

    def describe_execution(self, executionArn: str) -> dict:  # noqa: N803
        answer = {"status": "RUNNING" if self.redriven_at else "FAILED"}
        if self.redriven_at:
            answer["redriveDate"] = self.redriven_at
        return answer


def a_failure(rig: Rig) -> str:
    from recovery_ops.service.recovery.failed_executions.failures import FailedExecution, failure_id_for

    arn = "arn:aws:states:us-east-1:123456789012:execution:orders:run-9"
    failure = FailedExecution(
        failure_id_for(arn),
        arn,
        "run-9",
        "arn:aws:states:us-east-1:123456789012:stateMachine:orders",
        "FAILED",
        "Boom",
        None,
        START.isoformat(),
    )
    FailureStore(TABLE, rig.dynamodb).create_if_absent(failure)
    return failure.failure_id


def test_a_redrive_whose_answer_was_lost_is_settled_redriven_from_the_execution() -> None:
    from recovery_ops.service.recovery.failed_executions.failures import FailureStatus, Redrive

    rig = Rig()
    failure_id = a_failure(rig)
    sfn = RedrivingStepFunctions(rig.clock, "lost")

    result = Redrive(FailureStore(TABLE, rig.dynamodb), sfn, clock=rig.clock).redrive(failure_id, "UALICE")

    assert result.done and result.failure.status is FailureStatus.REDRIVEN and sfn.calls == 1


def test_a_redrive_whose_process_died_is_offered_again_once_its_lease_has_run_out() -> None:
    from recovery_ops.service.recovery.failed_executions.failures import FailureStatus, Redrive

    rig = Rig()
    failure_id = a_failure(rig)
    failures = FailureStore(TABLE, rig.dynamodb)
    redrive = Redrive(failures, RedrivingStepFunctions(rig.clock, "dies"), clock=rig.clock)
    with pytest.raises(Crash):
        redrive.redrive(failure_id, "UALICE")
    rig.reconciler.redrives = redrive

    within = rig.reconciler.run()
    rig.past_the_lease()
    past = rig.reconciler.run()

    assert within.settled == {}
    assert past.settled == {FailureStatus.UNHANDLED: 1}
    assert failures.get(failure_id).status is FailureStatus.UNHANDLED
