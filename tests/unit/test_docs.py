"""The documentation site (docs/, mkdocs.yml) against the code it describes: every example under
docs/snippets/ is included by a page and checked here or run by a test (the contract's definitions in
tests/integration/test_docs_snippets.py, the pytest plugin's example in
tests/integration/test_pytest_plugin.py, the routing rules in tests/unit/test_routing_rules.py), and the
reference pages name every template parameter, setting, command and metric the code has."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from recovery_ops.service.cli import instrument
from recovery_ops.service.cli.parser import build_parser
from recovery_ops.service.local.engine.cfn_template import load_template
from recovery_ops.service.recovery.access.routing_rules import parse_rules
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery, split_words
from recovery_ops.service.recovery.model.contract import RecoveryRequest
from recovery_ops.service.recovery.ports.notifier import ChannelRouting

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"
INCLUDE = re.compile(r'^\s*--8<--\s+"([^"]+)"\s*$', re.M)  # a line of its own, as pymdownx.snippets reads it


def pages() -> dict[Path, str]:
    return {page: page.read_text() for page in sorted(DOCS.rglob("*.md"))}


def page(name: str) -> str:
    return (DOCS / name).read_text()


def included() -> set[Path]:
    return {(ROOT / path).resolve() for text in pages().values() for path in INCLUDE.findall(text)}


def snippet_files() -> list[Path]:
    return sorted(p for p in SNIPPETS.iterdir() if p.is_file() and p.name != "__pycache__")


# ------------------------------------------------------------------ the snippets are the pages' examples
@pytest.mark.parametrize("snippet", snippet_files(), ids=lambda p: p.name)
def test_every_snippet_is_included_by_a_page(snippet: Path) -> None:
    # Given / When the files the pages include with --8<--
    # Then the snippet is one of them: an example no page shows is one nobody keeps true
    assert snippet.resolve() in included(), f"no page includes docs/snippets/{snippet.name}"


def test_every_page_lists_only_files_that_exist_among_its_includes() -> None:
    # Given / When every include of every page
    missing = sorted(str(path) for path in included() if not path.is_file())

    # Then each names a file (mkdocs build --strict says so too, in CI)
    assert missing == []


def recovery_ops_commands() -> list[tuple[str, list[str], list[str]]]:
    """Each `recovery-ops` command of docs/snippets/*.sh: (file, environment assignments, arguments)."""
    commands = []
    for script in sorted(SNIPPETS.glob("*.sh")):
        for line in script.read_text().replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if not words:
                continue
            assignments = [w.split("=", 1)[0] for w in words if re.fullmatch(r"[A-Z_]+=.*", w)]
            program, *arguments = words[len(assignments) :]
            assert program.endswith("recovery-ops"), f"{script.name}: not a recovery-ops command: {line}"
            commands.append((script.name, assignments, arguments))
    return commands


@pytest.mark.parametrize(
    ("script", "assignments", "arguments"),
    recovery_ops_commands(),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_every_command_in_the_docs_is_one_the_command_line_takes(
    script: str, assignments: list[str], arguments: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a command the docs show
    parser = instrument.build_parser() if arguments[0] == "instrument" else build_parser()
    given = arguments[1:] if arguments[0] == "instrument" else arguments

    # When the command line parses it
    try:
        parsed = parser.parse_args(given)
    except SystemExit:
        pytest.fail(f"{script}: recovery-ops {shlex.join(arguments)}: {capsys.readouterr().err}")

    # Then it is taken as written, and every variable set before it is a setting the code reads
    assert isinstance(parsed, argparse.Namespace)
    assert set(assignments) <= environment_variables()


def test_the_team_stack_passes_cfn_lint_and_imports_what_the_recovery_stack_exports() -> None:
    # Given the team's stack of the docs, and the exports of template.yaml
    team_stack = SNIPPETS / "team_stack.yaml"
    exports = {
        name
        for name, output in load_template(ROOT / "template.yaml")["Outputs"].items()
        if "Export" in output
    }

    # When cfn-lint reads it
    linted = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), str(team_stack)], capture_output=True, text=True
    )

    # Then it is clean, its definition is the docs' own, and each import is an export of a stack named
    # recovery-ops
    assert linted.returncode == 0, linted.stdout + linted.stderr
    text = team_stack.read_text()
    (definition,) = re.findall(r"DefinitionUri: (\S+)", text)
    assert (SNIPPETS / definition).is_file()
    imported = set(re.findall(r"!ImportValue recovery-ops-(\w+)", text))
    assert imported == {"RecoveryQueueUrl", "RecoveryQueueArn", "AlarmTopicArn"}
    assert imported <= exports


@pytest.mark.parametrize("snippet", ["contract_jsonpath.asl.json", "contract_jsonata.asl.json"])
def test_the_contracts_recovery_step_sends_only_fields_of_the_contract_and_every_required_one(
    snippet: str,
) -> None:
    # Given the recovery step of the docs' definition
    definition = json.loads((SNIPPETS / snippet).read_text())
    step = definition["States"]["Request recovery"]
    body = (step.get("Parameters") or step["Arguments"])["MessageBody"]

    # When its fields are named as the collector reads them
    sent = {name.removesuffix(".$") for name in body}

    # Then each is a field of the contract, and none the contract requires is missing
    fields = RecoveryRequest.model_fields
    assert sent <= set(fields)
    assert {name for name, field in fields.items() if field.is_required()} <= sent
    assert body["failed_state"] in definition["States"]


def test_the_self_healing_rule_of_the_docs_is_a_rule_that_heals_itself() -> None:
    # Given / When the docs' rule in a document of its own
    rule = json.loads((SNIPPETS / "self_healing_rule.json").read_text())
    rules = parse_rules(json.dumps({"rules": [rule]}), ChannelRouting(default="C-DEFAULT"))

    # Then it is one good rule that turns self-healing on
    (parsed,) = rules.rules
    assert parsed.self_healing is True


def test_the_approval_rule_of_the_docs_is_a_rule_whose_policy_holds_what_the_page_says() -> None:
    # Given / When the docs' rule in a document of its own
    rule = json.loads((SNIPPETS / "approval_rule.json").read_text())
    rules = parse_rules(json.dumps({"rules": [rule]}), ChannelRouting(default="C-DEFAULT"))

    # Then its policy puts edits, rejects, bulk actions over 10 and Redrive under two approvals
    (parsed,) = rules.rules
    policy = parsed.approval
    assert policy is not None
    assert [a.value for a in policy.actions] == ["edit", "reject", "bulk", "redrive"]
    assert (policy.approvals, policy.bulk_over, policy.reason_required) == (2, 10, True)


# ------------------------------------------------------------- the reference pages name what the code has
def template_parameters() -> set[str]:
    return set(load_template(ROOT / "template.yaml")["Parameters"])


def environment_variables() -> set[str]:
    """Every variable the typed settings read (service/config.py is the one reader of the environment)."""
    return set(re.findall(r'alias="([A-Z_]+)"', (ROOT / "service" / "config.py").read_text()))


def test_the_settings_reference_names_every_template_parameter_and_environment_variable() -> None:
    # Given / When the settings page
    text = page("reference/settings.md")

    # Then every parameter of template.yaml and every variable of the typed settings has its row
    assert {p for p in template_parameters() if f"`{p}`" not in text} == set()
    assert {v for v in environment_variables() if f"`{v}`" not in text} == set()


def test_the_command_line_reference_names_every_command() -> None:
    # Given the commands of recovery-ops
    (subcommands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]

    # When / Then the command line page has a section for each
    text = page("reference/cli.md")
    assert {c for c in subcommands.choices if f"## `recovery-ops {c}`" not in text} == set()


def emitted_metrics() -> set[str]:
    """Metric names the code emits by literal name (the breaker's CircuitTo* and the vendor outcomes,
    named after a state or an error class, are listed by hand on the page)."""
    pattern = re.compile(r'(?:add_metric\(name=|count_by\(|measure\()\s*"([A-Za-z]+)"')
    return {
        name
        for root in ("service", "slack_app")
        for module in (ROOT / root).rglob("*.py")
        if "local" not in module.relative_to(ROOT).parts
        for name in pattern.findall(module.read_text())
    }


def test_the_metrics_reference_names_every_metric_the_code_emits() -> None:
    # Given the metrics the code emits
    metrics = emitted_metrics()
    assert {"RecoveriesOpened", "SlackPosts", "Escalations", "ReconcilerUnknown"} <= metrics

    # When / Then the metrics page names each
    text = page("reference/metrics.md")
    assert {m for m in metrics if f"`{m}`" not in text} == set()


def slash_commands() -> list[tuple[str, str]]:
    """Each `/recoveries` command of docs/snippets/*.txt: (file, what follows `/recoveries`)."""
    commands = []
    for text in sorted(SNIPPETS.glob("*.txt")):
        for line in text.read_text().splitlines():
            typed = line.split(" #", 1)[0].strip()
            assert typed.startswith("/recoveries"), f"{text.name}: not a /recoveries command: {line}"
            commands.append((text.name, typed.removeprefix("/recoveries").strip()))
    return commands


@pytest.mark.parametrize(("text", "typed"), slash_commands(), ids=lambda v: v)
def test_every_recoveries_command_in_the_docs_is_one_the_slack_app_reads(text: str, typed: str) -> None:
    # Given a `/recoveries` command the docs show, split as the Slack app splits it
    words = split_words(typed)
    verb = words[0].lower() if words and "=" not in words[0] else "list"
    rest = words[1:] if words and "=" not in words[0] else words

    # When / Then it is a verb the app knows, with words the app takes
    assert verb in {"list", "in-flight", "show", "retry", "dlq", "help"}, f"{text}: {typed}"
    if verb in {"list", "in-flight", "retry"}:
        query = RecoveryQuery.from_words(rest)  # a QueryError names what it cannot read
        assert query.narrowed or verb != "retry", f"{text}: a bulk retry needs a filter: {typed}"
    elif verb == "show":
        assert len(rest) == 1 and rest[0].startswith("rec-"), f"{text}: {typed}"
    else:
        assert rest == [], f"{text}: {typed}"


def test_the_operating_page_names_every_alarm_of_the_template() -> None:
    # Given the alarms of template.yaml (each function's pair goes by the pattern <Function>ErrorsAlarm)
    alarms = {
        name
        for name, resource in load_template(ROOT / "template.yaml")["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        and not re.fullmatch(r"\w+Function(Errors|Throttles)Alarm", name)
    }
    assert "RecoveriesInFlightTooLongAlarm" in alarms

    # When / Then the alarms table names each
    text = page("operating/index.md")
    assert "`<Function>ErrorsAlarm`, `<Function>ThrottlesAlarm`" in text
    assert {a for a in alarms if f"`{a}`" not in text} == set()


def test_the_readme_stays_short_and_every_link_in_it_reaches_a_file() -> None:
    # Given the README: the pitch, the two commands, what is here, install, and the way to the docs
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)

    # When / Then it stays about 200 lines at most, and every relative link names a file of the checkout
    assert len(readme.splitlines()) <= 200
    assert "make demo" in readme.split("## ", 1)[0] and "make test" in readme.split("## ", 1)[0]
    assert links and {link for link in links if not (ROOT / link).is_file()} == set()
