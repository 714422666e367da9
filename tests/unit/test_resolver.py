"""The resolver (Run again, Edit & run again, Reject) over the task-token port and an in-memory table."""

from __future__ import annotations

import json
import threading

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from recovery_ops.service.recovery.lifecycle.actions import (
    REJECTED_ERROR,
    ActionOutcome,
    ActionResult,
    RecoveryActions,
    ThrottleBackoff,
)
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB, FakeTaskTokens, TokenCall
from tests.support.recoveries import opened_recovery

TABLE = "recoveries"


@pytest.fixture
def store() -> RecoveryStore:
    return RecoveryStore(TABLE, FakeDynamoDB())


def opened(store: RecoveryStore, n: int = 0) -> Recovery:
    return opened_recovery(store, n, step_input={"sku": "a", "quantity": 2})


def resolver(
    store: RecoveryStore, tokens: FakeTaskTokens, pauses: list[float] | None = None
) -> RecoveryActions:
    sleep = pauses.append if pauses is not None else (lambda _: None)
    return RecoveryActions(store, tokens, backoff=ThrottleBackoff(sleep=sleep))


def test_run_again_resumes_the_step_with_its_own_input(store: RecoveryStore) -> None:
    # Given an open recovery
    recovery, tokens = opened(store), FakeTaskTokens()

    # When someone runs it again
    result = resolver(store, tokens).run_again(recovery.recovery_id, "UALICE")

    # Then the step gets its own input back and the recovery is resumed, by that person
    assert result.outcome is ActionOutcome.RESUMED
    assert tokens.calls == [TokenCall("success", "token-0", output=json.dumps({"sku": "a", "quantity": 2}))]
    stored = store.get(recovery.recovery_id)
    assert stored.status is RecoveryStatus.RESUMED
    assert [(e.actor, e.action, e.result) for e in stored.audit[1:]] == [
        ("UALICE", "run again", "RESUMING"),
        ("UALICE", "run again", "RESUMED"),
    ]


def test_edit_and_run_again_sends_the_edited_input_and_audits_its_diff(store: RecoveryStore) -> None:
    # Given an open recovery
    recovery, tokens = opened(store), FakeTaskTokens()

    # When someone edits its input and runs it again
    result = resolver(store, tokens).run_again(
        recovery.recovery_id, "UALICE", new_input={"sku": "b"}, diff="-sku a\n+sku b"
    )

    # Then the edited input is sent, and the claim carries the diff
    assert result.outcome is ActionOutcome.RESUMED
    assert [json.loads(c.output or "") for c in tokens.calls] == [{"sku": "b"}]
    claim = store.get(recovery.recovery_id).audit[1]
    assert (claim.action, claim.detail) == ("edit and run again", {"diff": "-sku a\n+sku b"})


def test_reject_fails_the_step_with_recovery_rejected_and_the_reason(store: RecoveryStore) -> None:
    # Given an open recovery
    recovery, tokens = opened(store), FakeTaskTokens()

    # When someone rejects it with a reason
    result = resolver(store, tokens).reject(recovery.recovery_id, "UBOB", "the customer cancelled")

    # Then the step fails with RecoveryRejected, the reason as its cause, and the recovery is rejected
    assert result.outcome is ActionOutcome.REJECTED
    assert tokens.calls == [
        TokenCall(
            "failure", "token-0", error=REJECTED_ERROR, cause="Rejected by UBOB: the customer cancelled"
        )
    ]
    assert store.get(recovery.recovery_id).status is RecoveryStatus.REJECTED


def test_a_second_click_while_the_first_is_in_flight_sends_nothing(store: RecoveryStore) -> None:
    # Given an open recovery, and a second person who clicks while the first one's call is under way
    recovery, tokens = opened(store), FakeTaskTokens()
    actions = resolver(store, tokens)
    second: list = []
    tokens.during_call = lambda: second.append(actions.reject(recovery.recovery_id, "UBOB"))

    # When the first person runs it again
    first = actions.run_again(recovery.recovery_id, "UALICE")

    # Then only the first click reached Step Functions; the second is told who is handling it
    assert first.outcome is ActionOutcome.RESUMED
    assert [c.kind for c in tokens.calls] == ["success"]
    assert second[0].outcome is ActionOutcome.ALREADY_HANDLED
    assert (second[0].detail, second[0].handled_by) == ("is already being handled", "UALICE")


