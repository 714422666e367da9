"""Recovery for Lambda durable functions: ``wait_for_recovery`` hands a step that still fails after
its retries to the recovery desk (the same desk, lists, rules and approvals as a state machine's
pause) and returns the person's decision (docs/integrate/durable-functions.md).

Shipped with a team's function: imports the standard library, boto3 and, when called, AWS's
durable-execution SDK; nothing of Slack or of the desk's own storage.
"""

from recovery_ops.service.durable.errors import RecoveryRejected, RecoveryRequestError, RecoveryTimedOut
from recovery_ops.service.durable.wait import RunAgain, wait_for_recovery

__all__ = ["RecoveryRejected", "RecoveryRequestError", "RecoveryTimedOut", "RunAgain", "wait_for_recovery"]
