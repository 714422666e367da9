"""Routing rules as data: which channel a recovery goes to, which team may act on it, who may see
it and how it escalates, as an ordered list of rules in one JSON document.

    {"rules": [
      {"name": "payments-data",
       "match": {"state_machine": "*-Payments*", "routing": "client-data"},
       "channel": "C0PAYDATA",
       "team": {"user_group": "S0PAYDATA", "user_ids": ["U0LEAD"]},
       "viewers": {"user_group": "S0SUPPORT"},
       "escalation": [{"after_minutes": 30, "mention_user_group": "S0PAYLEADS"},
                      {"after_minutes": 120, "mention_user_group": "S0ONCALL", "channel": "C0INCIDENT"}]}
    ]}

A rule's ``match`` may name ``state_machine`` (its name or its ARN: Step Functions recoveries only),
``function`` (a durable function's name or ARN: durable recoveries only), ``failed_state`` (a
durable recovery's step) and ``error``, each a shell-style pattern (``fnmatch``: ``*``, ``?``,
``[...]``, case-sensitive), and ``routing`` (``technical`` or ``client-data``); a recovery matches
when every field given matches.
An empty ``match`` matches every recovery, so only the last rule may have one. The first rule
that matches decides; when none does, the fallback decides as before rules existed (the stack's
technical / client-data channel, else its default channel), and the decision says so.

The collector posts to the rule's ``channel``; the Slack app lets the rule's ``team`` act and its
``viewers`` see (``team_access``), beside the stack's ``SlackAllowed…`` admins; the reminders run
its ``escalation`` ladder (``escalation``); self-healing resumes its outage recoveries when
``self_healing`` says so, its pace ramping up to ``self_healing_max_per_second`` at most.

``parse_rules`` refuses a document with ``RulesRefusedError``, whose ``problems`` name every problem
(where and what), not only the first. ``RoutingRulesSource`` reads the document through a loader
(on AWS: an SSM parameter read through Powertools' cache) and keeps routing with the last good
document when a new one is refused.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.model.approval import Gated
from recovery_ops.service.recovery.model.contract import Routing, WorkflowKind
from recovery_ops.service.recovery.model.recovery import workflow_kind
from recovery_ops.service.recovery.ports.notifier import ChannelRouting

MATCH_FIELDS = ("state_machine", "function", "failed_state", "error", "routing")
#: the match field that names each kind's workflow (a state machine's, a durable function's)
WORKFLOW_FIELDS = {WorkflowKind.STEP_FUNCTIONS: "state_machine", WorkflowKind.DURABLE: "function"}
USER_GROUP_ID = r"^S[A-Z0-9]{2,20}$"  # a Slack user group's id (S…), as its mention needs it
USER_ID = r"^[UW][A-Z0-9]{2,20}$"  # a Slack user's id
#: an AWS principal as STS's GetCallerIdentity names it (an IAM user or role, an assumed role's session)
IAM_PRINCIPAL = r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role|federated-user)/.+$"


class RulesRefusedError(RecoveryOpsError, ValueError):
    """A routing rules document that cannot be used; ``problems``: every one, as ``where: what``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Audience(_Strict):
    """People named in Slack: the members of a user group (``S…``) and/or single users (``U…``)."""

    user_group: str | None = Field(default=None, pattern=USER_GROUP_ID)
    user_ids: tuple[Annotated[str, Field(pattern=USER_ID)], ...] = ()

    def describe(self) -> str:
        parts = ([f"group {self.user_group}"] if self.user_group else []) + list(self.user_ids)
        return ", ".join(parts) or "nobody"


class EscalationLevel(_Strict):
    """After ``after_minutes`` open, mention ``mention_user_group`` (in ``channel``, else the rule's)."""

    after_minutes: int = Field(gt=0)
    mention_user_group: str = Field(pattern=USER_GROUP_ID)
    channel: str | None = Field(default=None, min_length=1)


