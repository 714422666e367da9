"""`recovery-ops serve --local`: the Slack app on this machine against the embedded stack."""

from __future__ import annotations

import pytest

from recovery_ops.service.config import ServeSettings
from recovery_ops.service.local.programs.serve_local import local_services
from recovery_ops.service.local.standin.requests import SlackRequests
from recovery_ops.service.local.standin.server import serve_slack_standin
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.slack_app.ids import RUN_AGAIN
from recovery_ops.slack_app.serve import app_for_this_machine
from recovery_ops.slack_app.web import web_client
from tests.support.stacks import ALLOWED, BOT_TOKEN, SIGNING_SECRET
from tests.support.waiting import wait_until


def test_serve_local_posts_the_paused_demo_orders_and_a_click_resumes_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flask import Flask, request
    from slack_bolt.adapter.flask import SlackRequestHandler

    with serve_slack_standin() as slack:
        for name, value in {
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.base_url,
            "SLACK_ALLOWED_USER_IDS": ALLOWED,
            "SLACK_CHANNEL": "C-LOCAL",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
        said: list[str] = []
        settings = ServeSettings.from_environment()
        with local_services(settings, say=said.append) as services:
            app = app_for_this_machine(services, settings)
            store = services(web_client(BOT_TOKEN, base_url=slack.base_url)).store
            wait_until(lambda: len(store.list_by_status(RecoveryStatus.OPEN)) == 3, 180)
            wait_until(lambda: len(slack.calls_of("chat.postMessage")) >= 1, 30)
            assert {c.body["channel"] for c in slack.calls_of("chat.postMessage")} == {"C-LOCAL"}
            recovery = store.list_by_status(RecoveryStatus.OPEN)[0]
            adapter = SlackRequestHandler(app)
            flask_app = Flask("serve-local-test")
            flask_app.add_url_rule(
                "/slack/events", "events", lambda: adapter.handle(request), methods=["POST"]
            )
            click = SlackRequests(SIGNING_SECRET, response_url=slack.response_url).click(
                ALLOWED, RUN_AGAIN, recovery.recovery_id
            )

            with flask_app.test_client() as http:
                assert http.post("/slack/events", data=click.body, headers=click.headers).status_code == 200

            wait_until(lambda: store.get(recovery.recovery_id).status is RecoveryStatus.RESUMED)
        assert any("it will pause for a person" in line for line in said)
