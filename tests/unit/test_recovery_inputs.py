"""Edited inputs, operator queries, who may act, and the Slack app manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from recovery_ops.service.recovery.access.authorization import AccessPolicy
from recovery_ops.service.recovery.lifecycle.query import (
    QueryError,
    RecoveryQuery,
    parse_duration,
    split_words,
)
from recovery_ops.service.recovery.model.input_edit import (
    MAX_INPUT_BYTES,
    InputProblemError,
    SchemaCatalog,
    input_diff,
    parse_edited_input,
)
from recovery_ops.slack_app.ids import COMMAND

SCHEMA = {"type": "object", "required": ["quantity"], "properties": {"quantity": {"type": "integer"}}}


def test_an_edit_must_be_json_within_256_kib_and_match_the_schema() -> None:
    assert parse_edited_input('{"quantity": 2}', SCHEMA) == {"quantity": 2}
    with pytest.raises(InputProblemError, match="Not valid JSON"):
        parse_edited_input("{quantity: 2}")
    with pytest.raises(InputProblemError, match="at most 262,144"):
        parse_edited_input(json.dumps({"blob": "x" * MAX_INPUT_BYTES}))
    with pytest.raises(InputProblemError, match="schema.*quantity"):
        parse_edited_input('{"quantity": "two"}', SCHEMA)


def test_schemas_are_found_per_state_machine_or_for_every_machine() -> None:
    catalog = SchemaCatalog(lambda: {"orders": {"Check": SCHEMA}, "*": {"Pay": {"type": "object"}}})
    assert catalog.for_state("orders", "Check") == SCHEMA
    assert catalog.for_state("payments", "Pay") == {"type": "object"}
    assert catalog.for_state("payments", "Check") is None


def test_the_diff_of_an_edit_names_what_changed() -> None:
    diff = input_diff({"a": 1, "b": "x"}, {"a": 1, "b": "y"})
    assert '-  "b": "x"' in diff and '+  "b": "y"' in diff and '"a"' not in diff.replace('"a": 1', "")
    assert input_diff({"a": 1}, {"a": 1}) == ""


def test_queries_read_filters_with_quoted_values_and_refuse_unknown_ones() -> None:
    query = RecoveryQuery.from_words(
        split_words('error=VendorUnavailable state="Check availability" since=2h')
    )
    assert (query.error, query.failed_state, query.since) == ("VendorUnavailable", "Check availability", "2h")
    cursor = "2026-12-01T10:00:00.000+00:00#rec-" + "0" * 32  # a listed recovery's sort key
    assert RecoveryQuery.from_json(query.next_page(cursor).to_json()).before == cursor
    assert parse_duration("90s").total_seconds() == 90 and parse_duration("7d").days == 7
    with pytest.raises(QueryError, match="not a filter"):
        RecoveryQuery.from_words(["colour=red"])
    with pytest.raises(QueryError, match="not a duration"):
        RecoveryQuery.from_words(["since=yesterday"])


def test_nobody_may_act_until_someone_is_allowed() -> None:
    assert not AccessPolicy().check("U1").allowed
    assert AccessPolicy(allowed_users=frozenset({"U1"})).check("U1").allowed
    assert not AccessPolicy(allowed_users=frozenset({"U1"})).check("U2").allowed


def test_group_membership_is_looked_up_once_per_cache_period_and_a_failed_lookup_denies() -> None:
    lookups = []
    now = [0.0]

    def members(group: str) -> set[str]:
        lookups.append(group)
        return {"U1"}

    policy = AccessPolicy(allowed_group="S1", group_members=members, cache_seconds=300, clock=lambda: now[0])
    assert policy.check("U1").allowed and not policy.check("U2").allowed
    assert lookups == ["S1"]
    now[0] = 301
    assert policy.check("U1").allowed and lookups == ["S1", "S1"]

    def unreachable(group: str) -> set[str]:
        raise ConnectionError("slack is down")

    denied = AccessPolicy(allowed_group="S1", group_members=unreachable).check("U1")
    assert not denied.allowed
    assert denied.why == "the members of user group S1 could not be checked (ConnectionError)"


def test_the_manifest_declares_the_command_interactivity_and_the_scopes_the_app_uses() -> None:
    manifest = yaml.safe_load(Path("slack_app/manifest.yaml").read_text())
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert command["url"] == manifest["settings"]["interactivity"]["request_url"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "commands", "usergroups:read"} <= scopes