class ApprovalPolicy(_Strict):
    """Which actions on the rule's recoveries need other people's approval, how many, from whom.

    ``actions``: ``edit``, ``run_again``, ``reject``, ``bulk`` (a bulk action over ``bulk_over``
    recoveries), ``redrive`` (a failed execution's Redrive), ``dlq_redrive``. Nobody approves their
    own request; a request not decided within ``expires_after_minutes`` expires."""

    actions: tuple[Gated, ...] = Field(min_length=1)
    approvals: int = Field(default=1, ge=1, le=5, strict=True)
    approvers: Audience
    reason_required: StrictBool = False
    expires_after_minutes: int = Field(default=24 * 60, gt=0, le=7 * 24 * 60, strict=True)
    bulk_over: int | None = Field(default=None, ge=1, strict=True)
    #: who may also decide from the command line (`recovery-ops approve`): the AWS principal (the
    #: caller's ARN, as STS names it) → the Slack user it is. A decision from that principal counts
    #: as that person's, so nobody approves their own request from the other side, and a principal
    #: named nowhere decides nothing. A terminal's user name is never an identity: anyone can set it
    cli_approvers: dict[
        Annotated[str, Field(pattern=IAM_PRINCIPAL)], Annotated[str, Field(pattern=USER_ID)]
    ] = Field(default_factory=dict)

    def covers(self, gated: Gated) -> bool:
        """An edit is a Run again with another input: a policy on ``run_again`` covers it too (an
        "edit" that changes nothing must not run what Run again may not)."""
        return gated in self.actions or (gated is Gated.EDIT and Gated.RUN_AGAIN in self.actions)

    def approver_ids(self) -> tuple[str, ...]:
        """The Slack users a request's approvers are named as (a command-line principal decides as
        the user it is mapped to: ``person_at``)."""
        return self.approvers.user_ids

    def person_at(self, principal: str) -> str | None:
        """The Slack user an AWS principal deciding from the command line is (None: not named)."""
        return self.cli_approvers.get(principal)

    def describe(self) -> str:
        what = ", ".join(
            f"bulk over {self.bulk_over}" if a is Gated.BULK else a.value.replace("_", " ")
            for a in self.actions
        )
        reason = "; a reason is required" if self.reason_required else ""
        return (
            f"{what} need{'s' if len(self.actions) == 1 else ''} {self.approvals} approval"
            f"{'s' if self.approvals != 1 else ''} from {self.who()}"
            " (never the requester's own)"
            f"{reason}; a request expires after {self.expires_after_minutes} minutes"
        )

    def who(self) -> str:
        """Who approves, for people: the Slack users and group named, and the command line's."""
        if not self.cli_approvers:
            return self.approvers.describe()
        count = len(self.cli_approvers)
        cli = f"{count} AWS principal{'s' if count != 1 else ''} on the command line, as the users they are"
        return f"{self.approvers.describe()}; {cli}"


class RuleMatch(_Strict):
    """What a recovery must have for the rule to apply; a field left out matches anything."""

    state_machine: str | None = Field(default=None, min_length=1)  # Step Functions recoveries only
    function: str | None = Field(default=None, min_length=1)  # durable functions' recoveries only
    failed_state: str | None = Field(default=None, min_length=1)
    error: str | None = Field(default=None, min_length=1)
    routing: Routing | None = None

    def reasons(
        self, state_machine_arn: str, failed_state: str, error: str | None, routing: Routing
    ) -> list[str] | None:
        """Why each given field matches (``field 'pattern' matches 'value'``), or None when one does not.
        ``state_machine_arn`` is a durable recovery's function's ARN: ``function`` matches it,
        ``state_machine`` never does (and the other way round for a Step Functions recovery)."""
        name = state_machine_arn.rsplit(":", 1)[-1]
        kind = workflow_kind(state_machine_arn)
        reasons: list[str] = []
        for workflow, field_name in WORKFLOW_FIELDS.items():
            pattern = getattr(self, field_name)
            if pattern is None:
                continue
            if workflow is not kind:
                return None
            hit = next((v for v in (name, state_machine_arn) if fnmatchcase(v, pattern)), None)
            if hit is None:
                return None
            reasons.append(f"{field_name} {pattern!r} matches {hit!r}")
        for label, pattern, value in (
            ("failed_state", self.failed_state, failed_state),
            ("error", self.error, error),
        ):
            if pattern is None:
                continue
            if value is None or not fnmatchcase(value, pattern):
                return None
            reasons.append(f"{label} {pattern!r} matches {value!r}")
        if self.routing is not None:
            if self.routing is not routing:
                return None
            reasons.append(f"routing is {routing.value}")
        return reasons

    def describe(self) -> str:
        given = [
            f"{name}={getattr(self, name).value if name == 'routing' else getattr(self, name)}"
            for name in MATCH_FIELDS
            if getattr(self, name) is not None
        ]
        return " ".join(given) or "every recovery"


