"""Hostile text, live tokens and people outside the allow-list, through the deployed Slack app.

Contract messages whose every field tries to ping a channel or plant a link are collected and
acted on through every Slack surface (the message, its group, its thread, `/recoveries`, `show`,
modals, ephemeral replies, bulk progress, the CLI); every call recorded by the Slack stand-in is
then read as Slack reads it. A live recovery pushed into the recovery DLQ by a Slack outage is
previewed in Slack and on the command line, with the logs captured: no part of its token shows.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aws_lambda_powertools.utilities import parameters

from recovery_ops.service.cli.dead_letters import add_arguments, dlq_command
from recovery_ops.service.config import OperatorSettings
from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.operator import build_operator
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.lifecycle.escalation import Escalations
from recovery_ops.service.recovery.lifecycle.reminders import Reminders
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.service.recovery.storage.audit import RECOVERIES_LIST, AuditItems
from recovery_ops.slack_app.ids import BULK_CONFIRM, EDIT_AND_RUN_AGAIN, REJECT, RUN_AGAIN
from recovery_ops.slack_app.notifier import SlackThreadPoster
from recovery_ops.slack_app.views.modals import INPUT_BLOCK
from recovery_ops.slack_app.web import web_client
from tests.support.desk import (
    ORDER,
    count_calls,
    edit_submission,
    open_modal,
    pause,
    reject_submission,
    requests_for,
    send,
    store,
    wait_for_status,
)
from tests.support.slack_safety import hostile, unsafe_spots
from tests.support.stacks import ALLOWED, BOT_TOKEN, STRANGER, slack_app_stack
from tests.support.waiting import wait_for_recovery_request, wait_until

VIEWER = "UVIEWER"
LEADS = "S0LEADS"


def hostile_contract(real: dict, token: str, label: str) -> dict:
    """A contract message of a real paused execution with every text field hostile."""
    machine = real["state_machine_arn"].rsplit(":", 1)[0] + ":" + hostile("machine").replace(":", "")
    return {
        **real,
        "task_token": token,
        "execution_arn": real["execution_arn"] + "-" + hostile(label).replace(":", ""),
        "execution_name": hostile(label),
        "state_machine_arn": machine,
        "failed_state": hostile("state"),
        "error": hostile("error"),
        "cause": json.dumps({"errorMessage": hostile("cause"), "errorType": "Boom"}),
        "input": {hostile("key"): hostile("value"), "nested": {"list": [hostile("deep")]}},
    }


def paused_message(stack: EmbeddedStack, api: LocalOrderApi, vendor: DummyVendor) -> dict:
    """The contract message of a real paused item execution (taken off the queue, not collected)."""
    vendor.set_behaviour(VendorBehaviour(outage=True))
    api.place(ORDER)
    message = wait_for_recovery_request(stack)
    vendor.set_behaviour(VendorBehaviour())
    return message


def enqueue(stack: EmbeddedStack, *bodies: dict) -> None:
    for body in bodies:
        stack.client("sqs").send_message(
            QueueUrl=stack.physical("RecoveryQueue"), MessageBody=json.dumps(body)
        )


def responses_after(slack: SlackStandIn, count: int) -> dict:
    wait_until(lambda: len(slack.responses) > count)
    return slack.responses[-1]


def test_nothing_a_recovery_carries_or_a_person_types_becomes_a_mention_a_link_or_a_control_character(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given three hostile recoveries of one failure: the first with a live token, two with dead ones
    real = paused_message(stack, order_api, vendor)
    live = hostile_contract(real, real["task_token"], "live")
    enqueue(stack, live)
    poll_collector(stack)  # its own message
    enqueue(
        stack,
        hostile_contract(real, "dead-token-1", "dead-1"),
        hostile_contract(real, "dead-token-2", "dead-2"),
    )
    poll_collector(stack)  # now a group message
    recoveries = {r.execution_name: r for r in store(stack).list_by_status(RecoveryStatus.OPEN)}
    live_id, dead_id = recoveries[hostile("live")].recovery_id, recoveries[hostile("dead-1")].recovery_id
    requests = requests_for(slack)

    # When support looks, opens the modals, rejects one with a hostile reason, types hostile filters
    send(stack, requests.command(ALLOWED, ""))
    send(stack, requests.command(ALLOWED, f"show {live_id}"))
    open_modal(stack, slack, EDIT_AND_RUN_AGAIN, live_id)
    reject_view = open_modal(stack, slack, REJECT, dead_id)
    send(stack, reject_submission(slack, reject_view, hostile("reason")))
    wait_for_status(stack, dead_id, RecoveryStatus.EXPIRED)
    for typed in (
        hostile("verb"),
        f"since={hostile('since')}",
        f"show rec-{hostile('id')}",
        "since=99999999999w",  # longer than a year
        "since=99999999999999w",  # more digits than a duration has
    ):
        before = len(slack.responses)
        send(stack, requests.command(ALLOWED, typed))
        responses_after(slack, before)
    before = len(slack.responses)
    send(stack, requests.command(ALLOWED, f'retry error="{hostile("error")}"'))
    prompt = responses_after(slack, before)
    (confirm,) = [
        e
        for b in prompt["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == BULK_CONFIRM
    ]
    send(stack, requests.click(ALLOWED, BULK_CONFIRM, confirm["value"], message_ts=None))
    wait_for_status(stack, live_id, RecoveryStatus.RESUMED)
    wait_until(lambda: any("finished" in c.body.get("text", "") for c in slack.calls_of("chat.postMessage")))
    # and a reminder goes out in a recovery's thread, and an escalation (its rule named with mentions)
    enqueue(stack, hostile_contract(real, "dead-token-3", "reminded"))
    poll_collector(stack)
    poster = SlackThreadPoster(web_client(BOT_TOKEN, base_url=slack.base_url))
    Reminders(
        store=store(stack),
        dynamodb=stack.client("dynamodb"),
        sfn=stack.client("stepfunctions"),
        poster=poster,
        after=timedelta(hours=1),
        clock=lambda: datetime.now(UTC) + timedelta(hours=2),
    ).run()
    ladder = {
        "name": hostile("rule"),
        "channel": "C-RECOVERIES",
        "escalation": [{"after_minutes": 60, "mention_user_group": LEADS}],
    }
    Escalations(
        store=store(stack),
        dynamodb=stack.client("dynamodb"),
        rules=lambda: parse_rules(json.dumps({"rules": [ladder]}), ChannelRouting(default="C-RECOVERIES")),
        poster=poster,
        clock=lambda: datetime.now(UTC) + timedelta(hours=2),
    ).run()

    # Then every surface was used, and no recorded call holds anything Slack would act on
    methods = {call.method for call in slack.calls}
    assert {"chat.postMessage", "chat.update", "views.open", "response_url", "chat.postEphemeral"} <= methods
    threaded = [c for c in slack.calls_of("chat.postMessage") if c.body.get("thread_ts")]
    assert any("Still waiting" in c.body["text"] for c in threaded)
    assert any(c.body["text"].startswith(f"🚨 <!subteam^{LEADS}>") for c in threaded)
    problems = {
        f"{call.method} {spot}"
        for call in slack.calls
        for spot in unsafe_spots(call.body, users=[ALLOWED], user_groups=[LEADS])
    }
    assert problems == set()
    texts = json.dumps([c.body for c in slack.calls], ensure_ascii=False)
    assert "&lt;!channel&gt;" in texts  # the hostile text was shown, escaped, not dropped
    assert "longer than a year" in texts and "is not a duration" in texts  # too long, too many digits
    assert "OverflowError" not in texts and "Traceback" not in texts


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """Everything the product and the libraries log while the test runs (records and their extras)."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            text = repr(vars(record))
            if record.exc_info:
                text += logging.Formatter().formatException(record.exc_info)
            lines.append(text)

    keep = Keep(level=logging.DEBUG)
    watched = [logging.getLogger(), logging.getLogger("recovery-ops")]
    for watched_logger in watched:
        watched_logger.addHandler(keep)
    yield lines
    for watched_logger in watched:
        watched_logger.removeHandler(keep)


