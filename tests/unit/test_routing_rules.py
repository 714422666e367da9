"""Routing rules as data, over plain values: the document's checks (every problem named), first
match wins, wildcards on names and ARNs, the fallback to the stack's channels, the last good
document kept when a refused one arrives, the intake posting where a rule says, and
`recovery-ops routes show / test` on a file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from botocore.stub import Stubber

from recovery_ops.service import aws_clients, composition
from recovery_ops.service.cli import main
from recovery_ops.service.cli.parser import build_parser
from recovery_ops.service.cli.routes import routes_command
from recovery_ops.service.config import CollectorConfig, RoutesSettings
from recovery_ops.service.local.engine.cfn_template import load_template
from recovery_ops.service.recovery.access import rules_parameter
from recovery_ops.service.recovery.access.routing_rules import (
    RoutingRulesSource,
    RulesRefusedError,
    RulesUnavailableError,
    parse_rules,
)
from recovery_ops.service.recovery.intake.collect import RecoveryIntake
from recovery_ops.service.recovery.model.contract import RecoveryRequest, Routing
from recovery_ops.service.recovery.model.recovery import Recovery
from recovery_ops.service.recovery.ports.notifier import ChannelRouting, MessageRef, RecoveryGroup
from recovery_ops.service.recovery.storage.groups import GroupStore
from recovery_ops.service.recovery.storage.recoveries import RecoveryStore
from tests.support.fakes import FakeDynamoDB

ROOT = Path(__file__).resolve().parents[2]
ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:{}"
FALLBACK = ChannelRouting(default="C-DEFAULT", technical="C-TECH", client_data="C-DATA")


def document(*rules: dict[str, Any]) -> str:
    return json.dumps({"rules": list(rules)})


def rule(name: str, channel: str, **match: str) -> dict[str, Any]:
    return {"name": name, "match": match, "channel": channel}


def docs_example() -> str:
    """The complete example of the docs' routing rules page (docs/desk/routing.md includes this file)."""
    return (ROOT / "docs" / "snippets" / "routing_rules.json").read_text()


# ------------------------------------------------------------------ choosing a rule
def test_the_first_matching_rule_decides_even_when_a_later_one_matches_too() -> None:
    # Given a narrow rule before a broad one
    rules = parse_rules(
        document(
            rule("payments-data", "C-PAY", state_machine="payments", routing="client-data"),
            rule("all-client-data", "C-DATA-ALL", routing="client-data"),
        ),
        FALLBACK,
    )

    # When a client-data recovery of payments is routed
    decision = rules.route(ARN.format("payments"), "Charge card", "CardDeclined", Routing.CLIENT_DATA)

    # Then the first rule decides, and says which fields matched
    assert decision.channel == "C-PAY"
    assert decision.rule is not None and decision.rule.name == "payments-data"
    assert decision.reasons == ("state_machine 'payments' matches 'payments'", "routing is client-data")
    assert not decision.by_fallback


def test_state_machine_wildcards_match_the_name_or_the_whole_arn() -> None:
    # Given one rule by name pattern and one by ARN pattern
    rules = parse_rules(
        document(
            rule("orders", "C-ORDERS", state_machine="*-OrderItem*"),
            rule("ireland", "C-EU", state_machine="arn:aws:states:eu-west-1:*"),
        ),
        FALLBACK,
    )

    # When recoveries of three machines are routed
    item = rules.route(ARN.format("prod-OrderItemStateMachine-A1B2"), "Check availability", None, "technical")
    other = rules.route(ARN.format("shipping"), "Ship", "Timeout", "technical")
    elsewhere = rules.route(
        ARN.format("shipping").replace("eu-west-1", "us-east-1"), "Ship", None, "technical"
    )

    # Then the name pattern and the ARN pattern each match their own, and nothing else
    assert (item.channel, item.reasons) == (
        "C-ORDERS",
        ("state_machine '*-OrderItem*' matches 'prod-OrderItemStateMachine-A1B2'",),
    )
    assert other.channel == "C-EU"
    assert other.reasons == (
        f"state_machine 'arn:aws:states:eu-west-1:*' matches '{ARN.format('shipping')}'",
    )
    assert elsewhere.by_fallback


