"""The digests of 1,000 reminders or escalation levels in one channel, with maximum-length and
hostile values: accepted by Slack's rules (the stand-in's judge), nothing cut open, everything a
recovery carries escaped, the longest waiting as the list's rows with their row menu, and buttons
whose query lists them all."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from recovery_ops.service.local.standin.block_kit import blocks_problem, message_text_problem
from recovery_ops.service.recovery.lifecycle.escalation import Escalation, EscalationDigest
from recovery_ops.service.recovery.lifecycle.in_flight import in_flight
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.lifecycle.reminders import Reminder, ReminderDigest
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.slack_app.ids import DIGEST_LIST, DIGEST_LIST_IN_FLIGHT, ROW_MENU
from recovery_ops.slack_app.views.digests import (
    DIGEST_ROWS,
    escalation_digest_blocks,
    escalation_digest_text,
    reminder_digest_blocks,
    reminder_digest_text,
)
from recovery_ops.slack_app.views.limits import MESSAGE_TEXT_GUIDANCE, length
from tests.unit.slack.test_slack_rules import RECOVERIES, assert_nothing_cut
from tests.unit.test_slack_escaping import assert_safe, hostile_recovery, payload

NOW = datetime.fromisoformat("2026-12-02T10:00:00+00:00")
MANY = 1000


def many(recovery: Recovery) -> list[Recovery]:
    return [replace(recovery, recovery_id=f"rec-{n:032x}") for n in range(MANY)]


def in_flight_copy(recovery: Recovery) -> Recovery:
    """``recovery`` claimed by a hostile claimant: in flight."""
    claim = replace(
        recovery.audit[-1], at="2026-12-02T08:00:00.000+00:00", actor="<!channel> `x`", result="RESUMING"
    )
    return replace(recovery, status=RecoveryStatus.RESUMING, audit=[*recovery.audit, claim])


def a_reminder_digest(recovery: Recovery) -> ReminderDigest:
    reminders = []
    for n, one in enumerate(many(recovery)):
        if n % 3 == 2:
            one = in_flight_copy(one)
        waited = timedelta(minutes=MANY - n)
        reminders.append(Reminder(one, waited, None, NOW, in_flight=in_flight(one)))
    return ReminderDigest("C-ORDERS", tuple(reminders), NOW)


def an_escalation_digest(recovery: Recovery, groups: list[str]) -> EscalationDigest:
    escalations = tuple(
        Escalation(
            recovery=in_flight_copy(one) if n % 5 == 4 else one,
            rule="<!here> " + "r" * 300,
            level=1 + n % 2,
            levels=2,
            user_group=groups[n % len(groups)],
            channel="C-ORDERS",
            thread_ts="1.1",
            open_for=timedelta(minutes=MANY - n),
        )
        for n, one in enumerate(many(recovery))
    )
    return EscalationDigest("d" * 32, "C-ORDERS", escalations)


def accepted(blocks: list, text: str) -> list[dict]:
    sent = payload(blocks)
    assert blocks_problem(sent) is None
    assert message_text_problem(text) is None and length(text) <= MESSAGE_TEXT_GUIDANCE
    assert_nothing_cut(sent)
    return sent  # type: ignore[return-value]


def buttons(sent: list[dict]) -> dict[str, RecoveryQuery]:
    """The digest's buttons: action id → the query its click lists (from page 1)."""
    (actions,) = [b for b in sent if b["type"] == "actions"]
    found = {}
    for button in actions["elements"]:
        page, _, query = button["value"].partition("|")
        assert page == "1"
        found[button["action_id"]] = RecoveryQuery.from_json(query)
    return found


@pytest.mark.parametrize("recovery", [*RECOVERIES, hostile_recovery()])
def test_a_reminder_digest_of_a_thousand_is_accepted_and_lists_them_all(recovery: Recovery) -> None:
    # Given 1,000 reminders in one channel, a third of them in flight, with extreme values
    digest = a_reminder_digest(recovery)

    # When the digest is built
    sent = accepted(reminder_digest_blocks(digest), reminder_digest_text(digest))

    # Then it shows the longest waiting as rows (open ones with the row menu), says how many more,
    # and its buttons list every open one and every one in flight
    menus = [b for b in sent if b.get("accessory", {}).get("action_id") == ROW_MENU]
    assert 0 < len(menus) <= DIGEST_ROWS
    assert f"… and {MANY - DIGEST_ROWS} more" in json.dumps(sent, ensure_ascii=False)
    assert buttons(sent) == {
        DIGEST_LIST: RecoveryQuery(),
        DIGEST_LIST_IN_FLIGHT: RecoveryQuery(status="in-flight"),
    }


@pytest.mark.parametrize("recovery", [*RECOVERIES, hostile_recovery()])
def test_an_escalation_digest_of_a_thousand_is_accepted_and_lists_them_all(recovery: Recovery) -> None:
    # Given 1,000 levels in one channel, for two user groups and a hostile one
    digest = an_escalation_digest(recovery, ["S0LEADS", "S0ONCALL", "<!channel>"])

    # When the digest is built
    text = escalation_digest_text(digest)
    sent = accepted(escalation_digest_blocks(digest), text)

    # Then each valid user group is mentioned once in the text and in the blocks, the hostile one escaped
    body = json.dumps(sent)
    for group in ("S0LEADS", "S0ONCALL"):
        assert text.count(f"<!subteam^{group}>") == 1 and body.count(f"<!subteam^{group}>") == 1
    assert "<!channel>" not in text and "<!channel>" not in body
    assert buttons(sent) == {
        DIGEST_LIST: RecoveryQuery(owner="none"),
        DIGEST_LIST_IN_FLIGHT: RecoveryQuery(owner="none", status="in-flight"),
    }


def test_a_digest_escapes_everything_a_recovery_carries() -> None:
    # Given digests of hostile recoveries
    reminders = a_reminder_digest(hostile_recovery())
    escalations = an_escalation_digest(hostile_recovery(), ["S0LEADS"])

    # Then nothing they carry becomes a mention, a link or markup, and no token shows
    assert_safe(reminder_digest_blocks(reminders))
    assert_safe(reminder_digest_text(reminders))
    assert_safe(escalation_digest_text(escalations).replace("<!subteam^S0LEADS>", ""))


def test_hundreds_of_user_groups_are_cut_whole() -> None:
    # Given a digest whose levels name 300 user groups
    groups = [f"S{n:08d}" for n in range(300)]
    digest = an_escalation_digest(hostile_recovery(), groups)

    # When it is built
    text = escalation_digest_text(digest)
    accepted(escalation_digest_blocks(digest), text)

    # Then the first groups are mentioned and none is cut in half
    assert "<!subteam^S00000000>" in text
    assert text.count("<") == text.count(">")
