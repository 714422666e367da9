"""The lazy halves of the listeners: everything that reads the table or calls Step Functions.

Run after the acknowledgement (on Lambda: an asynchronous invocation of the same function).
Each tells the person what happened, including failures; nothing here raises into Bolt.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from service.composition import Services
from service.recovery.lifecycle.bulk import open_matching
from service.recovery.lifecycle.in_flight import IN_FLIGHT, in_flight_matching, longest_first
from service.recovery.lifecycle.query import QueryError, RecoveryQuery, split_words
from service.recovery.model.input_edit import InputProblem, input_diff, parse_edited_input
from service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from service.recovery.ports.notifier import MessageRef
from service.recovery.storage.audit import RECOVERIES_LIST
from service.recovery.storage.recoveries import ListFilter, RecoveryNotFound
from slack_app.listeners import dead_letters
from slack_app.listeners.replies import (
    Say,
    actable,
    denied,
    reporting_failures,
    run_bulk,
    tell,
    via_ephemeral,
    via_respond,
    view_denied,
)
from slack_app.notifier import SlackNotifier
from slack_app.views.ephemeral import USAGE, bulk_retry_prompt_blocks, bulk_retry_prompt_text, left_out_note
from slack_app.views.escaping import code, escape, one_line, who
from slack_app.views.listing import PAGE_SIZE, list_blocks, show_blocks
from slack_app.views.modals import (
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
from slack_app.views.thread_replies import bulk_thread_opening

MAX_PAGE_NUMBER = 10_000
IN_FLIGHT_NOT_RETRIED = (
    "Recoveries in flight are being resumed already (or wait for the reconciler): nothing runs them "
    "again. `/recoveries in-flight` lists them."
)


# ---------------------------------------------------------------------- one recovery
def run_again(desk: Services, user: str, recovery_id: str, respond: Respond, from_list: bool) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Run again"):
        if denied(desk, user, recovery_id, "run again", say):
            return
        tell(desk.actions.run_again(recovery_id, user), say, always=from_list)


def redrive(desk: Services, user: str, failure_id: str, respond: Respond) -> None:
    """Redrive a workflow that failed outside the recovery pattern (exactly once, audited)."""
    say = via_respond(respond)
    with reporting_failures(say, "Redrive"):
        if denied(desk, user, failure_id, "redrive", say):
            return
        result = desk.redrive.redrive(failure_id, user)
        if not result.done:
            name = code(result.failure.execution_name) if result.failure else "This execution"
            say(f"⚠️ {name}: {escape(result.detail)}. Nothing was redriven.")


def open_edit(
    desk: Services, client: WebClient, user: str, recovery_id: str, body: dict, respond: Respond
) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Edit input"):
        if denied(desk, user, recovery_id, "edit and run again", say):
            return
        recovery = _open_recovery(desk, recovery_id, say)
        if recovery is None:
            return
        if not editable(recovery):
            say(
                f"The input of {code(recovery.execution_name)} is larger than a Slack text field holds "
                "(3,000 characters). Edit it with "
                f"{code(f'recovery-ops retry {recovery_id} --input edited.json')}."
            )
            return
        client.views_open(trigger_id=body["trigger_id"], view=edit_modal(recovery, _modal_origin(body)))


def open_reject(
    desk: Services, client: WebClient, user: str, recovery_id: str, body: dict, respond: Respond
) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Reject"):
        if denied(desk, user, recovery_id, "reject", say):
            return
        recovery = _open_recovery(desk, recovery_id, say)
        if recovery is not None:
            client.views_open(trigger_id=body["trigger_id"], view=reject_modal(recovery, _modal_origin(body)))


def edit_submitted(desk: Services, client: WebClient, user: str, view: dict) -> None:
    meta = json.loads(view["private_metadata"])
    say = via_ephemeral(client, meta.get("channel"), user)
    with reporting_failures(say, "Edit input & run again"):
        if denied(desk, user, meta["recovery_id"], "edit and run again", say):
            return
        try:
            submitted = validate_edit(desk, meta, submitted_value(view, INPUT_BLOCK, INPUT_ACTION) or "")
        except InputProblem:
            return  # shown in the modal by the acknowledgement; nothing to send
        original = desk.store.get(meta["recovery_id"])
        edited = edited_input(original, submitted)  # fields shown [redacted] keep their stored value
        diff = input_diff(original.input, edited)
        tell(desk.actions.run_again(meta["recovery_id"], user, new_input=edited, diff=diff), say)


def validate_edit(desk: Services, meta: dict, text: str) -> Any:
    schema = desk.schemas.for_state(meta.get("state_machine", ""), meta.get("failed_state", ""))
    return parse_edited_input(text, schema)


def reject_submitted(desk: Services, client: WebClient, user: str, view: dict) -> None:
    meta = json.loads(view["private_metadata"])
    say = via_ephemeral(client, meta.get("channel"), user)
    with reporting_failures(say, "Reject"):
        if denied(desk, user, meta["recovery_id"], "reject", say):
            return
        reason = (submitted_value(view, REASON_BLOCK, REASON_ACTION) or "").strip() or None
        tell(desk.actions.reject(meta["recovery_id"], user, reason), say)


def _open_recovery(desk: Services, recovery_id: str, say: Say) -> Recovery | None:
    try:
        recovery = desk.store.get(recovery_id)
    except RecoveryNotFound:
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


# ---------------------------------------------------------------------- bulk
def open_group_bulk(
    desk: Services, client: WebClient, user: str, kind: str, group_id: str, body: dict, respond: Respond
) -> None:
    say = via_respond(respond)
    verb = "run again all" if kind == "run_again" else "reject all"
    with reporting_failures(say, verb.capitalize()):
        if denied(desk, user, group_id, verb, say):
            return
        group = desk.groups.get(group_id)
        selection = actable(desk, user, ListFilter(group_id=group_id))
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


def bulk_submitted(desk: Services, client: WebClient, user: str, view: dict) -> None:
    meta = json.loads(view["private_metadata"])
    say = via_ephemeral(client, meta.get("channel"), user)
    kind = meta["kind"]
    with reporting_failures(say, "Bulk action"):
        if denied(
            desk, user, meta["group_id"], "run again all" if kind == "run_again" else "reject all", say
        ):
            return
        group = desk.groups.get(meta["group_id"])
        selection = actable(desk, user, ListFilter(group_id=meta["group_id"]))
        ids = [r.recovery_id for r in selection.allowed]
        description = f"{group.state_machine_name} / {group.failed_state}" if group else meta["group_id"]
        reason = (submitted_value(view, REASON_BLOCK, REASON_ACTION) or "").strip() or None
        thread = MessageRef(meta["channel"], meta["ts"]) if meta.get("channel") and meta.get("ts") else None
        run_bulk(desk, client, user, kind, ids, description, thread, say, reason, selection.left_out)


def retry_prompt(desk: Services, user: str, words: list[str], say: Say, respond: Respond) -> None:
    query = RecoveryQuery.from_words(words).for_person(user)
    if query.in_flight:
        say(IN_FLIGHT_NOT_RETRIED)
        return
    if not query.narrowed:
        say("Say which recoveries to run again, e.g. `/recoveries retry error=VendorUnavailable since=2h`.")
        return
    if denied(desk, user, None, "run again", say):
        return
    selection = actable(desk, user, query.list_filter())
    if not selection.allowed:
        say(
            f"No open recovery you may act on matches {one_line(query.describe())}."
            + left_out_note(selection.left_out)
        )
        return
    count = len(selection.allowed)
    respond(
        response_type="ephemeral",
        text=bulk_retry_prompt_text(count),
        blocks=bulk_retry_prompt_blocks(count, query, selection.left_out),
    )


def bulk_from_command(
    desk: Services, client: WebClient, user: str, query_json: str, channel: str | None, respond: Respond
) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Run again all"):
        if denied(desk, user, None, "run again", say):
            return
        try:
            query = RecoveryQuery.from_json(query_json)
        except QueryError as exc:
            say(escape(exc))
            return
        if query.in_flight:
            say(IN_FLIGHT_NOT_RETRIED)
            return
        selection = actable(desk, user, query.list_filter())
        ids = [r.recovery_id for r in selection.allowed]
        described = one_line(query.describe())
        respond(
            text=f"Started: run again {len(ids)} recoveries ({described})."
            + left_out_note(selection.left_out),
            replace_original=True,
        )
        thread = None
        if channel:
            opening = bulk_thread_opening(user, len(ids), described)
            thread = SlackNotifier(client).open_thread(channel, opening)
        run_bulk(
            desk, client, user, "run_again", ids, query.describe(), thread, say, left_out=selection.left_out
        )


# ---------------------------------------------------------------------- /recoveries
def recoveries_command(desk: Services, user: str, text: str, respond: Respond) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "/recoveries"):
        try:
            words = split_words(text)
            verb = words[0].lower() if words and "=" not in words[0] else "list"
            rest = words[1:] if words and "=" not in words[0] else words
            if verb == "help":
                say(USAGE)
            elif verb == "show":
                show(desk, user, rest, say, respond)
            elif verb == "retry":
                retry_prompt(desk, user, rest, say, respond)
            elif verb == "list":
                list_page(desk, user, RecoveryQuery.from_words(rest).to_json(), "1", respond, replace=False)
            elif verb in (IN_FLIGHT, "inflight"):
                query = RecoveryQuery.from_words(rest).with_status(IN_FLIGHT)
                list_page(desk, user, query.to_json(), "1", respond, replace=False)
            elif verb == "dlq":
                dead_letters.show_dead_letters(desk, user, rest, respond, say)
            else:
                say(f"Unknown command {code(verb[:40])}.\n{USAGE}")
        except QueryError as exc:
            say(f"{escape(exc)}\n{USAGE}")


def show(desk: Services, user: str, words: list[str], say: Say, respond: Respond) -> None:
    if len(words) != 1:
        say(f"Usage: `/recoveries show {escape('<recovery id>')}` (the id is at the bottom of each message).")
        return
    if not words[0].startswith("rec-"):
        say(f"{code(words[0][:80])} is not a recovery id (they start with `rec-`).")
        return
    recovery_id = words[0]
    try:
        recovery = desk.store.get(recovery_id)
    except RecoveryNotFound:
        recovery = None
    if view_denied(
        desk,
        user,
        "this recovery",
        say,
        lambda why: desk.actions.record_denied(recovery_id, user, "view", why),
        recovery,
    ):
        return
    if recovery is None:
        say(f"No recovery {code(recovery_id[:80])}.")
        return
    respond(
        response_type="ephemeral",
        text=f"Recovery {recovery.recovery_id}",
        blocks=show_blocks(recovery, datetime.now(UTC)),
    )


def list_denied(desk: Services, user: str, say: Say) -> bool:
    """The list is guarded like every view; a refusal is audited on ``access#recoveries``."""

    def record(why: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        desk.audit.record(RECOVERIES_LIST, AuditEntry(now, user, "view list", "DENIED", {"why": why}))

    return view_denied(desk, user, "the recoveries", say, record, some=True)


def list_page(desk: Services, user: str, query_json: str, page: str, respond: Respond, replace: bool) -> None:
    """A page of the open list (``page`` and ``query_json`` as typed or as a Next button carries them)."""
    say = via_respond(respond)
    with reporting_failures(say, "/recoveries"):
        if list_denied(desk, user, say):
            return
        try:
            query = RecoveryQuery.from_json(query_json).for_person(user)
            page_number = _page_number(page)
        except QueryError as exc:
            say(escape(exc))
            return
        _respond_with_page(desk, user, query, page_number, respond, replace)


def _page_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_NUMBER:
        raise QueryError("this page link is not valid any more: run `/recoveries` again")
    return int(text)


def _respond_with_page(
    desk: Services, user: str, query: RecoveryQuery, page_number: int, respond: Respond, replace: bool
) -> None:
    """A page of the open recoveries (or, for ``status=in-flight``, of those in flight); beside the
    open ones, those in flight are counted, and the first page shows the longest in flight."""
    where, status = query.list_filter(), query.listed_status
    if desk.access.sees_everything(user):
        rows = desk.store.list_by_status(status, where, limit=PAGE_SIZE + 1, before=query.before)
        counts = Counter(desk.store.count_by_status(status, where))
    else:  # a team's member or viewer: only the recoveries of their rules, counted from those
        matching = in_flight_matching if query.in_flight else open_matching
        selected = desk.access.visible(user, matching(desk.store, where)).allowed
        visible = sorted(selected, key=lambda r: r.sort_key, reverse=True)  # newest first
        counts = Counter((r.state_machine_name, r.error) for r in visible)
        rows = [r for r in visible if query.before is None or r.sort_key < query.before][: PAGE_SIZE + 1]
    claims = []
    if not query.in_flight:
        claims = longest_first(desk.access.visible(user, in_flight_matching(desk.store, where)).allowed)
    page = rows[:PAGE_SIZE]
    cursor = page[-1].sort_key if len(rows) > PAGE_SIZE else None
    blocks = list_blocks(
        page,
        counts,
        query,
        cursor,
        page_number,
        longest_in_flight=claims if query.before is None else [],
        in_flight_total=len(claims),
        now=datetime.now(UTC),
    )
    total = sum(counts.values())
    text = f"{total} recoveries in flight" if query.in_flight else f"{total} open recoveries"
    if claims:
        text += f", {len(claims)} in flight"
    respond(response_type="ephemeral", replace_original=replace, text=text, blocks=blocks)