def test_every_field_of_a_match_must_match() -> None:
    # Given a rule on state, error and routing
    rules = parse_rules(
        document(rule("vendor", "C-VENDOR", failed_state="Check *", error="Vendor*", routing="technical")),
        FALLBACK,
    )

    # When recoveries that differ in one field each are routed
    hit = rules.route(ARN.format("orders"), "Check availability", "VendorUnavailable", "technical")
    other_error = rules.route(ARN.format("orders"), "Check availability", "Timeout", "technical")
    no_error = rules.route(ARN.format("orders"), "Check availability", None, "technical")
    other_routing = rules.route(
        ARN.format("orders"), "Check availability", "VendorUnavailable", "client-data"
    )

    # Then only the one that matches every field is routed by the rule
    assert hit.channel == "C-VENDOR"
    assert [d.channel for d in (other_error, no_error, other_routing)] == ["C-TECH", "C-TECH", "C-DATA"]


def test_with_no_rule_matching_the_stacks_channels_decide_and_the_decision_says_so() -> None:
    # Given rules for payments only, and a stack without a client-data channel
    fallback = ChannelRouting(default="C-DEFAULT", technical="C-TECH")
    rules = parse_rules(document(rule("payments", "C-PAY", state_machine="payments")), fallback)

    # When recoveries of another machine are routed
    technical = rules.route(ARN.format("orders"), "Check availability", "VendorUnavailable", "technical")
    client_data = rules.route(ARN.format("orders"), "Check availability", "Rejected", "client-data")

    # Then the fallback routes them as before rules existed, and says from which parameter
    assert (technical.channel, technical.by_fallback) == ("C-TECH", True)
    assert technical.reasons == ("routing is technical: SlackTechnicalChannel",)
    assert client_data.channel == "C-DEFAULT"
    assert "SlackClientDataChannel is not set: SlackDefaultChannel" in client_data.explain()
    assert client_data.explain().startswith("C-DEFAULT: no rule matched: the fallback decides")


@pytest.mark.parametrize("text", ["", "  ", "[]", "{}", '{"rules": []}'])
def test_no_document_means_the_fallback_alone(text: str) -> None:
    # Given / When
    rules = parse_rules(text, FALLBACK)

    # Then
    assert rules.rules == ()
    assert rules.route(ARN.format("orders"), "S", None, "client-data").channel == "C-DATA"


def test_the_readme_example_is_a_good_document_for_two_teams() -> None:
    # Given / When the docs' example
    rules = parse_rules(docs_example(), FALLBACK)

    # Then it routes a technical recovery and a client-data recovery to the two teams' channels
    technical = rules.route(
        ARN.format("prod-OrderItemStateMachine-X"), "Check availability", "VendorUnavailable", "technical"
    )
    client_data = rules.route(ARN.format("payments"), "Charge card", "CardDeclined", "client-data")
    assert technical.rule is not None and client_data.rule is not None
    assert technical.channel != client_data.channel
    assert all(r.team is not None for r in rules.rules)


