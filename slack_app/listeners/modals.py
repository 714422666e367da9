"""The modals: Edit input & run again, Reject, and the bulk confirmation of a group message,
opened by their buttons (``recovery_buttons``) and submitted here.

The edit modal is validated in the acknowledgement, so Slack shows an invalid JSON, an oversized
input or a schema violation in the modal itself; nothing is sent until it is valid. A modal has
no response_url: the outcome is told ephemerally in the channel it was opened from, and a modal
opened from the Home tab (no channel) publishes the Home again.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from recovery_ops.service.composition import Services
from recovery_ops.service.recovery.model.approval import Gated
from recovery_ops.service.recovery.model.input_edit import InputProblemError, input_diff, parse_edited_input
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import MessageRef
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryNotFoundError
from recovery_ops.slack_app.ids import BULK_SUBMIT, EDIT_SUBMIT, REJECT_SUBMIT
from recovery_ops.slack_app.listeners import approvals, home
from recovery_ops.slack_app.listeners.registration import ServicesFactory, acknowledge, with_services
from recovery_ops.slack_app.listeners.replies import (
    Say,
    actable,
    denied,
    reporting_failures,
    run_bulk,
    tell,
    via_ephemeral,
    via_respond,
)
from recovery_ops.slack_app.views.ephemeral import left_out_note
from recovery_ops.slack_app.views.escaping import code, who
from recovery_ops.slack_app.views.modals import (
    INPUT_ACTION,
    INPUT_BLOCK,
    REASON_ACTION,
    REASON_BLOCK,
    ModalOrigin,
    bulk_modal,
    edit_modal,
    editable,
    edited_input,
    reject_modal,
    submitted_value,
)

ERROR_TEXT_LIMIT = 1900


# ---------------------------------------------------------------------- one recovery
def open_edit(
    services: Services, client: WebClient, user: str, recovery_id: str, body: dict, respond: Respond
) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Edit input"):
        if denied(services, user, recovery_id, "edit and run again", say):
            return
        recovery = _open_recovery(services, recovery_id, say)
        if recovery is None:
            return
        if not editable(recovery):
            say(
                f"The input of {code(recovery.execution_name)} is larger than a Slack text field holds "
                "(3,000 characters). Edit it with "
                f"{code(f'recovery-ops retry {recovery_id} --input edited.json')}."
            )
            return
        # under an approval policy the modal asks for a reason too (for the approvers)
        reason = approvals.policy_for(services, recovery, Gated.EDIT)
        view = edit_modal(recovery, _modal_origin(body), reason=reason[1] if reason else None)
        client.views_open(trigger_id=body["trigger_id"], view=view)


def open_reject(
    services: Services, client: WebClient, user: str, recovery_id: str, body: dict, respond: Respond
) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Reject"):
        if denied(services, user, recovery_id, "reject", say):
            return
        recovery = _open_recovery(services, recovery_id, say)
        if recovery is not None:
            client.views_open(trigger_id=body["trigger_id"], view=reject_modal(recovery, _modal_origin(body)))


def edit_submitted(services: Services, client: WebClient, user: str, view: dict) -> None:
    meta = json.loads(view["private_metadata"])
    say = via_ephemeral(client, meta.get("channel"), user)
    with reporting_failures(say, "Edit input & run again"):
        if denied(services, user, meta["recovery_id"], "edit and run again", say):
            return
        try:
            submitted = validate_edit(services, meta, submitted_value(view, INPUT_BLOCK, INPUT_ACTION) or "")
        except InputProblemError:
            return  # shown in the modal by the acknowledgement; nothing to send
        original = services.store.get(meta["recovery_id"])
        edited = edited_input(original, submitted)  # fields shown [redacted] keep their stored value
        diff = input_diff(original.input, edited)
        reason = (submitted_value(view, REASON_BLOCK, REASON_ACTION) or "").strip() or None
        result = services.actions.run_again(
            meta["recovery_id"], user, new_input=edited, diff=diff, recovery=original
        )
        if approvals.requested_instead(
            services, user, result, Gated.EDIT, say, new_input=edited, diff=diff, reason=reason
        ):
            return  # exactly this input waits for approval
        tell(result, say)


def validate_edit(services: Services, meta: dict, text: str) -> Any:
    # the metadata carries ids only (names may be longer than a modal's metadata holds)
    recovery = services.store.get(meta["recovery_id"])
    schema = services.schemas.for_state(recovery.state_machine_name, recovery.failed_state)
    return parse_edited_input(text, schema)


def reject_submitted(services: Services, client: WebClient, user: str, view: dict) -> None:
    meta = json.loads(view["private_metadata"])
    say = via_ephemeral(client, meta.get("channel"), user)
    with reporting_failures(say, "Reject"):
        if denied(services, user, meta["recovery_id"], "reject", say):
            return
        reason = (submitted_value(view, REASON_BLOCK, REASON_ACTION) or "").strip() or None
        result = services.actions.reject(meta["recovery_id"], user, reason)
        if approvals.requested_instead(services, user, result, Gated.REJECT, say, reason=reason):
            return  # a policy puts it under approval: the rejection waits, with its reason
        tell(result, say)


def _open_recovery(services: Services, recovery_id: str, say: Say) -> Recovery | None:
    try:
        recovery = services.store.get(recovery_id)
    except RecoveryNotFoundError:
        say(f"⚠️ No recovery {code(recovery_id)} (closed and expired from the table?).")
        return None
    if recovery.status is not RecoveryStatus.OPEN:
        by = recovery.last_actor
        by_whom = f" ({who(by)})." if by else "."
        say(f"👋 {code(recovery.execution_name)} is {recovery.status.lower()}{by_whom}")
        return None
    return recovery


def _modal_origin(body: dict) -> ModalOrigin:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return ModalOrigin(channel=channel, message_ts=(body.get("message") or {}).get("ts"))


# ---------------------------------------------------------------------- a group message's bulk
def open_group_bulk(
    services: Services, client: WebClient, user: str, kind: str, group_id: str, body: dict, respond: Respond
) -> None:
    say = via_respond(respond)
    verb = "run again all" if kind == "run_again" else "reject all"
    with reporting_failures(say, verb.capitalize()):
        if denied(services, user, group_id, verb, say):
            return
        group = services.groups.get(group_id)
        selection = actable(services, user, ListFilter(group_id=group_id))
        if group is None or not (selection.allowed or selection.left_out):
            say("Nothing to do: every recovery of this group is already handled.")
            return
        if not selection.allowed:
            say(f"Nothing for you to do here.{left_out_note(selection.left_out)}")
            return
        description = f"{group.state_machine_name} / {group.failed_state} / {group.error or 'unknown error'}"
        metadata = {"group_id": group_id, "channel": group.channel, "ts": group.ts}
        client.views_open(
            trigger_id=body["trigger_id"],
            view=bulk_modal(kind, len(selection.allowed), description, metadata, selection.left_out),
        )


def bulk_submitted(services: Services, client: WebClient, user: str, view: dict) -> None:
    meta = json.loads(view["private_metadata"])
    say = via_ephemeral(client, meta.get("channel"), user)
    kind = meta["kind"]
    with reporting_failures(say, "Bulk action"):
        if denied(
            services, user, meta["group_id"], "run again all" if kind == "run_again" else "reject all", say
        ):
            return
        group = services.groups.get(meta["group_id"])
        selection = actable(services, user, ListFilter(group_id=meta["group_id"]))
        ids = [r.recovery_id for r in selection.allowed]
        description = f"{group.state_machine_name} / {group.failed_state}" if group else meta["group_id"]
        reason = (submitted_value(view, REASON_BLOCK, REASON_ACTION) or "").strip() or None
        thread = MessageRef(meta["channel"], meta["ts"]) if meta.get("channel") and meta.get("ts") else None
        run_bulk(services, client, user, kind, ids, description, thread, say, reason, selection.left_out)


# ---------------------------------------------------------------------- registration
def check_edit(services: ServicesFactory, ack: Ack, view: dict) -> None:
    """The edit modal's acknowledgement: an input that is not valid is shown in the modal."""
    text = submitted_value(view, INPUT_BLOCK, INPUT_ACTION) or ""
    meta = json.loads(view["private_metadata"])
    try:
        validate_edit(services(), meta, text)
    except InputProblemError as problem:
        ack(response_action="errors", errors={INPUT_BLOCK: str(problem)[:ERROR_TEXT_LIMIT]})
        return
    _ack_with_reason(services(), ack, view, meta["recovery_id"], Gated.EDIT)