def test_two_concurrent_claims_resolve_the_recovery_exactly_once(store: RecoveryStore) -> None:
    # Given an open recovery and two people clicking at the same moment
    recovery, tokens = opened(store), FakeTaskTokens()
    actions = resolver(store, tokens)
    start = threading.Barrier(2)
    results: dict[str, ActionOutcome] = {}

    def click(actor: str) -> None:
        start.wait()
        results[actor] = actions.run_again(recovery.recovery_id, actor).outcome

    # When both claim it
    threads = [threading.Thread(target=click, args=(actor,)) for actor in ("UALICE", "UBOB")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then one call is made, one click resumes and the other is told it is handled
    assert len(tokens.calls) == 1
    assert sorted(results.values()) == sorted([ActionOutcome.RESUMED, ActionOutcome.ALREADY_HANDLED])


def test_a_dead_token_closes_the_recovery_as_expired(store: RecoveryStore) -> None:
    # Given an open recovery whose step has already timed out
    recovery = opened(store)
    tokens = FakeTaskTokens([TokenOutcome.dead("TaskTimedOut", "Task Timed Out")])

    # When someone runs it again
    result = resolver(store, tokens).run_again(recovery.recovery_id, "UALICE")

    # Then it is expired, with why, and nothing is left to resume
    assert result.outcome is ActionOutcome.EXPIRED and "timed out" in result.detail
    stored = store.get(recovery.recovery_id)
    assert stored.status is RecoveryStatus.EXPIRED
    assert stored.audit[-1].detail["error"] == "TaskTimedOut"


def test_a_throttled_call_backs_off_then_succeeds(store: RecoveryStore) -> None:
    # Given Step Functions throttles the first two calls
    recovery, pauses = opened(store), []
    tokens = FakeTaskTokens([TokenOutcome.throttled(), TokenOutcome.throttled()])

    # When someone runs the recovery again
    result = resolver(store, tokens, pauses).run_again(recovery.recovery_id, "UALICE")

    # Then the call is made three times with a pause before each retry, and the step resumes
    assert result.outcome is ActionOutcome.RESUMED
    assert len(tokens.calls) == 3 and len(pauses) == 2
    assert store.get(recovery.recovery_id).status is RecoveryStatus.RESUMED


def test_a_call_throttled_on_every_attempt_gives_up_and_leaves_the_recovery_open(
    store: RecoveryStore,
) -> None:
    # Given Step Functions throttles every one of the backoff's attempts
    recovery, pauses = opened(store), []
    attempts = ThrottleBackoff().attempts
    tokens = FakeTaskTokens([TokenOutcome.throttled("ThrottlingException", "Rate exceeded")] * attempts)

    # When someone runs the recovery again
    result = resolver(store, tokens, pauses).run_again(recovery.recovery_id, "UALICE")

    # Then it gives up after the last attempt (no pause after it) and the recovery is open again
    assert result.outcome is ActionOutcome.FAILED and "ThrottlingException: Rate exceeded" in result.detail
    assert len(tokens.calls) == attempts and len(pauses) == attempts - 1
    assert store.get(recovery.recovery_id).status is RecoveryStatus.OPEN


def test_a_refused_call_says_why_and_leaves_the_recovery_open_for_another_try(store: RecoveryStore) -> None:
    # Given Step Functions refuses the call for a reason that is not about the token
    recovery = opened(store)
    tokens = FakeTaskTokens([TokenOutcome.refused("AccessDeniedException", "not authorized")])
    actions = resolver(store, tokens)

    # When someone runs the recovery again
    result = actions.run_again(recovery.recovery_id, "UALICE")

    # Then the person reads the code and message, the refusal is audited, and the recovery is open
    assert result.outcome is ActionOutcome.FAILED
    assert "AccessDeniedException: not authorized" in result.detail and "open again" in result.detail
    stored = store.get(recovery.recovery_id)
    assert stored.status is RecoveryStatus.OPEN
    assert stored.audit[-1].result == "FAILED"
    assert actions.run_again(recovery.recovery_id, "UALICE").outcome is ActionOutcome.RESUMED


def test_a_closed_recovery_is_not_resolved_twice(store: RecoveryStore) -> None:
    # Given a recovery someone has already rejected
    recovery, tokens = opened(store), FakeTaskTokens()
    actions = resolver(store, tokens)
    actions.reject(recovery.recovery_id, "UBOB")

    # When someone else runs it again
    result = actions.run_again(recovery.recovery_id, "UALICE")

    # Then nothing more is sent and the second person is told it is closed, and by whom
    assert result.outcome is ActionOutcome.ALREADY_HANDLED
    assert (result.detail, result.handled_by) == ("is already closed (rejected)", "UBOB")
    assert len(tokens.calls) == 1


def test_an_unknown_recovery_is_not_found_and_nothing_is_sent(store: RecoveryStore) -> None:
    # Given no recovery of that id
    tokens = FakeTaskTokens()

    # When someone runs it again
    result = resolver(store, tokens).run_again("rec-unknown", "UALICE")

    # Then it is not found and no call is made
    assert result.outcome is ActionOutcome.NOT_FOUND and tokens.calls == []


def test_a_denied_attempt_is_audited_and_on_an_unknown_recovery_is_dropped(store: RecoveryStore) -> None:
    # Given an open recovery
    recovery = opened(store)
    actions = resolver(store, FakeTaskTokens())

    # When a stranger tries to act on it, and on a recovery that does not exist
    actions.record_denied(recovery.recovery_id, "USTRANGER", "run again", "not in the group")
    actions.record_denied("rec-unknown", "USTRANGER", "run again", "not in the group")

    # Then the first attempt is on the recovery's audit, and the second raised nothing
    last = store.get(recovery.recovery_id).audit[-1]
    assert (last.actor, last.result, last.detail) == ("USTRANGER", "DENIED", {"why": "not in the group"})
    assert store.get(recovery.recovery_id).status is RecoveryStatus.OPEN


# ---------------------------------------------------------------------- the message, when the table falters
class Shown:
    """A display that records the status each message was last shown with."""

    def __init__(self) -> None:
        self.status: dict[str, str] = {}

    def show_outcome(self, recovery: Recovery) -> None:
        self.status[recovery.recovery_id] = str(recovery.status)


class Faltering(FakeDynamoDB):
    """The table, but one call falters: ``lose_update`` applies that update (0-based) and loses its
    answer; ``fail_get`` makes that read fail (an HTTP 500)."""

    def __init__(self, lose_update: int | None = None, fail_get: int | None = None) -> None:
        super().__init__()
        self._updates, self._gets = 0, 0
        self._lose_update, self._fail_get = lose_update, fail_get

    def update_item(self, **request):  # type: ignore[no-untyped-def]
        answer = super().update_item(**request)
        self._updates += 1
        if self._updates - 1 == self._lose_update:
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        return answer

    def transact_write_items(self, **request):  # type: ignore[no-untyped-def]
        answer = super().transact_write_items(**request)
        self._updates += 1
        if self._updates - 1 == self._lose_update:
            raise ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")
        return answer

    def get_item(self, **request):  # type: ignore[no-untyped-def]
        self._gets += 1
        if self._gets - 1 == self._fail_get:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, "GetItem")
        return super().get_item(**request)