# ------------------------------------------------------------------ refusing a document
def test_every_problem_of_a_document_is_named_with_where_it_is() -> None:
    # Given a document with one problem of each kind, spread over several rules
    text = document(
        {"name": "catch-all", "channel": "C-ALL"},  # empty match, not last
        rule("payments", "C-PAY", state_machine="payments"),
        {"name": "bad", "match": {"routing": "urgent", "queue": "x"}, "channel": ""},
        {
            "name": "payments",  # duplicate
            "match": {"error": "CardDeclined"},
            "channel": "C-CARDS",
            "team": {"user_group": "S0CARDS", "people": ["U0ANNA"], "user_ids": ["anna"]},
            "escalation": [
                {"after_minutes": 60, "mention_user_group": "S0LEADS"},
                {"after_minutes": 30, "mention_user_group": "S0ONCALL"},
                {"after_minutes": 0, "mention_user_group": "payments-leads"},
            ],
        },
    )

    # When it is parsed
    with pytest.raises(RulesRefusedError) as refused:
        parse_rules(text, FALLBACK)

    # Then every problem is named, where and what, not only the first
    assert sorted(refused.value.problems) == sorted(
        [
            "rules[0].match: empty, so it matches every recovery and the rules after it are never "
            "reached (only the last rule may match everything)",
            "rules[2].match.routing: must be technical or client-data",
            "rules[2].match.queue: unknown field",
            "rules[2].channel: string should have at least 1 character",
            "rules[3].name: 'payments' is already the name of rules[1]",
            "rules[3].team.people: unknown field",
            "rules[3].escalation[1].after_minutes: must be more than the level before it (30 after 60)",
            "rules[3].escalation[2].after_minutes: input should be greater than 0",
            "rules[3].escalation[2].after_minutes: must be more than the level before it (0 after 30)",
            "rules[3].escalation[2].mention_user_group: must be a Slack user group id (S…, as in its URL), "
            "not its name",
            "rules[3].team.user_ids[0]: must be a Slack user id (U… or W…), not a name",
        ]
    )


def test_an_empty_match_is_allowed_on_the_last_rule_only() -> None:
    # Given a catch-all rule at the end
    rules = parse_rules(
        document(rule("payments", "C-PAY", state_machine="payments"), {"name": "rest", "channel": "C-REST"}),
        FALLBACK,
    )

    # When something no other rule matches is routed
    decision = rules.route(ARN.format("orders"), "S", None, "technical")

    # Then the catch-all decides, not the fallback
    assert (decision.channel, decision.rule.name if decision.rule else None) == ("C-REST", "rest")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "document: not JSON"),
        ('"rules"', 'document: must be an object {"rules": [...]}'),
        ('{"rules": {}}', "rules: must be a list of rules"),
        ('{"rules": [], "version": 2}', "version: unknown field"),
        ('{"rules": ["payments"]}', "rules[0]: input should be a valid dictionary"),
        ('[{"channel": "C1"}]', "rules[0].name: required"),
    ],
)
def test_a_document_of_the_wrong_shape_is_refused_saying_where(text: str, problem: str) -> None:
    # Given / When
    with pytest.raises(RulesRefusedError) as refused:
        parse_rules(text, FALLBACK)

    # Then
    assert any(p.startswith(problem) for p in refused.value.problems), refused.value.problems


# ------------------------------------------------------------------ the source: cached text, last good kept
class Parameter:
    """What the SSM parameter holds now (the loader's cache is Powertools', not modelled here)."""

    def __init__(self, text: str | None) -> None:
        self.text: str | None = text
        self.reads = 0
        self.down = False

    def __call__(self) -> str | None:
        self.reads += 1
        if self.down:
            raise RulesUnavailableError("ThrottlingException")
        return self.text


def source_over(parameter: Parameter) -> tuple[RoutingRulesSource, list[tuple[str, list[str]]]]:
    logged: list[tuple[str, list[str]]] = []
    source = RoutingRulesSource(
        load=parameter, fallback=FALLBACK, log=lambda message, problems: logged.append((message, problems))
    )
    return source, logged


PAYMENTS = document(rule("payments", "C-PAY", state_machine="payments"))
ROUTE = (ARN.format("payments"), "Charge card", "CardDeclined", "client-data")


