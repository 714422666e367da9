"""An approval request: an action under a policy, waiting for other people's approval.

A request names what it would do (one action on a named set of subjects: one recovery, the
recoveries of a bulk action, a failed execution, a DLQ) and exactly what (an edit's input, kept
with its digest), who asked, how many approvals it needs and from whom, and until when it waits.
Its states:

    PENDING ──(the last approval)──► APPROVED ──(the action ran)──► DONE
       ├──(an approver denies)──► DENIED
       ├──(the requester withdraws)──► WITHDRAWN
       └──(nobody decided in time)──► EXPIRED

APPROVED is an intermediate state with a lease, like a claim: the approver whose approval completed
the request runs the action; if that process is gone when the lease ends, the reconciler runs it
(the resolver's own claim keeps it exactly once). Every step is audited on each subject.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ApprovalState(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"  # complete; the action runs under a lease
    DONE = "DONE"
    DENIED = "DENIED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"

    @property
    def is_final(self) -> bool:
        return self in (
            ApprovalState.DONE,
            ApprovalState.DENIED,
            ApprovalState.WITHDRAWN,
            ApprovalState.EXPIRED,
        )


class Gated(StrEnum):
    """The actions a policy may put under approval (the routing rules' ``approval.actions``)."""

    RUN_AGAIN = "run_again"
    EDIT = "edit"
    REJECT = "reject"
    BULK = "bulk"  # a bulk action over the policy's ``bulk_over`` recoveries
    REDRIVE = "redrive"  # Redrive of a failed execution
    DLQ_REDRIVE = "dlq_redrive"


#: the audit results of a request's steps (each written on every subject's audit)
REQUESTED = "APPROVAL_PENDING"
APPROVED = "APPROVED"
DENIED_REQUEST = "APPROVAL_DENIED"
WITHDRAWN = "APPROVAL_WITHDRAWN"
EXPIRED_REQUEST = "APPROVAL_EXPIRED"

#: the resolver's action names, by what a request does
ACTION_OF = {
    Gated.RUN_AGAIN: "run again",
    Gated.EDIT: "edit and run again",
    Gated.REJECT: "reject",
    Gated.REDRIVE: "redrive",
    Gated.DLQ_REDRIVE: "dlq redrive",
}


def input_digest(value: Any) -> str:
    """The digest of an edit's input, as approved (canonical JSON: key order does not matter)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Approval:
    """One approver's approval."""

    user: str
    at: str


@dataclass
class ApprovalRequest:
    request_id: str
    action: Gated  # what runs once approved (BULK is a size, not an action: ``bulk_of`` says which)
    subjects: list[str]  # recovery ids (or a failure id, a queue's name)
    requested_by: str
    requested_at: str
    expires_at: str  # when it stops waiting (ISO 8601, UTC)
    needed: int
    approver_ids: tuple[str, ...] = ()
    approver_group: str | None = None
    rule: str | None = None  # the routing rule whose policy asked for it
    reason: str | None = None  # the requester's
    has_input: bool = False  # an edit: ``new_input`` is exactly what runs
    new_input: Any = None
    digest: str | None = None
    diff: str | None = None
    bulk: bool = False  # asked for because a bulk action was over the policy's size
    state: ApprovalState = ApprovalState.PENDING
    approvals: list[Approval] = field(default_factory=list)
    decided_by: str | None = None  # who denied, withdrew (or the reconciler that expired it)
    decision_reason: str | None = None
    lease_owner: str | None = None  # APPROVED: the process running the action
    lease_until: str | None = None
    channel: str | None = None  # where the request was posted (a recovery's message, or its own)
    ts: str | None = None
    results: dict[str, str] = field(default_factory=dict)  # DONE: each subject's outcome

    @property
    def approved_by(self) -> list[str]:
        return [a.user for a in self.approvals]

    @property
    def missing(self) -> int:
        return max(0, self.needed - len(self.approvals))

    @property
    def resolver_action(self) -> str:
        return ACTION_OF.get(self.action, str(self.action))

    def describe(self) -> str:
        """``edit and run again of 3 recoveries by U1``: what waits, for people."""
        what = self.resolver_action
        count = len(self.subjects)
        of = f" of {count} recoveries" if self.bulk or count > 1 else ""
        return f"{what}{of} by {self.requested_by}"

    def status_line(self) -> str:
        """``waits for 1 more approval (approved by U2)`` and the like."""
        if self.state is ApprovalState.PENDING:
            more = self.missing
            line = f"waits for {more} more approval{'s' if more != 1 else ''}"
        else:
            line = {
                ApprovalState.APPROVED: "approved: running",
                ApprovalState.DONE: "approved and run",
                ApprovalState.DENIED: f"denied by {self.decided_by}",
                ApprovalState.WITHDRAWN: f"withdrawn by {self.decided_by}",
                ApprovalState.EXPIRED: "expired before enough people approved",
            }[self.state]
        if self.approvals:
            line += f" (approved by {', '.join(self.approved_by)})"
        return line


@dataclass(frozen=True)
class PendingApproval:
    """What a recovery's own item says of the request waiting on it (its message shows it)."""

    request_id: str
    action: str  # the resolver's action name
    requested_by: str
    needed: int
    approved_by: tuple[str, ...] = ()
    expires_at: str = ""
    diff: str | None = None

    @property
    def missing(self) -> int:
        return max(0, self.needed - len(self.approved_by))

    @classmethod
    def of(cls, request: ApprovalRequest, diff_limit: int = 2000) -> PendingApproval:
        return cls(
            request.request_id,
            request.resolver_action,
            request.requested_by,
            request.needed,
            tuple(request.approved_by),
            request.expires_at,
            (request.diff or "")[:diff_limit] or None,
        )


#: the actions whose subjects are not recoveries: a failure id, a DLQ's audit item (``dlq#<name>``)
NOT_ON_RECOVERIES = frozenset({Gated.REDRIVE, Gated.DLQ_REDRIVE})


@dataclass(frozen=True)
class Held:
    """A Redrive or a DLQ redrive a policy held back: nothing ran. ``request_id``: the request made
    (or the one already waiting); None when none could be made (a reason missing, the store
    refused). ``detail`` is what the person is told."""

    detail: str
    request_id: str | None = None
    new: bool = False  # the request was made now (not one already waiting)


def not_approved_for(request: ApprovalRequest, gated: Gated, subject: str) -> str | None:
    """Why ``request`` does not allow ``gated`` on ``subject`` now (None: it does). An action that
    is not a recovery's runs with its approved request in hand, never on a guess."""
    if request.state is not ApprovalState.APPROVED:
        return f"the request is {request.state.lower()}, not approved"
    if request.action is not gated:
        return f"the request approved {request.resolver_action}, not {ACTION_OF[gated]}"
    if subject not in request.subjects:
        return f"the approved request does not name {subject}"
    return None
