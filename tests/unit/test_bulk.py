"""Bulk Run again over the task-token port and an in-memory table: one recovery's trouble stays its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, RecoveryActions
from recovery_ops.service.recovery.lifecycle.bulk import BulkAction
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import DISPLAY_GRACE, RecoveryStore
from tests.support.fakes import FakeDynamoDB, FakeTaskTokens
from tests.support.recoveries import opened_recovery

TABLE = "recoveries"


class ThrottlesOneClaim(FakeDynamoDB):
    """The table, but the claim of ``recovery_id`` is throttled once (after the SDK's own retries)."""

    def __init__(self) -> None:
        super().__init__()
        self.recovery_id = ""

    def transact_write_items(self, **request):  # type: ignore[no-untyped-def]
        claim = request["TransactItems"][0].get("Update", {})
        claiming = "lease_owner = :owner" in claim.get("UpdateExpression", "")
        if claiming and claim["Key"]["recovery_id"]["S"] == self.recovery_id:
            self.recovery_id = ""
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}},
                "TransactWriteItems",
            )
        return super().transact_write_items(**request)


def test_a_claim_the_table_does_not_answer_is_counted_failed_and_the_run_goes_on() -> None:
    # Given three open recoveries, the second one's claim throttled by the table
    dynamodb = ThrottlesOneClaim()
    store = RecoveryStore(TABLE, dynamodb)
    ids = [opened_recovery(store, n).recovery_id for n in range(3)]
    dynamodb.recovery_id = ids[1]
    tokens = FakeTaskTokens()
    bulk = BulkAction(RecoveryActions(store, tokens), rate_per_second=0, sleep=lambda _: None)

    # When someone runs them all again
    report = bulk.run_again(ids, "UALICE")

    # Then the other two are resumed, the second is failed with nothing sent for it, and stays open
    assert [r.outcome for r in report.results] == [
        ActionOutcome.RESUMED,
        ActionOutcome.FAILED,
        ActionOutcome.RESUMED,
    ]
    assert "nothing was sent" in report.results[1].detail
    assert [c.token for c in tokens.calls] == ["token-0", "token-2"]
    assert store.get(ids[1]).status is RecoveryStatus.OPEN


class ShownNowhere:
    """A display that is never asked: a bulk run shows its outcomes itself, afterwards."""

    def show_outcome(self, recovery) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("a bulk run does not show each outcome as it goes")

    def show_open(self, recovery, change) -> None:  # type: ignore[no-untyped-def]
        raise AssertionError("nothing is open again here")


def test_a_bulk_runs_outcomes_wait_for_its_own_refresh_not_the_reconciler_while_it_can_still_run() -> None:
    # Given three posted recoveries of one group message, and a run with ten minutes left in its invocation
    dynamodb = FakeDynamoDB()
    store = RecoveryStore(TABLE, dynamodb)
    ids = [opened_recovery(store, n).recovery_id for n in range(3)]
    for recovery_id in ids:
        store.mark_posted(recovery_id, "C1", "1.000001", "grp-1")
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    actions = RecoveryActions(store, FakeTaskTokens(), display=ShownNowhere(), clock=lambda: now)
    bulk = BulkAction(actions, rate_per_second=0, sleep=lambda _: None)

    # When someone runs them all again
    report = bulk.run_again(ids, "UALICE", seconds_left=lambda: 600.0)

    # Then each is due for the reconciler's display check only once the run could have refreshed it
    assert [r.outcome for r in report.results] == [ActionOutcome.RESUMED] * 3
    due = {dynamodb.items(TABLE)[i]["due_at"]["S"] for i in ids}
    assert due == {(now + timedelta(seconds=600) + DISPLAY_GRACE).isoformat(timespec="milliseconds")}
    # and a run without an invocation's clock (the command line) waits as long as its pace takes
    assert bulk.display_lease(100) == DISPLAY_GRACE
    assert BulkAction(actions, rate_per_second=10).display_lease(100) == timedelta(seconds=10) + DISPLAY_GRACE
