"""Who may see and who may act; bad input named, never silently replaced. No stack: plain fakes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, RecoveryActions
from recovery_ops.service.recovery.lifecycle.query import (
    QueryError,
    RecoveryQuery,
    StaleQueryError,
    check_cursor,
    parse_duration,
)
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.input_edit import input_diff, parse_edited_input
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.stepfunctions.tokens import StepFunctionsTokens
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from recovery_ops.slack_app.listeners.slash_command import query_problem
from tests.support.fakes import FakeDynamoDB


# ---------------------------------------------------------------------- seeing and acting
def test_those_who_may_act_may_see_viewers_may_only_see_and_everyone_else_neither() -> None:
    policy = AccessPolicy(allowed_users=frozenset({"UOPS"}), viewer_users=frozenset({"UVIEW"}))

    assert policy.check("UOPS").allowed and policy.check_view("UOPS").allowed
    assert policy.check_view("UVIEW").allowed and not policy.check("UVIEW").allowed
    stranger = policy.check_view("USTRANGER")
    assert not stranger.allowed and "not allowed to see" in stranger.why


def test_a_viewer_group_widens_who_may_see_without_letting_them_act() -> None:
    groups = {"SOPS": {"UOPS"}, "SSUPPORT": {"USUPPORT"}}
    policy = AccessPolicy(allowed_group="SOPS", viewer_group="SSUPPORT", group_members=groups.__getitem__)

    assert policy.check("UOPS").allowed and policy.check_view("UOPS").allowed
    assert policy.check_view("USUPPORT").allowed and not policy.check("USUPPORT").allowed
    assert not policy.check_view("USTRANGER").allowed


def test_nobody_may_see_until_someone_is_allowed() -> None:
    decision = AccessPolicy().check_view("U1")

    assert not decision.allowed and "no allow-list" in decision.why


def slack_refusal(error: str) -> SlackApiError:
    url = "https://slack.com/api/usergroups.users.list"
    response = SlackResponse(
        client=None,
        http_verb="GET",
        api_url=url,
        req_args={},
        data={"ok": False, "error": error},
        headers={},
        status_code=200,
    )
    return SlackApiError(f"The request to the Slack API failed. (url: {url})", response)


def test_a_failed_group_lookup_denies_seeing_and_acting_naming_only_the_slack_error() -> None:
    def refused(group: str) -> set[str]:
        raise slack_refusal("missing_scope")

    policy = AccessPolicy(allowed_group="SOPS", viewer_group="SSUPPORT", group_members=refused)

    for decision in (policy.check("U1"), policy.check_view("U1")):
        assert not decision.allowed and decision.lookup_failed
        assert (
            "missing_scope" in decision.why and "http" not in decision.why and "slack.com" not in decision.why
        )


def test_a_failed_acting_group_lookup_is_what_a_non_viewer_is_told() -> None:
    def refused(group: str) -> set[str]:
        raise ConnectionError("https://internal.example/api refused")

    decision = AccessPolicy(allowed_group="SOPS", group_members=refused).check_view("U1")

    assert (
        not decision.allowed
        and decision.why == "the members of user group SOPS could not be checked (ConnectionError)"
    )


# ---------------------------------------------------------------------- typed filters and cursors
def test_a_duration_longer_than_a_year_or_with_too_many_digits_is_a_clear_error() -> None:
    assert parse_duration("366d").days == 366
    with pytest.raises(QueryError, match="longer than a year"):
        parse_duration("99999999999w")
    with pytest.raises(QueryError, match="not a duration"):
        parse_duration("99999999999999w")  # more digits than any duration needs
    with pytest.raises(QueryError, match="longer than a year"):
        RecoveryQuery.from_words(["since=53w"])


def test_a_forged_or_stale_page_button_is_a_clear_error() -> None:
    good = "2026-12-01T10:00:00.000+00:00#rec-" + "f" * 32

    assert check_cursor(good) == good
    for forged in ("2026", "x#rec-1", good + "; drop", "9" * 5000):
        with pytest.raises(QueryError, match="not valid any more"):
            check_cursor(forged)
    for carried in ('{"before": "nonsense"}', '{"since": "99999w"}', "[1, 2]", '{"error": 5}', "{"):
        with pytest.raises(QueryError):
            RecoveryQuery.from_json(carried)


# ---------------------------------------------------------------------- an edit to null
def stored(recovery: Recovery) -> RecoveryStore:
    """The real store over an in-memory table, holding ``recovery``."""
    store = RecoveryStore("recoveries", FakeDynamoDB())
    store.create_if_absent(recovery)
    return store


class FakeStepFunctions:
    def __init__(self) -> None:
        self.successes: list[dict] = []

    def send_task_success(self, **call: str) -> None:
        self.successes.append(call)


def paused(input_value: object) -> Recovery:
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    return Recovery(
        recovery_id="rec-" + "c" * 32,
        task_token="token-1",
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:m:e",
        execution_name="e",
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:m",
        failed_state="Check",
        input=input_value,
        error="E",
        cause=None,
        routing=Routing.TECHNICAL,
        requested_at=now,
        created_at=now,
    )


def test_an_edit_to_json_null_sends_null_and_is_audited_as_an_edit_with_its_diff() -> None:
    recovery = paused({"sku": "a"})
    store, sfn = stored(recovery), FakeStepFunctions()
    edited = parse_edited_input("null")

    result = RecoveryActions(store, StepFunctionsTokens(sfn)).run_again(  # type: ignore[arg-type]
        recovery.recovery_id, "U1", new_input=edited, diff=input_diff(recovery.input, edited)
    )

    assert result.outcome is ActionOutcome.RESUMED
    assert sfn.successes == [{"taskToken": "token-1", "output": "null"}]
    closing = store.get(recovery.recovery_id).audit[-1]
    assert (closing.action, closing.result) == ("edit and run again", RecoveryStatus.RESUMED)
    assert '-  "sku": "a"' in store.get(recovery.recovery_id).audit[-2].detail["diff"]


def test_a_plain_run_again_sends_the_steps_own_input() -> None:
    recovery = paused({"sku": "a"})
    store, sfn = stored(recovery), FakeStepFunctions()

    RecoveryActions(store, StepFunctionsTokens(sfn)).run_again(recovery.recovery_id, "U1")  # type: ignore[arg-type]

    assert [json.loads(call["output"]) for call in sfn.successes] == [{"sku": "a"}]
    assert store.get(recovery.recovery_id).audit[-1].action == "run again"


def test_a_stale_button_is_worded_at_the_edge_the_core_names_no_slack_command() -> None:
    # Given a page link a button carried that the listing never made
    with pytest.raises(StaleQueryError) as stale:
        check_cursor("x#rec-1")

    # Then the core says what is wrong, and only the Slack app says how to start again
    assert "/recoveries" not in str(stale.value)
    assert query_problem(stale.value) == "this page link is not valid any more: run `/recoveries` again"
    # while a query a person typed wrong is answered in the core's words alone
    with pytest.raises(QueryError) as typed:
        RecoveryQuery.from_words(["since=53w"])
    assert not isinstance(typed.value, StaleQueryError)
    assert "again" not in query_problem(typed.value) and "a year" in query_problem(typed.value)
