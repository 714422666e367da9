"""The App Home tab on the embedded stack: signed ``app_home_opened`` events and clicks in the Home
through the Slack app's real function; the Home it publishes read back from the Slack stand-in."""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.utilities import parameters

from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.engine.collector_poller import poll_collector
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.service.recovery.storage.audit import RECOVERIES_LIST, AuditItems
from recovery_ops.slack_app.ids import (
    HOME_FILTER,
    HOME_PAGE_NEXT,
    HOME_PAGE_PREVIOUS,
    REJECT,
    REJECT_SUBMIT,
    ROW_MENU,
    RUN_AGAIN,
)
from recovery_ops.slack_app.views.listing import row_menu_value
from recovery_ops.slack_app.views.modals import REASON_ACTION, REASON_BLOCK
from tests.support.desk import (
    ORDER,
    count_calls,
    execution_status,
    pause,
    requests_for,
    send,
    store,
    wait_for_status,
)
from tests.support.slack_safety import unsafe_spots
from tests.support.stacks import ALLOWED, STRANGER
from tests.support.waiting import wait_until

TEAM_MEMBER = "UTEAM"
PAYMENTS = "payments"


# ---------------------------------------------------------------------- helpers
def open_home(stack: EmbeddedStack, slack: SlackStandIn, user: str) -> dict[str, Any]:
    """``user`` opens the app's Home tab; the Home published for them."""
    return published_after(slack, user, lambda: send(stack, requests_for(slack).home_opened(user)))


def published_after(slack: SlackStandIn, user: str, act) -> dict[str, Any]:
    before = len(slack.calls_of("views.publish"))
    act()
    wait_until(lambda: len(slack.calls_of("views.publish")) > before)
    home = slack.home_of(user)
    assert home is not None
    return home


def shown(home: dict[str, Any]) -> str:
    return json.dumps(home["blocks"], ensure_ascii=False)


def rows_with_menu(home: dict[str, Any]) -> list[str]:
    """The recovery ids whose rows carry the row menu."""
    return [
        block["accessory"]["options"][0]["value"].split("|", 1)[1]
        for block in home["blocks"]
        if (block.get("accessory") or {}).get("action_id") == ROW_MENU
    ]


def button(home: dict[str, Any], action_id: str, label: str) -> str:
    for block in home["blocks"]:
        elements = block.get("elements", []) if block["type"] == "actions" else [block.get("accessory")]
        for element in elements:
            if element and element.get("action_id") == action_id and element["text"]["text"] == label:
                return element["value"]
    raise AssertionError(f"no {label} button in the Home")


def paused_elsewhere(stack: EmbeddedStack, count: int, machine: str = PAYMENTS) -> None:
    """``count`` recovery requests of another team's state machine, as its Request recovery step
    sends them, collected into the table."""
    arn = stack.arn("OrderItemStateMachine").rsplit(":", 1)[0] + f":{machine}"
    before = len(store(stack).list_by_status(RecoveryStatus.OPEN, limit=10_000))
    for n in range(count):
        stack.client("sqs").send_message(
            QueueUrl=stack.physical("RecoveryQueue"),
            MessageBody=json.dumps(
                {
                    "task_token": f"token-of-{machine}-{n}",
                    "execution_arn": arn.replace(":stateMachine:", ":execution:") + f":pay-{n}",
                    "execution_name": f"pay-{n}",
                    "state_machine_arn": arn,
                    "failed_state": "Charge card",
                    "error": "CardDeclined",
                    "routing": "technical",
                    "input": {"payment_id": f"pay-{n}"},
                }
            ),
        )

    def collected() -> bool:
        poll_collector(stack)
        return len(store(stack).list_by_status(RecoveryStatus.OPEN, limit=10_000)) >= before + count

    wait_until(collected)


