"""The recovery core on the real table: throttling backoff, refused calls, bulk pacing and deadlines."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, RecoveryActions, ThrottleBackoff
from recovery_ops.service.recovery.lifecycle.bulk import BulkAction
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.stepfunctions.tokens import StepFunctionsTokens
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.recoveries import opened_recovery


class ScriptedStepFunctions:
    """SendTaskSuccess answering from a script of error codes (None = accepted)."""

    def __init__(self, *answers: str | None) -> None:
        self.answers = list(answers)
        self.accepted: list[str] = []
        self.calls = 0

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        self.calls += 1
        code = self.answers.pop(0) if self.answers else None
        if code:
            raise ClientError({"Error": {"Code": code, "Message": code}}, "SendTaskSuccess")
        self.accepted.append(taskToken)
        return {}


def opened(stack: EmbeddedStack, count: int) -> tuple[RecoveryStore, list[Recovery]]:
    store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
    return store, [opened_recovery(store, n) for n in range(count)]


def test_a_throttled_resume_backs_off_and_is_sent_once_it_is_accepted(stack: EmbeddedStack) -> None:
    store, (recovery,) = opened(stack, 1)
    sfn = ScriptedStepFunctions("ThrottlingException", "ThrottlingException", None)
    pauses: list[float] = []
    actions = RecoveryActions(store, StepFunctionsTokens(sfn), backoff=ThrottleBackoff(sleep=pauses.append))

    result = actions.run_again(recovery.recovery_id, "UALICE")

    assert result.outcome is ActionOutcome.RESUMED
    assert sfn.calls == 3 and sfn.accepted == ["token-0"]
    assert len(pauses) == 2 and all(0 <= p <= 5 for p in pauses)


def test_a_call_step_functions_refuses_gives_the_recovery_back_for_another_try(stack: EmbeddedStack) -> None:
    store, (recovery,) = opened(stack, 1)
    actions = RecoveryActions(store, StepFunctionsTokens(ScriptedStepFunctions("AccessDeniedException")))

    result = actions.run_again(recovery.recovery_id, "UALICE")

    assert result.outcome is ActionOutcome.FAILED and "AccessDeniedException" in result.detail
    reopened = store.get(recovery.recovery_id)
    assert reopened.status is RecoveryStatus.OPEN
    assert [e.result for e in reopened.audit] == ["OPEN", "RESUMING", "FAILED"]


def test_bulk_resume_is_paced_and_stops_in_time_leaving_the_rest_open(stack: EmbeddedStack) -> None:
    store, recoveries = opened(stack, 10)
    sfn = ScriptedStepFunctions()
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    bulk = BulkAction(
        RecoveryActions(store, StepFunctionsTokens(sfn)), rate_per_second=4, clock=lambda: now[0], sleep=sleep
    )
    # read once for how long the run may take to show its outcomes, then before each recovery:
    # the function's time runs out at the 7th
    budget = iter([100, 100, 100, 100, 100, 100, 100, 10])

    report = bulk.run_again([r.recovery_id for r in recoveries], "UALICE", seconds_left=lambda: next(budget))

    assert report.outcomes[ActionOutcome.RESUMED] == 6 and report.left_open == 4
    assert now[0] == 6 / 4 - 1 / 4  # 4 per second: six calls spread over 1.25 s
    assert len(store.list_by_status(RecoveryStatus.OPEN)) == 4
    assert "4 left open" in report.summary()
