"""The burst message: distinct failures of one channel and window in one message, within Slack's
rules whatever their number and names, every recovery reachable, no bulk action across failures."""

from __future__ import annotations

from dataclasses import replace
from unittest.mock import Mock

from recovery_ops.service.local.standin.block_kit import message_text_problem
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.ports.notifier import FoldedFailure, RecoveryBurst
from recovery_ops.slack_app.ids import BURST_LIST, REJECT_ALL, ROW_MENU, RUN_AGAIN_ALL, TAKE_ALL
from recovery_ops.slack_app.listeners import slash_command
from recovery_ops.slack_app.views.burst_message import burst_blocks, burst_fallback_text
from recovery_ops.slack_app.views.listing import parse_row_menu_value
from tests.unit.slack.builders import ESCAPED_MENTIONS, MENTIONS, a_recovery, buttons, sent, texts
from tests.unit.slack.test_slack_rules import RECOVERIES, accepted
from tests.unit.test_burst_fold import FOLD_AFTER, Desk

BURST_ID = "grp-" + "b" * 32


def a_burst(count: int = 40, failures: int = 37, **changes: object) -> RecoveryBurst:
    top = [
        FoldedFailure(
            f"grp-{n:032d}",
            "arn:aws:states:eu-west-1:123456789012:stateMachine:orders",
            "Ship",
            f"E{n}",
            9 - n,
        )
        for n in range(5)
    ]
    burst = RecoveryBurst(BURST_ID, count, failures, top, [a_recovery(n) for n in range(1, 6)])
    return replace(burst, **changes)  # type: ignore[arg-type]


def hostile_request(n: int) -> tuple[RecoveryRequest, int]:
    """A distinct failure (its own error) with maximum-length and hostile names."""
    recovery = RECOVERIES[n % len(RECOVERIES)]
    return (
        RecoveryRequest(
            task_token=f"token-{n}",
            execution_arn=f"{recovery.execution_arn}-{n}",
            execution_name=recovery.execution_name,
            state_machine_arn=recovery.state_machine_arn,
            failed_state=f"{n:04d}" + recovery.failed_state[4:],
            error=f"{n:04d}{MENTIONS}" + "`<&>" * 59,
            cause=recovery.cause,
            input=recovery.input,
        ),
        1,
    )


def test_hostile_distinct_failures_folded_by_the_collector_make_a_burst_message_slack_accepts() -> None:
    # Given forty distinct failures with maximum-length, hostile names, in one channel
    desk = Desk()
    requests = [hostile_request(n) for n in range(40)]

    # When the collector takes them in, in batches of ten
    for start in range(0, 40, 10):
        desk.deliver("collector-a", *requests[start : start + 10])

    # Then the channel got the threshold's messages and one burst message for the rest, and what
    # it shows is accepted by Slack's rules, with nothing cut mid-way
    assert len(desk.top_level()) == FOLD_AFTER + 1
    (message,) = desk.bursts()
    burst = message.burst
    assert burst is not None and (burst.count, burst.failures) == (40 - FOLD_AFTER, 40 - FOLD_AFTER)
    blocks = burst_blocks(burst)
    accepted(blocks)
    shown = texts(sent(blocks))
    assert "<!channel>" not in shown and ESCAPED_MENTIONS in shown


def test_a_burst_of_a_thousand_distinct_hostile_failures_is_accepted_and_counts_them_all() -> None:
    # Given a burst message for a thousand distinct failures, the largest and latest with
    # maximum-length and hostile names
    top = [
        FoldedFailure(f"grp-{n:032d}", r.state_machine_arn, r.failed_state, f"{r.error}{MENTIONS}", 1000 - n)
        for n, r in enumerate([*RECOVERIES, *RECOVERIES][:5])
    ]
    latest = [replace(r, recovery_id=f"rec-{n:032d}") for n, r in enumerate([*RECOVERIES, *RECOVERIES][:5])]
    burst = RecoveryBurst(BURST_ID, count=250_000, failures=1000, top=top, latest=latest)

    # When its message is built
    blocks = burst_blocks(burst)

    # Then Slack's rules accept it, nothing is cut mid-way, and the failures not shown are counted
    accepted(blocks)
    assert message_text_problem(burst_fallback_text(burst)) is None
    shown = texts(sent(blocks))
    assert "250000 recoveries needed · 1000 distinct failures" in shown
    assert "995 more failures" in shown and "<!channel>" not in shown


def test_every_recovery_stays_reachable_and_nothing_runs_again_in_bulk() -> None:
    # Given a burst message
    burst = a_burst()

    # When it is built
    blocks = burst_blocks(burst)

    # Then each latest recovery has its row menu, "List all" lists exactly the burst's recoveries,
    # and there is no bulk button across its different failures
    menus = [b["accessory"] for b in sent(blocks) if b.get("accessory", {}).get("action_id") == ROW_MENU]
    assert [parse_row_menu_value(m["options"][0]["value"])[1] for m in menus] == [
        r.recovery_id for r in burst.latest
    ]
    ((action, value),) = buttons(blocks)
    assert action == BURST_LIST
    assert RecoveryQuery.from_json(value).list_filter().group_id == BURST_ID
    assert not {RUN_AGAIN_ALL, REJECT_ALL, TAKE_ALL} & {a for a, _ in buttons(blocks)}
    assert "40 recoveries needed · 37 distinct failures" in texts(sent(blocks))


def test_the_largest_failures_are_shown_largest_first_with_how_many_are_left() -> None:
    # Given a burst of 37 failures whose five largest are known
    blocks = sent(burst_blocks(a_burst()))

    # When its breakdown is read
    breakdown = next(
        b["text"]["text"] for b in blocks if "Largest failures" in b.get("text", {}).get("text", "")
    )

    # Then the five come in order with their counts, and the 32 others are counted
    assert [line.rsplit(": ", 1)[1] for line in breakdown.splitlines()[1:6]] == ["9", "8", "7", "6", "5"]
    assert "32 more failures" in breakdown


def test_list_all_answers_the_person_who_clicked_without_replacing_the_burst_message() -> None:
    # Given a click on "List all"
    listed = Mock()
    body = {"user": {"id": "U0ALICE"}, "actions": [{"value": RecoveryQuery(group=BURST_ID).to_json()}]}
    services, respond = Mock(), Mock()

    # When it is handled
    original = slash_command.list_page
    slash_command.list_page = listed  # type: ignore[assignment]
    try:
        slash_command.burst_list_clicked(lambda: services, body, respond)
    finally:
        slash_command.list_page = original  # type: ignore[assignment]

    # Then the first page of the burst's recoveries goes to that person, the message stays
    listed.assert_called_once_with(
        services, "U0ALICE", RecoveryQuery(group=BURST_ID).to_json(), "1", respond, replace=False
    )


def test_a_group_filter_that_is_not_a_group_id_is_refused() -> None:
    # Given a forged "List all" value
    forged = RecoveryQuery(group="grp-1; drop").to_json()

    # When it is read back
    try:
        RecoveryQuery.from_json(forged)
    except ValueError as exc:
        refused = str(exc)
    else:
        refused = ""

    # Then it is refused, saying what a group is
    assert "is not a group" in refused