def a_team_for_the_order_items(stack: EmbeddedStack) -> None:
    """A routing rule that lets TEAM_MEMBER act on the order items' recoveries (and nothing else)."""
    rules = {
        "rules": [
            {
                "name": "order-items",
                "match": {"state_machine": stack.arn("OrderItemStateMachine")},
                "channel": "C-RECOVERIES",
                "team": {"user_ids": [TEAM_MEMBER]},
            }
        ]
    }
    stack.client("ssm").put_parameter(
        Name=stack.physical("RoutingRules"), Value=json.dumps(rules), Type="String", Overwrite=True
    )
    parameters.clear_caches()


def an_open_vendor_circuit(stack: EmbeddedStack) -> None:
    now = time.time()
    stack.client("dynamodb").put_item(
        TableName=stack.physical("CircuitBreakerTable"),
        Item={
            "dependency": {"S": "vendor"},
            "state": {"S": "OPEN"},
            "failures": {"N": "0"},
            "changed_at": {"N": f"{now - 120:.3f}"},
            "opened_until": {"N": f"{now + 60:.3f}"},
        },
    )


def dead_letters_in_the_recovery_dlq(stack: EmbeddedStack, count: int) -> None:
    for n in range(count):
        stack.client("sqs").send_message(
            QueueUrl=stack.physical("RecoveryDeadLetterQueue"), MessageBody=json.dumps({"n": n})
        )


def assert_nothing_unsafe(slack: SlackStandIn) -> None:
    spots = [f"{c.method} {s}" for c in slack.calls for s in unsafe_spots(c.body, users=[ALLOWED])]
    assert spots == []


