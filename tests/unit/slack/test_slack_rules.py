"""Every surface the views build, with maximum-length and hostile values, is accepted by Slack's
rules (the stand-in's judge: slack_sdk's models and the documented limits in UTF-16 units), and no
link or code span is cut."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.errors import SlackApiError

from recovery_ops.service.local.standin.block_kit import (
    blocks_problem,
    message_text_problem,
    utf16,
    view_problem,
)
from recovery_ops.service.recovery.dead_letters.preview import DeadLetter
from recovery_ops.service.recovery.dead_letters.queues import DeadLetterReport, standard_queues
from recovery_ops.service.recovery.failed_executions.failures import FailureStatus
from recovery_ops.service.recovery.healing.runs import HealingState
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, ActionResult
from recovery_ops.service.recovery.lifecycle.bulk import BulkReport
from recovery_ops.service.recovery.lifecycle.in_flight import InFlight
from recovery_ops.service.recovery.lifecycle.ownership import Ownership, OwnershipResult
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.lifecycle.reminders import Reminder
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import (
    CircuitClosedNotice,
    HealingNotice,
    MessageRef,
    RecoveryGroup,
    UnreadableMessage,
)
from recovery_ops.slack_app.ids import HOME_PAGE_NEXT, HOME_PAGE_PREVIOUS
from recovery_ops.slack_app.views import failure_message, listing, modals, recovery_message
from recovery_ops.slack_app.views.dead_letters import (
    dead_letter_blocks,
    dead_letters_text,
    redrive_prompt_blocks,
    redrive_prompt_text,
)
from recovery_ops.slack_app.views.ephemeral import (
    BULK_QUERY_TOO_LONG,
    USAGE,
    action_result_text,
    bulk_retry_prompt_blocks,
    bulk_retry_prompt_text,
    denied_text,
    failure_report_text,
    ownership_text,
    take_over_prompt_blocks,
    took_all_text,
    view_denied_text,
)
from recovery_ops.slack_app.views.escalation_message import escalation_text
from recovery_ops.slack_app.views.escaping import escape
from recovery_ops.slack_app.views.group_message import group_blocks
from recovery_ops.slack_app.views.healing import (
    healing_progress_text,
    not_resuming_text,
    stop_button,
    stopped_text,
    unknown_run_text,
)
from recovery_ops.slack_app.views.limits import MARKER, MESSAGE_TEXT_GUIDANCE, length
from recovery_ops.slack_app.views.reconcile import reconcile_button
from recovery_ops.slack_app.views.thread_replies import (
    bulk_finished_text,
    bulk_progress_text,
    bulk_started_text,
    bulk_summary,
    bulk_thread_opening,
    grouped_outcome_text,
    ownership_change_text,
    reminder_text,
    show_pointer,
)
from recovery_ops.slack_app.views.unreadable_message import unreadable_blocks, unreadable_fallback_text
from recovery_ops.slack_app.web import web_client
from tests.unit.slack.test_escalation_message import an_escalation
from tests.unit.slack.test_home import ADMIN, a_home, an_open_recovery, buttons_of, overview_of
from tests.unit.test_slack_escaping import hostile_failure, hostile_recovery, payload

MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"
SQS = "https://sqs.eu-west-1.amazonaws.com/123456789012/"
REASON = "not today ```rm -rf / and the rest of the message"


def extreme(name: str = "é" * 80, execution: str = "x" * 256, machine: str = "&" * 500) -> Recovery:
    """Maximum-length and hostile values in every field the contract accepts."""
    recovery = hostile_recovery()
    return replace(
        recovery,
        execution_name=execution,
        execution_arn=MACHINE_ARN.replace("stateMachine", "execution") + f"{machine}:{execution}",
        state_machine_arn=MACHINE_ARN + machine,
        failed_state=name,
        error="E" * 256,
        cause="c`o<d>e&" * 4000,
        input={"blob": "😀" * 60_000, "name": name},
    )


RECOVERIES = [
    extreme(),
    extreme(name="😀" * 80, execution="😀" * 128, machine="😀" * 80),
    extreme(execution="&" * 256, machine="<@U1>" * 100),
]


def rejected_with(recovery: Recovery, reason: str) -> Recovery:
    """``recovery`` rejected with ``reason``."""
    entry = AuditEntry("2026-12-01T10:02:00.000+00:00", "é" * 80, "reject", "REJECTED", {"reason": reason})
    return replace(recovery, status=RecoveryStatus.REJECTED, audit=[*recovery.audit, entry])


def accepted(blocks: object, max_blocks: int = 50) -> None:
    sent = payload(blocks)
    assert blocks_problem(sent, max_blocks) is None
    assert_nothing_cut(sent)


def accepted_view(view: object) -> None:
    sent = payload(view)
    assert view_problem(sent) is None
    assert_nothing_cut(sent)


def assert_nothing_cut(sent: object) -> None:
    """No link or mention left open, no code span or block left open, in any mrkdwn text."""
    for text in re.findall(r'"type": "mrkdwn", "text": "((?:[^"\\]|\\.)*)"', json.dumps(sent)):
        assert_closed(json.loads(f'"{text}"'))


def assert_closed(text: str) -> None:
    """Every ``<…>``, code block and code span of a mrkdwn text closed: once every code block is
    taken out (inside one a backtick is a character), no fence is left and each line holds whole
    code spans."""
    assert text.count("<") == text.count(">"), text[-200:]
    outside = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    assert "```" not in outside, outside[-200:]
    for line in outside.split("\n"):
        assert line.count("`") % 2 == 0, line[-200:]


@pytest.mark.parametrize("recovery", RECOVERIES)
def test_the_recovery_message_its_outcome_and_show_are_accepted(recovery) -> None:
    rejected = rejected_with(recovery, REASON)
    assert "rm -rf" in recovery_message.outcome_text(rejected)  # the reason is shown, its fence closed
    accepted(recovery_message.recovery_blocks(recovery))
    accepted(recovery_message.outcome_blocks(rejected, recovery_message.outcome_text(rejected)))
    accepted(listing.show_blocks(recovery))
    accepted(listing.show_blocks(rejected))


@pytest.mark.parametrize("recovery", RECOVERIES)
def test_both_modals_open_whatever_the_names(recovery) -> None:
    origin = modals.ModalOrigin(channel="C1", message_ts="1.1")
    assert not modals.editable(recovery)  # a 250 KB input: the app says so instead of opening it
    fitting = replace(recovery, input={"name": "😀" * 1400})
    assert modals.editable(fitting) and not modals.editable(replace(recovery, input={"n": "😀" * 1600}))
    accepted_view(modals.edit_modal(fitting, origin))
    accepted_view(modals.reject_modal(recovery, origin))
    accepted_view(modals.bulk_modal("reject", 205, recovery.state_machine_name, {"group_id": "grp-1"}))


@pytest.mark.parametrize("recovery", RECOVERIES)
def test_the_group_message_is_accepted(recovery) -> None:
    group = RecoveryGroup(
        "grp-1", recovery.state_machine_arn, recovery.failed_state, recovery.error, 40, [recovery] * 40
    )
    accepted(group_blocks(group, None))


@pytest.mark.parametrize("recovery", RECOVERIES)
def test_the_take_over_prompt_is_a_plain_text_confirmation_within_its_limits(recovery) -> None:
    prompt = take_over_prompt_blocks(OwnershipResult(Ownership.OWNED_BY_OTHER, recovery, "UOTHER"))
    accepted(prompt)
    confirm = payload(prompt)[1]["elements"][0]["confirm"]  # type: ignore[index]
    assert confirm["text"]["type"] == "plain_text"
    assert "no longer be its owner" in confirm["text"]["text"]


def test_stop_and_reconcile_confirmations_are_plain_text_and_accepted() -> None:
    for button in (stop_button("heal-1"), reconcile_button("rec-1").elements[0]):
        blocks = [{"type": "actions", "elements": [button.to_dict()]}]
        accepted(blocks)
        assert {
            blocks[0]["elements"][0]["confirm"][k]["type"] for k in ("title", "text", "confirm", "deny")
        } == {"plain_text"}


def test_a_retry_query_too_long_for_a_button_is_refused_with_a_message_never_cut() -> None:
    query = RecoveryQuery(state_machine="&" * 1500, error="E" * 600)
    blocks = payload(bulk_retry_prompt_blocks(3, query))
    accepted(blocks)
    assert BULK_QUERY_TOO_LONG in json.dumps(blocks, ensure_ascii=False)
    short = payload(bulk_retry_prompt_blocks(3, RecoveryQuery(error="E" * 100)))
    value = short[1]["elements"][0]["value"]  # type: ignore[index]
    assert RecoveryQuery.from_json(value) == RecoveryQuery(error="E" * 100)


@pytest.mark.parametrize("page", [1, 2])
def test_home_pages_of_205_recoveries_are_accepted_and_page_2_has_distinct_page_ids(page) -> None:
    recoveries = [
        an_open_recovery(
            n, machine_arn=MACHINE_ARN + "😀" * 80, error="E" * 256, owner=ADMIN if n % 7 else None
        )
        for n in range(1, 206)
    ]
    home = a_home(overview_of(ADMIN, recoveries, page=page))
    assert view_problem(home) is None
    assert_nothing_cut(home)
    if page == 2:
        assert [label for label, _ in buttons_of(home, HOME_PAGE_PREVIOUS)] == ["Previous"]
        assert [label for label, _ in buttons_of(home, HOME_PAGE_NEXT)] == ["Next"]


# ---------------------------------------------------------------------- the other surfaces
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
HOSTILE = "`<&>` <@U1> <!channel> ``` "
CAUSE = (HOSTILE * 1500)[:32_000]  # 32,000 characters of backticks, entities, mentions and fences
GUIDANCE = 4000


def within_guidance(text: str | None, whole: str = "") -> None:
    """A message's ``text`` Slack takes whole (not msg_too_long), within its 4,000-character
    guidance in UTF-16 units, everything closed; cut short, it ends by pointing to ``whole``."""
    assert text
    assert message_text_problem(text) is None
    assert utf16(text) <= GUIDANCE, utf16(text)
    assert_closed(text)
    if whole and MARKER in text:
        assert text.endswith(whole), text[-200:]


@pytest.mark.parametrize("recovery", RECOVERIES)
def test_show_and_the_message_carry_the_cause_as_written_in_a_preformatted_block(recovery) -> None:
    hostile_cause = replace(recovery, cause=CAUSE)
    for blocks in (listing.show_blocks(hostile_cause), recovery_message.recovery_blocks(hostile_cause)):
        sent = payload(blocks)
        accepted(blocks)
        cause, shown_input = [b for b in sent if b["type"] == "rich_text"]  # type: ignore[index]
        text = cause["elements"][0]["elements"][0]["text"]
        assert cause["elements"][0]["type"] == "rich_text_preformatted"
        assert text.startswith(HOSTILE) and text.endswith(MARKER) and utf16(text) <= 3000  # not escaped
        assert shown_input["elements"][0]["elements"][0]["text"] == "Input"


@pytest.mark.parametrize("recovery", RECOVERIES)
@pytest.mark.parametrize("status", list(FailureStatus))
def test_the_workflow_failed_message_is_accepted(recovery, status) -> None:
    failure = replace(
        hostile_failure(status),
        execution_name=recovery.execution_name,
        execution_arn=recovery.execution_arn,
        state_machine_arn=recovery.state_machine_arn,
        error="E" * 256,
        cause=CAUSE,
    )
    failure.audit[-1].detail["why"] = CAUSE
    accepted(failure_message.failure_blocks(failure, redrivable=True))
    within_guidance(failure_message.failure_fallback_text(failure))


def test_the_dead_letter_views_are_accepted() -> None:
    queues = standard_queues(*(SQS + name for name in ("orders-dlq", "recovery-dlq", "recovery-queue")))
    letters = [
        DeadLetter("m" * 100, NOW - timedelta(days=n), 3, CAUSE, reason=REASON + CAUSE) for n in range(20)
    ]
    reports = [
        DeadLetterReport(queues[0], visible=20, in_flight=3, oldest=letters),
        DeadLetterReport(queues[1], visible=20, oldest=letters),
        DeadLetterReport(queues[1], problem=CAUSE),
    ]
    last = AuditEntry("2026-12-01T11:00:00", "é" * 80, "redrive", "STARTED", {"task_handle": "&" * 500})
    accepted(dead_letter_blocks(reports, {"orders": last, "recovery": last}, NOW))
    accepted(redrive_prompt_blocks(queues[1], 100_000, 10))
    within_guidance(dead_letters_text(reports))
    within_guidance(redrive_prompt_text(queues[1], 100_000))


def test_an_unreadable_message_is_accepted() -> None:
    message = UnreadableMessage(
        "m" * 100,
        REASON + CAUSE,
        execution_arn=RECOVERIES[0].execution_arn,
        execution_name="😀" * 128,
        state_machine_name="&" * 500,
        failed_state="é" * 80,
    )
    accepted(unreadable_blocks(message))
    within_guidance(unreadable_fallback_text(message))


@pytest.mark.parametrize("recovery", RECOVERIES)
@pytest.mark.parametrize("owner", [None, "U0" + "A" * 20, "😀" * 80])
def test_reminders_and_in_flight_reminders_are_within_slacks_guidance(recovery, owner) -> None:
    owned = replace(recovery, owner=owner)
    whole = show_pointer(recovery.recovery_id)
    for deadline in (None, NOW - timedelta(hours=1), NOW + timedelta(days=300)):
        within_guidance(reminder_text(Reminder(owned, timedelta(days=400), deadline, NOW)), whole)
    claim = InFlight(owned, NOW - timedelta(hours=30), "é" * 80)
    within_guidance(reminder_text(Reminder(owned, timedelta(days=4), None, NOW, in_flight=claim)), whole)


@pytest.mark.parametrize("recovery", RECOVERIES)
def test_escalations_of_both_levels_are_within_slacks_guidance_and_point_to_show(recovery) -> None:
    whole = show_pointer(recovery.recovery_id)
    for level, thread_ts in ((1, "1.1"), (2, None)):
        escalation = an_escalation(recovery=recovery, rule="&" * 500, level=level, thread_ts=thread_ts)
        text = escalation_text(escalation)
        within_guidance(text, whole)
        assert recovery.recovery_id in text  # cut or not, the recovery is named


def test_an_escalation_cut_short_ends_with_where_the_whole_is() -> None:
    recovery = extreme(execution="&" * 256, machine="&" * 500)
    text = escalation_text(an_escalation(recovery=recovery, rule="&" * 500, thread_ts=None))
    assert MARKER in text
    within_guidance(text, show_pointer(recovery.recovery_id))


@pytest.mark.parametrize("recovery", RECOVERIES)
def test_thread_replies_are_within_slacks_guidance(recovery) -> None:
    rejected = rejected_with(recovery, REASON + CAUSE)
    reply = grouped_outcome_text(rejected, recovery_message.outcome_text(rejected))
    within_guidance(reply, show_pointer(recovery.recovery_id))
    assert MARKER in reply and reply.startswith("`")
    report = BulkReport(205, Counter({"RESUMED": 200, "FAILED": 5}), left_open=3, wall_s=12.5)
    report.errors = {f"rec-{n}" + "é" * 80: CAUSE for n in range(10)}
    user = "é" * 80
    for text in (
        bulk_thread_opening(user, 205, escape("&" * 5000)),
        bulk_started_text(user, "run_again", 205, "&" * 5000, left_out=3),
        bulk_progress_text(report),
        bulk_finished_text("reject", report),
        bulk_summary(user, "reject", report),
        ownership_change_text(user, "take over", 1, previous="😀" * 80),
        ownership_change_text(user, "release", 40),
        ownership_change_text(user, "take", 1),
    ):
        within_guidance(text)


@pytest.mark.parametrize("state", list(HealingState))
def test_healing_progress_and_what_the_clicker_is_told_are_within_slacks_guidance(state) -> None:
    healing = HealingNotice("&" * 500, str(state), 205, 100, 5, 2.0, ended_why=CAUSE, stopped_by="é" * 80)
    dependency = "&" * 500
    for text in (
        healing_progress_text(healing, dependency),
        stopped_text(healing),
        not_resuming_text(healing, dependency),
        unknown_run_text("&" * 500),
    ):
        within_guidance(text)
    notice = CircuitClosedNotice(dependency, "é" * 80, 205, healing)
    group = RecoveryGroup("grp-1", RECOVERIES[0].state_machine_arn, "é" * 80, "E" * 256, 205, RECOVERIES * 13)
    accepted(group_blocks(group, notice))


@pytest.mark.parametrize("recovery", RECOVERIES)
def test_ephemeral_texts_are_within_slacks_guidance(recovery) -> None:
    whole = show_pointer(recovery.recovery_id)
    for outcome in ActionOutcome:
        text = action_result_text(ActionResult(outcome, recovery, CAUSE, "😀" * 80), always=True)
        within_guidance(text, whole)
    for ownership in Ownership:
        result = OwnershipResult(ownership, replace(recovery, owned_at="é" * 80), "é" * 80, "😀" * 80)
        within_guidance(ownership_text(result), whole)
    for text in (
        failure_report_text("Run again", CAUSE, "a" * 12),
        denied_text("run again", CAUSE),
        view_denied_text("this recovery", CAUSE),
        took_all_text(205, 40, 3),
        bulk_retry_prompt_text(205),
        USAGE,
    ):
        within_guidance(text)


def test_the_homes_last_page_is_accepted_with_previous_only() -> None:
    recoveries = [
        an_open_recovery(n, machine_arn=MACHINE_ARN + "&" * 500, error="E" * 256, cause=CAUSE)
        for n in range(1, 206)
    ]
    home = a_home(overview_of(ADMIN, recoveries, page=9))  # 205 at 25 a page
    assert view_problem(home) is None
    assert_nothing_cut(home)
    assert [label for label, _ in buttons_of(home, HOME_PAGE_PREVIOUS)] == ["Previous"]
    assert buttons_of(home, HOME_PAGE_NEXT) == []


# ---------------------------------------------------------------------- the judge, on the newer blocks
def rich(text: str) -> list[dict]:
    return [
        {
            "type": "rich_text",
            "elements": [{"type": "rich_text_preformatted", "elements": [{"type": "text", "text": text}]}],
        }
    ]


def test_the_judge_holds_rich_text_to_a_sections_figure_and_refuses_empty_text() -> None:
    assert blocks_problem(rich("😀" * 1500)) is None
    assert "less than 3001" in str(blocks_problem(rich("😀" * 1501)))  # 3,002 UTF-16 units
    assert "non-empty" in str(blocks_problem(rich("")))


def test_the_judge_allows_markdown_blocks_in_messages_only_and_12000_characters_a_payload() -> None:
    markdown = {"type": "markdown", "text": "m" * 6000}
    assert blocks_problem([markdown, markdown]) is None
    assert "total" in str(blocks_problem([markdown, markdown, {"type": "markdown", "text": "m"}]))
    assert "less than 12001" in str(blocks_problem([{"type": "markdown", "text": "😀" * 6001}]))
    assert "only allowed in messages" in str(blocks_problem([markdown], max_blocks=100))


def test_a_text_past_40000_characters_is_msg_too_long_as_slack_says(slack) -> None:
    client = web_client("xoxb-rules", base_url=slack.base_url, retries=0)
    client.chat_postMessage(channel="C1", text="😀" * 20_000)  # 40,000 UTF-16 units: taken
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C1", text="😀" * 20_000 + "x")
    assert refused.value.response["error"] == "msg_too_long"


def test_free_replies_the_listeners_send_stay_within_the_4000_character_guidance(slack) -> None:
    from recovery_ops.slack_app.listeners.replies import via_respond
    from recovery_ops.slack_app.notifier import SlackNotifier

    long_text = "Started: run again " + ("`recovery` " * 1_500) + "```unclosed " + "é" * 3_000
    notifier = SlackNotifier(web_client("xoxb-rules", base_url=slack.base_url, retries=0))
    notifier.tell_directly("U1", long_text)
    notifier.reply_privately("C1", "U1", long_text)
    notifier.post_progress(MessageRef("C1", "1.000001"), long_text)
    answered: list[str] = []
    via_respond(lambda **reply: answered.append(reply["text"]))(long_text)

    sent = [c.body["text"] for c in slack.calls if c.method in ("chat.postMessage", "chat.postEphemeral")]
    assert len(sent) == 3 and all(c.status == 200 for c in slack.calls)
    for text in [*sent, *answered]:
        assert length(text) <= MESSAGE_TEXT_GUIDANCE
        assert text.count("```") % 2 == 0  # the block the cut reached is closed
