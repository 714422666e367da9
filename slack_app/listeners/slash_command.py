"""The `/recoveries` slash command and the buttons of its answers: Next page of a list, and the
confirmation of `/recoveries retry` (Run again all, Cancel).

Acknowledged at once; the lazy half answers ephemerally through the response_url: `help`,
`show <id>`, `list` (the default) and `in-flight` with their filters, `retry` (a confirmation with
the count), and `dlq` (answered by ``dead_letters``), and `approvals` (what waits for the person's approval).
"""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt import App, Respond
from slack_sdk import WebClient

from recovery_ops.service.composition import Services
from recovery_ops.service.recovery.lifecycle.in_flight import IN_FLIGHT, in_flight_matching, longest_first
from recovery_ops.service.recovery.lifecycle.overview import IN_FLIGHT_READ
from recovery_ops.service.recovery.lifecycle.query import (
    QueryError,
    RecoveryQuery,
    StaleQueryError,
    split_words,
)
from recovery_ops.service.recovery.lifecycle.visible import visible_counts, visible_page
from recovery_ops.service.recovery.model.recovery import AuditEntry
from recovery_ops.service.recovery.storage.audit import RECOVERIES_LIST
from recovery_ops.service.recovery.storage.recoveries import RecoveryNotFoundError
from recovery_ops.slack_app.ids import (
    BULK_CANCEL,
    BULK_CONFIRM,
    BURST_LIST,
    COMMAND,
    DIGEST_LIST,
    DIGEST_LIST_IN_FLIGHT,
    NEXT_PAGE,
)
from recovery_ops.slack_app.listeners import dead_letters
from recovery_ops.slack_app.listeners.registration import ServicesFactory, acknowledge, with_services
from recovery_ops.slack_app.listeners.replies import (
    Say,
    actable,
    clicked_value,
    clicker,
    denied,
    reporting_failures,
    run_bulk,
    via_respond,
    view_denied,
)
from recovery_ops.slack_app.notifier import SlackNotifier
from recovery_ops.slack_app.views.approvals import approvals_fallback_text, waiting_blocks
from recovery_ops.slack_app.views.ephemeral import (
    USAGE,
    bulk_retry_prompt_blocks,
    bulk_retry_prompt_text,
    left_out_note,
)
from recovery_ops.slack_app.views.escaping import code, escape, one_line
from recovery_ops.slack_app.views.listing import PAGE_SIZE, list_blocks, show_blocks
from recovery_ops.slack_app.views.thread_replies import bulk_thread_opening

MAX_PAGE_NUMBER = 10_000
IN_FLIGHT_NOT_RETRIED = (
    "Recoveries in flight are being resumed already (or wait for the reconciler): nothing runs them "
    "again. `/recoveries in-flight` lists them."
)


# ---------------------------------------------------------------------- /recoveries
def recoveries_command(services: Services, user: str, text: str, respond: Respond) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "/recoveries"):
        try:
            words = split_words(text)
            verb = words[0].lower() if words and "=" not in words[0] else "list"
            rest = words[1:] if words and "=" not in words[0] else words
            if verb == "help":
                say(USAGE)
            elif verb == "show":
                show(services, user, rest, say, respond)
            elif verb == "retry":
                retry_prompt(services, user, rest, say, respond)
            elif verb == "list":
                list_page(
                    services, user, RecoveryQuery.from_words(rest).to_json(), "1", respond, replace=False
                )
            elif verb in (IN_FLIGHT, "inflight"):
                query = RecoveryQuery.from_words(rest).with_status(IN_FLIGHT)
                list_page(services, user, query.to_json(), "1", respond, replace=False)
            elif verb == "approvals":
                show_approvals(services, user, say, respond)
            elif verb == "dlq":
                dead_letters.show_dead_letters(services, user, rest, respond, say)
            else:
                say(f"Unknown command {code(verb[:40])}.\n{USAGE}")
        except QueryError as exc:
            say(f"{query_problem(exc)}\n{USAGE}")