def test_a_changed_document_routes_as_soon_as_the_loader_returns_it() -> None:
    # Given a source routing by one document
    parameter = Parameter(PAYMENTS)
    source, _ = source_over(parameter)
    assert source.route(*ROUTE).channel == "C-PAY"

    # When the parameter changes
    parameter.text = document(rule("payments", "C-PAY-2", state_machine="payments"))

    # Then the next decision follows the new document, and the loader is asked each time
    assert source.route(*ROUTE).channel == "C-PAY-2"
    assert parameter.reads == 2


def test_a_refused_document_is_logged_once_with_every_problem_and_the_last_good_keeps_routing() -> None:
    # Given a source that routed with a good document
    parameter = Parameter(PAYMENTS)
    source, logged = source_over(parameter)
    source.route(*ROUTE)

    # When a document with two problems replaces it, and recoveries keep coming
    parameter.text = document({"name": "payments", "match": {"routing": "urgent"}, "channel": ""})
    decisions = [source.route(*ROUTE) for _ in range(3)]

    # Then the last good rules keep routing, each decision says so, and one error names both problems
    assert [d.channel for d in decisions] == ["C-PAY"] * 3
    assert all(d.kept_last_good for d in decisions)
    assert "last good one decided" in decisions[0].explain()
    assert logged == [
        (
            "routing rules refused: the last good rules keep routing",
            [
                "rules[0].match.routing: must be technical or client-data",
                "rules[0].channel: string should have at least 1 character",
            ],
        )
    ]
    assert source.refusal is not None and len(source.refusal.problems) == 2

    # When the document is fixed
    parameter.text = document(rule("payments", "C-PAY-FIXED", state_machine="payments"))

    # Then it is in force and nothing is said to be kept any more
    fixed = source.route(*ROUTE)
    assert (fixed.channel, fixed.kept_last_good, source.refusal) == ("C-PAY-FIXED", False, None)


def test_a_refused_first_document_leaves_the_stacks_channels_in_charge() -> None:
    # Given a source whose very first document is refused
    source, logged = source_over(Parameter("{not json"))

    # When a recovery is routed
    decision = source.route(*ROUTE)

    # Then the fallback routes it as today, and the refusal was logged
    assert (decision.channel, decision.by_fallback, decision.kept_last_good) == ("C-DATA", True, False)
    assert [message for message, _ in logged] == [
        "routing rules refused: the stack's channels route until a good document arrives"
    ]


def test_a_parameter_that_cannot_be_read_keeps_the_last_good_rules() -> None:
    # Given a source that routed with a good document
    parameter = Parameter(PAYMENTS)
    source, logged = source_over(parameter)
    source.route(*ROUTE)

    # When the parameter store stops answering
    parameter.down = True
    decisions = [source.route(*ROUTE) for _ in range(2)]

    # Then the last good rules keep routing and the failure is logged once
    assert [(d.channel, d.kept_last_good) for d in decisions] == [("C-PAY", True)] * 2
    assert [problems for _, problems in logged] == [["document: could not be read: ThrottlingException"]]


def test_no_parameter_at_all_routes_by_the_fallback() -> None:
    # Given a source without a document
    source, logged = source_over(Parameter(None))

    # When / Then
    assert source.route(*ROUTE).channel == "C-DATA"
    assert logged == []


# ------------------------------------------------------------------ the intake posts where the rules say
class RecordingNotifier:
    def __init__(self) -> None:
        self.posts: list[tuple[str, str]] = []  # (what, channel)

    def post_recovery(self, recovery: Recovery, channel: str, mark: object = None) -> MessageRef:
        self.posts.append((recovery.state_machine_name, channel))
        return MessageRef(channel, f"{len(self.posts)}.0")

    def post_group(self, group: RecoveryGroup, channel: str) -> MessageRef:
        self.posts.append((group.state_machine_name, channel))
        return MessageRef(channel, f"{len(self.posts)}.0")

    def update_group(self, group: RecoveryGroup, message: MessageRef, notice: object = None) -> None:
        pass

    def post_unreadable(self, message: object, channel: str) -> MessageRef:
        raise AssertionError("not expected")

    def find_posted(self, *args: object, **kwargs: object) -> MessageRef | None:
        raise AssertionError("not expected: no claim came before")