class Rule(_Strict):
    """One rule: what it matches and what it decides."""

    name: str = Field(min_length=1)
    match: RuleMatch = RuleMatch()
    channel: str = Field(min_length=1)
    team: Audience | None = None  # who may act, beside the admins (None: only the admins)
    viewers: Audience | None = None  # who may only see
    escalation: tuple[EscalationLevel, ...] = ()  # mentions while nobody owns it (empty: none)
    #: resume its outage recoveries by themselves once their circuit closes and stays closed
    #: (None: the stack's ``SelfHealingByDefault``)
    self_healing: StrictBool | None = None  # true or false, never "yes" or 1
    #: the most resumes a second self-healing ramps up to for its recoveries (None: the stack's
    #: ``SelfHealingResumesPerSecond``); at most Step Functions' SendTask* refill rate
    self_healing_max_per_second: float | None = Field(default=None, gt=0, le=500, strict=True)
    #: the actions that need other people's approval (None: none, as before policies existed)
    approval: ApprovalPolicy | None = None


@dataclass(frozen=True)
class RouteDecision:
    """Where a recovery goes and why: the rule that matched (None: the fallback) and its reasons."""

    channel: str
    rule: Rule | None
    reasons: tuple[str, ...]
    kept_last_good: bool = False  # the newest document was refused; an earlier good one decided

    @property
    def by_fallback(self) -> bool:
        return self.rule is None

    def explain(self) -> str:
        if self.rule is None:
            why = "no rule matched: the fallback decides, " + "; ".join(self.reasons)
        else:
            why = f"rule {self.rule.name!r} matched: " + "; ".join(
                self.reasons or ("it matches every recovery",)
            )
        if self.kept_last_good:
            why += " (the newest rules document was refused; the last good one decided)"
        return f"{self.channel}: {why}"


@dataclass(frozen=True)
class RoutingRules:
    """An ordered list of rules over the fallback (the stack's channel parameters)."""

    rules: tuple[Rule, ...]
    fallback: ChannelRouting

    def route(
        self, state_machine_arn: str, failed_state: str, error: str | None, routing: Routing | str
    ) -> RouteDecision:
        """The first rule that matches decides; none: the fallback, by ``routing``."""
        routing = Routing(routing)
        for rule in self.rules:
            reasons = rule.match.reasons(state_machine_arn, failed_state, error, routing)
            if reasons is not None:
                return RouteDecision(rule.channel, rule, tuple(reasons))
        return RouteDecision(
            self.fallback.channel_for(routing), None, (fallback_reason(self.fallback, routing),)
        )


def fallback_reason(fallback: ChannelRouting, routing: Routing) -> str:
    """Which stack parameter the fallback's channel comes from for ``routing``."""
    own, parameter = (
        (fallback.technical, "SlackTechnicalChannel")
        if routing is Routing.TECHNICAL
        else (fallback.client_data, "SlackClientDataChannel")
    )
    if own:
        return f"routing is {routing.value}: {parameter}"
    return f"routing is {routing.value} and {parameter} is not set: SlackDefaultChannel"


def parse_rules(text: str | None, fallback: ChannelRouting) -> RoutingRules:
    """The rules of a JSON document ``{"rules": [...]}`` (or the bare list) over ``fallback``.

    An empty text, ``[]``, ``{}`` or ``{"rules": []}`` has no rules: the fallback decides alone.
    Raises ``RulesRefusedError`` naming every problem found."""
    if text is None or not text.strip():
        return RoutingRules((), fallback)
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise RulesRefusedError([f"document: not JSON: {exc}"]) from exc
    problems: list[str] = []
    raw_rules = _rules_of(document, problems)
    rules: list[Rule] = []
    for index, raw in enumerate(raw_rules):
        where = f"rules[{index}]"
        try:
            rules.append(Rule.model_validate(raw))
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, where))
        problems.extend(_rule_problems(raw, where, last=index == len(raw_rules) - 1))
    problems.extend(_duplicate_names(raw_rules))
    if problems:
        raise RulesRefusedError(problems)
    return RoutingRules(tuple(rules), fallback)


