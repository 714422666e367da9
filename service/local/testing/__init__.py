"""What a team's tests use of recovery-ops, typed, in one place (the fixtures: ``pytest_plugin``).

    from recovery_ops.service.local.testing import Desk, ExecutionEnd, Recovery, RecoveryStack

- ``RecoveryStack`` (the ``recovery_stack`` fixture): ``deploy_state_machine`` returns a
  ``StateMachine`` (``arn``, ``name``, ``functions``: each placeholder's function ARN), whose
  ``start`` returns an ``Execution`` (``arn``, ``name``, ``state_machine_arn``).
- ``Desk`` (the ``desk`` fixture): its waits and clicks return a ``Recovery`` (every field of the
  stored recovery but its task token, which never leaves the recoveries table) and ``wait_for_end``
  an ``ExecutionEnd`` (``status``, ``output``, ``error``, ``cause``).
- ``SlackWorkspace`` (the ``slack_workspace`` fixture): what was posted, as a reader sees it.
- The errors a wait or a click raises when something does not happen, all ``DeskError``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time each name is imported when first used, so that
    # loading the pytest plugin (this package's pytest_plugin) imports neither moto nor the service
    from recovery_ops.service.local.desk import (
        ActionNotDoneError,
        Desk,
        DeskError,
        ExecutionEnd,
        ExecutionNotSucceededError,
        ExecutionStillRunningError,
        NoRecoveryInTimeError,
        RecoveryNeverRequestedError,
    )
    from recovery_ops.service.local.standin.workspace import SlackWorkspace
    from recovery_ops.service.local.testing.recovery_stack import (
        DurableExecution,
        DurableFunction,
        Execution,
        RecoveryStack,
        StateMachine,
        TeamStack,
    )
    from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus

_WHERE = {
    "ActionNotDoneError": "recovery_ops.service.local.desk",
    "Desk": "recovery_ops.service.local.desk",
    "DeskError": "recovery_ops.service.local.desk",
    "ExecutionEnd": "recovery_ops.service.local.desk",
    "ExecutionNotSucceededError": "recovery_ops.service.local.desk",
    "ExecutionStillRunningError": "recovery_ops.service.local.desk",
    "NoRecoveryInTimeError": "recovery_ops.service.local.desk",
    "RecoveryNeverRequestedError": "recovery_ops.service.local.desk",
    "SlackWorkspace": "recovery_ops.service.local.standin.workspace",
    "DurableExecution": "recovery_ops.service.local.testing.recovery_stack",
    "DurableFunction": "recovery_ops.service.local.testing.recovery_stack",
    "Execution": "recovery_ops.service.local.testing.recovery_stack",
    "RecoveryStack": "recovery_ops.service.local.testing.recovery_stack",
    "StateMachine": "recovery_ops.service.local.testing.recovery_stack",
    "TeamStack": "recovery_ops.service.local.testing.recovery_stack",
    "AuditEntry": "recovery_ops.service.recovery.model.recovery",
    "Recovery": "recovery_ops.service.recovery.model.recovery",
    "RecoveryStatus": "recovery_ops.service.recovery.model.recovery",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


__all__ = [
    "ActionNotDoneError",
    "AuditEntry",
    "Desk",
    "DeskError",
    "DurableExecution",
    "DurableFunction",
    "Execution",
    "ExecutionEnd",
    "ExecutionNotSucceededError",
    "ExecutionStillRunningError",
    "NoRecoveryInTimeError",
    "Recovery",
    "RecoveryNeverRequestedError",
    "RecoveryStack",
    "RecoveryStatus",
    "SlackWorkspace",
    "StateMachine",
    "TeamStack",
]