def posted_recovery(store: RecoveryStore) -> Recovery:
    recovery = opened(store)
    store.mark_posted(recovery.recovery_id, "C-OPS", "1700000000.000100")
    return recovery


def test_an_outcome_write_whose_answer_was_lost_is_shown_all_the_same() -> None:
    # Given a posted recovery, and a table that loses the answer to the write storing its outcome
    store = RecoveryStore(TABLE, Faltering(lose_update=2))  # mark_posted, the claim, the outcome
    recovery, shown = posted_recovery(store), Shown()
    actions = RecoveryActions(store, FakeTaskTokens(), shown, backoff=ThrottleBackoff(sleep=lambda _: None))

    # When someone runs it again (the write is tried again, and finds it already stored)
    result = actions.run_again(recovery.recovery_id, "UALICE")

    # Then it is resumed, and its message says so
    assert result.outcome is ActionOutcome.RESUMED
    assert store.get(recovery.recovery_id).status is RecoveryStatus.RESUMED
    assert shown.status == {recovery.recovery_id: "RESUMED"}


def test_a_read_that_fails_after_the_outcome_write_shows_the_outcome_not_the_claim() -> None:
    # Given a posted recovery, and a table whose read after the outcome write fails
    store = RecoveryStore(TABLE, Faltering(fail_get=2))  # the claim reads before and after it
    recovery, shown = posted_recovery(store), Shown()
    actions = RecoveryActions(store, FakeTaskTokens(), shown)

    # When someone rejects it
    result = actions.reject(recovery.recovery_id, "UBOB")

    # Then its message shows it rejected (what was stored), not in flight (what was claimed)
    assert result.outcome is ActionOutcome.REJECTED
    assert result.recovery is not None and result.recovery.status is RecoveryStatus.REJECTED
    assert shown.status == {recovery.recovery_id: "REJECTED"}


