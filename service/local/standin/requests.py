"""Requests as Slack sends them to the app: clicks, menu choices, modal submissions, slash commands,
the Home tab opened (an Events API event) and clicks in it (no channel, no response_url).

Bodies are form-encoded like Slack's, signed with slack_sdk's ``SignatureVerifier`` (the code
Bolt verifies with), and can be wrapped as the HTTP API (payload 2.0) event the Lambda function
receives. ``response_url``s point at the Slack stand-in, so ``respond(...)`` lands there.
Used by the tests, the demo and the ``ack`` benchmark.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

TEAM = {"id": "T0LOCAL", "domain": "local"}
_trigger_ids = itertools.count(1)


@dataclass(frozen=True)
class SlackRequest:
    body: str
    headers: dict[str, str]

    def lambda_event(self, path: str = "/slack/events", stage: str = "dev") -> dict[str, Any]:
        """The HTTP API (payload format 2.0) event for this request."""
        return {
            "version": "2.0",
            "routeKey": f"POST {path}",
            "rawPath": f"/{stage}{path}",
            "rawQueryString": "",
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "requestContext": {"http": {"method": "POST", "path": f"/{stage}{path}"}, "stage": stage},
            "body": self.body,
            "isBase64Encoded": False,
        }


@dataclass
class SlackRequests:
    """Builds signed requests for one app (its signing secret) and one stand-in (response URLs)."""

    signing_secret: str
    response_url: Callable[[], str] = field(default=lambda: "http://127.0.0.1:9/respond/0")
    clock: Callable[[], float] = time.time

    def click(
        self,
        user: str,
        action_id: str,
        value: str,
        channel: str = "C-RECOVERIES",
        message_ts: str | None = "1700000001.000100",
    ) -> SlackRequest:
        action = _button(action_id, value)
        return self._interaction(self._block_actions(user, channel, message_ts, action))

    def choose(
        self, user: str, action_id: str, option_value: str, channel: str = "C-RECOVERIES"
    ) -> SlackRequest:
        """A choice in an overflow menu (the rows of an ephemeral /recoveries list: no message ts)."""
        action = _overflow(action_id, option_value)
        return self._interaction(self._block_actions(user, channel, None, action))

    def home_opened(self, user: str, tab: str = "home") -> SlackRequest:
        """The ``app_home_opened`` event of ``user`` opening the app's ``tab`` (home or messages)."""
        event = {
            "type": "app_home_opened",
            "user": user,
            "channel": "D0LOCAL",
            "tab": tab,
            "event_ts": f"{self.clock():.6f}",
        }
        envelope = {
            "token": "legacy-verification-token",
            "team_id": TEAM["id"],
            "api_app_id": "A0LOCAL",
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(_trigger_ids):08d}",
            "event_time": int(self.clock()),
            "authorizations": [{"team_id": TEAM["id"], "user_id": "UBOT", "is_bot": True}],
        }
        return self.signed(json.dumps(envelope), content_type="application/json")

    def click_in_home(
        self, user: str, action_id: str, value: str, private_metadata: str = ""
    ) -> SlackRequest:
        """A button clicked in ``user``'s Home tab (whose view holds ``private_metadata``)."""
        action = _button(action_id, value)
        return self._interaction(self._home_actions(user, private_metadata, action))

    def choose_in_home(
        self, user: str, action_id: str, option_value: str, private_metadata: str = ""
    ) -> SlackRequest:
        """A choice in an overflow menu of ``user``'s Home tab (a row's Run again, Edit, Reject)."""
        action = _overflow(action_id, option_value)
        return self._interaction(self._home_actions(user, private_metadata, action))

    def submit(
        self, user: str, callback_id: str, private_metadata: str, values: dict[str, dict]
    ) -> SlackRequest:
        """A modal submission; ``values`` as {block_id: {action_id: text}}."""
        state = {
            block: {action: {"type": "plain_text_input", "value": text} for action, text in actions.items()}
            for block, actions in values.items()
        }
        payload = {
            "type": "view_submission",
            "team": TEAM,
            "user": {"id": user, "team_id": TEAM["id"]},
            "api_app_id": "A0LOCAL",
            "trigger_id": self._trigger_id(),
            "view": {
                "id": "V0LOCAL",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": state},
            },
        }
        return self._interaction(payload)

    def command(
        self, user: str, text: str, command: str = "/recoveries", channel: str = "C-RECOVERIES"
    ) -> SlackRequest:
        form = {
            "token": "legacy-verification-token",
            "team_id": TEAM["id"],
            "team_domain": TEAM["domain"],
            "channel_id": channel,
            "channel_name": "recoveries",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0LOCAL",
            "response_url": self.response_url(),
            "trigger_id": self._trigger_id(),
        }
        return self.signed(urlencode(form))

    def signed(
        self,
        body: str,
        timestamp: int | None = None,
        secret: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> SlackRequest:
        timestamp = int(self.clock()) if timestamp is None else timestamp
        verifier = SignatureVerifier(secret or self.signing_secret)
        # None only without a timestamp or a body
        signature = verifier.generate_signature(timestamp=str(timestamp), body=body) or ""
        return SlackRequest(
            body=body,
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": str(timestamp),
                "X-Slack-Signature": signature,
            },
        )

    def _block_actions(self, user: str, channel: str, message_ts: str | None, action: dict) -> dict:
        container: dict[str, Any] = {
            "type": "message",
            "channel_id": channel,
            "is_ephemeral": message_ts is None,
        }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": TEAM,
            "user": {"id": user, "username": user.lower(), "team_id": TEAM["id"]},
            "api_app_id": "A0LOCAL",
            "container": container,
            "trigger_id": self._trigger_id(),
            "channel": {"id": channel, "name": "recoveries"},
            "response_url": self.response_url(),
            "actions": [action],
        }
        if message_ts:
            container["message_ts"] = message_ts
            payload["message"] = {"type": "message", "ts": message_ts}
        return payload

    def _home_actions(self, user: str, private_metadata: str, action: dict) -> dict:
        """A click in the Home tab: its container is the view; there is no channel, message or
        response_url."""
        return {
            "type": "block_actions",
            "team": TEAM,
            "user": {"id": user, "username": user.lower(), "team_id": TEAM["id"]},
            "api_app_id": "A0LOCAL",
            "container": {"type": "view", "view_id": "VHOME"},
            "trigger_id": self._trigger_id(),
            "view": {"id": "VHOME", "type": "home", "private_metadata": private_metadata, "blocks": []},
            "actions": [action],
        }

    def _interaction(self, payload: dict) -> SlackRequest:
        return self.signed(urlencode({"payload": json.dumps(payload)}))

    @staticmethod
    def _trigger_id() -> str:
        return f"{next(_trigger_ids)}.{int(time.time())}.local"


def _button(action_id: str, value: str) -> dict:
    """A button's action in a ``block_actions`` payload."""
    return {"type": "button", "action_id": action_id, "block_id": "b", "value": value, "action_ts": "1"}


def _overflow(action_id: str, option_value: str) -> dict:
    """An overflow menu's chosen option in a ``block_actions`` payload."""
    return {
        "type": "overflow",
        "action_id": action_id,
        "block_id": "b",
        "selected_option": {"value": option_value},
        "action_ts": "1",
    }