def _rules_of(document: Any, problems: list[str]) -> list[Any]:
    if isinstance(document, list):
        return document
    if not isinstance(document, dict):
        problems.append('document: must be an object {"rules": [...]} (or the list of rules)')
        return []
    problems.extend(
        f"{key}: unknown field (the document has only rules)" for key in document if key != "rules"
    )
    rules = document.get("rules", [])
    if not isinstance(rules, list):
        problems.append("rules: must be a list of rules")
        return []
    return rules


def _pydantic_problems(exc: ValidationError, where: str) -> list[str]:
    problems = []
    for error in exc.errors(include_input=False):
        path = where + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"])
        kind = error["type"]
        if kind == "enum" and "actions" in error["loc"]:
            what = "must be one of " + ", ".join(g.value for g in Gated)
        elif kind == "enum":
            what = "must be " + " or ".join(r.value for r in Routing)
        elif kind == "extra_forbidden":
            what = "unknown field"
        elif kind == "missing":
            what = "required"
        elif kind == "less_than_equal" and error["loc"][-1:] == ("self_healing_max_per_second",):
            what = "must be at most 500 a second (Step Functions' SendTask* refill rate)"
        elif kind == "string_pattern_mismatch":
            what = {
                USER_GROUP_ID: "must be a Slack user group id (S…, as in its URL), not its name",
                IAM_PRINCIPAL: "must be an AWS principal's ARN, as `aws sts get-caller-identity` shows it",
            }.get(error["ctx"]["pattern"], "must be a Slack user id (U… or W…), not a name")
        else:
            what = error["msg"][:1].lower() + error["msg"][1:]
        problems.append(f"{path}: {what}")
    return problems


def _rule_problems(raw: Any, where: str, last: bool) -> list[str]:
    """What a rule's shape alone cannot say: an empty match before the last rule, escalation order."""
    if not isinstance(raw, dict):
        return []  # pydantic said it must be an object
    problems = []
    match = raw.get("match", {})
    if isinstance(match, dict) and not any(match.get(name) is not None for name in MATCH_FIELDS) and not last:
        problems.append(
            f"{where}.match: empty, so it matches every recovery and the rules after it are never "
            "reached (only the last rule may match everything)"
        )
    if isinstance(match, dict) and all(match.get(name) is not None for name in WORKFLOW_FIELDS.values()):
        problems.append(
            f"{where}.match: names both state_machine and function, so it matches no recovery (a "
            "recovery is a state machine's or a durable function's): write a rule for each"
        )
    if raw.get("self_healing") is False and raw.get("self_healing_max_per_second") is not None:
        problems.append(
            f"{where}.self_healing_max_per_second: has no effect, the rule does not heal itself "
            '("self_healing": false)'
        )
    problems.extend(_approval_problems(raw.get("approval"), f"{where}.approval"))
    levels = raw.get("escalation")
    if isinstance(levels, list):
        minutes = [
            (i, level["after_minutes"])
            for i, level in enumerate(levels)
            if isinstance(level, dict) and type(level.get("after_minutes")) is int
        ]
        for (_, before), (i, after) in zip(minutes, minutes[1:], strict=False):
            if after <= before:
                problems.append(
                    f"{where}.escalation[{i}].after_minutes: must be more than the level before it "
                    f"({after} after {before})"
                )
    return problems


