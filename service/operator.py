"""The operator at a terminal: the Slack app's actions without Slack (`recovery-ops list | show |
retry | reject | approve | deny | withdraw | approvals`).

Same core as the buttons (``RecoveryActions``, ``BulkAction``): claimed exactly once, audited
under ``cli:<user>``, dead tokens marked EXPIRED. The operator's AWS credentials are the access
control here (IAM on the recoveries table and states:SendTask*). With ``SLACK_BOT_TOKEN`` set
the recoveries' Slack messages are updated too; otherwise they keep their buttons, and a later
click is told who handled the recovery. The operator acts through the same services as the Slack app
(``recovery_ops.service.composition.build_services``), built from the typed ``OperatorSettings``.

Nothing bypasses an approval policy here either: an action a routing rule's policy covers becomes
a request (``lifecycle/approvals.py``) that says how to approve it, and nothing is sent. Requests
are decided under the same rules as in Slack, as ``cli:<user>``: nobody decides their own, and
only the policy's approvers approve or deny (its ``cli_approvers`` are named by their user name).
"""

from __future__ import annotations

import builtins
import getpass
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from recovery_ops.service import aws_clients
from recovery_ops.service.config import ConfigurationError, OperatorSettings
from recovery_ops.service.errors import RecoveryOpsError
from recovery_ops.service.recovery.access.routing_rules import Rule
from recovery_ops.service.recovery.lifecycle.actions import (
    UNCHANGED,
    ActionOutcome,
    ActionResult,
    RecoveryActions,
)
from recovery_ops.service.recovery.lifecycle.approvals import Approvals, Decision, DecisionOutcome
from recovery_ops.service.recovery.lifecycle.bulk import (
    NOT_A_PERSON,
    BulkAction,
    BulkReport,
    open_recoveries_matching,
)
from recovery_ops.service.recovery.lifecycle.in_flight import (
    InFlight,
    in_flight,
    in_flight_matching,
    longest_first,
)
from recovery_ops.service.recovery.lifecycle.query import RecoveryQuery
from recovery_ops.service.recovery.lifecycle.reconciler import HELD, UNSETTLED, Reconciler
from recovery_ops.service.recovery.lifecycle.reminders import describe_duration
from recovery_ops.service.recovery.model.approval import ApprovalRequest, ApprovalState, Gated
from recovery_ops.service.recovery.model.contract import WorkflowKind
from recovery_ops.service.recovery.model.input_edit import (
    InputProblemError,
    SchemaCatalog,
    input_diff,
    parse_edited_input,
)
from recovery_ops.service.recovery.model.recovery import Recovery, RecoveryStatus
from recovery_ops.service.recovery.model.redaction import without_tokens
from recovery_ops.service.recovery.storage.approvals import ApprovalNotFoundError
from recovery_ops.service.recovery.storage.recoveries import RecoveryNotFoundError, RecoveryStore

if TYPE_CHECKING:
    from recovery_ops.service.composition import Services

Print = Callable[[str], None]


# what a terminal would act on (escape sequences, carriage returns): dropped from recovery text
_TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(value: object) -> str:
    """Recovery text for a terminal: token fields removed, control characters dropped."""
    return _TERMINAL_CONTROL.sub("", str(without_tokens(value)))


#: the audit action of a request's first step on its recoveries (a bulk request's names each of them)
REQUEST_STEP = "request approval"


class OperationError(RecoveryOpsError, RuntimeError):
    """A request the operator must change (unknown id, invalid input, missing table name)."""


