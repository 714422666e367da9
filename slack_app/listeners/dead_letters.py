"""Dead letters: `/recoveries dlq` (answered for the slash command) and its Redrive DLQ buttons.

`/recoveries dlq` shows each DLQ's depth and its oldest messages (previewed without consuming
them) with a **Redrive DLQ** button on a queue that can be redriven and holds messages. The
button asks to confirm with the count; only the confirmation starts SQS's move task, at the
deployment's rate. Both clicks are authorized like every other action; a refusal and a redrive
are audited on the item ``dlq#<queue name>`` of the recoveries table, logged and counted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt import App, Respond

from recovery_ops.service import observability
from recovery_ops.service.composition import Services
from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.dead_letters.model import DeadLetterQueue
from recovery_ops.service.recovery.dead_letters.queues import DeadLetterError, DeadLetterQueues
from recovery_ops.service.recovery.model.approval import Held
from recovery_ops.slack_app.ids import DLQ_REDRIVE, DLQ_REDRIVE_CANCEL, DLQ_REDRIVE_CONFIRM
from recovery_ops.slack_app.listeners.registration import ServicesFactory, acknowledge, with_services
from recovery_ops.slack_app.listeners.replies import (
    Say,
    clicked_value,
    clicker,
    denied,
    reporting_failures,
    via_respond,
    view_denied,
)
from recovery_ops.slack_app.views.dead_letters import (
    NOT_CONFIGURED,
    dead_letter_blocks,
    dead_letters_text,
    redrive_prompt_blocks,
    redrive_prompt_text,
)
from recovery_ops.slack_app.views.escaping import code, escape, one_line, who


# ---------------------------------------------------------------------- /recoveries dlq
def show_dead_letters(services: Services, user: str, words: list[str], respond: Respond, say: Say) -> None:
    if words:
        say("Usage: `/recoveries dlq` (each queue's depth and oldest messages; Redrive DLQ from there).")
        return
    queues = services.dead_letters
    if queues is None:
        say(NOT_CONFIGURED)
        return

    def record(why: str) -> None:  # on each queue's own audit item, like a refused redrive
        for queue in queues.queues:
            queues.record_denied(queue.key, user, why, action="view")

    if view_denied(services, user, "the dead letters", say, record):
        return
    reports = queues.reports()
    last = {}
    if queues.audit is not None:
        last = {r.queue.key: queues.audit.last_redrive(r.queue) for r in reports if r.queue.redrivable}
    respond(
        response_type="ephemeral",
        replace_original=False,
        text=dead_letters_text(reports),
        blocks=dead_letter_blocks(reports, last, datetime.now(UTC)),
    )


# ---------------------------------------------------------------------- Redrive DLQ
def open_redrive(services: Services, user: str, key: str, respond: Respond) -> None:
    """Redrive DLQ clicked: who may, then how many would move, and a button to confirm."""
    say = via_respond(respond)
    with reporting_failures(say, "Redrive DLQ"):
        found = _redrivable(services, key, say)
        if found is None or _denied(services, user, *found, say):
            return
        dead_letters, queue = found
        visible, in_flight = dead_letters.depth(queue)
        if not visible:
            more = f" ({in_flight} in flight: look again later)" if in_flight else ""
            say(f"Nothing to redrive: {code(queue.name)} has no visible message{more}.")
            return
        respond(
            response_type="ephemeral",
            replace_original=False,
            text=redrive_prompt_text(queue, visible),
            blocks=redrive_prompt_blocks(queue, visible, dead_letters.rate_per_second),
        )


def redrive_confirmed(services: Services, user: str, key: str, respond: Respond) -> None:
    """The confirmation: start SQS's move task (or report the one already running)."""
    say = via_respond(respond)
    with reporting_failures(say, "Redrive DLQ"):
        found = _redrivable(services, key, say)
        if found is None or _denied(services, user, *found, say):
            return
        dead_letters, queue = found
        task = dead_letters.redrive(key, user)
        if isinstance(task, Held):  # a policy held it back: a request waits for approval
            respond(text=f"🕒 {escape(task.detail)}.", response_type="ephemeral", replace_original=True)
            return
        logger.info(
            "dlq redrive",
            queue=queue.name,
            user=user,
            started=task.started,
            task_handle=task.task_handle,
            rate=task.rate_per_second,
        )
        if task.started:
            observability.count_by("DeadLetterRedrives", queue=queue.key)
            text = f"✅ Redrive started by {who(user)}: {escape(task.summary())}."
        else:
            text = f"👋 Nothing new was started: {escape(task.summary())}."
        respond(text=text, response_type="ephemeral", replace_original=True)


def redrive_cancelled(respond: Respond) -> None:
    respond(text="Cancelled: nothing was redriven.", response_type="ephemeral", replace_original=True)


def _redrivable(services: Services, key: str, say: Say) -> tuple[DeadLetterQueues, DeadLetterQueue] | None:
    """The deployment's DLQs and the one named by a button's value (a key, never a URL), if redrivable."""
    dead_letters = services.dead_letters
    if dead_letters is None:
        say(NOT_CONFIGURED)
        return None
    try:
        queue = dead_letters.queue(key)
    except DeadLetterError as exc:
        say(f"⚠️ {escape(exc)}.")
        return None
    if not queue.redrivable:
        say(f"⚠️ The {one_line(queue.label)} cannot be redriven: {escape(queue.not_redrivable_because)}.")
        return None
    return dead_letters, queue


def _denied(
    services: Services, user: str, dead_letters: DeadLetterQueues, queue: DeadLetterQueue, say: Say
) -> bool:
    """Authorized like every action; a refusal is audited on the queue's item (there is no recovery)."""
    if not denied(services, user, None, f"redrive the {queue.label}", say):
        return False
    dead_letters.record_denied(queue.key, user, services.policy.check(user).why)
    return True


# ---------------------------------------------------------------------- registration
def redrive_dlq_clicked(services: ServicesFactory, body: dict, respond: Respond) -> None:
    open_redrive(services(), clicker(body), clicked_value(body), respond)


def redrive_dlq_confirmed(services: ServicesFactory, body: dict, respond: Respond) -> None:
    redrive_confirmed(services(), clicker(body), clicked_value(body), respond)


def redrive_dlq_cancelled(respond: Respond) -> None:
    redrive_cancelled(respond)


def register(app: App, services: ServicesFactory) -> None:
    app.action(DLQ_REDRIVE)(ack=acknowledge, lazy=[with_services(redrive_dlq_clicked, services)])
    app.action(DLQ_REDRIVE_CONFIRM)(ack=acknowledge, lazy=[with_services(redrive_dlq_confirmed, services)])
    app.action(DLQ_REDRIVE_CANCEL)(ack=acknowledge, lazy=[redrive_dlq_cancelled])
