"""Recovery and user text in every Slack view: never a mention, a link or a control character.

Every view the Slack app sends is built here from a recovery whose every field is hostile (error,
cause, failed state, execution name, state machine name, input keys and values, audit details),
then read as Slack reads it (``tests.support.slack_safety``). No stack: these run in milliseconds.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from recovery_ops.service.recovery.failed_executions.failures import FailedExecution, FailureStatus
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.lifecycle.reminders import Reminder
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.recovery import AuditEntry, Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import CircuitClosedNotice, RecoveryGroup
from recovery_ops.service.recovery.storage.groups import GroupState
from recovery_ops.slack_app.views import failure_message, listing, modals, recovery_message
from recovery_ops.slack_app.views.escaping import code, escape, link, one_line, plain
from recovery_ops.slack_app.views.group_message import group_blocks, group_closed_blocks, group_fallback_text
from recovery_ops.slack_app.views.thread_replies import reminder_text
from tests.support.slack_safety import hostile, unsafe_spots

NAME = "<!channel>name"  # what may appear in an ARN: no colon
TOKEN = "AAAAtask-token-that-must-never-be-shown-0123456789"
CLICKER = "UALLOWED"


def hostile_recovery(status: RecoveryStatus = RecoveryStatus.OPEN) -> Recovery:
    arn_tail = NAME.replace(":", "")
    return Recovery(
        recovery_id="rec-" + "a" * 32,
        task_token=TOKEN,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:{arn_tail}|x>:{hostile('exec')}",
        execution_name=hostile("exec"),
        state_machine_arn=f"arn:aws:states:us-east-1:123456789012:stateMachine:{hostile('machine')}",
        failed_state=hostile("state"),
        input={hostile("key"): hostile("value"), "nested": [{"task_token": TOKEN, "v": hostile("deep")}]},
        error=hostile("error"),
        cause=json.dumps({"errorMessage": hostile("cause") + f' "taskToken": "{TOKEN}"'}),
        routing=Routing.TECHNICAL,
        requested_at=hostile("at"),
        created_at="2026-12-01T10:00:00.000+00:00",
        status=status,
        audit=[
            AuditEntry("2026-12-01T10:00:00.000+00:00", "recovery-queue", "opened", "OPEN"),
            AuditEntry(
                "2026-12-01T10:01:00.000+00:00",
                CLICKER,
                hostile("action"),
                str(status),
                {"reason": hostile("reason"), "why": hostile("why"), "diff": hostile("diff"), "token": TOKEN},
            ),
        ],
    )


def hostile_failure(status: FailureStatus = FailureStatus.UNHANDLED) -> FailedExecution:
    return FailedExecution(
        failure_id="fail-" + "b" * 32,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:m:{hostile('exec')}",
        execution_name=hostile("exec"),
        state_machine_arn=f"arn:aws:states:us-east-1:123456789012:stateMachine:{hostile('machine')}",
        execution_status="FAILED",
        error=hostile("error"),
        cause=hostile("cause"),
        stopped_at=datetime.now(UTC).isoformat(),
        status=status,
        audit=[
            AuditEntry(
                "2026-12-01T10:00:00+00:00", hostile("actor"), "redrive", str(status), {"why": hostile("why")}
            )
        ],
    )


def payload(value: object) -> object:
    """What slack_sdk sends for blocks, views and texts."""
    if isinstance(value, list):
        return [b.to_dict() if isinstance(b, Block) else b for b in value]
    if isinstance(value, View):
        return value.to_dict()
    return value


def assert_safe(value: object) -> None:
    sent = payload(value)
    assert unsafe_spots(sent, users=[CLICKER]) == []
    assert TOKEN[:16] not in json.dumps(sent)


@pytest.mark.parametrize(
    "status", [RecoveryStatus.OPEN, RecoveryStatus.RESUMED, RecoveryStatus.REJECTED, RecoveryStatus.EXPIRED]
)
def test_a_recovery_message_and_its_outcome_escape_everything_the_recovery_carries(status) -> None:
    recovery = hostile_recovery(status)

    assert_safe(recovery_message.recovery_blocks(recovery))
    assert_safe(recovery_message.recovery_fallback_text(recovery))
    assert_safe(recovery_message.outcome_blocks(recovery, recovery_message.outcome_text(recovery)))
    assert_safe(listing.show_blocks(recovery))


def test_group_messages_and_their_notice_escape_names_errors_and_the_dependency() -> None:
    recovery = hostile_recovery()
    group = RecoveryGroup(
        "grp-1", recovery.state_machine_arn, recovery.failed_state, recovery.error, 3, [recovery]
    )
    notice = CircuitClosedNotice(dependency=hostile("vendor"), closed_at=hostile("when"), waiting=3)
    state = GroupState(
        "grp-1",
        3,
        [],
        "C1",
        "1.1",
        state_machine_arn=recovery.state_machine_arn,
        failed_state=recovery.failed_state,
        error=recovery.error,
    )

    assert_safe(group_blocks(group, notice))
    assert_safe(group_fallback_text(group))
    assert_safe(group_closed_blocks(state, "Run again all: 3/3"))


def test_lists_escape_counts_rows_and_the_query_that_was_typed() -> None:
    recovery = hostile_recovery()
    query = RecoveryQuery(error=hostile("typed"))
    counts = Counter({(recovery.state_machine_name, recovery.error): 2})

    assert_safe(listing.list_blocks([recovery], counts, query, recovery.sort_key))


@pytest.mark.parametrize("status", list(FailureStatus))
def test_failure_messages_escape_what_the_failed_execution_carries(status) -> None:
    failure = hostile_failure(status)

    assert_safe(failure_message.failure_blocks(failure, redrivable=True))
    assert_safe(failure_message.failure_fallback_text(failure))


def test_modals_escape_their_bodies_and_carry_metadata_without_markup() -> None:
    recovery = hostile_recovery()
    origin = modals.ModalOrigin(channel="C1", message_ts="1.1")

    for view in (
        modals.edit_modal(recovery, origin),
        modals.reject_modal(recovery, origin),
        modals.bulk_modal("reject", 3, hostile("description"), {"group_id": "grp-1"}),
    ):
        assert_safe(view)
    metadata = json.loads(modals.edit_modal(recovery, origin).private_metadata)
    # the same data once read back; ids only, never names (which may outgrow the metadata)
    assert (metadata["recovery_id"], metadata["channel"]) == (recovery.recovery_id, "C1")
    assert not {"state_machine", "failed_state"} & set(metadata)


def test_the_edit_modal_shows_token_fields_redacted_and_gives_them_back_on_submission() -> None:
    recovery = hostile_recovery()
    view = modals.edit_modal(recovery, modals.ModalOrigin()).to_dict()
    shown = json.loads(view["blocks"][1]["element"]["initial_value"])

    assert shown["nested"][0]["task_token"] == "[redacted]"
    assert modals.edited_input(recovery, shown) == recovery.input


def test_a_reminder_escapes_the_execution_name() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    reminder = Reminder(hostile_recovery(), timedelta(hours=2), now + timedelta(hours=1), now)

    text = reminder_text(reminder)

    assert_safe(text)
    assert "1 h 0 min left" in text


def test_slack_escaping_turns_every_trick_into_plain_characters() -> None:
    assert escape("a & <!channel> <@U1>") == "a &amp; &lt;!channel&gt; &lt;@U1&gt;"
    assert escape("line\x1b[31m\x00\u202e") == "line[31m"
    assert one_line("two\nlines *bold* ~strike~") == "two lines ∗bold∗ ∼strike∼"
    assert code("a`b <!here>") == "`aˋb &lt;!here&gt;`"
    assert plain("<!everyone>\x07") == "‹!everyone›"


def test_a_link_cannot_be_ended_or_split_by_what_its_url_carries() -> None:
    url = "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/x/a|b><!here> c&d"

    made = link(url, "<@U1> name")

    assert made == (
        "<https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/x/a%7Cb%3E%3C!here%3E%20c&amp;d"
        "|&lt;@U1&gt; name>"
    )
    assert unsafe_spots(made) == []
