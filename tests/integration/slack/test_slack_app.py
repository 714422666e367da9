"""The Slack app end to end: signed requests → the Lambda function → Step Functions on moto."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

from botocore.exceptions import ClientError

from recovery_ops.service.example.supplier.dummy import DummyVendor, VendorBehaviour
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.requests import SlackRequest
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.recovery.model.recovery import RecoveryStatus
from recovery_ops.slack_app.ids import EDIT_AND_RUN_AGAIN, REJECT, RUN_AGAIN
from recovery_ops.slack_app.views.modals import INPUT_BLOCK
from tests.support.desk import (
    ORDER,
    count_calls,
    edit_submission,
    execution_status,
    open_modal,
    order_execution_of,
    pause,
    reject_submission,
    requests_for,
    send,
    status_of,
    store,
    wait_for_status,
)
from tests.support.orders import dead_letters
from tests.support.stacks import ALLOWED, SECOND, STRANGER
from tests.support.waiting import wait_until

UNKNOWN_PRODUCT_ORDER = {"customer_id": "customer-2", "product_id": "sku-unknown!", "quantity": 1}


def test_run_again_resumes_the_execution_and_replaces_the_buttons_with_the_outcome(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    resumes = count_calls(stack, "SendTaskSuccess")

    answer = send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))

    assert answer["statusCode"] == 200
    resumed = wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")
    assert len(resumes) == 1
    wait_until(lambda: slack.calls_of("chat.update"))
    (update,) = slack.calls_of("chat.update")
    assert (update.body["channel"], update.body["ts"]) == (resumed.slack_channel, resumed.slack_ts)
    assert "actions" not in [block["type"] for block in update.body["blocks"]]
    assert f"Run again* by <@{ALLOWED}>" in json.dumps(update.body["blocks"], ensure_ascii=False)
    assert [(e.actor, e.result) for e in resumed.audit[1:]] == [(ALLOWED, "RESUMING"), (ALLOWED, "RESUMED")]


def test_two_clicks_at_once_send_exactly_one_task_success_and_tell_the_second_who_handles_it(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    resumes = count_calls(stack, "SendTaskSuccess")
    requests = requests_for(slack)
    clicks = [
        requests.click(ALLOWED, RUN_AGAIN, recovery.recovery_id),
        requests.click(SECOND, RUN_AGAIN, recovery.recovery_id),
    ]

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda request: send(stack, request), clicks))

    assert [a["statusCode"] for a in answers] == [200, 200]
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")
    wait_until(lambda: any("Nothing was sent" in r.get("text", "") for r in slack.responses))
    assert len(resumes) == 1
    (told,) = [r["text"] for r in slack.responses if "Nothing was sent" in r.get("text", "")]
    winner = store(stack).get(recovery.recovery_id).last_actor
    assert f"by <@{winner}>" in told
    assert winner in (ALLOWED, SECOND)


def test_slack_retrying_a_click_it_thinks_was_lost_sends_nothing_twice(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    resumes = count_calls(stack, "SendTaskSuccess")
    click = requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id)
    send(stack, click)
    wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)

    retried = SlackRequest(
        click.body, {**click.headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert send(stack, retried)["statusCode"] == 200

    wait_until(lambda: any("already closed (resumed)" in r.get("text", "") for r in slack.responses))
    assert len(resumes) == 1


def test_an_edit_that_is_not_json_is_refused_in_the_modal_and_nothing_is_sent(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [UNKNOWN_PRODUCT_ORDER], VendorBehaviour())
    resumes = count_calls(stack, "SendTaskSuccess")
    modal = open_modal(stack, slack, EDIT_AND_RUN_AGAIN, recovery.recovery_id)
    assert json.loads(modal_text(modal)) == recovery.input  # pre-filled with the step's input

    answer = send(stack, edit_submission(slack, modal, '{"product_id": "sku-kettle",'))

    assert answer["statusCode"] == 200
    errors = json.loads(answer["body"])
    assert errors["response_action"] == "errors"
    assert errors["errors"][INPUT_BLOCK].startswith("Not valid JSON")
    stack.dispatcher.settle()  # the lazy half has ended: it sent nothing either
    assert resumes == []
    assert status_of(stack, recovery.recovery_id) is RecoveryStatus.OPEN


def test_an_edit_that_breaks_the_states_schema_is_refused_in_the_modal(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [UNKNOWN_PRODUCT_ORDER], VendorBehaviour())
    modal = open_modal(stack, slack, EDIT_AND_RUN_AGAIN, recovery.recovery_id)
    edited = {**recovery.input, "quantity": "two"}

    answer = send(stack, edit_submission(slack, modal, json.dumps(edited)))

    error = json.loads(answer["body"])["errors"][INPUT_BLOCK]
    assert "schema" in error and "quantity" in error
    assert status_of(stack, recovery.recovery_id) is RecoveryStatus.OPEN


def test_a_valid_edit_reruns_the_step_with_the_new_input_and_audits_the_diff(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [UNKNOWN_PRODUCT_ORDER], VendorBehaviour())
    assert recovery.error == "VendorRejectedRequest"
    modal = open_modal(stack, slack, EDIT_AND_RUN_AGAIN, recovery.recovery_id)
    edited = {**recovery.input, "product_id": "sku-kettle"}

    answer = send(stack, edit_submission(slack, modal, json.dumps(edited)))

    assert answer["statusCode"] == 200 and not answer.get("body")
    resumed = wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: execution_status(stack, order_execution_of(stack, recovery)) == "SUCCEEDED")
    order = order_api.get(recovery.input["order_id"]).body
    assert order["status"] == "FINISHED"
    rerun_inputs = checked_products(stack, recovery.execution_arn)
    assert rerun_inputs[-1] == "sku-kettle" and rerun_inputs[0] == UNKNOWN_PRODUCT_ORDER["product_id"]
    (edit,) = [e for e in resumed.audit if e.result == "RESUMING"]
    assert edit.action == "edit and run again"
    assert '-  "product_id": "sku-unknown!"' in edit.detail["diff"]
    assert '+  "product_id": "sku-kettle"' in edit.detail["diff"]


def test_reject_with_a_reason_compensates_and_sends_the_order_to_the_dead_letter_queue(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [UNKNOWN_PRODUCT_ORDER], VendorBehaviour())
    failures = count_calls(stack, "SendTaskFailure")
    modal = open_modal(stack, slack, REJECT, recovery.recovery_id)

    send(stack, reject_submission(slack, modal, "customer cancelled"))

    rejected = wait_for_status(stack, recovery.recovery_id, RecoveryStatus.REJECTED)
    wait_until(lambda: execution_status(stack, order_execution_of(stack, recovery)) == "FAILED")
    (failure,) = failures
    assert failure["error"] == "RecoveryRejected"
    assert failure["cause"] == f"Rejected by {ALLOWED}: customer cancelled"
    order = order_api.get(recovery.input["order_id"]).body
    assert (order["status"], order["items"][0]["status"]) == ("FAILED", "REJECTED")  # its one item
    (dead,) = dead_letters(stack)
    assert (dead["order_id"], dead["item_number"]) == (recovery.input["order_id"], 1)
    assert dead["error"]["Error"] == "RecoveryRejected"
    assert rejected.audit[-1].detail == {"reason": "customer cancelled"}
    wait_until(lambda: slack.calls_of("chat.update"))
    update = slack.calls_of("chat.update")[-1]
    assert "Rejected* by" in json.dumps(update.body["blocks"]) and "customer cancelled" in json.dumps(
        update.body["blocks"]
    )


def test_someone_not_allowed_is_denied_audited_and_nothing_reaches_step_functions(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    resumes = count_calls(stack, "SendTaskSuccess")

    send(stack, requests_for(slack).click(STRANGER, RUN_AGAIN, recovery.recovery_id))

    wait_until(lambda: any(r.get("text", "").startswith("🚫") for r in slack.responses))
    denial = store(stack).get(recovery.recovery_id).audit[-1]
    assert (denial.actor, denial.action, denial.result) == (STRANGER, "run again", "DENIED")
    assert resumes == []
    assert status_of(stack, recovery.recovery_id) is RecoveryStatus.OPEN
    assert execution_status(stack, recovery.execution_arn) == "RUNNING"
    assert slack.responses[-1]["response_type"] == "ephemeral"


def test_a_forged_signature_gets_401_and_nothing_happens(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    genuine = requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id)
    forged = requests_for(slack).signed(genuine.body, secret="not-the-signing-secret")
    tampered = SlackRequest(genuine.body.replace(ALLOWED, SECOND), genuine.headers)

    function = stack.physical("SlackAppFunction")
    before = stack.dispatcher.invocations[function]

    assert send(stack, forged)["statusCode"] == 401
    assert send(stack, tampered)["statusCode"] == 401
    stack.dispatcher.settle()
    assert stack.dispatcher.invocations[function] == before + 2  # no lazy half was started
    assert status_of(stack, recovery.recovery_id) is RecoveryStatus.OPEN


def test_a_request_older_than_five_minutes_gets_401(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    requests = requests_for(slack)
    body = requests.click(ALLOWED, RUN_AGAIN, recovery.recovery_id).body
    stale = requests.signed(body, timestamp=int(time.time()) - 6 * 60)

    assert send(stack, stale)["statusCode"] == 401
    assert status_of(stack, recovery.recovery_id) is RecoveryStatus.OPEN


def test_slack_down_while_the_message_is_updated_still_resumes_and_keeps_the_audit(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    slack.fail_next(10, status=503, method="chat.update")  # the update and its retries all fail

    send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))

    wait_for_status(stack, recovery.recovery_id, RecoveryStatus.RESUMED)
    wait_until(lambda: execution_status(stack, recovery.execution_arn) == "SUCCEEDED")
    assert slack.calls_of("chat.update") == []  # the message is stale; the action is done and audited


def test_the_recoveries_table_unreachable_tells_the_clicker_and_sends_nothing(
    stack: EmbeddedStack, order_api: LocalOrderApi, vendor: DummyVendor, slack: SlackStandIn
) -> None:
    (recovery,) = pause(stack, order_api, vendor, [ORDER])
    resumes = count_calls(stack, "SendTaskSuccess")
    outage = ClientError(
        {"Error": {"Code": "InternalServerError", "Message": "DynamoDB is down"}}, "UpdateItem"
    )

    with mock.patch(
        "recovery_ops.service.recovery.storage.recoveries.RecoveryStore.claim", side_effect=outage
    ):
        send(stack, requests_for(slack).click(ALLOWED, RUN_AGAIN, recovery.recovery_id))
        wait_until(
            lambda: any(r.get("text", "").startswith("⚠️ Run again did not complete") for r in slack.responses)
        )

    assert resumes == []
    assert status_of(stack, recovery.recovery_id) is RecoveryStatus.OPEN


def modal_text(view: dict) -> str:
    (block,) = [b for b in view["blocks"] if b.get("block_id") == INPUT_BLOCK]
    return block["element"]["initial_value"]


def checked_products(stack: EmbeddedStack, execution_arn: str) -> list[str]:
    """The product id of every Check availability task the execution scheduled, in order."""
    events = stack.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    products = []
    for event in events["events"]:
        details = event.get("taskScheduledEventDetails")
        if details and "lambda" in details["resourceType"]:
            payload = json.loads(details["parameters"])["Payload"]
            if "order" in payload:
                products.append(payload["order"]["product_id"])
    return products