def slices(token: str, size: int = 16) -> list[str]:
    return [token[i : i + size] for i in range(len(token) - size + 1)]


def test_a_live_recovery_in_the_recovery_dlq_shows_no_part_of_its_token_in_slack_the_cli_or_the_logs(
    stack: EmbeddedStack,
    order_api: LocalOrderApi,
    vendor: DummyVendor,
    slack: SlackStandIn,
    logged: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given Slack refusing every post until the live recovery lands in the recovery DLQ
    slack.fail_next(1000, status=500)
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    token = store(stack).get(recovery.recovery_id).task_token
    assert len(token) >= 32
    sqs = stack.client("sqs")

    def dead_lettered() -> bool:
        poll_collector(stack)
        attributes = sqs.get_queue_attributes(
            QueueUrl=stack.physical("RecoveryDeadLetterQueue"), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) == 1

    wait_until(dead_lettered)
    slack.stop_failing()
    requests = requests_for(slack)

    # When support previews the DLQ and shows the recovery, in Slack and on the command line
    send(stack, requests.command(ALLOWED, "dlq"))
    preview = responses_after(slack, 0)
    send(stack, requests.command(ALLOWED, f"show {recovery.recovery_id}"))
    responses_after(slack, 1)
    printed: list[str] = []
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert dlq_command(parser.parse_args([]), out=printed.append) == 0
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    build_operator(OperatorSettings.from_environment(), out=printed.append).show(recovery.recovery_id)

    # Then the DLQ preview is there, its token field redacted, and no 16 characters of the token anywhere
    previewed = "\n".join(b["text"]["text"] for b in preview["blocks"] if b["type"] == "section")
    assert '"task_token":"[redacted]"' in previewed
    assert any('"task_token":"[redacted]"' in line for line in printed)
    seen = {
        "slack": json.dumps([c.body for c in slack.calls], ensure_ascii=False),
        "cli": "\n".join(printed),
        "logs": "\n".join(logged),
    }
    leaks = {where: [s for s in slices(token) if s in text] for where, text in seen.items()}
    assert leaks == {"slack": [], "cli": [], "logs": []}
    assert any("slack" in line.lower() for line in logged)  # the logs were captured, not empty


# ---------------------------------------------------------------------- who may see


@pytest.mark.stack_parameters(SlackViewerUserIds=VIEWER)
def test_people_outside_the_lists_cannot_list_show_or_preview_and_each_attempt_is_audited(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    requests = requests_for(slack)

    for typed in ("", f"show {recovery.recovery_id}", "dlq"):
        before = len(slack.responses)
        send(stack, requests.command(STRANGER, typed))
        denial = responses_after(slack, before)
        assert denial["response_type"] == "ephemeral" and denial["text"].startswith("🚫 You cannot see")
        assert "blocks" not in denial

    audit = AuditItems(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
    assert [(e.actor, e.action, e.result) for e in audit.history(RECOVERIES_LIST)] == [
        (STRANGER, "view list", "DENIED")
    ]
    denied_show = store(stack).get(recovery.recovery_id).audit[-1]
    assert (denied_show.actor, denied_show.action, denied_show.result) == (STRANGER, "view", "DENIED")
    dlq_trails = [
        audit.history(f"dlq#{stack.physical(q).rsplit('/', 1)[-1]}")
        for q in ("OrdersDeadLetterQueue", "RecoveryDeadLetterQueue")
    ]
    assert [[(e.actor, e.action, e.result) for e in trail] for trail in dlq_trails] == [
        [(STRANGER, "view", "DENIED")]
    ] * 2


@pytest.mark.stack_parameters(SlackViewerUserIds=VIEWER)
def test_a_viewer_may_list_and_show_but_not_act(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    requests = requests_for(slack)
    resumes = count_calls(stack, "SendTaskSuccess")

    send(stack, requests.command(VIEWER, ""))
    listed = responses_after(slack, 0)
    send(stack, requests.command(VIEWER, f"show {recovery.recovery_id}"))
    shown = responses_after(slack, 1)
    send(stack, requests.click(VIEWER, RUN_AGAIN, recovery.recovery_id))
    refused = responses_after(slack, 2)

    assert listed["text"] == "1 open recoveries" and recovery.recovery_id in json.dumps(listed["blocks"])
    assert shown["text"] == f"Recovery {recovery.recovery_id}"
    assert refused["text"].startswith("🚫 You cannot run again")
    assert resumes == [] and store(stack).get(recovery.recovery_id).status is RecoveryStatus.OPEN


def test_a_failed_group_lookup_denies_seeing_and_names_no_url(
    vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    with slack_app_stack(vendor_url, slack, SlackAllowedUserIds="", SlackAllowedUserGroup="SGONE") as stack:
        send(stack, requests_for(slack).command("UANYONE", ""))  # the stand-in knows no group SGONE
        denial = responses_after(slack, 0)

    assert denial["text"].startswith("🚫 You cannot see") and "no_such_subteam" in denial["text"]
    assert "http" not in denial["text"] and "blocks" not in denial


def test_an_edit_to_null_is_checked_against_the_schema_then_sent_as_typed_and_audited_as_an_edit(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    first, second = pause(stack, order_api, vendor, [ORDER, {**ORDER, "customer_id": "c-2"}])
    resumes = count_calls(stack, "SendTaskSuccess")

    # the shipped schema wants an object: null is refused in the modal, nothing is sent
    refused = send(
        stack, edit_submission(slack, open_modal(stack, slack, EDIT_AND_RUN_AGAIN, first.recovery_id), "null")
    )
    assert "Does not match the state's input schema" in json.loads(refused["body"])["errors"][INPUT_BLOCK]
    stack.dispatcher.settle()  # the refused submission's lazy half has ended (it sends nothing either)
    # a state without a schema takes null as typed
    stack.client("ssm").put_parameter(
        Name=stack.physical("InputSchemas"), Value="{}", Type="String", Overwrite=True
    )
    parameters.clear_caches()  # as the Slack app's five-minute cache of the schemas would expire
    send(
        stack,
        edit_submission(slack, open_modal(stack, slack, EDIT_AND_RUN_AGAIN, second.recovery_id), "null"),
    )

    resumed = wait_for_status(stack, second.recovery_id, RecoveryStatus.RESUMED)
    assert [call["output"] for call in resumes] == ["null"]
    assert store(stack).get(first.recovery_id).status is RecoveryStatus.OPEN
    claim, closing = resumed.audit[-2:]
    assert closing.action == "edit and run again" and '"product_id"' in claim.detail["diff"]