def _approval_problems(raw: Any, where: str) -> list[str]:
    """What a policy's shape alone cannot say: ``bulk`` and ``bulk_over`` go together, and enough
    approvers must exist for the approvals it needs (nobody approves their own request)."""
    if not isinstance(raw, dict):
        return []
    problems = []
    actions: list[Any] = raw["actions"] if isinstance(raw.get("actions"), list) else []
    if "bulk" in actions and raw.get("bulk_over") is None:
        problems.append(f"{where}.bulk_over: required with the bulk action (over how many recoveries)")
    if raw.get("bulk_over") is not None and "bulk" not in actions:
        problems.append(f"{where}.bulk_over: has no effect without the bulk action in actions")
    approvers = raw.get("approvers")
    needed = raw.get("approvals", 1)
    if isinstance(approvers, dict) and type(needed) is int:
        users = approvers.get("user_ids") or []
        cli = raw.get("cli_approvers") or {}
        if isinstance(cli, dict) and isinstance(users, list) and not approvers.get("user_group"):
            problems += [
                f"{where}.cli_approvers[{principal!r}]: {user!r} is not one of the approvers' user_ids"
                for principal, user in cli.items()
                if user not in users
            ]
        if not approvers.get("user_group") and isinstance(users, list):
            if not users:
                problems.append(f"{where}.approvers: names nobody (a user_group or user_ids)")
            elif len(set(users)) < needed:
                problems.append(
                    f"{where}.approvals: {needed} approvals from {len(set(users))} named approvers can never "
                    "be given: name more approvers (or a user_group)"
                )
    return problems


def _duplicate_names(raw_rules: Iterable[Any]) -> list[str]:
    first: dict[str, int] = {}
    problems = []
    for index, raw in enumerate(raw_rules):
        name = raw.get("name") if isinstance(raw, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            problems.append(f"rules[{index}].name: {name!r} is already the name of rules[{first[name]}]")
        else:
            first[name] = index
    return problems


@dataclass
class RoutingRulesSource:
    """The rules in force, read through ``load`` (the document's text; None: there is none).

    ``load`` does the caching (on AWS Powertools Parameters' ``max_age``): each call of ``rules``
    asks it, and parses only a text it has not seen. A refused document is logged once, as one
    error naming every problem, and the last good rules keep deciding (``refusal`` says why, and
    each decision is marked ``kept_last_good``); with no good document yet, the fallback decides
    alone. A loader that fails with ``RulesUnavailableError`` is treated the same way."""

    load: Callable[[], str | None]
    fallback: ChannelRouting
    log: Callable[..., None] | None = None  # (message, problems=[...]); default: the service logger's error
    refusal: RulesRefusedError | None = None  # why the newest document is not in force (None: it is)
    _good: RoutingRules | None = None
    _good_text: str | None = None
    _refused_text: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def rules(self) -> RoutingRules:
        """The rules in force now: the newest document, else the last good one, else none."""
        return self._current()[0]

    def route(
        self, state_machine_arn: str, failed_state: str, error: str | None, routing: Routing | str
    ) -> RouteDecision:
        """``RoutingRules.route`` with the rules in force, marked when a refused document was passed over."""
        rules, kept = self._current()
        decision = rules.route(state_machine_arn, failed_state, error, routing)
        return RouteDecision(decision.channel, decision.rule, decision.reasons, kept_last_good=kept)

    def _current(self) -> tuple[RoutingRules, bool]:
        with self._lock:
            try:
                text = self.load()
            except RulesUnavailableError as exc:
                self._refused_text = None  # whatever is read next is judged afresh
                self._refuse(RulesRefusedError([f"document: could not be read: {exc}"]))
                return self._kept()
            if self._good is not None and text == self._good_text:
                self.refusal = self._refused_text = None
                return self._good, False
            if self.refusal is not None and self._refused_text is not None and text == self._refused_text:
                return self._kept()
            try:
                parsed = parse_rules(text, self.fallback)
            except RulesRefusedError as refused:
                self._refused_text = text
                self._refuse(refused)
                return self._kept()
            self._good, self._good_text, self.refusal, self._refused_text = parsed, text, None, None
            return parsed, False

    def _refuse(self, refused: RulesRefusedError) -> None:
        if self.refusal is not None and self.refusal.problems == refused.problems:
            return  # told already
        self.refusal = refused
        (self.log or _log_error)(
            "routing rules refused: the last good rules keep routing"
            if self._good is not None
            else "routing rules refused: the stack's channels route until a good document arrives",
            problems=refused.problems,
        )

    def _kept(self) -> tuple[RoutingRules, bool]:
        if self._good is not None:
            return self._good, True
        return RoutingRules((), self.fallback), False


class RulesUnavailableError(RecoveryOpsError, RuntimeError):
    """The rules document could not be read (the parameter store refused or did not answer)."""


def _log_error(message: str, **keys: Any) -> None:
    from recovery_ops.service.observability import logger

    logger.error(message, **keys)