@dataclass
class Operator:
    store: RecoveryStore
    actions: RecoveryActions
    bulk: BulkAction
    actor: str
    out: Print = print
    schemas: SchemaCatalog | None = None  # the input schemas an edited input is checked against
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    reconciler: Reconciler | None = None  # settles in-flight recoveries from Step Functions' record
    #: the routing rules' approval policies and their requests (None: a deployment built without)
    approvals: Approvals | None = None
    #: the requests this operator made instead of running an action (a policy covered it)
    requested: builtins.list[ApprovalRequest] = field(default_factory=builtins.list)
    #: who the operator is to AWS (the caller's ARN, read from STS when first needed): what a
    #: policy's ``cli_approvers`` names, never the terminal's user name (anyone can set that)
    principal: Callable[[], str] | None = None

    @classmethod
    def at(
        cls,
        services: Services,
        actor: str,
        out: Print = print,
        schemas: bool = False,
        principal: Callable[[], str] | None = None,
    ) -> Operator:
        """The operator acting as ``actor`` at ``services``; with ``schemas``, edited inputs are checked
        against the services' input schemas."""
        return cls(
            services.store,
            services.actions,
            services.bulk,
            actor,
            out,
            services.schemas if schemas else None,
            reconciler=services.reconciler,
            approvals=services.approvals,
            principal=principal,
        )

    def schema_for(self, recovery_id: str) -> dict | None:
        """The JSON Schema of the recovery's failed state (None: no schemas, or none for it)."""
        if self.schemas is None:
            return None
        recovery = self._get(recovery_id)
        return self.schemas.for_state(recovery.state_machine_name, recovery.failed_state)

    # ------------------------------------------------------------------ reads
    def list(self, query: RecoveryQuery, limit: int = 50) -> list[Recovery]:
        """The open recoveries ``query`` selects, newest first, then those in flight (claimed, outcome
        not stored yet), the longest in flight first; ``--in-flight``: only those."""
        where = query.list_filter()
        if query.in_flight:
            return self._list_in_flight(query, limit)
        found = self.store.list_by_status(RecoveryStatus.OPEN, where, limit=limit)
        counted = self.store.counts(RecoveryStatus.OPEN, where)
        counts = counted.by_pair
        at_least = "" if counted.complete else "at least "
        self.out(f"{at_least}{counted.total} open recoveries ({query.describe()})")
        for (machine, error), count in counts.most_common():
            self.out(f"  {count:5d}  {printable(machine)}  {printable(error or 'unknown')}")
        for recovery in found:
            self.out(
                f"{recovery.recovery_id}  {printable(recovery.requested_at)}  "
                f"{_workflow_and_step(recovery)}  "
                f"{printable(recovery.error or 'unknown')}  {printable(recovery.execution_name)}  "
                f"owner: {printable(recovery.owner or 'nobody')}"
            )
        claims = longest_first(in_flight_matching(self.store, where))
        if claims:
            self.out(f"{len(claims)} in flight (claimed, outcome not stored yet), longest first:")
            for claim in claims[:limit]:
                self.out(self._in_flight_row(claim))
        return found

    # builtins.list: in this class, list is the list command
    def _list_in_flight(self, query: RecoveryQuery, limit: int) -> builtins.list[Recovery]:
        claims = longest_first(in_flight_matching(self.store, query.list_filter()))
        filters = query.with_status(None).describe()
        self.out(f"{len(claims)} recoveries in flight ({filters}): claimed, outcome not stored yet")
        for (machine, error), count in Counter(
            (c.recovery.state_machine_name, c.recovery.error) for c in claims
        ).most_common():
            self.out(f"  {count:5d}  {printable(machine)}  {printable(error or 'unknown')}")
        for claim in claims[:limit]:
            self.out(self._in_flight_row(claim))
        return [claim.recovery for claim in claims[:limit]]

    def _in_flight_row(self, claim: InFlight) -> str:
        recovery = claim.recovery
        return (
            f"{recovery.recovery_id}  in flight {describe_duration(claim.age(self.clock()))} "
            f"(since {claim.since.isoformat(timespec='seconds')}, claimed by "
            f"{printable(claim.claimed_by or 'someone')})  "
            f"{_workflow_and_step(recovery)}  "
            f"{printable(recovery.error or 'unknown')}  {printable(recovery.execution_name)}"
        )

    def show(self, recovery_id: str) -> Recovery:
        recovery = self._get(recovery_id)
        self.out(f"{recovery.recovery_id}  {recovery.status}")
        claim = in_flight(recovery)
        if claim is not None:
            self.out(
                f"  in flight:  {describe_duration(claim.age(self.clock()))}, since "
                f"{claim.since.isoformat(timespec='seconds')}, claimed by "
                f"{printable(claim.claimed_by or 'someone')}: its outcome is not stored yet"
            )
        self._show_waiting(recovery)
        self.out(f"  execution:  {printable(recovery.execution_arn)}")
        if recovery.kind is WorkflowKind.DURABLE:
            self.out(f"  function:   {printable(recovery.state_machine_arn)}")
        if recovery.owner:
            self.out(f"  owner:      {printable(recovery.owner)} since {printable(recovery.owned_at or '?')}")
        error = printable(recovery.error or "unknown")
        failed_at = "step" if recovery.kind is WorkflowKind.DURABLE else "failed at"
        self.out(f"  {failed_at + ':':<11} {printable(recovery.failed_state)} with {error}")
        if recovery.cause:
            cause = without_tokens(recovery.cause, (recovery.task_token,))
            self.out(f"  cause:      {printable(cause[:2000])}")
        self.out("  input:")
        shown = json.dumps(without_tokens(recovery.input), indent=2, sort_keys=True, ensure_ascii=False)
        for line in without_tokens(shown, (recovery.task_token,)).splitlines():
            self.out("    " + printable(line))
        self.out("  history:")
        for entry in recovery.audit:
            line = f"{printable(entry.at)}  {printable(entry.actor)}  {printable(entry.action)}"
            self.out(f"    {line} -> {printable(entry.result)}")
            for key, value in without_tokens(entry.detail, (recovery.task_token,)).items():
                text = value if isinstance(value, str) else json.dumps(value)
                for line in str(text).splitlines():
                    label = f"{printable(key)}: " if key != "diff" else ""
                    self.out(f"        {label}{printable(line)}")
        return recovery

    # ------------------------------------------------------------------ actions
    def retry(
        self,
        recovery_id: str,
        input_file: Path | None = None,
        schema: dict | None = None,
        reason: str | None = None,
    ) -> ActionResult:
        """Run again (with an edited input from ``input_file``); under a policy, a request instead
        (``reason`` goes with it)."""
        if input_file is None:
            result = self.actions.run_again(recovery_id, self.actor)
            return self._reported(result, Gated.RUN_AGAIN, reason=reason)
        recovery = self._get(recovery_id)
        try:
            edited = parse_edited_input(input_file.read_text(), schema)
        except InputProblemError as exc:
            raise OperationError(f"{input_file}: {exc} (nothing was sent)") from exc
        diff = input_diff(recovery.input, edited)
        result = self.actions.run_again(recovery_id, self.actor, new_input=edited, diff=diff)
        return self._reported(result, Gated.EDIT, edited, diff, reason)

    def reject(self, recovery_id: str, reason: str | None) -> ActionResult:
        result = self.actions.reject(recovery_id, self.actor, reason)
        return self._reported(result, Gated.REJECT, reason=reason)

    def retry_matching(
        self, query: RecoveryQuery, confirm: Callable[[int], bool], reason: str | None = None
    ) -> BulkReport | None:
        if query.in_flight:
            raise OperationError("recoveries in flight are being resumed already: nothing runs them again")
        if not query.narrowed:
            raise OperationError("say which recoveries: --error, --state, --machine, --since and/or --owner")
        ids = open_recoveries_matching(self.store, query.list_filter())
        if not ids:
            self.out(f"no open recovery matches {query.describe()}")
            return None
        if not confirm(len(ids)):
            self.out("cancelled: nothing was sent")
            return None
        report = self.bulk.run_again(
            ids,
            self.actor,
            reason=reason,
            requester=self._requester,
            on_progress=lambda r: self.out(f"  … {r.done}/{r.total} ({r.wall_s:.0f} s)"),
        )
        for result in report.results:
            if result.done and result.recovery is not None:
                self.actions.show(result.recovery)
        self.out(f"run again {query.describe()}: {report.summary()} in {report.wall_s:.1f} s")
        for request in report.requests:
            self.requested.append(request)
            self._how_to_decide(request)
        return report

    # ------------------------------------------------------------------ approvals
    def approve(self, request_id: str) -> int:
        """Approve a request as this operator (0: counted, or it was the last and what it approved
        ran; 1: refused, already decided, expired, or what it approved failed)."""
        decision = self._approvals().approve(request_id, self._person_for(request_id))
        self._decided(decision)
        ran = all(result.done for result in decision.results)
        return 0 if decision.outcome in (DecisionOutcome.COUNTED, DecisionOutcome.APPROVED) and ran else 1

    def deny(self, request_id: str, reason: str | None) -> int:
        """Deny a request as this operator: its recoveries stay open (0: denied, 1: not)."""
        decision = self._approvals().deny(request_id, self._person_for(request_id), reason)
        self._decided(decision)
        return 0 if decision.outcome is DecisionOutcome.DENIED else 1

    def withdraw(self, request_id: str) -> int:
        """Withdraw this operator's own request (0: withdrawn, 1: not)."""
        decision = self._approvals().withdraw(request_id, self._person_for(request_id))
        self._decided(decision)
        return 0 if decision.outcome is DecisionOutcome.WITHDRAWN else 1

    def waiting(self, mine: bool = False) -> builtins.list[ApprovalRequest]:
        """The requests waiting for this operator's approval, or (``mine``) their own waiting ones."""
        approvals = self._approvals()
        people = self._people()
        pending = approvals.store.pending()  # read once, whoever this operator is under each rule
        found: builtins.list[ApprovalRequest] = []
        for person in people:
            more = approvals.requested_by(person, pending) if mine else approvals.waiting_for(person, pending)
            found += [r for r in more if r.request_id not in {f.request_id for f in found}]
        who = ", ".join(people)
        whose = f"your requests ({who})" if mine else f"waiting for your approval ({who})"
        self.out(f"{len(found)} {whose}")
        for request in found:
            self._describe_request(request)
        return found

    def _person(self, rule_name: str | None) -> str:
        """Who this operator is under ``rule_name``'s policy: the Slack user its ``cli_approvers``
        map this AWS principal to; else ``iam:<principal>``, who may neither ask nor decide there
        (the core refuses: not an approver; asking is refused here). Without STS: the actor."""
        if self.principal is None:
            return self.actor
        arn = self.principal()
        rules = self.approvals.gate.access.rules().rules if self.approvals is not None else ()
        rule = next((r for r in rules if r.name == rule_name), None)
        mapped = rule.approval.person_at(arn) if rule is not None and rule.approval is not None else None
        return mapped or f"iam:{arn}"

    def _requester(self, rule: Rule) -> str | None:
        """Who asks for approval under ``rule``'s policy from here: a person its ``cli_approvers``
        name (None: nobody; an unnamed principal's request could be approved by the same person
        in Slack, so it is not made)."""
        person = self._person(rule.name)
        return None if self.principal is not None and person.startswith("iam:") else person

    def _person_for(self, request_id: str) -> str:
        """Who this operator is for a request: under the policy of the rule that asked for it."""
        try:
            return self._person(self._approvals().store.get(request_id).rule)
        except ApprovalNotFoundError:
            return self.actor  # the decision says it is unknown

    def _people(self) -> builtins.list[str]:
        """Everyone this operator is under some rule's policy (their own requests, their approvals)."""
        if self.principal is None or self.approvals is None:
            return [self.actor]
        people = {self._person(rule.name) for rule in self.approvals.gate.access.rules().rules}
        return sorted(people | {self._person(None)})

    def _approvals(self) -> Approvals:
        if self.approvals is None:
            raise OperationError("no approvals on this deployment")
        return self.approvals

    def _reported(
        self,
        result: ActionResult,
        gated: Gated,
        new_input: object = UNCHANGED,
        diff: str | None = None,
        reason: str | None = None,
    ) -> ActionResult:
        """The resolver's ``result``, printed; an action a policy held back becomes a request, and
        how to decide it is printed (the result's detail says whether one was made)."""
        recovery = result.recovery
        found = (
            self.approvals.gate.policy(recovery, gated)
            if result.outcome is ActionOutcome.NEEDS_APPROVAL and recovery and self.approvals
            else None
        )
        if found is None or self.approvals is None or recovery is None:
            return self._report(result)
        requester = self._requester(found[0])
        if requester is None:
            return self._report(
                ActionResult(ActionOutcome.NEEDS_APPROVAL, recovery, f"{result.detail}; {NOT_A_PERSON}")
            )
        decision = self.approvals.request(
            [recovery], gated, requester, found[0], new_input=new_input, diff=diff, reason=reason
        )
        made = decision.request is not None
        why = "a request was made" if made else f"no request was made: {decision.detail}"
        held = self._report(ActionResult(ActionOutcome.NEEDS_APPROVAL, recovery, f"{result.detail}; {why}"))
        if decision.request is not None:
            self.requested.append(decision.request)
            self._how_to_decide(decision.request)
        return held

    def _how_to_decide(self, request: ApprovalRequest) -> None:
        rid = request.request_id
        self.out(f"request {rid}: {printable(request.describe())} {printable(request.status_line())}")
        self.out(f"  approve it: recovery-ops approve {rid}")
        self.out(
            f"  (an approver denies it: recovery-ops deny {rid}; withdraw it: recovery-ops withdraw {rid})"
        )

    def _decided(self, decision: Decision) -> None:
        if decision.outcome is DecisionOutcome.NOT_FOUND:
            raise OperationError(decision.detail.replace("No request", "no request"))
        rid = decision.request.request_id if decision.request is not None else "?"
        verdict = {DecisionOutcome.REFUSED: "refused: "}.get(decision.outcome, "")
        self.out(f"request {rid}: {verdict}{printable(decision.detail)}")
        for result in decision.results:
            self._report(result)

    def _describe_request(self, request: ApprovalRequest) -> None:
        self.out(f"{request.request_id}  {printable(request.describe())}  {printable(request.status_line())}")
        self.out(f"    rule: {printable(request.rule or '?')}  expires: {printable(request.expires_at)}")
        shown = ", ".join(request.subjects[:5]) + (
            f" and {len(request.subjects) - 5} more" if len(request.subjects) > 5 else ""
        )
        self.out(f"    recoveries: {printable(shown)}")
        if request.reason:
            self.out(f"    reason: {printable(request.reason)}")
        for line in (request.diff or "").splitlines()[:40]:
            self.out(f"    {printable(line)}")

    def _show_waiting(self, recovery: Recovery) -> None:
        """The request waiting on ``recovery``: its own, or a bulk request naming it."""
        request = self._waiting_request(recovery)
        if request is None:
            return
        what = f"{printable(request.describe())} {printable(request.status_line())}"
        self.out(f"  approval:   request {request.request_id}: {what}, until {printable(request.expires_at)}")
        self.out(f"              approve it: recovery-ops approve {request.request_id}")

    def _waiting_request(self, recovery: Recovery) -> ApprovalRequest | None:
        if self.approvals is None:
            return None
        asked = next((e for e in reversed(recovery.audit) if e.action == REQUEST_STEP), None)
        request_id = (
            recovery.approval.request_id
            if recovery.approval
            else (asked.detail.get("request") if asked else None)
        )
        if not request_id:
            return None
        try:
            request = self.approvals.store.get(request_id)
        except ApprovalNotFoundError:
            return None
        return request if request.state is ApprovalState.PENDING else None

    def reconcile(self, recovery_id: str | None) -> int:
        """Settle one recovery now from Step Functions' record (0: settled or nothing to settle, 1:
        still in flight), or run the reconciler over every expired lease (0: all done, 1: more left
        or some the record could not tell)."""
        if self.reconciler is None:
            raise OperationError("no reconciler on this deployment")
        if recovery_id:
            self._get(recovery_id)
            settled = self.reconciler.settle(recovery_id, actor=self.actor)
            why = f" ({settled.why})" if settled.why else ""
            self.out(f"{recovery_id}: {settled.result.lower()}{why}")
            return 0 if settled.result not in (UNSETTLED, HELD) else 1
        report = self.reconciler.run()
        self.out(f"reconciled: {report.summary()}")
        return 0 if report.complete and not report.settled.get(UNSETTLED) else 1

    def migrate(self) -> int:
        """Move every recovery stored before lanes into them now (0: none left)."""
        from recovery_ops.service.recovery.storage.migration import migrate

        report = migrate(self.store, progress=lambda r: self.out(f"… {r.migrated} moved"))
        self.out(f"migrated: {report.summary()}")
        return 0 if report.complete else 1

    def _get(self, recovery_id: str) -> Recovery:
        try:
            return self.store.get(recovery_id)
        except RecoveryNotFoundError as exc:
            raise OperationError(f"no recovery {recovery_id}") from exc

    def _report(self, result: ActionResult) -> ActionResult:
        name = result.recovery.execution_name if result.recovery else "?"
        if result.outcome is ActionOutcome.ALREADY_HANDLED:
            self.out(f"{name}: {result.detail} by {result.handled_by or 'someone'}; nothing was sent")
        elif result.outcome in (ActionOutcome.RESUMED, ActionOutcome.REJECTED):
            self.out(f"{name}: {result.outcome.lower()}")
        elif result.outcome is ActionOutcome.NEEDS_APPROVAL:
            self.out(f"{name}: needs approval ({printable(result.detail)}): nothing was sent")
        else:
            self.out(f"{name}: {result.outcome.lower()}: {result.detail}")
        return result