def show(services: Services, user: str, words: list[str], say: Say, respond: Respond) -> None:
    if len(words) != 1:
        say(f"Usage: `/recoveries show {escape('<recovery id>')}` (the id is at the bottom of each message).")
        return
    if not words[0].startswith("rec-"):
        say(f"{code(words[0][:80])} is not a recovery id (they start with `rec-`).")
        return
    recovery_id = words[0]
    try:
        recovery = services.store.get(recovery_id)
    except RecoveryNotFoundError:
        recovery = None
    if view_denied(
        services,
        user,
        "this recovery",
        say,
        lambda why: services.actions.record_denied(recovery_id, user, "view", why),
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


def show_approvals(services: Services, user: str, say: Say, respond: Respond) -> None:
    """`/recoveries approvals`: what waits for the person's approval (Approve / Deny on each), and
    their own requests still waiting (Withdraw)."""
    if services.approvals is None:
        say("Approvals are not available here.")
        return
    waiting, mine = services.approvals.for_person(user)
    respond(
        response_type="ephemeral",
        replace_original=False,
        text=approvals_fallback_text(len(waiting), len(mine)),
        blocks=waiting_blocks(waiting, mine),
    )


def list_denied(services: Services, user: str, say: Say) -> bool:
    """The list is guarded like every view; a refusal is audited on ``access#recoveries``."""

    def record(why: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        services.audit.record(RECOVERIES_LIST, AuditEntry(now, user, "view list", "DENIED", {"why": why}))

    return view_denied(services, user, "the recoveries", say, record, some=True)


def list_page(
    services: Services, user: str, query_json: str, page: str, respond: Respond, replace: bool
) -> None:
    """A page of the open list (``page`` and ``query_json`` as typed or as a Next button carries them)."""
    say = via_respond(respond)
    with reporting_failures(say, "/recoveries"):
        if list_denied(services, user, say):
            return
        try:
            query = RecoveryQuery.from_json(query_json).for_person(user)
            page_number = _page_number(page)
        except QueryError as exc:
            say(query_problem(exc))
            return
        _respond_with_page(services, user, query, page_number, respond, replace)


def query_problem(exc: QueryError) -> str:
    """What a person reads of a query the command or a button could not use: a stale button's says
    to start again from the command."""
    if isinstance(exc, StaleQueryError):
        return f"{escape(exc)}: run `/recoveries` again"
    return escape(exc)


def _page_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_NUMBER:
        raise StaleQueryError("this page link is not valid any more")
    return int(text)


def _respond_with_page(
    services: Services, user: str, query: RecoveryQuery, page_number: int, respond: Respond, replace: bool
) -> None:
    """A page of the open recoveries (or, for ``status=in-flight``, of those in flight); beside the
    open ones, those in flight are counted, and the first page shows the longest in flight."""
    where, status = query.list_filter(), query.listed_status
    rows = visible_page(
        services.store, services.access, user, status, where, PAGE_SIZE + 1, before=query.before
    )
    counted = visible_counts(services.store, services.access, user, status, where)[0]
    counts = counted.by_pair
    claims = []
    if not query.in_flight:
        claims = longest_first(
            services.access.visible(
                user, in_flight_matching(services.store, where, limit=IN_FLIGHT_READ)
            ).allowed
        )
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
        counts_complete=counted.complete,
        total=counted.total,
        kinds=counted.kinds,
        counted_at=counted.as_of,
        awaiting_approval=_awaiting(services, user) if query.before is None else 0,
    )
    total = f"{counted.total}" if counted.complete else f"{counted.total}+"
    text = f"{total} recoveries in flight" if query.in_flight else f"{total} open recoveries"
    if claims:
        text += f", {len(claims)} in flight"
    respond(response_type="ephemeral", replace_original=replace, text=text, blocks=blocks)


def _awaiting(services: Services, user: str) -> int:
    """How many requests wait for ``user``'s approval (the first page of the list says so)."""
    return len(services.approvals.waiting_for(user)) if services.approvals is not None else 0


# ---------------------------------------------------------------------- retry: run again all that match
def retry_prompt(services: Services, user: str, words: list[str], say: Say, respond: Respond) -> None:
    query = RecoveryQuery.from_words(words).for_person(user)
    if query.in_flight:
        say(IN_FLIGHT_NOT_RETRIED)
        return
    if not query.narrowed:
        say("Say which recoveries to run again, e.g. `/recoveries retry error=VendorUnavailable since=2h`.")
        return
    if denied(services, user, None, "run again", say):
        return
    selection = actable(services, user, query.list_filter())
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
    services: Services, client: WebClient, user: str, query_json: str, channel: str | None, respond: Respond
) -> None:
    say = via_respond(respond)
    with reporting_failures(say, "Run again all"):
        if denied(services, user, None, "run again", say):
            return
        try:
            query = RecoveryQuery.from_json(query_json)
        except QueryError as exc:
            say(query_problem(exc))
            return
        if query.in_flight:
            say(IN_FLIGHT_NOT_RETRIED)
            return
        selection = actable(services, user, query.list_filter())
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
            services,
            client,
            user,
            "run_again",
            ids,
            query.describe(),
            thread,
            say,
            left_out=selection.left_out,
        )


# ---------------------------------------------------------------------- registration
def recoveries_typed(services: ServicesFactory, body: dict, respond: Respond) -> None:
    recoveries_command(services(), body["user_id"], body.get("text") or "", respond)


def next_page_clicked(services: ServicesFactory, body: dict, respond: Respond) -> None:
    page, _, query = clicked_value(body).partition("|")
    list_page(services(), clicker(body), query, page, respond, replace=True)


def burst_list_clicked(services: ServicesFactory, body: dict, respond: Respond) -> None:
    """ "List all" on a burst message: the first page of its recoveries, to the person who clicked
    (the burst message itself stays)."""
    list_page(services(), clicker(body), clicked_value(body), "1", respond, replace=False)


def digest_list_clicked(services: ServicesFactory, body: dict, respond: Respond) -> None:
    """A digest's button: the first page of what it lists, to the person who clicked (a new
    ephemeral answer: the digest, a channel message, stays as it is)."""
    page, _, query = clicked_value(body).partition("|")
    list_page(services(), clicker(body), query, page, respond, replace=False)


def bulk_confirmed(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    bulk_from_command(services(), client, clicker(body), clicked_value(body), _channel(body), respond)


def bulk_cancelled(respond: Respond) -> None:
    respond(text="Cancelled: nothing was resumed.", replace_original=True)


def _channel(body: dict) -> str | None:
    """The channel a click came from (the answer it is on is ephemeral: it has no message ts)."""
    return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")


def register(app: App, services: ServicesFactory) -> None:
    app.command(COMMAND)(ack=acknowledge, lazy=[with_services(recoveries_typed, services)])
    app.action(NEXT_PAGE)(ack=acknowledge, lazy=[with_services(next_page_clicked, services)])
    app.action(BURST_LIST)(ack=acknowledge, lazy=[with_services(burst_list_clicked, services)])
    for digest_list in (DIGEST_LIST, DIGEST_LIST_IN_FLIGHT):
        app.action(digest_list)(ack=acknowledge, lazy=[with_services(digest_list_clicked, services)])
    app.action(BULK_CONFIRM)(ack=acknowledge, lazy=[with_services(bulk_confirmed, services)])
    app.action(BULK_CANCEL)(ack=acknowledge, lazy=[bulk_cancelled])