def check_reject(services: ServicesFactory, ack: Ack, view: dict) -> None:
    """The reject modal's acknowledgement: a reason its approval policy requires is asked for there."""
    _ack_with_reason(services(), ack, view, json.loads(view["private_metadata"])["recovery_id"], Gated.REJECT)


def _ack_with_reason(services: Services, ack: Ack, view: dict, recovery_id: str, gated: Gated) -> None:
    reason = submitted_value(view, REASON_BLOCK, REASON_ACTION)
    missing = approvals.reason_missing(services, recovery_id, gated, reason)
    if missing is None:
        ack()
        return
    values = (view.get("state") or {}).get("values") or {}
    block = REASON_BLOCK if REASON_BLOCK in values else INPUT_BLOCK  # a modal opened before the policy
    ack(response_action="errors", errors={block: missing})


def edit_modal_submitted(services: ServicesFactory, body: dict, client: WebClient, view: dict) -> None:
    edit_submitted(services(), client, body["user"]["id"], view)
    home_again_if_opened_there(services, body, client, view)


def reject_modal_submitted(services: ServicesFactory, body: dict, client: WebClient, view: dict) -> None:
    reject_submitted(services(), client, body["user"]["id"], view)
    home_again_if_opened_there(services, body, client, view)


def bulk_modal_submitted(services: ServicesFactory, body: dict, client: WebClient, view: dict) -> None:
    bulk_submitted(services(), client, body["user"]["id"], view)


def home_again_if_opened_there(services: ServicesFactory, body: dict, client: WebClient, view: dict) -> None:
    """A modal opened from the Home tab has no channel to answer in: the Home is published again."""
    if json.loads(view["private_metadata"]).get("channel") is None:
        home.publish_home(services(), client, body["user"]["id"])


def register(app: App, services: ServicesFactory) -> None:
    app.view(EDIT_SUBMIT)(
        ack=with_services(check_edit, services), lazy=[with_services(edit_modal_submitted, services)]
    )
    app.view(REJECT_SUBMIT)(
        ack=with_services(check_reject, services), lazy=[with_services(reject_modal_submitted, services)]
    )
    app.view(BULK_SUBMIT)(ack=acknowledge, lazy=[with_services(bulk_modal_submitted, services)])