def build_operator(settings: OperatorSettings, out: Print = print) -> Operator:
    """The operator on the deployment whose recoveries table ``settings`` names, as ``cli:<user>``;
    the recoveries' Slack messages are updated too when ``settings`` has a bot token."""
    from recovery_ops.service.composition import build_services, channel_pace, slack_client

    if not settings.recoveries_table_name:
        raise OperationError(
            "which deployment? pass --stack NAME, or --table (stack output RecoveriesTableName), "
            "or set RECOVERIES_TABLE_NAME"
        )
    try:
        config = settings.services_config()
    except ConfigurationError as exc:
        raise OperationError(str(exc)) from exc
    pace = channel_pace(settings, aws_clients.client("dynamodb")) if settings.slack_bot_token else None
    slack = slack_client(settings.slack_bot_token, settings.slack_api_url, pace)
    services = build_services(config, aws_clients.client, slack)
    return Operator.at(
        services,
        f"cli:{getpass.getuser()}",
        out,
        schemas=bool(settings.input_schemas_parameter),
        principal=caller_principal(aws_clients.client),
    )


def caller_principal(clients: Callable[[str], object]) -> Callable[[], str]:
    """The caller's ARN as STS names it, asked once, when an approval first needs it."""
    known: builtins.list[str] = []

    def principal() -> str:
        if not known:
            known.append(str(clients("sts").get_caller_identity()["Arn"]))  # type: ignore[attr-defined]
        return known[0]

    return principal


def _workflow_and_step(recovery: Recovery) -> str:
    """A row's "workflow / where it failed": a durable recovery says function and step."""
    name, where = printable(recovery.state_machine_name), printable(recovery.failed_state)
    if recovery.kind is WorkflowKind.DURABLE:
        return f"function {name} / step {where}"
    return f"{name} / {where}"
