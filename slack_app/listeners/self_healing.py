"""Self-healing: Stop on a group message whose paused executions resume by themselves.

Stop is for the people who may act on the group's recoveries (their routing rule's team, or an
admin); anyone else is denied, and the attempt is audited on the run. Of two clicks only the
first stops it (a conditional write in ``HealingRuns.stop``): the second is told who did. A
stopped run leaves every recovery it has not resumed open for people: the group message loses
Stop and shows the final count, its thread says so, and the bulk buttons stay.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from slack_bolt import App, Respond
from slack_sdk import WebClient

from recovery_ops.service.composition import Services
from recovery_ops.service.observability import logger
from recovery_ops.service.recovery.access.authorization import AccessDecision
from recovery_ops.service.recovery.healing.runs import HealingRun
from recovery_ops.service.recovery.lifecycle.actions import DENIED
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import (
    CircuitClosedNotice,
    NotifierUnavailableError,
    RecoveryGroup,
)
from recovery_ops.service.recovery.storage.groups import LATEST_KEPT
from recovery_ops.service.recovery.storage.items import HEALING_PREFIX
from recovery_ops.service.recovery.storage.recoveries import ListFilter, RecoveryNotFoundError
from recovery_ops.slack_app.ids import STOP_HEALING
from recovery_ops.slack_app.listeners.registration import ServicesFactory, acknowledge, with_services
from recovery_ops.slack_app.listeners.replies import (
    clicked_value,
    clicker,
    refuse,
    reporting_failures,
    via_respond,
)
from recovery_ops.slack_app.notifier import SlackHealingDisplay
from recovery_ops.slack_app.views.healing import not_resuming_text, stopped_text, unknown_run_text

STOP = "stop self-healing"
#: a run's id as ``healing_runs.healing_id_for`` makes it (a forged button value is not looked up)
HEALING_ID = re.compile(rf"^{re.escape(HEALING_PREFIX)}[0-9a-f]{{32}}$")
MEMBERS_CHECKED = 50  # open recoveries of the group a person's rights are checked against


def stop(services: Services, client: WebClient, user: str, healing_id: str, respond: Respond) -> None:
    """Stop the self-healing run ``healing_id`` for ``user``, if they may act on its group."""
    say = via_respond(respond)
    with reporting_failures(say, "Stop self-healing"):
        run = services.runs.get(healing_id) if HEALING_ID.match(healing_id) else None
        if run is None:
            say(unknown_run_text(healing_id))
            return
        decision = may_stop(services, user, run)
        if not decision.allowed:
            entry = AuditEntry(_now(), user, STOP, DENIED, {"why": decision.why})
            services.runs.record_denied(healing_id, entry)
            refuse(user, STOP, decision.why, say, healing_id)
            return
        if not services.runs.stop(healing_id, user, _now()):
            current = services.runs.get(healing_id) or run
            say(not_resuming_text(current.notice(), current.dependency))
            return
        stopped = services.runs.get(healing_id) or run
        show(services, client, stopped)
        say(stopped_text(stopped.notice()))


def may_stop(services: Services, user: str, run: HealingRun) -> AccessDecision:
    """Whoever may act on a recovery of the run's group may stop it; with no recovery of the group
    left to judge by, the admins."""
    recoveries = _of_group(services, run.group_id)
    if not recoveries:
        return services.access.is_admin(user)
    rules = services.access.rules()  # one document for every recovery checked
    decision = AccessDecision(False, "not allowed to act on this group's recoveries")
    for recovery in recoveries:
        decision = services.access.may_act(user, recovery, rules)
        if decision.allowed or decision.lookup_failed:
            return decision
    return decision


def _of_group(services: Services, group_id: str) -> list[Recovery]:
    """The group's open recoveries, else one of its members whatever its status."""
    if not group_id:
        return []
    where = ListFilter(group_id=group_id)
    found = services.store.list_by_status(RecoveryStatus.OPEN, where, limit=MEMBERS_CHECKED)
    if found:
        return found
    group = services.groups.get(group_id)
    for member_id in (group.latest_ids if group else [])[-LATEST_KEPT:]:
        try:
            return [services.store.get(member_id)]
        except RecoveryNotFoundError:
            continue  # expired from the table
    return []


def show(services: Services, client: WebClient, run: HealingRun) -> None:
    """The group message with the run's final count (no Stop), and that count in its thread, as
    self-healing shows a run that ended. The run is stopped either way: a Slack failure is logged."""
    group = services.groups.get(run.group_id) if run.group_id else None
    if group is None or group.count <= 1 or not (group.channel and group.ts):
        return  # a recovery of its own has no group message
    members = services.store.list_by_status(
        RecoveryStatus.OPEN, ListFilter(group_id=group.group_id), limit=LATEST_KEPT
    )
    view = RecoveryGroup.of(group, members)
    healing = run.notice()
    notice = CircuitClosedNotice(run.dependency, _closed_at(run), waiting=run.left, healing=healing)
    display = SlackHealingDisplay(client)
    try:
        display.show(view, group.channel, group.ts, notice)
    except NotifierUnavailableError as exc:
        logger.warning("self-healing stopped: message not updated", group_id=group.group_id, error=str(exc))
    try:
        display.progress(run.channel or group.channel, run.ts or group.ts, healing, run.dependency)
    except NotifierUnavailableError as exc:
        logger.warning("self-healing stopped: thread not told", group_id=group.group_id, error=str(exc))


def _closed_at(run: HealingRun) -> str:
    """When the circuit closed, from the run's closure (``dependency@epoch seconds``)."""
    _, _, seconds = run.closure_id.rpartition("@")
    try:
        return datetime.fromtimestamp(float(seconds), UTC).isoformat(timespec="seconds")
    except ValueError:
        return ""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------------- registration
def stop_healing_clicked(services: ServicesFactory, body: dict, respond: Respond, client: WebClient) -> None:
    stop(services(), client, clicker(body), clicked_value(body), respond)


def register(app: App, services: ServicesFactory) -> None:
    app.action(STOP_HEALING)(ack=acknowledge, lazy=[with_services(stop_healing_clicked, services)])
