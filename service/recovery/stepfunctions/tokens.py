"""The task-token port over Step Functions: the only caller of SendTaskSuccess / SendTaskFailure.

Each call is made once; the answer is sorted into a ``TokenOutcome`` as every adapter of the port
sorts it (``ports/token_answers.py``: throttling is reported and the core decides how to back off;
an endpoint never reached is a refusal; an answer that never came, or a 5xx, is UNKNOWN).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recovery_ops.service.recovery.ports.task_tokens import TokenOutcome
from recovery_ops.service.recovery.ports.token_answers import sorted_answer

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

DEAD_TOKEN_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class StepFunctionsTokens:
    """``TaskTokens`` over a boto3 Step Functions client."""

    def __init__(self, sfn: SFNClient | Any) -> None:
        self._sfn = sfn

    def send_success(self, token: str, output: str) -> TokenOutcome:
        return sorted_answer(
            lambda: self._sfn.send_task_success(taskToken=token, output=output),
            dead=DEAD_TOKEN_ERRORS,
            token=token,
        )

    def send_failure(self, token: str, error: str, cause: str) -> TokenOutcome:
        return sorted_answer(
            lambda: self._sfn.send_task_failure(taskToken=token, error=error, cause=cause),
            dead=DEAD_TOKEN_ERRORS,
            token=token,
        )
