"""Bulk Run again over the task-token port and an in-memory table: one recovery's trouble stays its own."""

from __future__ import annotations

from botocore.exceptions import ClientError

from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, RecoveryActions
from recovery_ops.service.recovery.lifecycle.bulk import BulkAction
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB, FakeTaskTokens
from tests.support.recoveries import opened_recovery

TABLE = "recoveries"


class ThrottlesOneClaim(FakeDynamoDB):
    """The table, but the claim of ``recovery_id`` is throttled once (after the SDK's own retries)."""

    def __init__(self) -> None:
        super().__init__()
        self.recovery_id = ""

    def update_item(self, **request):  # type: ignore[no-untyped-def]
        claiming = "lease_owner = :owner" in request["UpdateExpression"]
        if claiming and request["Key"]["recovery_id"]["S"] == self.recovery_id:
            self.recovery_id = ""
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "throttled"}},
                "UpdateItem",
            )
        return super().update_item(**request)


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
