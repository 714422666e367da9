"""Who may act on recoveries, and who may see them.

Per deployment. **Acting** (Run again, Edit, Reject, bulk actions, Redrive): an allow-list of
user ids and/or the members of one user group. **Seeing** (`/recoveries` lists, `show`, the DLQ
preview): everyone who may act, plus an allow-list of viewers and/or the members of a viewer
group. Recoveries carry client data (inputs, causes), so reading is guarded like acting.

Group membership is looked up (Slack's ``usergroups.users.list``) and cached for a few minutes
per group, so a burst of clicks costs one lookup. With no allow-list and no group nobody may act
or see: an ops tool that resumes payments fails closed. A membership lookup that fails also
denies, saying only that the lookup failed (``describe_failure`` gives the chat tool's error
code, never a URL or a trace); it is tried again on the next request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    why: str
    lookup_failed: bool = False  # denied because a group's members could not be checked


def describe_failure(exc: Exception) -> str:
    """What a person may be told about a failed lookup: an error code, not the request behind it."""
    response = getattr(exc, "response", None)
    code = None
    if isinstance(response, dict):  # botocore's ClientError
        code = (response.get("Error") or {}).get("Code")
    elif response is not None:  # slack_sdk's SlackApiError: SlackResponse
        try:
            code = response.get("error")
        except Exception:  # noqa: BLE001 - an odd response object: fall back to the class name
            code = None
    return str(code) if code else type(exc).__name__


@dataclass
class AccessPolicy:
    allowed_users: frozenset[str] = frozenset()
    allowed_group: str | None = None
    group_members: Callable[[str], set[str]] | None = None
    cache_seconds: float = 300.0
    everyone: bool = False  # only for a local sandbox (`recovery-ops serve --local`)
    clock: Callable[[], float] = time.monotonic
    viewer_users: frozenset[str] = frozenset()
    viewer_group: str | None = None
    _cached: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def configured(self) -> bool:
        return bool(self.allowed_users or self.allowed_group)

    def check(self, user_id: str) -> AccessDecision:
        """May ``user_id`` act (resume, edit, reject, redrive)?"""
        if self.everyone:
            return AccessDecision(True, "local sandbox: everyone may act")
        if user_id in self.allowed_users:
            return AccessDecision(True, "on the allow-list")
        if not self.allowed_group:
            if not self.configured:
                return AccessDecision(False, "no one is allowed to act yet: the deployment has no allow-list")
            return AccessDecision(False, "not on the allow-list of this deployment")
        member = self._is_member(user_id, self.allowed_group)
        if isinstance(member, AccessDecision):
            return member
        if member:
            return AccessDecision(True, f"member of user group {self.allowed_group}")
        return AccessDecision(False, "not on the allow-list and not in the allowed user group")

    def check_view(self, user_id: str) -> AccessDecision:
        """May ``user_id`` see recoveries (lists, inputs, causes, dead letters)? Those who may act may."""
        acting = self.check(user_id)
        if acting.allowed:
            return acting
        if user_id in self.viewer_users:
            return AccessDecision(True, "on the viewer list")
        if self.viewer_group:
            member = self._is_member(user_id, self.viewer_group)
            if isinstance(member, AccessDecision):
                return member
            if member:
                return AccessDecision(True, f"member of viewer group {self.viewer_group}")
        if acting.lookup_failed:
            return acting
        if not (self.configured or self.viewer_users or self.viewer_group):
            return AccessDecision(
                False, "no one is allowed to see recoveries yet: the deployment has no allow-list"
            )
        return AccessDecision(
            False, "not allowed to see recoveries (not on the allow-list or the viewer list)"
        )

    def in_audience(self, user_id: str, users: Iterable[str], group: str | None, what: str) -> AccessDecision:
        """Is ``user_id`` one of ``users`` or a member of ``group`` (``what`` names them: "the team
        of rule 'payments'")? A failed group lookup denies, marked ``lookup_failed``."""
        if user_id in users:
            return AccessDecision(True, f"named in {what}")
        if group:
            member = self._is_member(user_id, group)
            if isinstance(member, AccessDecision):
                return member
            if member:
                return AccessDecision(True, f"member of user group {group} ({what})")
        return AccessDecision(False, f"not in {what}")

    def _is_member(self, user_id: str, group: str) -> bool | AccessDecision:
        try:
            return user_id in self._members(group)
        except Exception as exc:  # noqa: BLE001 - any lookup failure denies, with the error's code only
            return AccessDecision(
                False,
                f"the members of user group {group} could not be checked ({describe_failure(exc)})",
                lookup_failed=True,
            )

    def _members(self, group: str) -> frozenset[str]:
        with self._lock:
            now = self.clock()
            cached = self._cached.get(group)
            if cached and now - cached[0] < self.cache_seconds:
                return cached[1]
            if self.group_members is None:
                return frozenset()
            members = frozenset(self.group_members(group))
            self._cached[group] = (now, members)
            return members