def paused(machine: str, routing: Routing, n: int) -> tuple[RecoveryRequest, int]:
    return (
        RecoveryRequest(
            task_token=f"token-{machine}-{n}",
            execution_arn=f"arn:aws:states:eu-west-1:123456789012:execution:{machine}:run-{n}",
            execution_name=f"run-{n}",
            state_machine_arn=ARN.format(machine),
            failed_state="Charge card",
            error="CardDeclined",
            routing=routing,
        ),
        1,
    )


def test_the_intake_posts_each_recovery_in_the_channel_its_rule_chooses() -> None:
    # Given an intake whose rules send payments' client-data recoveries to the payments team
    table = FakeDynamoDB()
    notifier = RecordingNotifier()
    intake = RecoveryIntake(
        store=RecoveryStore("recoveries", table),
        groups=GroupStore("recoveries", table),
        notifier=notifier,
        routes=RoutingRulesSource(
            load=lambda: document(rule("payments", "C-PAY", state_machine="payments", routing="client-data")),
            fallback=FALLBACK,
        ),
    )

    # When a payments recovery and a shipping recovery arrive
    report = intake.receive(
        [paused("payments", Routing.CLIENT_DATA, 1), paused("shipping", Routing.CLIENT_DATA, 2)]
    )

    # Then the rule routes the first; the stack's client-data channel still takes the other
    assert sorted(notifier.posts) == [("payments", "C-PAY"), ("shipping", "C-DATA")]
    assert len(report.posted) == 2


# ------------------------------------------------------------------ recovery-ops routes, on a file
def run_routes(argv: list[str], capsys: pytest.CaptureFixture[str], **environ: str) -> tuple[int, str, str]:
    args: argparse.Namespace = build_parser().parse_args(["routes", *argv])
    lines: list[str] = []
    status = routes_command(args, RoutesSettings.from_environment(environ), out=lines.append)
    return status, "\n".join(lines), capsys.readouterr().err


def test_routes_show_prints_every_rule_in_order_and_the_fallback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the docs' example in a file, and the stack's channels in the settings
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(docs_example())

    # When
    status, shown, _ = run_routes(
        ["show", "--file", str(rules_file)],
        capsys,
        SLACK_DEFAULT_CHANNEL="C-DEFAULT",
        SLACK_TECHNICAL_CHANNEL="C-TECH",
    )

    # Then every rule is shown in order with what it decides, and the fallback with where it comes from
    assert status == 0
    names = [rule["name"] for rule in json.loads(docs_example())["rules"]]
    positions = [shown.index(f"{n}. {name}\n") for n, name in enumerate(names, start=1)]
    assert positions == sorted(positions)
    assert "match:      routing=technical" in shown
    assert "channel:    C0TECHSUPPORT" in shown
    assert "team:       group S0TECHSUPPORT, U0TECHLEAD\n" in shown
    assert "self-healing: the stack's SelfHealingByDefault" in shown
    assert (
        "escalation: after 30 min mention S0TECHONCALL; after 120 min mention S0SUPPORTLEADS in C0INCIDENTS"
        in shown
    )
    assert "technical    C-TECH  (routing is technical: SlackTechnicalChannel)" in shown
    assert "client-data  C-DEFAULT  (routing is client-data and SlackClientDataChannel is not set" in shown


