"""pytest fixtures to test a team's own state machine's recovery path next to the recovery service.

Loaded by pytest on its own wherever recovery-ops is installed (the ``pytest11`` entry point
``recovery_ops`` in pyproject.toml); ``-p no:recovery_ops`` leaves it out. Shipped in the package,
never in the Lambda build (``service/local/`` is removed from it). Heavy imports (moto, the
service) wait until a test asks for a fixture.

- ``slack_workspace``: the Slack stand-in, read as a channel reader sees it;
- ``recovery_stack``: template.yaml's recovery service in moto, where a team deploys its own
  definition and starts executions (``recovery_stack_parameters`` changes its parameters);
- ``desk``: the one allowed person at Slack, who waits for a recovery and clicks on it (the
  desk of ``service/local/desk.py``, where its errors are too).

See docs/integrate/pytest-plugin.md and docs/reference/fixtures.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from recovery_ops.service.local.desk import Desk
    from recovery_ops.service.local.standin.workspace import SlackWorkspace
    from recovery_ops.service.local.testing.recovery_stack import RecoveryStack


def pytest_configure(config: pytest.Config) -> None:
    # the service's handlers flush Powertools metrics with none recorded (quiet stacks record none)
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def slack_workspace() -> Iterator[SlackWorkspace]:
    """The Slack Web API stand-in the recovery service posts to (HTTP on 127.0.0.1): ``messages()``
    as they read now, each with its ``text``, ``buttons`` and thread ``replies``; ``message_of(recovery)``;
    ``told()``, what people were told privately; ``standin``, every recorded call."""
    from recovery_ops.service.local.standin.server import serve_slack_standin
    from recovery_ops.service.local.standin.workspace import SlackWorkspace

    with serve_slack_standin() as standin:
        yield SlackWorkspace(standin)


@pytest.fixture
def recovery_stack_parameters() -> dict[str, str]:
    """template.yaml parameters for ``recovery_stack``, over its defaults (``DeployOrderExample=false``,
    one channel, one allowed person). Override this fixture to change some, e.g.
    ``{"RecoveryTimeoutSeconds": "3600"}``."""
    return {}


@pytest.fixture
def recovery_stack(
    slack_workspace: SlackWorkspace, recovery_stack_parameters: dict[str, str]
) -> Iterator[RecoveryStack]:
    """The recovery service of template.yaml deployed into moto for one test (no AWS account): the
    recovery queue, the collector, the Slack app at ``slack_workspace``. ``deploy_state_machine(asl_file,
    functions={placeholder: callable}, substitutions={...})`` deploys a team's definition beside it
    (``${RecoveryQueueUrl}`` is the stack's queue) and returns a state machine whose ``start(input)``
    starts a named execution. Retry and Wait intervals and task timeouts run at 1/100 of their length."""
    from recovery_ops.service.local.testing.recovery_stack import deployed_recovery_stack

    with deployed_recovery_stack(slack_workspace.standin, recovery_stack_parameters) as stack:
        yield stack
        denied = stack.denied_calls()
    if denied:  # a call of the team's own functions or state machines that its role does not allow
        from recovery_ops.service.local.engine.iam_check import describe

        pytest.fail(describe(denied), pytrace=False)


@pytest.fixture
def desk(recovery_stack: RecoveryStack, slack_workspace: SlackWorkspace) -> Desk:
    """The allowed person at Slack: ``wait_for_recovery(execution, state=None)`` collects the recovery
    queue until the execution's recovery is posted (or says why it never will be), then ``run_again``,
    ``edit_and_run_again(recovery, new_input)`` or ``reject(recovery, reason)`` click as Slack would,
    through the Slack app's function; ``wait_for_end(execution)`` and ``wait_for_output(execution)``."""
    from recovery_ops.service.local.desk import Desk

    return Desk(
        recovery_stack.embedded,
        slack_workspace.standin,
        recovery_stack.person,
        recovery_stack.signing_secret,
    )