# ---------------------------------------------------------------------- the tests
def test_an_admin_home_shows_every_open_recovery_the_circuits_and_the_dlq_depths(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a paused order, another team's paused payment, an open circuit and 2 dead letters
    (order,) = pause(stack, order_api, vendor, [ORDER])
    paused_elsewhere(stack, 1)
    an_open_vendor_circuit(stack)
    dead_letters_in_the_recovery_dlq(stack, 2)

    # When the admin opens the Home tab
    home = open_home(stack, slack, ALLOWED)

    # Then every recovery is listed with its menu, and the circuit and the DLQ's depth are shown
    text = shown(home)
    assert "2 open recoveries" in text
    assert len(rows_with_menu(home)) == 2 and order.recovery_id in rows_with_menu(home)
    assert "🔴 *vendor*: open since" in text
    assert "*Recovery DLQ*" in text and ": 2 messages" in text
    assert len(home["blocks"]) <= 100
    assert_nothing_unsafe(slack)


def test_a_team_member_sees_their_rules_recoveries_and_not_another_teams(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given an order item paused (the team's rule) and a payment paused (no rule: the admins')
    (order,) = pause(stack, order_api, vendor, [ORDER])
    paused_elsewhere(stack, 1)
    a_team_for_the_order_items(stack)

    # When the team member opens the Home tab
    home = open_home(stack, slack, TEAM_MEMBER)

    # Then only the order item is there, with its menu; the payment is not shown, only counted
    text = shown(home)
    assert rows_with_menu(home) == [order.recovery_id]
    assert "pay-0" not in text and PAYMENTS not in text
    assert "1 open recovery" in text and "1 of other teams not shown" in text
    assert "shown to the deployment's admins and viewers" in text  # not the DLQs: the admins' own


def test_a_stranger_home_shows_no_recovery_and_the_refusal_is_audited(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a paused order
    (order,) = pause(stack, order_api, vendor, [ORDER])

    # When a stranger opens the Home tab
    home = open_home(stack, slack, STRANGER)

    # Then it says they have no access and why, shows nothing of the recovery, and is audited
    text = shown(home)
    assert "no access" in text and "allow-list" in text
    assert order.execution_name not in text and order.recovery_id not in text
    audit = AuditItems(stack.physical("RecoveriesTable"), stack.client("dynamodb"))
    entries = [(e.actor, e.action, e.result) for e in audit.history(RECOVERIES_LIST)]
    assert (STRANGER, "view home", "DENIED") in entries


def test_a_filter_button_and_a_page_button_publish_the_home_again_where_they_lead(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a paused order and 30 paused payments (more than a page)
    (order,) = pause(stack, order_api, vendor, [ORDER])
    paused_elsewhere(stack, 30)
    home = open_home(stack, slack, ALLOWED)
    assert "31 open recoveries" in shown(home)
    requests = requests_for(slack)

    # When the admin clicks Next, then Show these on the order items' count
    second = published_after(
        slack,
        ALLOWED,
        lambda: send(
            stack,
            requests.click_in_home(
                ALLOWED, HOME_PAGE_NEXT, button(home, HOME_PAGE_NEXT, "Next"), home["private_metadata"]
            ),
        ),
    )
    machine = order.state_machine_name
    value = next(
        block["accessory"]["value"]
        for block in home["blocks"]
        if (block.get("accessory") or {}).get("action_id") == HOME_FILTER and machine in block["text"]["text"]
    )
    filtered = published_after(
        slack, ALLOWED, lambda: send(stack, requests.click_in_home(ALLOWED, HOME_FILTER, value))
    )

    # Then page 2 holds the rest, with Previous; the filter shows the order item alone, and Show all
    assert "Page 2 of 2" in shown(second) and button(second, HOME_PAGE_PREVIOUS, "Previous")
    assert len(rows_with_menu(second)) == 31 - 25
    assert rows_with_menu(filtered) == [order.recovery_id]
    assert "1 open recovery" in shown(filtered) and button(filtered, HOME_FILTER, "Show all")
    assert_nothing_unsafe(slack)


def test_run_again_from_the_home_resumes_exactly_once_and_publishes_the_home_again(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a paused order in the admin's Home
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    resumes = count_calls(stack, "SendTaskSuccess")
    home = open_home(stack, slack, ALLOWED)
    assert rows_with_menu(home) == [recovery.recovery_id]

    # When the admin chooses Run again in its row's menu
    choice = requests_for(slack).choose_in_home(
        ALLOWED, ROW_MENU, row_menu_value(RUN_AGAIN, recovery.recovery_id), home["private_metadata"]
    )
    again = published_after(slack, ALLOWED, lambda: send(stack, choice))

    # Then it resumed once, the outcome came as a direct message, and the new Home no longer lists it
    wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")
    assert len(resumes) == 1
    assert rows_with_menu(again) == []
    assert "0 open recoveries" in shown(again)
    told = [c.body for c in slack.calls_of("chat.postMessage") if c.body.get("channel") == ALLOWED]
    assert [body["text"] for body in told] == [f"✅ Run again: `{recovery.execution_name}`."]
    assert slack.calls_of("response_url") == []
    assert_nothing_unsafe(slack)


def test_reject_from_the_home_opens_its_modal_and_once_submitted_publishes_the_home_again(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    # Given a paused order in the admin's Home
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    home = open_home(stack, slack, ALLOWED)
    requests = requests_for(slack)

    # When the admin chooses Reject in its row's menu, then submits the modal with a reason
    choice = requests.choose_in_home(
        ALLOWED, ROW_MENU, row_menu_value(REJECT, recovery.recovery_id), home["private_metadata"]
    )
    send(stack, choice)
    wait_until(lambda: slack.calls_of("views.open"))
    modal = slack.calls_of("views.open")[-1].body["view"]
    modal = json.loads(modal) if isinstance(modal, str) else modal
    submission = requests.submit(
        ALLOWED, REJECT_SUBMIT, modal["private_metadata"], {REASON_BLOCK: {REASON_ACTION: "duplicate"}}
    )
    again = published_after(slack, ALLOWED, lambda: send(stack, submission))

    # Then it is rejected with the reason, and the new Home no longer lists it
    rejected = wait_for_status(stack, recovery.recovery_id, RecoveryStatus.REJECTED)
    assert rejected.audit[-1].detail.get("reason") == "duplicate"
    assert rows_with_menu(again) == []
    assert slack.calls_of("response_url") == [] and slack.calls_of("chat.postEphemeral") == []
    assert_nothing_unsafe(slack)