def test_routes_test_says_which_rule_matches_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the docs' example in a file
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(docs_example())

    # When a client-data recovery of payments is tried, then a technical one no rule of another file matches
    status, matched, _ = run_routes(
        [
            "test",
            "--file",
            str(rules_file),
            "--machine",
            ARN.format("payments"),
            "--state",
            "Charge card",
            "--error",
            "CardDeclined",
            "--routing",
            "client-data",
        ],
        capsys,
    )
    payments_only = tmp_path / "payments.json"
    payments_only.write_text(document(rule("payments", "C-PAY", state_machine="payments")))
    _, unmatched, _ = run_routes(
        ["test", "--file", str(payments_only), "--machine", "billing", "--state", "Invoice"],
        capsys,
        SLACK_DEFAULT_CHANNEL="C-DEFAULT",
    )

    # Then the matching rule is named with its reasons; otherwise the fallback, with its parameter
    assert status == 0
    assert "channel: C0CLIENTDATA" in matched
    assert "rule:    client-data-support (rule 2)" in matched
    assert "because routing is client-data" in matched
    assert unmatched.splitlines() == [
        "channel: C-DEFAULT",
        "rule:    none matched: the fallback decides",
        "  because routing is technical and SlackTechnicalChannel is not set: SlackDefaultChannel",
    ]


def test_routes_without_the_stacks_channels_names_their_parameters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no rules and nothing saying which channels the stack has
    rules_file = tmp_path / "rules.json"
    rules_file.write_text('{"rules": []}')

    # When
    status, shown, _ = run_routes(["show", "--file", str(rules_file)], capsys)

    # Then the fallback is shown by the parameters it comes from
    assert status == 0
    assert "No routing rules" in shown
    assert "technical    <SlackTechnicalChannel>" in shown


def test_routes_on_a_refused_document_prints_every_problem_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a document with two problems
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(document(rule("a", "C1", routing="urgent"), rule("a", "C2", error="X")))

    # When
    status = main(["routes", "show", "--file", str(rules_file)])

    # Then both are printed, and the exit status asks for a change
    err = capsys.readouterr().err
    assert status == 2
    assert "rules[0].match.routing: must be technical or client-data" in err
    assert "rules[1].name: 'a' is already the name of rules[0]" in err


def test_routes_without_a_document_named_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    # Given / When no --stack, --parameter, --file nor ROUTING_RULES_PARAMETER
    status, _, err = run_routes(["show"], capsys)

    # Then
    assert status == 2
    assert "say where the rules are" in err


def test_routes_sources_exclude_each_other() -> None:
    # Given / When / Then
    with pytest.raises(SystemExit):
        build_parser().parse_args(["routes", "show", "--file", "a.json", "--stack", "ops"])


def test_routes_show_with_a_stack_reads_its_rules_parameter_and_its_channels(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack whose outputs name the rules parameter and whose parameters name its channels
    keys = {"region_name": "eu-west-1", "aws_access_key_id": "x", "aws_secret_access_key": "x"}
    clients = {name: boto3.client(name, **keys) for name in ("cloudformation", "ssm")}
    cloudformation, ssm = Stubber(clients["cloudformation"]), Stubber(clients["ssm"])
    cloudformation.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "ops",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": [
                        {
                            "OutputKey": "RoutingRulesParameterName",
                            "OutputValue": "/ops/recovery/routing-rules",
                        }
                    ],
                    "Parameters": [
                        {"ParameterKey": "SlackDefaultChannel", "ParameterValue": "C-OPS"},
                        {"ParameterKey": "SlackTechnicalChannel", "ParameterValue": ""},
                        {"ParameterKey": "SlackClientDataChannel", "ParameterValue": "C-OPS-DATA"},
                    ],
                }
            ]
        },
        {"StackName": "ops"},
    )
    ssm.add_response(
        "get_parameter",
        {"Parameter": {"Name": "/ops/recovery/routing-rules", "Type": "String", "Value": PAYMENTS}},
        {"Name": "/ops/recovery/routing-rules"},
    )
    monkeypatch.setattr(aws_clients, "client", lambda name: clients[name])

    # When
    with cloudformation, ssm:
        status, shown, _ = run_routes(["show", "--stack", "ops"], capsys, SLACK_DEFAULT_CHANNEL="C-ENV")
        cloudformation.assert_no_pending_responses()
        ssm.assert_no_pending_responses()

    # Then the deployed rules are shown over the stack's own channels, not the environment's
    assert status == 0
    assert "Routing rules (parameter /ops/recovery/routing-rules), first match wins:" in shown
    assert "1. payments" in shown
    assert "technical    C-OPS  (routing is technical and SlackTechnicalChannel is not set" in shown
    assert "client-data  C-OPS-DATA  (routing is client-data: SlackClientDataChannel)" in shown


