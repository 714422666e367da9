"""Who may act on and see a recovery: its routing rule's team and viewers, beside the deployment's
admins (the allow-list) and viewers. Plain data: rules parsed from a document, group members
from a dict."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from tests.unit.slack.builders import a_recovery

ADMIN, TECH, DATA, SUPPORT, STRANGER = "U0ADMIN", "U0TECH", "U0DATA", "U0SUPPORT", "U0STRANGER"
RULES = json.dumps(
    {
        "rules": [
            {
                "name": "client-data",
                "match": {"routing": "client-data"},
                "channel": "C-DATA",
                "team": {"user_group": "S0DATA"},
                "viewers": {"user_ids": [SUPPORT]},
            },
            {
                "name": "technical",
                "match": {"routing": "technical"},
                "channel": "C-TECH",
                "team": {"user_ids": [TECH]},
            },
        ]
    }
)
TECHNICAL = a_recovery(1)
CLIENT_DATA = replace(a_recovery(2), routing=Routing.CLIENT_DATA, error="UnknownProduct")


def access(document: str = RULES, members: dict[str, set[str]] | None = None, **policy) -> TeamAccess:
    groups = {"S0DATA": {DATA}} if members is None else members

    def group_members(group: str) -> set[str]:
        if group not in groups:
            raise LookupError("usergroups.users.list: missing_scope")
        return groups[group]

    rules = parse_rules(document, ChannelRouting("C-DEFAULT"))
    return TeamAccess(
        AccessPolicy(allowed_users=frozenset({ADMIN}), group_members=group_members, **policy), lambda: rules
    )


def test_a_client_data_team_member_may_act_on_a_client_data_recovery_but_not_a_technical_one() -> None:
    # Given
    desk = access()

    # When
    on_data, on_technical = desk.may_act(DATA, CLIENT_DATA), desk.may_act(DATA, TECHNICAL)

    # Then
    assert on_data.allowed and "S0DATA" in on_data.why
    assert not on_technical.allowed
    assert on_technical.why == "not on the team of rule 'technical' and not an admin"


def test_the_admins_may_act_on_every_recovery_whatever_rule_it_matches() -> None:
    desk = access()

    assert desk.may_act(ADMIN, TECHNICAL).allowed and desk.may_act(ADMIN, CLIENT_DATA).allowed


def test_a_rules_viewer_may_see_its_recoveries_but_not_act_and_not_see_another_teams() -> None:
    desk = access()

    assert desk.may_see(SUPPORT, CLIENT_DATA).allowed
    assert not desk.may_act(SUPPORT, CLIENT_DATA).allowed
    assert not desk.may_see(SUPPORT, TECHNICAL).allowed


def test_the_deployments_viewers_see_everything_and_act_on_nothing() -> None:
    desk = access(viewer_users=frozenset({STRANGER}))

    assert desk.may_see(STRANGER, TECHNICAL).allowed and desk.may_see(STRANGER, CLIENT_DATA).allowed
    assert not desk.may_act(STRANGER, TECHNICAL).allowed


def test_a_recovery_no_rule_matches_is_the_admins_alone_as_before_rules_existed() -> None:
    # Given rules that only match another state machine
    desk = access(
        json.dumps(
            {
                "rules": [
                    {
                        "name": "payments",
                        "match": {"state_machine": "payments"},
                        "channel": "C-PAY",
                        "team": {"user_ids": [TECH]},
                    }
                ]
            }
        )
    )

    # When
    decision = desk.may_act(TECH, TECHNICAL)

    # Then the allow-list's own answer decides
    assert not decision.allowed and decision.why == "not on the allow-list of this deployment"
    assert desk.may_act(ADMIN, TECHNICAL).allowed


def test_a_team_whose_members_cannot_be_looked_up_denies_saying_the_lookup_failed() -> None:
    # Given Slack refusing the user group's members
    desk = access(members={})

    # When
    decision = desk.may_act(DATA, CLIENT_DATA)

    # Then
    assert not decision.allowed and decision.lookup_failed
    assert "could not be checked" in decision.why


def test_a_bulk_selection_keeps_what_the_person_may_act_on_and_counts_the_rest() -> None:
    # Given
    desk = access()
    selection = [TECHNICAL, CLIENT_DATA, replace(a_recovery(3), routing=Routing.CLIENT_DATA)]

    # When
    chosen = desk.actable(DATA, selection)

    # Then
    assert [r.recovery_id for r in chosen.allowed] == [CLIENT_DATA.recovery_id, selection[2].recovery_id]
    assert chosen.left_out == 1


@pytest.mark.parametrize(
    ("person", "may_list", "may_bulk"),
    [(ADMIN, True, True), (DATA, True, True), (SUPPORT, True, False), (STRANGER, False, False)],
)
def test_who_may_list_and_who_may_start_a_bulk_action_at_all(
    person: str, may_list: bool, may_bulk: bool
) -> None:
    desk = access()

    assert desk.may_see_some(person).allowed is may_list
    assert desk.may_act_on_some(person).allowed is may_bulk


def test_a_rule_change_moves_the_team_with_no_redeploy() -> None:
    # Given the rules in force, read on every decision
    document = {"text": RULES}
    policy = AccessPolicy(allowed_users=frozenset({ADMIN}), group_members=lambda group: {DATA})
    desk = TeamAccess(policy, lambda: parse_rules(document["text"], ChannelRouting("C-DEFAULT")))
    assert not desk.may_act(TECH, CLIENT_DATA).allowed

    # When the client-data rule's team becomes the technical person
    changed = json.loads(RULES)
    changed["rules"][0]["team"] = {"user_ids": [TECH]}
    document["text"] = json.dumps(changed)

    # Then
    assert desk.may_act(TECH, CLIENT_DATA).allowed
