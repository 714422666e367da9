"""The support desk of a recovery stack, as a person at Slack works it: what the pytest plugin's
``desk`` fixture is.

It waits for an execution's recovery as the service delivers it (it polls the recovery queue into
the collector as Lambda's event source would, until the recovery is stored and posted to Slack),
then clicks **Run again**, **Edit input & run again** or **Reject** on it: signed Slack requests
sent through the Slack app's real Lambda function (the modal opened, filled in and submitted as
Slack would), waiting until the app has resumed or rejected the execution. It waits for an
execution's end and reads its output. When something does not happen, its error says what did:
an execution that ended without asking for a recovery, a request the collector refused, a click
the app answered with a refusal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from service.errors import RecoveryOpsError
from service.local.engine.collector_poller import poll_collector
from service.local.engine.execution_history import TERMINAL, history, state_steps
from service.local.standin.requests import SlackRequests
from service.local.standin.workspace import SlackWorkspace
from service.local.testing.recovery_stack import Execution, RecoveryStack
from service.recovery.model.recovery import Recovery, RecoveryStatus
from service.recovery.storage.recoveries import RecoveryStore
from slack_app.ids import EDIT_AND_RUN_AGAIN, EDIT_SUBMIT, REJECT, REJECT_SUBMIT, ROW_MENU, RUN_AGAIN
from slack_app.views.listing import row_menu_value
from slack_app.views.modals import INPUT_ACTION, INPUT_BLOCK, REASON_ACTION, REASON_BLOCK

POLL_SECONDS = 0.05  # between checks: a tight loop starves moto's execution threads
T = TypeVar("T")


class DeskError(RecoveryOpsError, AssertionError):
    """Something the desk waited for did not happen; the message says what happened instead."""


class RecoveryNeverRequestedError(DeskError):
    """The execution ended without its recovery step sending anything to the recovery queue."""


class NoRecoveryInTimeError(DeskError):
    """The execution still runs, but no recovery of it was opened (and posted) in time."""


class ActionNotDoneError(DeskError):
    """A click or a modal submission did not resume or reject the recovery."""


class ExecutionNotSucceededError(DeskError):
    """The execution ended, but not SUCCEEDED: it has no output to give."""


class ExecutionStillRunningError(DeskError):
    """The execution did not end in time."""


@dataclass(frozen=True)
class ExecutionEnd:
    """How an execution ended: ``output`` is its parsed JSON output (None unless SUCCEEDED)."""

    status: str
    output: Any
    error: str | None
    cause: str | None


class Desk:
    """One allowed person at Slack, working the recoveries of a recovery stack."""

    def __init__(self, stack: RecoveryStack, slack: SlackWorkspace, timeout: float = 60) -> None:
        self.stack = stack
        self.slack = slack
        self.person = stack.person
        self.timeout = timeout
        self._requests = SlackRequests(stack.signing_secret, response_url=slack.standin.response_url)
        self._store = RecoveryStore(stack.embedded.physical("RecoveriesTable"), stack.client("dynamodb"))

    # ------------------------------------------------------------------ waiting for recoveries
    def wait_for_recovery(
        self, execution: Execution | str, state: str | None = None, timeout: float | None = None
    ) -> Recovery:
        """The execution's open recovery (of its failed ``state``, if given), once it is stored and
        posted to Slack: the earliest, if several are open. Pass ``state`` when several states of one
        execution can pause at once (the branches of a Parallel)."""
        return self.wait_for_recoveries(execution, 1, state=state, timeout=timeout)[0]

    def wait_for_recoveries(
        self, execution: Execution | str, count: int, state: str | None = None, timeout: float | None = None
    ) -> list[Recovery]:
        """At least ``count`` open recoveries of the execution (of ``state``, if given), each stored and
        posted to Slack, earliest first (the items of a Map, the branches of a Parallel)."""
        arn = _arn(execution)

        def found() -> list[Recovery] | None:
            poll_collector(self.stack.embedded)
            posted = [r for r in self.open_recoveries(arn, state) if r.slack_ts]
            return posted if len(posted) >= count else None

        def ended() -> bool:
            return self._status(arn) in TERMINAL

        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            finished = ended()  # before looking: what the execution sent before it ended is seen
            recoveries = found()
            if recoveries:
                return recoveries
            if finished:
                raise RecoveryNeverRequestedError(self._never_requested(arn, count, state))
            if time.monotonic() > deadline:
                raise NoRecoveryInTimeError(self._not_in_time(arn, count, state, limit))
            time.sleep(POLL_SECONDS)

    def open_recoveries(self, execution: Execution | str, state: str | None = None) -> list[Recovery]:
        """The execution's recoveries that wait for a person now (of ``state``, if given), earliest
        first; not polling the queue."""
        recoveries = [
            r
            for r in self._store.for_execution(_arn(execution))
            if r.status is RecoveryStatus.OPEN and (state is None or r.failed_state == state)
        ]
        return sorted(recoveries, key=lambda r: (r.requested_at, r.created_at))

    # ------------------------------------------------------------------ acting
    def run_again(self, recovery: Recovery) -> Recovery:
        """Click **Run again** on the recovery's Slack message; the recovery once RESUMED."""
        told = len(self.slack.told())
        self._send(self._click(RUN_AGAIN, recovery), "Run again", recovery)
        return self._closed_as(recovery, RecoveryStatus.RESUMED, "Run again", told)

    def edit_and_run_again(self, recovery: Recovery, new_input: Any) -> Recovery:
        """Click **Edit input & run again**, replace the modal's input with ``new_input`` (any JSON value)
        and submit; the recovery once RESUMED. A refusal in the modal (not the state's schema, say)
        raises ``ActionNotDoneError`` with the modal's error."""
        told = len(self.slack.told())
        view = self._open_modal(EDIT_AND_RUN_AGAIN, EDIT_SUBMIT, recovery, "Edit input & run again")
        submission = self._requests.submit(
            self.person,
            EDIT_SUBMIT,
            view["private_metadata"],
            {INPUT_BLOCK: {INPUT_ACTION: json.dumps(new_input)}},
        )
        self._send(submission, "Edit input & run again", recovery)
        return self._closed_as(recovery, RecoveryStatus.RESUMED, "Edit input & run again", told)

    def reject(self, recovery: Recovery, reason: str = "") -> Recovery:
        """Click **Reject**, give ``reason`` in the modal and submit; the recovery once REJECTED (the
        execution gets ``RecoveryRejected`` with the person and the reason as its cause)."""
        told = len(self.slack.told())
        view = self._open_modal(REJECT, REJECT_SUBMIT, recovery, "Reject")
        submission = self._requests.submit(
            self.person, REJECT_SUBMIT, view["private_metadata"], {REASON_BLOCK: {REASON_ACTION: reason}}
        )
        self._send(submission, "Reject", recovery)
        return self._closed_as(recovery, RecoveryStatus.REJECTED, "Reject", told)

    # ------------------------------------------------------------------ the execution's end
    def wait_for_end(self, execution: Execution | str, timeout: float | None = None) -> ExecutionEnd:
        """How the execution ended, once it has."""
        arn = _arn(execution)
        sfn = self.stack.client("stepfunctions")
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            described = sfn.describe_execution(executionArn=arn)
            if described["status"] in TERMINAL:
                output = described.get("output")
                return ExecutionEnd(
                    described["status"],
                    json.loads(output) if output is not None else None,
                    described.get("error"),
                    described.get("cause"),
                )
            if time.monotonic() > deadline:
                waiting = self.open_recoveries(arn)
                raise ExecutionStillRunningError(
                    f"{_name(arn)} is still RUNNING after {limit:g} s, {self._where(arn)}"
                    + (
                        f"; it waits for a person: {', '.join(_described(r) for r in waiting)}"
                        if waiting
                        else ""
                    )
                )
            time.sleep(POLL_SECONDS)

    def wait_for_output(self, execution: Execution | str, timeout: float | None = None) -> Any:
        """The execution's output (parsed JSON) once it SUCCEEDED; ``ExecutionNotSucceededError``
        saying how it ended otherwise."""
        end = self.wait_for_end(execution, timeout)
        if end.status != "SUCCEEDED":
            raise ExecutionNotSucceededError(
                f"{_name(_arn(execution))} ended {_ending(end.status, end.error, end.cause)}"
            )
        return end.output

    # ------------------------------------------------------------------ Slack requests
    def _click(self, action_id: str, recovery: Recovery) -> Any:
        """The button ``action_id`` clicked on the recovery's Slack message; once that message has become
        a group message (no button of its own left), the same action chosen in the row menu of the
        ``/recoveries`` list, as a person would."""
        current = self._store.get(recovery.recovery_id)
        channel = current.slack_channel or ""
        try:
            message = self.slack.message_of(current)
        except LookupError:
            message = None
        if message and any(
            b.action_id == action_id and b.value == current.recovery_id for b in message.buttons
        ):
            return self._requests.click(
                self.person, action_id, current.recovery_id, channel=channel, message_ts=message.ts
            )
        return self._requests.choose(
            self.person, ROW_MENU, row_menu_value(action_id, current.recovery_id), channel=channel
        )

    def _send(self, request: Any, what: str, recovery: Recovery) -> dict[str, Any]:
        """POST the request to the Slack app's function as API Gateway would; its HTTP answer."""
        answer = self.stack.client("lambda").invoke(
            FunctionName=self.stack.embedded.physical("SlackAppFunction"),
            Payload=json.dumps(request.lambda_event()),
        )
        response = json.loads(answer["Payload"].read() or b"{}")
        if answer.get("FunctionError") or response.get("statusCode") != 200:
            raise ActionNotDoneError(f"{what} on {_described(recovery)}: the Slack app answered {response}")
        body = response.get("body") or ""
        if body.startswith("{") and json.loads(body).get("response_action") == "errors":
            errors = "; ".join(json.loads(body).get("errors", {}).values())
            raise ActionNotDoneError(f"{what} on {_described(recovery)} was refused in the modal: {errors}")
        return response

    def _open_modal(self, action_id: str, callback_id: str, recovery: Recovery, what: str) -> dict[str, Any]:
        """Click ``action_id``; the modal the Slack app asked Slack to open for this recovery."""
        told = len(self.slack.told())
        self._send(self._click(action_id, recovery), what, recovery)
        self.stack.embedded.dispatcher.settle(self.timeout)  # the Slack app's lazy half has answered

        def opened() -> dict[str, Any] | None:
            for call in reversed(self.slack.standin.calls_of("views.open")):
                view = call.body.get("view") or {}
                view = json.loads(view) if isinstance(view, str) else view
                metadata = json.loads(view.get("private_metadata") or "{}")
                if (
                    view.get("callback_id") == callback_id
                    and metadata.get("recovery_id") == recovery.recovery_id
                ):
                    return view
            return None

        return self._until(
            opened,
            lambda: ActionNotDoneError(
                f"{what} on {_described(recovery)}: no modal was opened{self._told_since(told)}"
            ),
        )

    def _closed_as(self, recovery: Recovery, status: RecoveryStatus, what: str, told: int) -> Recovery:
        """The recovery once it reached ``status``, and the Slack app's work for the click has ended."""

        def reached() -> Recovery | None:
            current = self._store.get(recovery.recovery_id)
            if current.status is status:
                return current
            if current.status.is_closed:
                raise ActionNotDoneError(
                    f"{what} on {_described(recovery)} left it {current.status.value}, not {status.value}"
                    f"{self._told_since(told)}"
                )
            return None

        self.stack.embedded.dispatcher.settle(self.timeout)  # the Slack app's lazy half has done its work
        # a recovery still OPEN now stays so: the app did not act on it (and told the person why)
        untouched = self._store.get(recovery.recovery_id).status is RecoveryStatus.OPEN
        return self._until(
            reached,
            lambda: ActionNotDoneError(
                f"{what} on {_described(recovery)}: it is still "
                f"{self._store.get(recovery.recovery_id).status.value}{self._told_since(told)}"
            ),
            timeout=0 if untouched else None,
        )

    def _until(
        self, found: Callable[[], T | None], failure: Callable[[], DeskError], timeout: float | None = None
    ) -> T:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            result = found()
            if result is not None:
                return result
            if time.monotonic() > deadline:
                self.stack.embedded.dispatcher.settle()
                raise failure()
            time.sleep(POLL_SECONDS)

    def _told_since(self, before: int) -> str:
        told = [text for text in self.slack.told()[before:] if text]
        return f"; Slack told {self.person}: " + " | ".join(told) if told else ""

    # ------------------------------------------------------------------ what happened instead
    def _status(self, arn: str) -> str:
        return self.stack.client("stepfunctions").describe_execution(executionArn=arn)["status"]

    def _never_requested(self, arn: str, count: int, state: str | None) -> str:
        described = self.stack.client("stepfunctions").describe_execution(executionArn=arn)
        ending = _ending(described["status"], described.get("error"), described.get("cause"))
        seen = self._store.for_execution(arn)
        wanted = _wanted(count, state)
        if seen:
            return f"{_name(arn)} ended {ending} before {wanted} was open; its recoveries: " + ", ".join(
                f"{_described(r)} {r.status.value}" for r in seen
            )
        refused = self._refused()
        if refused:
            return f"{_name(arn)} ended {ending}, {self._where(arn)}, without a recovery: {refused}"
        return (
            f"{_name(arn)} ended {ending}, {self._where(arn)}, and never asked for a recovery: nothing it "
            "sent reached the recovery queue. Its failed state's Catch must lead to a recovery step "
            '("Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken") whose "QueueUrl" is '
            '"${RecoveryQueueUrl}" (deploy_state_machine puts the stack\'s queue there)'
        )

    def _not_in_time(self, arn: str, count: int, state: str | None, timeout: float) -> str:
        stored = [r for r in self._store.for_execution(arn) if state is None or r.failed_state == state]
        unposted = [r for r in stored if r.status is RecoveryStatus.OPEN and not r.slack_ts]
        message = (
            f"{_name(arn)} did not get {_wanted(count, state)} within {timeout:g} s; it is RUNNING, "
            + self._where(arn)
        )
        if unposted:
            failed = [
                c for c in self.slack.standin.calls if c.method == "chat.postMessage" and c.status != 200
            ]
            message += f"; stored but never posted to Slack: {', '.join(_described(r) for r in unposted)}" + (
                f" (Slack answered {failed[-1].status} to chat.postMessage)" if failed else ""
            )
        elif stored:
            message += "; its recoveries: " + ", ".join(f"{_described(r)} {r.status.value}" for r in stored)
        else:
            message += "; " + (self._refused() or "nothing reached the recovery queue")
        return message

    def _where(self, arn: str) -> str:
        """Which state the execution was in last, and what failed on the way."""
        steps = state_steps(history(self.stack.client("stepfunctions"), arn))
        if not steps:
            return "before its first state"
        failures = [f"{s.name} ({s.error})" for s in steps if s.error]
        where = f"last in state {steps[-1].name!r}"
        return where + (f" (failed on the way: {', '.join(dict.fromkeys(failures))})" if failures else "")

    def _refused(self) -> str:
        """The collector's refusals, read off the recovery DLQ (left there)."""
        sqs = self.stack.client("sqs")
        messages = sqs.receive_message(
            QueueUrl=self.stack.embedded.physical("RecoveryDeadLetterQueue"),
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=0,
        ).get("Messages", [])
        reasons = [
            (m.get("MessageAttributes", {}).get("reason") or {}).get("StringValue", "no reason given")
            for m in messages
        ]
        if not reasons:
            return ""
        return (
            f"its recovery request reached the recovery queue, but the collector refused {len(reasons)} "
            "(moved to the recovery DLQ), saying: " + " | ".join(reasons)
        )


def _ending(status: str, error: str | None, cause: str | None) -> str:
    """``FAILED with VendorDown: the vendor does not answer`` (a Lambda error's cause is its JSON: its
    message is what a person reads)."""
    if cause and cause.startswith("{"):
        try:
            cause = json.loads(cause).get("errorMessage", cause)
        except (json.JSONDecodeError, AttributeError):
            pass
    return status + (f" with {error}" if error else "") + (f": {cause}" if cause else "")


def _arn(execution: Execution | str) -> str:
    return execution.arn if isinstance(execution, Execution) else execution


def _name(arn: str) -> str:
    return f"execution {arn.rsplit(':', 1)[-1]!r}"


def _described(recovery: Recovery) -> str:
    return f"recovery {recovery.recovery_id} ({recovery.failed_state!r} of {recovery.execution_name!r})"


def _wanted(count: int, state: str | None) -> str:
    at = f" at {state!r}" if state else ""
    return "a recovery" + at + " posted to Slack" if count == 1 else f"{count} recoveries{at} posted to Slack"