class LaggingRecord:
    """A settler whose record shows the landed call only from its ``lag``-th reading on."""

    def __init__(self, store: RecoveryStore, lag: int) -> None:
        self.store, self.lag, self.readings = store, lag, 0

    def settle_claim(self, recovery: Recovery, owner: str) -> ActionResult | None:
        self.readings += 1
        if self.readings < self.lag:
            return None
        entry = AuditEntry("2026-12-07T09:00:00.000+00:00", "auto:reconciler", "settle", "RESUMED")
        self.store.transition(
            recovery.recovery_id, RecoveryStatus.RESUMING, RecoveryStatus.RESUMED, entry, lease_owner=owner
        )
        return ActionResult(ActionOutcome.RESUMED, self.store.get(recovery.recovery_id), "from the record")


def test_a_call_with_no_answer_asks_the_record_again_before_leaving_it_in_flight() -> None:
    # Given a Run again whose call gets no answer, and a record that shows it landed at its 3rd reading
    store = RecoveryStore(TABLE, FakeDynamoDB())
    recovery = opened(store)
    pauses: list[float] = []
    record = LaggingRecord(store, lag=3)
    unanswered = FakeTaskTokens(script=[TokenOutcome.unknown("ReadTimeout", "no answer")])
    actions = RecoveryActions(store, unanswered, backoff=ThrottleBackoff(sleep=pauses.append), settler=record)

    # When someone runs it again
    result = actions.run_again(recovery.recovery_id, "UALICE")

    # Then the record was asked three times, a little later each time, and it is resumed, sent once
    assert (result.outcome, record.readings, pauses) == (ActionOutcome.RESUMED, 3, [0.5, 1.0])
    assert len(unanswered.calls) == 1


def test_a_record_that_cannot_tell_after_three_readings_leaves_it_in_flight() -> None:
    # Given a call with no answer and a record that never shows it
    store = RecoveryStore(TABLE, FakeDynamoDB())
    recovery = opened(store)
    record = LaggingRecord(store, lag=99)
    unanswered = FakeTaskTokens(script=[TokenOutcome.unknown("ReadTimeout", "no answer")])
    actions = RecoveryActions(
        store, unanswered, backoff=ThrottleBackoff(sleep=lambda _: None), settler=record
    )

    # When someone runs it again
    result = actions.run_again(recovery.recovery_id, "UALICE")

    # Then it stays in flight for the reconciler, nothing sent again
    assert (result.outcome, record.readings, len(unanswered.calls)) == (ActionOutcome.IN_FLIGHT, 3, 1)
    assert store.get(recovery.recovery_id).status is RecoveryStatus.RESUMING
