"""Who may act on recoveries: an allow-list of user ids and/or the members of one user group.

Per deployment. Group membership is looked up (Slack's ``usergroups.users.list``) and cached for
a few minutes, so a burst of clicks costs one lookup. With neither an allow-list nor a group
configured nobody may act: an ops tool that resumes payments fails closed. A membership lookup
that fails also denies (and says why); it is tried again on the next click.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AccessDecision:
    allowed: bool
    why: str


@dataclass
class AccessPolicy:
    allowed_users: frozenset[str] = frozenset()
    allowed_group: str | None = None
    group_members: Callable[[str], set[str]] | None = None
    cache_seconds: float = 300.0
    everyone: bool = False  # only for a local sandbox (`recovery-ops serve --local`)
    clock: Callable[[], float] = time.monotonic
    _cached: tuple[float, frozenset[str]] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def configured(self) -> bool:
        return bool(self.allowed_users or self.allowed_group)

    def check(self, user_id: str) -> AccessDecision:
        if self.everyone:
            return AccessDecision(True, "local sandbox: everyone may act")
        if user_id in self.allowed_users:
            return AccessDecision(True, "on the allow-list")
        if not self.allowed_group:
            if not self.configured:
                return AccessDecision(False, "no one is allowed to act yet: the deployment has no allow-list")
            return AccessDecision(False, "not on the allow-list of this deployment")
        try:
            members = self._members()
        except Exception as exc:  # noqa: BLE001 - any lookup failure denies, with the reason
            return AccessDecision(False, f"could not check the user group's members ({exc})")
        if user_id in members:
            return AccessDecision(True, f"member of user group {self.allowed_group}")
        return AccessDecision(False, "not on the allow-list and not in the allowed user group")

    def _members(self) -> frozenset[str]:
        with self._lock:
            now = self.clock()
            if self._cached and now - self._cached[0] < self.cache_seconds:
                return self._cached[1]
            if self.group_members is None or self.allowed_group is None:
                return frozenset()
            members = frozenset(self.group_members(self.allowed_group))
            self._cached = (now, members)
            return members
