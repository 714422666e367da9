"""Every surface the views build, with maximum-length and hostile values, is accepted by Slack's
rules (the stand-in's judge: slack_sdk's models and the documented limits in UTF-16 units), and no
link or code span is cut."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from recovery_ops.service.local.standin.block_kit import blocks_problem, view_problem
from recovery_ops.service.recovery.lifecycle.ownership import Ownership, OwnershipResult
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.ports.notifier import RecoveryGroup
from recovery_ops.slack_app.ids import HOME_PAGE_NEXT, HOME_PAGE_PREVIOUS
from recovery_ops.slack_app.views import listing, modals, recovery_message
from recovery_ops.slack_app.views.ephemeral import (
    BULK_QUERY_TOO_LONG,
    bulk_retry_prompt_blocks,
    take_over_prompt_blocks,
)
from recovery_ops.slack_app.views.group_message import group_blocks
from recovery_ops.slack_app.views.healing import stop_button
from recovery_ops.slack_app.views.reconcile import reconcile_button
from tests.unit.slack.test_home import ADMIN, a_home, an_open_recovery, buttons_of, overview_of
from tests.unit.test_slack_escaping import hostile_recovery, payload

MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"
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
        text = json.loads(f'"{text}"')
        assert text.count("<") == text.count(">"), text[-200:]
        assert text.count("```") % 2 == 0, text[-200:]
        for line in text.replace("```", "").split("\n"):
            assert line.count("`") % 2 == 0, line[-200:]


@pytest.mark.parametrize("recovery", RECOVERIES)
def test_the_recovery_message_its_outcome_and_show_are_accepted(recovery) -> None:
    rejected = replace(recovery, status=RecoveryStatus.REJECTED)
    rejected.audit[-1].detail["reason"] = REASON
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