def test_the_template_names_the_rules_parameter_to_the_collector_and_grants_reading_it() -> None:
    # Given the template as data
    resources = load_template()["Resources"]
    collector = resources["CollectorFunction"]["Properties"]

    # When / Then the collector is told the parameter, may read it, and it ships without rules
    assert collector["Environment"]["Variables"]["ROUTING_RULES_PARAMETER"] == {"Ref": "RoutingRules"}
    (grant,) = [
        s for p in collector["Policies"] for s in p.get("Statement", []) if s.get("Sid") == "RoutingRules"
    ]
    assert grant["Action"] == "ssm:GetParameter"
    assert "${RoutingRules}" in str(grant["Resource"])
    assert parse_rules(resources["RoutingRules"]["Properties"]["Value"], FALLBACK).rules == ()


# ------------------------------------------------------------------ the collector's wiring
def collector_config(**environ: str) -> CollectorConfig:
    base = {
        "RECOVERIES_TABLE_NAME": "recoveries",
        "RECOVERY_DLQ_URL": "https://sqs.example/dlq",
        "SLACK_BOT_TOKEN_SECRET": "bot-token",
        "SLACK_DEFAULT_CHANNEL": "C-DEFAULT",
        "ROUTING_RULES_PARAMETER": "/ops/recovery/routing-rules",
    }
    return CollectorConfig.model_validate({**base, **environ})


def test_the_collector_keeps_one_rules_source_across_invocations_so_the_last_good_outlives_a_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the parameter store holding good rules, read by one invocation
    held = {"/ops/recovery/routing-rules": PAYMENTS}
    monkeypatch.setattr(parameters, "get_parameter", lambda name, max_age: held[name])
    monkeypatch.setattr(rules_parameter, "_sources", {})
    assert composition.routing_rules(collector_config()).route(*ROUTE).channel == "C-PAY"

    # When a bad document is written and a later invocation builds its intake
    held["/ops/recovery/routing-rules"] = "{not json"
    later = composition.routing_rules(collector_config())

    # Then it routes with the rules the earlier invocation read, and says so
    decision = later.route(*ROUTE)
    assert (decision.channel, decision.kept_last_good) == ("C-PAY", True)


def test_the_collector_without_a_rules_parameter_routes_by_the_stacks_channels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given / When a collector whose environment names no rules parameter
    monkeypatch.setattr(rules_parameter, "_sources", {})
    source = composition.routing_rules(
        collector_config(ROUTING_RULES_PARAMETER="", SLACK_CLIENT_DATA_CHANNEL="C-DATA")
    )

    # Then
    decision = source.route(*ROUTE)
    assert (decision.channel, decision.by_fallback) == ("C-DATA", True)


def test_a_parameter_store_failure_reaches_the_source_as_rules_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a parameter store that refuses
    def refuse(name: str, max_age: int) -> str:
        raise parameters.exceptions.GetParameterError("AccessDeniedException")

    monkeypatch.setattr(parameters, "get_parameter", refuse)

    # When / Then
    with pytest.raises(RulesUnavailableError, match="AccessDeniedException"):
        rules_parameter.rules_document("/ops/recovery/routing-rules")


