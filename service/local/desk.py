"""A person at the desk of an embedded stack, clicking in Slack: Run again, Edit input, Reject.

Each click is sent as Slack sends it: a signed request (``service.local.standin.requests``) to the
Slack app's Lambda function, whose lazy half runs on its own, as on AWS. Edit input and Reject open
a modal (the stand-in records ``views.open``) and submit it, as a person does. Every action waits
for its outcome: the recovery closed and its Slack message updated (its own message, or a reply in
the thread of its group's message), so what the terminal shows next follows the click that caused
it. The demo's support desk and `recovery-ops try` click through here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from service.errors import RecoveryOpsError
from service.local.engine.execution_history import POLL_SECONDS
from service.local.engine.stack import EmbeddedStack
from service.local.standin.requests import SlackRequest, SlackRequests
from service.local.standin.server import SlackStandIn
from service.recovery.model.recovery import Recovery
from service.recovery.storage.recoveries import RecoveryStore
from slack_app.ids import EDIT_AND_RUN_AGAIN, EDIT_SUBMIT, REJECT, REJECT_SUBMIT, RUN_AGAIN
from slack_app.views.modals import INPUT_ACTION, INPUT_BLOCK, REASON_ACTION, REASON_BLOCK


class ClickProblemError(RecoveryOpsError, RuntimeError):
    """A click that did not lead to its outcome: what the Slack app answered, or that it did not."""


@dataclass(frozen=True)
class EditForm:
    """The edit modal the Slack app opened: what it carries, and the input it shows (JSON text)."""

    private_metadata: str
    text: str


class DeskClicks:
    """``user`` clicking on the recoveries of ``stack`` in the Slack stand-in ``standin``."""

    def __init__(
        self,
        stack: EmbeddedStack,
        standin: SlackStandIn,
        user: str,
        signing_secret: str,
        timeout: float = 30,
    ) -> None:
        self._stack = stack
        self._standin = standin
        self._user = user
        self._requests = SlackRequests(signing_secret, response_url=standin.response_url)
        self._store = RecoveryStore(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
        self._timeout = timeout

    @property
    def user(self) -> str:
        return self._user

    def run_again(self, recovery: Recovery) -> Recovery:
        """Click Run again; the recovery once its outcome shows in Slack."""
        since = len(self._standin.calls)
        self._send(self._requests.click(self._user, RUN_AGAIN, recovery.recovery_id))
        return self._outcome(recovery, since)

    def open_edit(self, recovery: Recovery) -> EditForm:
        """Click Edit input & run again; the modal Slack was asked to open."""
        view = self._modal(EDIT_AND_RUN_AGAIN, recovery)
        return EditForm(view["private_metadata"], _initial_value(view, INPUT_BLOCK))

    def submit_edit(self, recovery: Recovery, form: EditForm, text: str) -> Recovery:
        """Submit the edit modal with ``text``; the recovery once its outcome shows.

        ``ClickProblemError`` with the modal's error when the Slack app refuses the input (nothing is
        sent)."""
        since = len(self._standin.calls)
        request = self._requests.submit(
            self._user, EDIT_SUBMIT, form.private_metadata, {INPUT_BLOCK: {INPUT_ACTION: text}}
        )
        answer = self._send(request)
        errors = _modal_errors(answer)
        if errors:
            raise ClickProblemError(errors)
        return self._outcome(recovery, since)

    def reject(self, recovery: Recovery, reason: str | None) -> Recovery:
        """Click Reject and submit its modal with ``reason``; the recovery once its outcome shows."""
        view = self._modal(REJECT, recovery)
        since = len(self._standin.calls)
        request = self._requests.submit(
            self._user, REJECT_SUBMIT, view["private_metadata"], {REASON_BLOCK: {REASON_ACTION: reason or ""}}
        )
        self._send(request)
        return self._outcome(recovery, since)

    # ------------------------------------------------------------------ waiting
    def _modal(self, action_id: str, recovery: Recovery) -> dict[str, Any]:
        since = len(self._standin.calls)
        self._send(self._requests.click(self._user, action_id, recovery.recovery_id))
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            for call in self._standin.calls[since:]:
                if call.method == "views.open" and call.status == 200:
                    view = call.body["view"]
                    return json.loads(view) if isinstance(view, str) else view
            self._answered_instead(since)
            time.sleep(POLL_SECONDS)
        raise ClickProblemError(f"the Slack app opened no modal within {self._timeout:g} s")

    def _outcome(self, recovery: Recovery, since: int) -> Recovery:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            current = self._store.get(recovery.recovery_id)
            if current.status.is_closed and (not current.slack_ts or self._shown(current, since)):
                return current
            self._answered_instead(since)
            time.sleep(POLL_SECONDS)
        raise ClickProblemError(f"no outcome in Slack within {self._timeout:g} s")

    def _shown(self, recovery: Recovery, since: int) -> bool:
        """Its message updated, or (a recovery of a group message) a reply in that message's thread."""
        for call in self._standin.calls[since:]:
            if call.status != 200:
                continue
            if call.method == "chat.update" and call.body.get("ts") == recovery.slack_ts:
                return True
            if (
                call.method == "chat.postMessage"
                and call.body.get("thread_ts") == recovery.slack_ts
                and recovery.execution_name in call.body.get("text", "")
            ):
                return True
        return False

    def _answered_instead(self, since: int) -> None:
        """The Slack app answered the person (already handled, not allowed …): that is the outcome."""
        for call in self._standin.calls[since:]:
            if call.method in ("response_url", "chat.postEphemeral") and call.body.get("text"):
                raise ClickProblemError(call.body["text"])

    def _send(self, request: SlackRequest) -> dict[str, Any]:
        answer = self._stack.client("lambda").invoke(
            FunctionName=self._stack.physical("SlackAppFunction"), Payload=json.dumps(request.lambda_event())
        )
        return json.loads(answer["Payload"].read() or b"{}")


def _initial_value(view: dict[str, Any], block_id: str) -> str:
    for block in view.get("blocks", []):
        if block.get("block_id") == block_id:
            return block.get("element", {}).get("initial_value", "")
    return ""


def _modal_errors(answer: dict[str, Any]) -> str:
    """The errors a modal submission was acknowledged with (shown in the modal), or ''."""
    try:
        body = json.loads(answer.get("body") or "{}")
    except ValueError:
        return ""
    if not isinstance(body, dict) or body.get("response_action") != "errors":
        return ""
    return "; ".join(str(error) for error in (body.get("errors") or {}).values())
