"""The Slack app beyond one click: dead tokens, /recoveries, bulk actions, user groups, Flask."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from slack_bolt.adapter.flask import SlackRequestHandler as FlaskRequestHandler

from recovery_ops.service.composition import Lazy
from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn, block_kit_problem
from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.slack_app.app import build_app, services_from_config
from recovery_ops.slack_app.ids import (
    BULK_CONFIRM,
    BULK_SUBMIT,
    NEXT_PAGE,
    REJECT_ALL,
    ROW_MENU,
    RUN_AGAIN,
    RUN_AGAIN_ALL,
)
from recovery_ops.slack_app.views.listing import PAGE_SIZE, row_menu_value
from recovery_ops.slack_app.web import web_client
from tests.support.desk import (
    ORDER,
    count_calls,
    execution_status,
    order_execution_of,
    pause,
    requests_for,
    send,
    store,
    wait_for_status,
)
from tests.support.stacks import ALLOWED, BOT_TOKEN, SIGNING_SECRET, STRANGER, slack_app_stack
from tests.support.waiting import wait_until


def test_a_click_after_the_paused_step_timed_out_marks_the_recovery_expired_and_says_why(
    vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    with slack_app_stack(vendor_url, slack, RecoveryTimeoutSeconds="60") as stack:  # 0.6 s locally
        (recovery,) = pause(stack, order_api, vendor, [ORDER])
        wait_until(lambda: execution_status(stack, order_execution_of(stack, recovery)) == "FAILED")

        send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))

        expired = wait_for_status(stack, recovery.recovery_id, RecoveryStatus.EXPIRED)
        wait_until(lambda: any(r.get("text", "").startswith("⌛") for r in slack.responses))
        told = next(r["text"] for r in slack.responses if r.get("text", "").startswith("⌛"))
        assert "can no longer be resumed" in told and "EXPIRED" in told
        assert expired.audit[-1].detail["error"] in ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")
        wait_until(lambda: slack.calls_of("chat.update"))
        assert "Expired" in json.dumps(slack.calls_of("chat.update")[-1].body["blocks"])


def test_recoveries_lists_120_open_newest_first_in_pages_slack_accepts(
    stack: EmbeddedStack, slack: SlackStandIn
) -> None:
    opened = seed_recoveries(stack, 120)
    requests = requests_for(slack)

    send(stack, requests.command(ALLOWED, ""))
    wait_until(lambda: slack.responses)
    pages = [slack.responses[-1]]
    while next_page_button(pages[-1]) is not None:
        seen = len(slack.responses)
        send(stack, requests.click(ALLOWED, NEXT_PAGE, next_page_button(pages[-1]), message_ts=None))
        wait_until(lambda seen=seen: len(slack.responses) > seen)
        pages.append(slack.responses[-1])

    listed = [row_id(block) for page in pages for block in page["blocks"] if block.get("accessory")]
    assert listed == [r.recovery_id for r in sorted(opened, key=lambda r: r.sort_key, reverse=True)]
    assert len(pages) == 120 // PAGE_SIZE
    for page in pages:
        assert page["response_type"] == "ephemeral"
        assert block_kit_problem(page["blocks"]) is None and len(page["blocks"]) <= 50
        assert "120 open recoveries" in page["blocks"][0]["text"]["text"]
    counts = pages[0]["blocks"][1]["text"]["text"]
    assert "`VendorUnavailable`: 80" in counts and "`InvalidOrderData`: 40" in counts


def test_recoveries_filters_and_shows_one_with_its_history(stack: EmbeddedStack, slack: SlackStandIn) -> None:
    opened = seed_recoveries(stack, 6)
    requests = requests_for(slack)

    send(stack, requests.command(ALLOWED, "error=InvalidOrderData since=1h"))
    wait_until(lambda: slack.responses)
    rows = [row_id(b) for b in slack.responses[-1]["blocks"] if b.get("accessory")]
    assert sorted(rows) == sorted(r.recovery_id for r in opened if r.error == "InvalidOrderData")

    send(stack, requests.command(ALLOWED, f"show {opened[0].recovery_id}"))  # those who may act may see
    wait_until(lambda: len(slack.responses) == 2)
    shown = json.dumps(slack.responses[-1]["blocks"])
    assert "History" in shown and "recovery-queue" in shown and "opened" in shown

    send(stack, requests.command(ALLOWED, "state="))
    wait_until(lambda: len(slack.responses) == 3)
    assert "is not a filter" in slack.responses[-1]["text"]


def test_a_row_of_the_list_runs_again_from_its_menu(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])

    send(
        stack, requests_for(slack).choose(ALLOWED, ROW_MENU, row_menu_value(RUN_AGAIN, recovery.recovery_id))
    )

    wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")
    wait_until(lambda: any(r.get("text", "").startswith("✅ Run again") for r in slack.responses))


def test_bulk_retry_of_50_asks_to_confirm_then_resumes_every_one_and_reports_in_the_thread(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    paused = pause(stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{i}"} for i in range(50)])
    resumes = count_calls(stack, "SendTaskSuccess")
    requests = requests_for(slack)

    send(stack, requests.command(ALLOWED, "retry error=VendorUnavailable"))
    wait_until(lambda: slack.responses)
    prompt = slack.responses[-1]
    assert "*50* open recoveries match" in json.dumps(prompt["blocks"])
    assert resumes == []  # nothing before the confirmation
    confirm = next(
        e
        for b in prompt["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == BULK_CONFIRM
    )

    send(stack, requests.click(ALLOWED, BULK_CONFIRM, confirm["value"], message_ts=None))

    wait_until(
        lambda: any("finished" in c.body.get("text", "") for c in slack.calls_of("chat.postMessage")), 120
    )
    for recovery in paused:
        wait_until(lambda r=recovery: execution_status(stack, r.execution_arn) == "SUCCEEDED", 120)
    assert len(resumes) == 50 and len({c["taskToken"] for c in resumes}) == 50
    assert store(stack).list_by_status(RecoveryStatus.OPEN) == []
    finished = next(c for c in slack.calls_of("chat.postMessage") if "finished" in c.body.get("text", ""))
    assert "50/50: 50 resumed" in finished.body["text"]
    assert finished.body.get("thread_ts")  # progress and counts are in the thread


def test_run_again_all_on_a_group_message_confirms_the_count_then_resumes_the_group(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    paused = pause(stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{i}"} for i in range(4)])
    group_id = store(stack).get(paused[0].recovery_id).group_id
    requests = requests_for(slack)

    view = open_group_modal(stack, slack, RUN_AGAIN_ALL, group_id)
    assert "*4* open recoveries will be affected" in json.dumps(view["blocks"])
    send(stack, requests.submit(ALLOWED, BULK_SUBMIT, view["private_metadata"], {}))

    for recovery in paused:
        wait_until(lambda r=recovery: execution_status(stack, r.execution_arn) == "SUCCEEDED", 60)
    wait_until(
        lambda: any("Run again all by" in c.body.get("text", "") for c in slack.calls_of("chat.update"))
    )
    group_message = slack.calls_of("chat.update")[-1]
    assert "actions" not in [b["type"] for b in group_message.body["blocks"]]


def test_members_of_the_allowed_user_group_may_act_and_the_membership_is_cached(
    vendor_url: str, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    slack.usergroups["SOPS"] = ["UMEMBER"]
    with slack_app_stack(vendor_url, slack, SlackAllowedUserIds="", SlackAllowedUserGroup="SOPS") as stack:
        first, second = pause(stack, order_api, vendor, [ORDER, {**ORDER, "customer_id": "c-2"}])
        requests = requests_for(slack)

        send(stack, requests.click("UMEMBER", RUN_AGAIN, first.recovery_id))
        wait_for_status(stack, first.recovery_id, RecoveryStatus.RESUMED)
        send(stack, requests.click(STRANGER, RUN_AGAIN, second.recovery_id))
        wait_until(lambda: any(r.get("text", "").startswith("🚫") for r in slack.responses))

        assert store(stack).get(second.recovery_id).status is RecoveryStatus.OPEN
        assert len(slack.calls_of("usergroups.users.list")) == 1


def test_the_flask_adapter_serves_the_same_app(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    from flask import Flask, request

    from recovery_ops.service.config import SlackAppConfig, load_config

    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    client = web_client(BOT_TOKEN, base_url=slack.base_url)
    app = build_app(
        client=client,
        signing_secret=SIGNING_SECRET,
        services=Lazy(lambda: services_from_config(load_config(SlackAppConfig), client)),
        process_before_response=False,
    )
    adapter = FlaskRequestHandler(app)
    flask_app = Flask("recovery-ops-test")
    flask_app.add_url_rule("/slack/events", "events", lambda: adapter.handle(request), methods=["POST"])
    click = requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id)
    forged = requests_for(slack).signed(click.body, secret="wrong")

    with flask_app.test_client() as http:
        assert http.post("/slack/events", data=forged.body, headers=forged.headers).status_code == 401
        assert http.post("/slack/events", data=click.body, headers=click.headers).status_code == 200

    wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")


def open_group_modal(stack: EmbeddedStack, slack: SlackStandIn, action_id: str, group_id: str) -> dict:
    """Click a group message's bulk button; the confirmation modal Slack was asked to open."""
    send(stack, requests_for(slack).click(ALLOWED, action_id, group_id))
    wait_until(lambda: slack.calls_of("views.open"))
    view = slack.calls_of("views.open")[-1].body["view"]
    return json.loads(view) if isinstance(view, str) else view


