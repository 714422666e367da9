"""The desk: a person at Slack working the recoveries of an embedded stack, the one way anything
local clicks in Slack.

The pytest plugin's ``desk`` fixture is one, so are the person at the terminal of `recovery-ops try`
and the demo's support team (``recovery_ops.service.local.programs.support_team``); the tests click through it
too (``tests/support/desk.py``).

It waits for an execution's recovery as the service delivers it (it polls the recovery queue into
the collector as Lambda's event source would, until the recovery is stored and posted to Slack),
then clicks **Run again**, **Edit input & run again** or **Reject** on it: signed Slack requests
(``recovery_ops.service.local.standin.requests``) sent through the Slack app's real Lambda function, whose
lazy
half runs on its own as on AWS; a modal is opened, filled in and submitted as Slack would. Every
action returns once the app has resumed or rejected the execution (and updated its Slack message),
so what happens next follows the click that caused it. It waits for an execution's end and reads
its output. When something does not happen, its error says what did: an execution that ended
without asking for a recovery, a request the collector refused, a click the app answered with a
refusal.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.execution_history import TERMINAL, history, state_steps
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.standin.requests import SlackRequest, SlackRequests
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.local.standin.workspace import SlackWorkspace
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from recovery_ops.slack_app.ids import (
    EDIT_AND_RUN_AGAIN,
    EDIT_SUBMIT,
    REJECT,
    REJECT_SUBMIT,
    ROW_MENU,
    RUN_AGAIN,
)
from recovery_ops.slack_app.views.listing import row_menu_value
from recovery_ops.slack_app.views.modals import INPUT_ACTION, INPUT_BLOCK, REASON_ACTION, REASON_BLOCK

POLL_SECONDS = 0.05  # between checks: a tight loop starves moto's execution threads
T = TypeVar("T")

#: the modal each button opens: what its submission is called
MODAL_OF = {EDIT_AND_RUN_AGAIN: EDIT_SUBMIT, REJECT: REJECT_SUBMIT}


class StartedExecution(Protocol):
    """An execution started beside the stack (what a state machine's ``start`` returns)."""

    @property
    def arn(self) -> str: ...


#: an execution: its ARN, or the execution a state machine's ``start`` returned
ExecutionRef = str | StartedExecution


#: a durable execution's statuses as the desk reports an execution's end (STOPPED is Step Functions' ABORTED)
DURABLE_STATUSES = {"STOPPED": "ABORTED", "PAUSING": "RUNNING", "PAUSED": "RUNNING"}


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


@dataclass(frozen=True)
class EditForm:
    """The edit modal the Slack app opened: what it carries, and the input it shows (JSON text)."""

    private_metadata: str
    text: str


#: what a recovery the desk returns carries instead of its task token, which never leaves the table
WITHHELD_TOKEN = "(withheld: the task token stays in the recoveries table)"


def shown(recovery: Recovery) -> Recovery:
    """``recovery`` as the desk hands it to a test or a program: every field but its task token."""
    return replace(recovery, task_token=WITHHELD_TOKEN)


def send_to_slack_app(stack: EmbeddedStack, request: SlackRequest) -> dict[str, Any]:
    """POST ``request`` to the Slack app's function as API Gateway would; its HTTP answer."""
    answer = stack.client("lambda").invoke(
        FunctionName=stack.physical("SlackAppFunction"), Payload=json.dumps(request.lambda_event())
    )
    return json.loads(answer["Payload"].read() or b"{}")


def edit_submission(requests: SlackRequests, person: str, private_metadata: str, text: str) -> SlackRequest:
    """The edit modal (carrying ``private_metadata``) submitted by ``person`` with ``text`` as the input."""
    return requests.submit(person, EDIT_SUBMIT, private_metadata, {INPUT_BLOCK: {INPUT_ACTION: text}})


def reject_submission(
    requests: SlackRequests, person: str, private_metadata: str, reason: str
) -> SlackRequest:
    """The reject modal (carrying ``private_metadata``) submitted by ``person`` with ``reason``."""
    return requests.submit(person, REJECT_SUBMIT, private_metadata, {REASON_BLOCK: {REASON_ACTION: reason}})


class Desk:
    """``person`` at Slack (the stand-in ``standin``), working the recoveries of ``stack``."""

    def __init__(
        self,
        stack: EmbeddedStack,
        standin: SlackStandIn,
        person: str,
        signing_secret: str,
        timeout: float = 60,
    ) -> None:
        self.stack = stack
        self.slack = SlackWorkspace(standin)
        self.person = person
        self.timeout = timeout
        self.requests = SlackRequests(signing_secret, response_url=standin.response_url)
        self._store = RecoveryStore(
            stack.physical("RecoveriesTable"), stack.client("dynamodb"), payloads=stack.payloads()
        )

    # ------------------------------------------------------------------ waiting for recoveries
    def wait_for_recovery(
        self, execution: ExecutionRef, state: str | None = None, timeout: float | None = None
    ) -> Recovery:
        """The execution's open recovery (of its failed ``state``, if given), once it is stored and
        posted to Slack: the earliest, if several are open. Pass ``state`` when several states of one
        execution can pause at once (the branches of a Parallel)."""
        return self.wait_for_recoveries(execution, 1, state=state, timeout=timeout)[0]

    def wait_for_recoveries(
        self, execution: ExecutionRef, count: int, state: str | None = None, timeout: float | None = None
    ) -> list[Recovery]:
        """At least ``count`` open recoveries of the execution (of ``state``, if given), each stored and
        posted to Slack, earliest first (the items of a Map, the branches of a Parallel)."""
        arn = _arn(execution)

        def found() -> list[Recovery] | None:
            poll_collector(self.stack)
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

    def open_recoveries(self, execution: ExecutionRef, state: str | None = None) -> list[Recovery]:
        """The execution's recoveries that wait for a person now (of ``state``, if given), earliest
        first; not polling the queue."""
        recoveries = [
            shown(r)
            for r in self._store.for_execution(_arn(execution))
            if r.status is RecoveryStatus.OPEN and (state is None or r.failed_state == state)
        ]
        return sorted(recoveries, key=lambda r: (r.requested_at, r.created_at))

    # ------------------------------------------------------------------ acting
    def run_again(self, recovery: Recovery) -> Recovery:
        """Click **Run again** on the recovery's Slack message; the recovery once RESUMED."""
        doing = f"Run again on {_described(recovery)}"
        told = len(self.slack.told())
        self._send(self.click(RUN_AGAIN, recovery), doing)
        return self._closed_as(recovery, RecoveryStatus.RESUMED, doing, told)

    def edit_and_run_again(self, recovery: Recovery, new_input: Any) -> Recovery:
        """Click **Edit input & run again**, replace the modal's input with ``new_input`` (any JSON value)
        and submit; the recovery once RESUMED. A refusal in the modal (not the state's schema, say)
        raises ``ActionNotDoneError`` with the modal's error."""
        told = len(self.slack.told())
        form = self.open_edit(recovery)
        return self._submit_edit(recovery, form, json.dumps(new_input), told)

    def open_edit(self, recovery: Recovery) -> EditForm:
        """Click **Edit input & run again**; the modal the Slack app opened, with the input it shows."""
        doing = f"Edit input & run again on {_described(recovery)}"
        click = self.click(EDIT_AND_RUN_AGAIN, recovery)
        view = self.open_modal(click, EDIT_SUBMIT, recovery.recovery_id, doing)
        return EditForm(view["private_metadata"], _initial_value(view, INPUT_BLOCK))

    def submit_edit(self, recovery: Recovery, form: EditForm, text: str) -> Recovery:
        """Submit the edit modal ``form`` with ``text`` (JSON) as the input; the recovery once RESUMED.
        A refusal in the modal raises ``ActionNotDoneError`` with the modal's error (nothing is sent)."""
        return self._submit_edit(recovery, form, text, len(self.slack.told()))

    def reject(self, recovery: Recovery, reason: str | None = "") -> Recovery:
        """Click **Reject**, give ``reason`` in the modal and submit; the recovery once REJECTED (the
        execution gets ``RecoveryRejected`` with the person and the reason as its cause)."""
        doing = f"Reject on {_described(recovery)}"
        told = len(self.slack.told())
        view = self.open_modal(self.click(REJECT, recovery), REJECT_SUBMIT, recovery.recovery_id, doing)
        submission = reject_submission(self.requests, self.person, view["private_metadata"], reason or "")
        self._send(submission, doing)
        return self._closed_as(recovery, RecoveryStatus.REJECTED, doing, told)

    # ------------------------------------------------------------------ the execution's end
    def wait_for_end(self, execution: ExecutionRef, timeout: float | None = None) -> ExecutionEnd:
        """How the execution ended, once it has."""
        arn = _arn(execution)
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            described = self._described(arn)
            if described.status in TERMINAL:
                return described
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

    def wait_for_output(self, execution: ExecutionRef, timeout: float | None = None) -> Any:
        """The execution's output (parsed JSON) once it SUCCEEDED; ``ExecutionNotSucceededError``
        saying how it ended otherwise."""
        end = self.wait_for_end(execution, timeout)
        if end.status != "SUCCEEDED":
            raise ExecutionNotSucceededError(
                f"{_name(_arn(execution))} ended {_ending(end.status, end.error, end.cause)}"
            )
        return end.output

    # ------------------------------------------------------------------ Slack requests
    def click(self, action_id: str, recovery: Recovery) -> SlackRequest:
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
            return self.requests.click(
                self.person, action_id, current.recovery_id, channel=channel, message_ts=message.ts
            )
        return self.requests.choose(
            self.person, ROW_MENU, row_menu_value(action_id, current.recovery_id), channel=channel
        )

    def open_modal(self, click: SlackRequest, modal: str, recovery_id: str, doing: str) -> dict[str, Any]:
        """Send ``click`` (of a button that opens a modal: ``MODAL_OF`` its action); the view of the
        ``modal`` (its callback id) the Slack app then asked Slack to open for the recovery
        ``recovery_id``. ``doing`` names the click in an error."""
        told = len(self.slack.told())
        since = len(self.slack.standin.calls)
        self._send(click, doing)
        self.stack.dispatcher.settle(self.timeout)  # the Slack app's lazy half has answered

        def opened() -> dict[str, Any] | None:
            calls = list(self.slack.standin.calls)[since:]
            for call in reversed([c for c in calls if c.method == "views.open" and c.status == 200]):
                view = call.body.get("view") or {}
                view = json.loads(view) if isinstance(view, str) else view
                metadata = json.loads(view.get("private_metadata") or "{}")
                if view.get("callback_id") == modal and metadata.get("recovery_id") == recovery_id:
                    return view
            return None

        return self._until(
            opened, lambda: ActionNotDoneError(f"{doing}: no modal was opened{self._told_since(told)}")
        )

    def _submit_edit(self, recovery: Recovery, form: EditForm, text: str, told: int) -> Recovery:
        doing = f"Edit input & run again on {_described(recovery)}"
        self._send(edit_submission(self.requests, self.person, form.private_metadata, text), doing)
        return self._closed_as(recovery, RecoveryStatus.RESUMED, doing, told)

    def _send(self, request: SlackRequest, doing: str) -> dict[str, Any]:
        """``send_to_slack_app``; ``ActionNotDoneError`` when the app did not take it (or refused it in the
        modal)."""
        response = send_to_slack_app(self.stack, request)
        if response.get("statusCode") != 200:
            raise ActionNotDoneError(f"{doing}: the Slack app answered {response}")
        errors = _modal_errors(response)
        if errors:
            raise ActionNotDoneError(f"{doing} was refused in the modal: {errors}")
        return response

    def _closed_as(self, recovery: Recovery, status: RecoveryStatus, doing: str, told: int) -> Recovery:
        """The recovery once it reached ``status``, and the Slack app's work for the click has ended."""

        def reached() -> Recovery | None:
            current = self._store.get(recovery.recovery_id)
            if current.status is status:
                return shown(current)
            if current.status.is_closed:
                raise ActionNotDoneError(
                    f"{doing} left it {current.status.value}, not {status.value}{self._told_since(told)}"
                )
            return None

        self.stack.dispatcher.settle(self.timeout)  # the Slack app's lazy half has done its work
        # a recovery still OPEN now stays so: the app did not act on it (and told the person why)
        untouched = self._store.get(recovery.recovery_id).status is RecoveryStatus.OPEN
        return self._until(
            reached,
            lambda: ActionNotDoneError(
                f"{doing}: it is still "
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
                self.stack.dispatcher.settle()
                raise failure()
            time.sleep(POLL_SECONDS)

    def _told_since(self, before: int) -> str:
        told = [text for text in self.slack.told()[before:] if text]
        return f"; Slack told {self.person}: " + " | ".join(told) if told else ""

    # ------------------------------------------------------------------ what happened instead
    def _status(self, arn: str) -> str:
        return self._described(arn).status

    def _described(self, arn: str) -> ExecutionEnd:
        """How the execution stands now (a durable function's, asked through Lambda's durable API;
        a state machine's, through Step Functions')."""
        durable = self.stack.durable
        if durable is not None and self._is_durable(arn):
            now = durable.describe(arn)
            status = DURABLE_STATUSES.get(now.status, now.status)
            error = now.error or {}
            output = json.loads(now.result) if now.result is not None else None
            return ExecutionEnd(status, output, error.get("ErrorType"), error.get("ErrorMessage"))
        described = self.stack.client("stepfunctions").describe_execution(executionArn=arn)
        output = described.get("output")
        return ExecutionEnd(
            described["status"],
            json.loads(output) if output is not None else None,
            described.get("error"),
            described.get("cause"),
        )

    def _never_requested(self, arn: str, count: int, state: str | None) -> str:
        described = self._described(arn)
        ending = _ending(described.status, described.error, described.cause)
        seen = self._store.for_execution(arn)
        wanted = _wanted(count, state)
        if seen:
            return f"{_name(arn)} ended {ending} before {wanted} was open; its recoveries: " + ", ".join(
                f"{_described(r)} {r.status.value}" for r in seen
            )
        refused = self._refused()
        if refused:
            return f"{_name(arn)} ended {ending}, {self._where(arn)}, without a recovery: {refused}"
        if self._is_durable(arn):
            return (
                f"{_name(arn)} ended {ending}, {self._where(arn)}, and never asked for a recovery: nothing "
                "it sent reached the recovery queue. Its failed step must call wait_for_recovery "
                "(recovery_ops.service.durable), which sends to the queue in RECOVERY_QUEUE_URL"
            )
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

    def _is_durable(self, arn: str) -> bool:
        return self.stack.durable is not None and self.stack.durable.knows(arn)

    def _where(self, arn: str) -> str:
        """Which state (or durable step) the execution was in last, and what failed on the way."""
        if self._is_durable(arn) and self.stack.durable is not None:
            return _durable_where(self.stack.durable.history(arn))
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
            QueueUrl=self.stack.physical("RecoveryDeadLetterQueue"),
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


def _initial_value(view: dict[str, Any], block_id: str) -> str:
    for block in view.get("blocks", []):
        if block.get("block_id") == block_id:
            return block.get("element", {}).get("initial_value", "")
    return ""


def _modal_errors(response: dict[str, Any]) -> str:
    """The errors a modal submission was acknowledged with (shown in the modal), or ''."""
    body = response.get("body") or ""
    if not body.startswith("{"):
        return ""
    answer = json.loads(body)
    if answer.get("response_action") != "errors":
        return ""
    return "; ".join(str(error) for error in (answer.get("errors") or {}).values())


def _ending(status: str, error: str | None, cause: str | None) -> str:
    """``FAILED with VendorDown: the vendor does not answer`` (a Lambda error's cause is its JSON: its
    message is what a person reads)."""
    if cause and cause.startswith("{"):
        try:
            cause = json.loads(cause).get("errorMessage", cause)
        except (json.JSONDecodeError, AttributeError):
            pass
    return status + (f" with {error}" if error else "") + (f": {cause}" if cause else "")


def _durable_where(events: list[dict[str, Any]]) -> str:
    """Which step a durable execution was in last, and which steps failed on the way."""
    named = [e for e in events if e.get("Name")]
    if not named:
        return "before its first step"
    failures = [f"{e['Name']} ({_step_error(e)})" for e in named if e.get("EventType") == "StepFailed"]
    where = f"last in step {named[-1]['Name']!r}"
    return where + (f" (failed on the way: {', '.join(dict.fromkeys(failures))})" if failures else "")


def _step_error(event: dict[str, Any]) -> str:
    payload = event.get("StepFailedDetails", {}).get("Error", {}).get("Payload", {})
    return str(payload.get("ErrorType", "?"))


def _arn(execution: ExecutionRef) -> str:
    return execution if isinstance(execution, str) else execution.arn


def _name(arn: str) -> str:
    return f"execution {arn.rsplit(':', 1)[-1]!r}"


def _described(recovery: Recovery) -> str:
    return f"recovery {recovery.recovery_id} ({recovery.failed_state!r} of {recovery.execution_name!r})"


def _wanted(count: int, state: str | None) -> str:
    at = f" at {state!r}" if state else ""
    return "a recovery" + at + " posted to Slack" if count == 1 else f"{count} recoveries{at} posted to Slack"
