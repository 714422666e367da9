"""Routing rules for durable functions: ``match.function`` names a durable recovery's function,
``match.state_machine`` only ever a state machine; everything decided by rule (channel, team,
approval policy, ``routes test``) then holds for durable recoveries as it does for the others."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from recovery_ops.service.cli.parser import build_parser
from recovery_ops.service.cli.routes import routes_command
from recovery_ops.service.config import RoutesSettings
from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import RulesRefusedError, parse_rules
from recovery_ops.service.recovery.access.team_access import TeamAccess
from recovery_ops.service.recovery.lifecycle.actions import ActionOutcome, RecoveryActions
from recovery_ops.service.recovery.lifecycle.approvals import PolicyGate
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.ports.notifier import ChannelRouting
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB, FakeTaskTokens
from tests.support.recoveries import DURABLE_FUNCTION, opened_durable_recovery, opened_recovery

FALLBACK = ChannelRouting(default="C-DEFAULT")
ORDERS_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:orders"
TEAM, LEAD, STRANGER = "U0TEAM", "U0LEAD", "U0STRANGER"


def rules_text(*rules: dict[str, Any]) -> str:
    return json.dumps({"rules": list(rules)})


def rule(name: str, channel: str, **match: str) -> dict[str, Any]:
    return {"name": name, "match": match, "channel": channel}


# ---------------------------------------------------------------------- matching
def test_a_function_rule_routes_the_durable_recovery_of_that_function_by_name_or_arn() -> None:
    # Given rules by the function's name, by an ARN pattern, and by a state machine of the same name
    by_name = parse_rules(rules_text(rule("checks", "C-CHECK", function="order-item-*")), FALLBACK)
    by_arn = parse_rules(rules_text(rule("region", "C-EU", function="arn:aws:lambda:us-east-1:*")), FALLBACK)

    # When a durable recovery of order-item-check is routed
    named = by_name.route(DURABLE_FUNCTION, "check stock", "VendorUnavailable", Routing.TECHNICAL)
    arned = by_arn.route(DURABLE_FUNCTION, "check stock", "VendorUnavailable", Routing.TECHNICAL)

    # Then both rules decide, and say why
    assert (named.channel, named.reasons) == (
        "C-CHECK",
        ("function 'order-item-*' matches 'order-item-check'",),
    )
    assert arned.channel == "C-EU"
    assert arned.reasons == (f"function 'arn:aws:lambda:us-east-1:*' matches '{DURABLE_FUNCTION}'",)


def test_state_machine_matches_only_state_machines_and_function_only_durable_functions() -> None:
    # Given a state machine and a durable function that share a name, and a rule for each
    rules = parse_rules(
        rules_text(
            rule("machine", "C-MACHINE", state_machine="order-item-check"),
            rule("function", "C-FUNCTION", function="order-item-check"),
            rule("everything-else", "C-REST"),
        ),
        FALLBACK,
    )
    machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:order-item-check"

    # When / Then each recovery goes to its own kind's rule
    assert rules.route(machine_arn, "Check", None, Routing.TECHNICAL).channel == "C-MACHINE"
    assert rules.route(DURABLE_FUNCTION, "check stock", None, Routing.TECHNICAL).channel == "C-FUNCTION"
    wildcard = parse_rules(
        rules_text(rule("any", "C-ANY", state_machine="*"), rule("rest", "C-REST")), FALLBACK
    )
    assert wildcard.route(DURABLE_FUNCTION, "check stock", None, Routing.TECHNICAL).channel == "C-REST"


def test_a_function_rule_with_the_steps_and_errors_of_the_function() -> None:
    rules = parse_rules(
        rules_text(
            rule("stock", "C-STOCK", function="order-item-check", failed_state="check *", error="Vendor*")
        ),
        FALLBACK,
    )
    decision = rules.route(DURABLE_FUNCTION, "check stock", "VendorUnavailable", Routing.TECHNICAL)
    assert decision.channel == "C-STOCK"
    assert rules.route(DURABLE_FUNCTION, "charge card", "VendorUnavailable", Routing.TECHNICAL).rule is None


def test_a_match_naming_both_a_state_machine_and_a_function_is_refused() -> None:
    # Given a rule that could never match (a recovery is of one kind)
    with pytest.raises(RulesRefusedError) as refused:
        parse_rules(rules_text(rule("both", "C-X", state_machine="orders", function="orders")), FALLBACK)

    # Then the problem says so and what to do
    (problem,) = refused.value.problems
    assert problem.startswith("rules[0].match: names both state_machine and function")
    assert "write a rule for each" in problem


def test_the_match_of_a_function_rule_is_described_with_its_function() -> None:
    (parsed,) = parse_rules(rules_text(rule("f", "C-F", function="order-*")), FALLBACK).rules
    assert parsed.match.describe() == "function=order-*"


# ---------------------------------------------------------------------- decided by rule
def desk(approval: dict[str, Any] | None = None) -> tuple[RecoveryStore, TeamAccess, FakeTaskTokens]:
    stock_rule: dict[str, Any] = {
        **rule("stock", "C-STOCK", function="order-item-check"),
        "team": {"user_ids": [TEAM, LEAD]},
    }
    if approval is not None:
        stock_rule["approval"] = approval
    parsed = parse_rules(rules_text(stock_rule, rule("rest", "C-REST")), FALLBACK)
    access = TeamAccess(AccessPolicy(allowed_users=frozenset({"U0ADMIN"})), lambda: parsed)
    return RecoveryStore("recoveries", FakeDynamoDB()), access, FakeTaskTokens()


def test_the_function_rules_team_may_act_on_its_durable_recoveries_and_no_other() -> None:
    # Given the stock rule's team, a durable recovery of its function and a state machine's recovery
    store, access, _ = desk()
    durable, task = opened_durable_recovery(store), opened_recovery(store, 1)

    # Then the team may act on the durable one only; a stranger on neither
    assert access.may_act(TEAM, durable).allowed
    assert not access.may_act(TEAM, task).allowed
    assert not access.may_act(STRANGER, durable).allowed
    assert access.rule_for(durable).name == "stock"  # type: ignore[union-attr]


def test_a_function_rules_approval_policy_holds_a_durable_run_again() -> None:
    # Given a policy that puts Run again on the stock rule's durable recoveries under one approval
    store, access, tokens = desk(
        {"actions": ["run_again"], "approvals": 1, "approvers": {"user_ids": [LEAD]}}
    )
    durable = opened_durable_recovery(store)
    actions = RecoveryActions(store, tokens, gate=PolicyGate(access))

    # When the team runs it again
    result = actions.run_again(durable.recovery_id, TEAM)

    # Then the callback is not answered: it needs the approval
    assert result.outcome is ActionOutcome.NEEDS_APPROVAL
    assert tokens.calls == []


# ---------------------------------------------------------------------- routes test
def run_routes(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    args: argparse.Namespace = build_parser().parse_args(["routes", *argv])
    lines: list[str] = []
    status = routes_command(args, RoutesSettings.from_environment({}), out=lines.append)
    capsys.readouterr()
    return status, "\n".join(lines)


def test_routes_test_tries_a_durable_functions_recovery_by_name_or_arn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a function rule before a state machine rule of the same name
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(
        rules_text(
            rule("stock", "C-STOCK", function="order-item-check"),
            rule("machine", "C-MACHINE", state_machine="order-item-check"),
        )
    )

    # When a recovery of the function is tried by name and by (qualified-free) ARN, and of the machine
    _, by_name = run_routes(
        ["test", "--file", str(rules_file), "--function", "order-item-check", "--state", "check stock"],
        capsys,
    )
    _, by_arn = run_routes(
        ["test", "--file", str(rules_file), "--function", DURABLE_FUNCTION, "--state", "check stock"], capsys
    )
    _, machine = run_routes(
        ["test", "--file", str(rules_file), "--machine", "order-item-check", "--state", "Check"], capsys
    )

    # Then the function's rule decides for the function, the machine's for the machine
    assert by_name.splitlines()[:2] == ["channel: C-STOCK", "rule:    stock (rule 1)"]
    assert "because function 'order-item-check' matches 'order-item-check'" in by_name
    assert by_arn.splitlines()[0] == "channel: C-STOCK"
    assert machine.splitlines()[:2] == ["channel: C-MACHINE", "rule:    machine (rule 2)"]


def test_routes_test_takes_a_machine_or_a_function_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["routes", "test", "--machine", "a", "--function", "b", "--state", "S"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["routes", "test", "--state", "S"])
    capsys.readouterr()