def seed_recoveries(stack: EmbeddedStack, count: int) -> list[Recovery]:
    """``count`` open recoveries, as the collector stores them (two errors, distinct ages)."""
    recoveries = store(stack)
    machine = stack.arn("OrderStateMachine")
    now = datetime.now(UTC)
    opened = []
    for index in range(count):
        request = RecoveryRequest(
            task_token=f"token-{index}",
            execution_arn=machine.replace(":stateMachine:", ":execution:") + f":order-{index}",
            execution_name=f"order-{index}",
            state_machine_arn=machine,
            failed_state="Check availability",
            input={"order_id": f"order-{index}"},
            error="InvalidOrderData" if index % 3 == 0 else "VendorUnavailable",
            cause="x" * 200,
        )
        recovery = Recovery.from_request(request, now - timedelta(seconds=count - index))
        recoveries.create_if_absent(recovery)
        opened.append(recovery)
    return opened


def next_page_button(response: dict) -> str | None:
    for block in response["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["action_id"] == NEXT_PAGE:
                return element["value"]
    return None


def row_id(block: dict) -> str:
    return block["accessory"]["options"][0]["value"].split("|", 1)[1]


def test_reject_all_on_a_group_message_compensates_every_member_with_the_reason(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    paused = pause(stack, order_api, vendor, [{**ORDER, "customer_id": f"c-{i}"} for i in range(2)])
    failures = count_calls(stack, "SendTaskFailure")
    group_id = store(stack).get(paused[0].recovery_id).group_id
    requests = requests_for(slack)

    view = open_group_modal(stack, slack, REJECT_ALL, group_id)
    assert "*2* open recoveries will be affected" in json.dumps(view["blocks"])
    send(
        stack,
        requests.submit(ALLOWED, BULK_SUBMIT, view["private_metadata"], {"reason": {"text": "duplicates"}}),
    )

    for recovery in paused:
        wait_until(lambda r=recovery: execution_status(stack, order_execution_of(stack, r)) == "FAILED", 60)
        assert store(stack).get(recovery.recovery_id).status is RecoveryStatus.REJECTED
    assert sorted(f["cause"] for f in failures) == [f"Rejected by {ALLOWED}: duplicates"] * 2
