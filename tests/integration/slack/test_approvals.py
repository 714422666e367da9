"""Four eyes through the Slack app's real function on the embedded stack: a routing rule puts edits
under two approvals; the editor's edit becomes a request on the recovery's message (the step stays
paused), the editor's own Approve is refused, two other people approve and the execution goes on with
exactly the edited input; a Deny leaves the recovery open and its message says why."""

from __future__ import annotations

import json
from unittest import mock

import pytest

from recovery_ops.service.example.supplier.dummy import DummyVendor
from recovery_ops.service.local.desk import edit_submission
from recovery_ops.service.local.engine.stack import EmbeddedStack
from recovery_ops.service.local.programs.order_api_client import LocalOrderApi
from recovery_ops.service.local.standin.server import SlackStandIn
from recovery_ops.service.local.standin.workspace import SlackMessage, SlackWorkspace
from recovery_ops.service.recovery.lifecycle.approvals import Approvals
from recovery_ops.service.recovery.model.approval import ApprovalState
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.storage.approvals import ApprovalStore
from recovery_ops.service.recovery.storage.items import key
from recovery_ops.slack_app.ids import APPROVAL_APPROVE, APPROVAL_DENY, DENY_SUBMIT, RUN_AGAIN_ALL
from recovery_ops.slack_app.views.approvals import DENY_REASON_ACTION, DENY_REASON_BLOCK
from tests.integration.slack.test_crash_proof import reconcile
from tests.integration.slack.test_home_tab import open_home
from tests.integration.slack.test_home_tab import shown as home_text
from tests.integration.slack.test_teams import write_rules
from tests.support.desk import (
    ORDER,
    count_calls,
    desk_at,
    pause,
    requests_for,
    send,
    store,
    wait_for_status,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

EDITOR, LEAD_A, LEAD_B = "UEDITOR", "ULEADA", "ULEADB"
EDITS_UNDER_TWO_APPROVALS = {
    "rules": [
        {
            "name": "orders",
            "match": {"state_machine": "*OrderItemStateMachine*"},
            "channel": "C-RECOVERIES",
            "team": {"user_ids": [EDITOR, LEAD_A, LEAD_B]},
            "approval": {
                "actions": ["edit"],
                "approvals": 2,
                "approvers": {"user_ids": [EDITOR, LEAD_A, LEAD_B]},
            },
        }
    ]
}


@pytest.fixture
def edits_under_two_approvals(stack: EmbeddedStack) -> None:
    write_rules(stack, json.dumps(EDITS_UNDER_TWO_APPROVALS))


def settle(stack: EmbeddedStack) -> None:
    stack.dispatcher.settle(60)  # the Slack app's lazy halves have done their work


def edit_as_editor(stack: EmbeddedStack, slack: SlackStandIn, recovery: Recovery, quantity: int) -> dict:
    """The editor's edit through the modal (the quantity changed); the input as submitted."""
    desk = desk_at(stack, slack, EDITOR)
    form = desk.open_edit(recovery)
    edited = {**json.loads(form.text), "quantity": quantity}
    send(stack, edit_submission(requests_for(slack), EDITOR, form.private_metadata, json.dumps(edited)))
    settle(stack)
    return edited


def request_message(workspace: SlackWorkspace, recovery: Recovery, request_id: str) -> SlackMessage:
    """The request's own message: the recovery shares a group message (two items failed alike), so
    its request is posted in that message's thread."""
    for reply in workspace.message_of(recovery).replies:
        if f"request `{request_id}`" in json.dumps(reply.blocks):
            return reply
    raise AssertionError(f"no message of request {request_id} in the thread")


def click(
    stack: EmbeddedStack, slack: SlackStandIn, person: str, action_id: str, value: str, recovery: Recovery
):
    send(
        stack,
        requests_for(slack).click(
            person, action_id, value, channel=recovery.slack_channel or "", message_ts=recovery.slack_ts
        ),
    )
    settle(stack)


def test_an_edit_under_two_approvals_waits_for_two_others_then_runs_exactly_it_and_a_deny_leaves_it_open(
    stack: EmbeddedStack,
    order_api: LocalOrderApi,
    vendor: DummyVendor,
    slack: SlackStandIn,
    edits_under_two_approvals: None,
) -> None:
    # Given two paused items (one group message) whose rule puts edits under two approvals
    first, second = pause(stack, order_api, vendor, [ORDER, {**ORDER, "customer_id": "customer-2"}])
    resumes = count_calls(stack, "SendTaskSuccess")
    workspace = SlackWorkspace(slack)

    # When the editor edits the first through the modal
    edited = edit_as_editor(stack, slack, first, quantity=1)

    # Then nothing is sent: a request waits, shown on the message with Approve / Deny / Withdraw
    waiting = store(stack).get(first.recovery_id)
    assert waiting.status is RecoveryStatus.OPEN and waiting.approval is not None and resumes == []
    request_id = waiting.approval.request_id
    shown = request_message(workspace, waiting, request_id)
    assert [b.action_id for b in shown.buttons][:2] == [APPROVAL_APPROVE, APPROVAL_DENY]
    assert "waits for 2 more approvals" in shown.text
    assert any("<@ULEADA> <@ULEADB>" in reply.text for reply in workspace.message_of(waiting).replies)

    # And what waits for a lead's approval shows on their Home and in /recoveries approvals, not
    # on the editor's (their own)
    assert request_id in home_text(open_home(stack, slack, LEAD_A))
    assert request_id not in home_text(open_home(stack, slack, EDITOR)).split("Your requests")[0]
    before = len(slack.calls)
    send(stack, requests_for(slack).command(LEAD_A, "approvals"))
    settle(stack)
    assert any(
        request_id in json.dumps(call.body)
        for call in list(slack.calls)[before:]
        if call.method == "response_url"
    )

    # When the editor approves their own request
    told = len(workspace.told())
    click(stack, slack, EDITOR, APPROVAL_APPROVE, request_id, waiting)

    # Then it is refused, and still nothing is sent
    assert any("nobody approves or denies their own request" in t for t in workspace.told()[told:])
    assert resumes == []

    # When two other people approve
    click(stack, slack, LEAD_A, APPROVAL_APPROVE, request_id, waiting)
    assert resumes == [] and store(stack).get(first.recovery_id).status is RecoveryStatus.OPEN
    click(stack, slack, LEAD_B, APPROVAL_APPROVE, request_id, waiting)

    # Then the execution goes on with exactly the edited input, once
    resumed = wait_for_status(stack, first.recovery_id, RecoveryStatus.RESUMED)
    assert len(resumes) == 1 and json.loads(resumes[0]["output"])["quantity"] == 1
    sent = json.loads(resumes[0]["output"])
    assert {k: v for k, v in sent.items() if edited.get(k) != "[redacted]"} == {
        k: v for k, v in edited.items() if v != "[redacted]"
    }
    (claim,) = [e for e in resumed.audit if e.result == "RESUMING"]
    assert claim.actor == EDITOR and claim.detail["approval"] == request_id
    assert claim.detail["approved_by"] == f"{LEAD_A}, {LEAD_B}"

    # When the editor edits the second and a lead denies it, with a reason, in the Deny modal
    edit_as_editor(stack, slack, second, quantity=7)
    denied = store(stack).get(second.recovery_id)
    assert denied.approval is not None
    send(stack, requests_for(slack).click(LEAD_A, APPROVAL_DENY, denied.approval.request_id))
    settle(stack)
    wait_until(lambda: any(c.method == "views.open" and c.status == 200 for c in slack.calls))
    metadata = json.dumps({"request_id": denied.approval.request_id, "channel": denied.slack_channel})
    send(
        stack,
        requests_for(slack).submit(
            LEAD_A, DENY_SUBMIT, metadata, {DENY_REASON_BLOCK: {DENY_REASON_ACTION: "wrong quantity"}}
        ),
    )
    settle(stack)

    # Then nothing ran: the recovery is open, its buttons are back and its thread says why
    after = store(stack).get(second.recovery_id)
    assert after.status is RecoveryStatus.OPEN and after.approval is None and len(resumes) == 1
    assert RUN_AGAIN_ALL in [b.action_id for b in workspace.message_of(after).buttons]
    decided = request_message(workspace, after, denied.approval.request_id)
    assert decided.buttons == [] and "denied by <@ULEADA>" in json.dumps(decided.blocks)
    replies = workspace.message_of(after).replies
    assert any("denied by <@ULEADA>" in r.text and "wrong quantity" in r.text for r in replies)


def test_an_approved_edit_whose_process_died_is_run_by_the_reconciler_function_once(
    stack: EmbeddedStack,
    order_api: LocalOrderApi,
    vendor: DummyVendor,
    slack: SlackStandIn,
    edits_under_two_approvals: None,
) -> None:
    # Given an edit approved by two leads, the last approver's process gone before it ran it
    (paused,) = pause(stack, order_api, vendor, [ORDER])
    resumes = count_calls(stack, "SendTaskSuccess")
    edited = edit_as_editor(stack, slack, paused, quantity=1)
    waiting = store(stack).get(paused.recovery_id)
    assert waiting.approval is not None
    request_id = waiting.approval.request_id
    click(stack, slack, LEAD_A, APPROVAL_APPROVE, request_id, waiting)
    with mock.patch.object(Approvals, "run_approved", side_effect=RuntimeError("the function died here")):
        click(stack, slack, LEAD_B, APPROVAL_APPROVE, request_id, waiting)
    approvals = ApprovalStore(table_of(stack), stack.client("dynamodb"))
    assert resumes == [] and approvals.get(request_id).state is ApprovalState.APPROVED

    # When its run's lease has ended and the minute's ReconcilerFunction runs (twice)
    stack.client("dynamodb").update_item(
        TableName=table_of(stack),
        Key=key(f"approval#{request_id}"),
        UpdateExpression="SET lease_until = :past, due_at = :past",
        ExpressionAttributeValues={":past": {"S": "2000-01-01T00:00:00.000+00:00"}},
    )
    reconcile(stack)
    reconcile(stack)

    # Then exactly the approved input was sent, once, by the reconciler's own role
    wait_for_status(stack, paused.recovery_id, RecoveryStatus.RESUMED)
    assert len(resumes) == 1 and json.loads(resumes[0]["output"])["quantity"] == edited["quantity"]
    assert any(
        c.principal == "ReconcilerFunction" and c.action == "states:SendTaskSuccess" for c in stack.iam.calls
    )
    done = approvals.get(request_id)
    assert done.state is ApprovalState.DONE and done.results == {paused.recovery_id: "RESUMED"}


def table_of(stack: EmbeddedStack) -> str:
    return stack.physical("RecoveriesTable")