def test_a_rule_heals_itself_only_when_it_says_true_and_a_yes_is_refused() -> None:
    def rule(**extra: object) -> dict:
        return {"name": "orders", "match": {"state_machine": "orders"}, "channel": "C-O", **extra}

    routing = ChannelRouting(default="C-DEFAULT")
    assert parse_rules(json.dumps([rule(self_healing=True)]), routing).rules[0].self_healing is True
    assert parse_rules(json.dumps([rule()]), routing).rules[0].self_healing is None  # the stack decides
    with pytest.raises(RulesRefusedError) as refused:
        parse_rules(json.dumps([rule(self_healing="yes")]), routing)
    assert refused.value.problems == ["rules[0].self_healing: input should be a valid boolean"]


# ------------------------------------------------------------------ self-healing's ceiling
def test_a_rules_self_healing_ceiling_is_a_number_above_zero_and_at_most_sendtasks_refill() -> None:
    def refused(value: object, **more: object) -> list[str]:
        raw = {"name": "vendor", "channel": "C-V", "self_healing_max_per_second": value, **more}
        try:
            parse_rules(json.dumps({"rules": [raw]}), FALLBACK)
        except RulesRefusedError as exc:
            return exc.problems
        return []

    assert refused(50) == [] and refused(2.5) == []
    assert refused("50") == ["rules[0].self_healing_max_per_second: input should be a valid number"]
    assert refused(0) == ["rules[0].self_healing_max_per_second: input should be greater than 0"]
    assert refused(501) == [
        "rules[0].self_healing_max_per_second: must be at most 500 a second (Step Functions' SendTask* "
        "refill rate)"
    ]
    assert refused(20, self_healing=False) == [
        "rules[0].self_healing_max_per_second: has no effect, the rule does not heal itself "
        '("self_healing": false)'
    ]


def test_routes_show_and_test_say_how_fast_a_rule_heals_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a rule with a ceiling and one without
    rules_file = tmp_path / "rules.json"
    capped = {**rule("vendor", "C-V", state_machine="orders"), "self_healing": True}
    rules_file.write_text(
        json.dumps(
            {
                "rules": [
                    {**capped, "self_healing_max_per_second": 40},
                    {**rule("rest", "C-R"), "self_healing": True},
                ]
            }
        )
    )

    # When
    _, shown, _ = run_routes(["show", "--file", str(rules_file)], capsys)
    _, tested, _ = run_routes(
        ["test", "--file", str(rules_file), "--machine", ARN.format("orders"), "--state", "Charge"], capsys
    )

    # Then each rule's ceiling is shown beside its self-healing, and the test names the matching one's
    assert "self-healing at most: 40 a second" in shown
    assert "self-healing at most: the stack's SelfHealingResumesPerSecond" in shown
    assert "self-healing: on, at most 40 a second" in tested.splitlines()


def test_routes_show_and_test_print_each_rules_approval_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a rule whose edits need two approvals, and one without a policy
    gated = {
        **rule("payments", "C-PAY", state_machine="payments"),
        "approval": {"actions": ["edit"], "approvals": 2, "approvers": {"user_group": "S0LEADS"}},
    }
    rules_file = tmp_path / "rules.json"
    rules_file.write_text(document(gated, rule("billing", "C-BILL", state_machine="billing")))

    # When the rules are shown, and a recovery of each machine is tried
    _, shown, _ = run_routes(["show", "--file", str(rules_file)], capsys)
    _, payments, _ = run_routes(
        ["test", "--file", str(rules_file), "--machine", "payments", "--state", "Charge"], capsys
    )
    _, billing, _ = run_routes(
        ["test", "--file", str(rules_file), "--machine", "billing", "--state", "Invoice"], capsys
    )

    # Then each rule says its policy, and the rule that matched says the one that applies
    policy = (
        "edit needs 2 approvals from group S0LEADS (never the requester's own); "
        "a request expires after 1440 minutes"
    )
    assert f"     approval:   {policy}" in shown.splitlines()
    assert "     approval:   none: every action runs when asked" in shown.splitlines()
    assert f"approval: {policy}" in payments.splitlines()
    assert "approval: none: every action runs when asked" in billing.splitlines()
