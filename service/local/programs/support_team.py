"""The support team of `recovery-ops demo`: it decides each recovery as a support person would.

What it does follows from what the recovery says, its error, routing, cause and input (``decide``):

- an outage (``VendorUnavailable``, ``CircuitOpen``, or anything routed as technical) is run again,
  once the vendor answers; until then it waits;
- bad data that the team knows how to fix is edited and run again (an order for more than the vendor
  has: the quantity becomes what is available);
- other bad data is rejected with its own reason (an unknown product: "unknown product").

The collector posts to Slack; the team reads and acts through the recovery core the Slack app and
``recovery-ops retry|reject`` use (exactly once, audited, the Slack message updated with the
outcome): rejections as ``recovery-ops reject``, Run again and Edit input as clicks at its desk in
Slack (``recovery_ops.service.local.desk``: signed requests to the Slack app's function), and, after an
outage,
``recovery-ops retry --error … --yes`` for the rest. Every action waits for its outcome before the
next one, and the terminal shows each outcome after the action that caused it.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recovery_ops.service.local.desk import Desk
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.execution_history import (
    POLL_SECONDS,
    TERMINAL,
    ExecutionsStillRunningError,
)
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.standin.local_slack import LocalSlack
from recovery_ops.service.local.standin.transcript import SlackTranscript
from recovery_ops.service.operator import Operator
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus

Print = Callable[[str], None]

SUPPORT_ENGINEER = "UDEMODESK"
OUTAGE_ERRORS = ("VendorUnavailable", "CircuitOpen")
RUN_AGAIN, EDIT, REJECT = "run again", "edit", "reject"
_INSUFFICIENT_STOCK = re.compile(r"insufficient stock: (\d+) wanted, (\d+) available")


@dataclass(frozen=True)
class Decision:
    """What the team does with a recovery: ``action``, the reason of a rejection, an edited field."""

    action: str
    said: str  # what the terminal says the team does (at "the desk")
    reason: str | None = None
    edit: tuple[str, int] | None = None  # (field, new value) of an edit


@dataclass(frozen=True)
class TeamAction:
    """One recovery the team acted on, and how."""

    recovery_id: str
    execution_name: str
    error: str | None
    routing: str
    action: str
    reason: str | None = None


def decide(recovery: Recovery) -> Decision:
    """What a support person does with ``recovery``, from what it says."""
    if recovery.error in OUTAGE_ERRORS or recovery.routing == "technical":
        return Decision(RUN_AGAIN, "runs it again (an outage, and the vendor answers)")
    cause = recovery.cause or ""
    if "unknown product" in cause:
        return Decision(REJECT, "rejects it: unknown product", reason="unknown product")
    stock = _INSUFFICIENT_STOCK.search(cause)
    if stock and isinstance(recovery.input, dict) and "quantity" in recovery.input:
        available = int(stock[2])
        return Decision(
            EDIT,
            f"edits the quantity to the {available} available and runs it again",
            edit=("quantity", available),
        )
    reason = (cause.splitlines() or [recovery.error or "bad data"])[0][:200]
    return Decision(REJECT, f"rejects it: {reason}", reason=reason)


class SupportTeam:
    """The demo's support team at one embedded stack (Slack: ``slack``, the stand-in or a workspace):
    its person clicks at the ``desk`` (with the stand-in) or uses the ``operator`` (the CLI)."""

    def __init__(self, stack: EmbeddedStack, slack: LocalSlack, out: Print) -> None:
        from recovery_ops.service.composition import build_services
        from recovery_ops.service.config import ServicesConfig
        from recovery_ops.slack_app.web import web_client

        self._stack = stack
        self._out = out
        self._sfn = stack.client("stepfunctions")
        client = web_client(slack.token, base_url=slack.api_url)
        config = ServicesConfig(recoveries_table_name=stack.physical("RecoveriesTable"))
        self.operator = Operator.at(
            build_services(config, stack.client, client), "cli:demo-desk", out=self._say
        )
        self._store = self.operator.store
        self._transcript = SlackTranscript(slack.standin, out)
        self.desk = (
            None
            if slack.standin is None
            else Desk(stack, slack.standin, SUPPORT_ENGINEER, slack.signing_secret)
        )
        self._waiting: set[str] = set()  # technical recoveries said to wait for the vendor
        self.actions: list[TeamAction] = []

    @property
    def handled(self) -> int:
        return len(self.actions)

    def _say(self, line: str) -> None:
        self._out("  recovery-ops: " + line)

    # ------------------------------------------------------------------ reading
    def collect(self) -> None:
        while poll_collector(self._stack).received:
            pass
        self.show_slack()

    def show_slack(self) -> None:
        self._transcript.show_new()

    def wait_for_open(self, count: int, timeout: float = 60) -> list[Recovery]:
        deadline = time.monotonic() + timeout
        while True:
            self.collect()
            found = self._store.list_by_status(RecoveryStatus.OPEN)
            if len(found) >= count or time.monotonic() > deadline:
                return sorted(found, key=lambda r: r.requested_at)
            time.sleep(POLL_SECONDS)  # a tight loop starves moto's execution threads

    # ------------------------------------------------------------------ deciding
    def handle(self, recovery: Recovery, vendor_answers: bool) -> bool:
        """Act on ``recovery`` as ``decide`` says (an outage waits while the vendor does not answer);
        whether it was acted on. Returns once the outcome shows in Slack, and shows it."""
        decision = decide(recovery)
        if decision.action == RUN_AGAIN and not vendor_answers:
            if recovery.recovery_id not in self._waiting:
                self._waiting.add(recovery.recovery_id)
                self._out(f"{self._describe(recovery)} -> the desk waits until the vendor answers")
            return False
        self._out(f"{self._describe(recovery)} -> the desk {decision.said}")
        if decision.action == REJECT:
            self._say(f"reject {recovery.recovery_id} --reason {decision.reason!r}")
            done = self.operator.reject(recovery.recovery_id, decision.reason).done
        elif decision.action == EDIT:
            assert decision.edit is not None  # an EDIT carries its field and value
            done = self._edit(recovery, *decision.edit)
        else:
            done = self._run_again(recovery)
        if done:
            self._record(recovery, decision.action, decision.reason)
        self.show_slack()
        return done

    def work_until_done(
        self, execution_arns: list[str], vendor_answers: Callable[[], bool], timeout: float = 120
    ) -> None:
        """Handle every recovery that opens until the executions have all ended."""
        deadline = time.monotonic() + timeout
        while not self._all_ended(execution_arns):
            if time.monotonic() > deadline:
                raise ExecutionsStillRunningError(f"executions still running after {timeout:g} s")
            for recovery in self.wait_for_open(1, timeout=0.5):
                self.handle(recovery, vendor_answers())

    def run_outage_again_until_done(self, execution_arns: list[str], timeout: float = 120) -> None:
        """After an outage: `recovery-ops retry --error E --yes` for each outage error still open (a
        slow machine stretches the outage, so more may pause after the first round); anything else
        is decided one by one."""
        deadline = time.monotonic() + timeout
        while not self._all_ended(execution_arns):
            if time.monotonic() > deadline:
                raise ExecutionsStillRunningError(f"executions still running after {timeout:g} s")
            found = self.wait_for_open(1, timeout=0.5)
            for error in dict.fromkeys(r.error for r in found if r.error in OUTAGE_ERRORS):
                self._say(f"retry --error {error} --yes")
                report = self.operator.retry_matching(RecoveryQuery(error=error), confirm=lambda count: True)
                for result in report.results if report else []:
                    if result.done and result.recovery is not None:
                        self._record(result.recovery, RUN_AGAIN)
                self.show_slack()
            for recovery in found:
                if recovery.error not in OUTAGE_ERRORS:
                    self.handle(recovery, vendor_answers=True)

    # ------------------------------------------------------------------ acting
    def _run_again(self, recovery: Recovery) -> bool:
        if self.desk is None:
            return self.operator.retry(recovery.recovery_id).done
        self._out(
            f"  <@{SUPPORT_ENGINEER}> clicks [ Run again ] on {recovery.execution_name}"
            " (a signed request to the Slack app)"
        )
        return self.desk.run_again(recovery).status is RecoveryStatus.RESUMED

    def _edit(self, recovery: Recovery, field: str, value: int) -> bool:
        if self.desk is None:
            with tempfile.TemporaryDirectory(prefix="recovery-ops-demo-") as directory:
                path = Path(directory) / "input.json"
                path.write_text(json.dumps({**recovery.input, field: value}))
                self._say(f"retry {recovery.recovery_id} --input edited.json   ({field}: {value})")
                return self.operator.retry(recovery.recovery_id, input_file=path).done
        self._out(
            f"  <@{SUPPORT_ENGINEER}> clicks [ Edit input & run again ] on {recovery.execution_name},"
            f' sets "{field}": {value} and submits (signed requests to the Slack app)'
        )
        form = self.desk.open_edit(recovery)
        edited = {**json.loads(form.text), field: value}
        closed = self.desk.submit_edit(recovery, form, json.dumps(edited, indent=1))
        return closed.status is RecoveryStatus.RESUMED

    def _record(self, recovery: Recovery, action: str, reason: str | None = None) -> None:
        self.actions.append(
            TeamAction(
                recovery.recovery_id,
                recovery.execution_name,
                recovery.error,
                str(recovery.routing),
                action,
                reason,
            )
        )

    def _describe(self, recovery: Recovery) -> str:
        return (
            f"  recovery {recovery.recovery_id[:12]}…: {recovery.execution_name} {recovery.failed_state} "
            f"{recovery.error} ({recovery.routing})"
        )

    def _all_ended(self, execution_arns: list[str]) -> bool:
        return all(
            self._sfn.describe_execution(executionArn=arn)["status"] in TERMINAL for arn in execution_arns
        )
