"""Who may act on, and see, one recovery: its routing rule's team, over the deployment's admins.

The routing rule a recovery matches *now* (``routing_rules``: a rule changed in the parameter
store decides within its cache period, no redeploy) names a ``team`` that may act and
``viewers`` who may only see. The deployment's allow-list (``SlackAllowed…``) are the admins: they
may act on every recovery; its viewer list (``SlackViewer…``) may see every one. So:

- **act** (Run again, Edit, Reject, Take it, bulk): an admin, or one of the rule's team;
- **see** (``show``, the list, the Home tab): those, the rule's viewers, the deployment's viewers;
- a recovery no rule matches (the fallback) is the admins' alone, as before rules existed.

Everyone else is denied, with the reason (the caller audits it). A team's user group is looked
up through the policy's cache, like the allow-list's group; a failed lookup denies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar, cast

from recovery_ops.service.recovery.access.authorization import AccessDecision, AccessPolicy
from recovery_ops.service.recovery.access.routing_rules import Audience, RoutingRules, Rule
from recovery_ops.service.recovery.model.contract import Routing
from recovery_ops.service.recovery.model.recovery import Recovery

T = TypeVar("T")


@dataclass(frozen=True)
class _Cell:
    """What the routing rules read of a recovery, as a counter's cell holds it."""

    state_machine_arn: str
    failed_state: str
    error: str | None
    routing: Routing


@dataclass(frozen=True)
class Selection:
    """What a person may act on (or see) out of a selection, and how many were left out."""

    allowed: list[Recovery]
    left_out: int

    def describe_left_out(self, verb: str = "act on") -> str:
        if not self.left_out:
            return ""
        noun = "recovery" if self.left_out == 1 else "recoveries"
        return f"{self.left_out} {noun} left out: you may not {verb} them (another team's)"


@dataclass
class TeamAccess:
    policy: AccessPolicy  # the deployment's admins and viewers
    rules: Callable[[], RoutingRules]  # the rules in force (``RoutingRulesSource.rules``)

    def rule_for(self, recovery: Recovery, rules: RoutingRules | None = None) -> Rule | None:
        """The rule ``recovery`` matches under the rules in force (None: the fallback)."""
        return (
            (rules or self.rules())
            .route(recovery.state_machine_arn, recovery.failed_state, recovery.error, recovery.routing)
            .rule
        )

    def is_admin(self, user_id: str) -> AccessDecision:
        return self.policy.check(user_id)

    def may_act(self, user_id: str, recovery: Recovery, rules: RoutingRules | None = None) -> AccessDecision:
        admin = self.policy.check(user_id)
        if admin.allowed:
            return admin
        rule = self.rule_for(recovery, rules)
        if rule is None or rule.team is None:
            return _denied_for(admin, "only the deployment's admins may act on it", rule)
        on_team = self._in(user_id, rule.team, f"the team of rule {rule.name!r}")
        if on_team.allowed or on_team.lookup_failed:
            return on_team
        return _denied_for(admin, f"not on the team of rule {rule.name!r} and not an admin", rule)

    def may_see(self, user_id: str, recovery: Recovery, rules: RoutingRules | None = None) -> AccessDecision:
        everywhere = self.policy.check_view(user_id)
        if everywhere.allowed:
            return everywhere
        rules = rules or self.rules()
        acting = self.may_act(user_id, recovery, rules)
        if acting.allowed:
            return acting
        rule = self.rule_for(recovery, rules)
        if rule is not None and rule.viewers is not None:
            viewer = self._in(user_id, rule.viewers, f"the viewers of rule {rule.name!r}")
            if viewer.allowed or viewer.lookup_failed:
                return viewer
        if acting.lookup_failed:
            return acting
        return AccessDecision(False, "not allowed to see this recovery (not on its team, not a viewer)")

    def may_see_some(self, user_id: str) -> AccessDecision:
        """May ``user_id`` list recoveries at all: a deployment admin or viewer, or on any rule's
        team or viewers (the list then shows only theirs)."""
        everywhere = self.policy.check_view(user_id)
        if everywhere.allowed or everywhere.lookup_failed:
            return everywhere
        for rule in self.rules().rules:
            for audience, what in ((rule.team, "team"), (rule.viewers, "viewers")):
                if audience is None:
                    continue
                found = self._in(user_id, audience, f"the {what} of rule {rule.name!r}")
                if found.allowed or found.lookup_failed:
                    return found
        return everywhere

    def may_act_on_some(self, user_id: str) -> AccessDecision:
        """May ``user_id`` start a bulk action at all: an admin, or on any rule's team (the action
        then takes only the recoveries they may act on)."""
        admin = self.policy.check(user_id)
        if admin.allowed or admin.lookup_failed:
            return admin
        for rule in self.rules().rules:
            if rule.team is not None:
                found = self._in(user_id, rule.team, f"the team of rule {rule.name!r}")
                if found.allowed or found.lookup_failed:
                    return found
        return admin

    def may_see_cell(self, user_id: str, cell: Mapping[str, str], rules: RoutingRules | None = None) -> bool:
        """May ``user_id`` see the recoveries a counter's ``cell`` counts (the rules match on what
        the cell holds: the state machine, the failed state, the error, the routing)."""
        shape = _Cell(
            cell["state_machine_arn"], cell["failed_state"], cell["error"] or None, Routing(cell["routing"])
        )
        return self.may_see(user_id, cast(Recovery, shape), rules).allowed

    def sees_everything(self, user_id: str) -> bool:
        return self.policy.check_view(user_id).allowed

    def actable(self, user_id: str, recoveries: Iterable[Recovery]) -> Selection:
        """The recoveries ``user_id`` may act on, and how many were left out."""
        return self._select(recoveries, lambda r, rules: self.may_act(user_id, r, rules))

    def visible(self, user_id: str, recoveries: Iterable[Recovery]) -> Selection:
        if self.sees_everything(user_id):
            listed = list(recoveries)
            return Selection(listed, 0)
        return self._select(recoveries, lambda r, rules: self.may_see(user_id, r, rules))

    def _select(
        self, recoveries: Iterable[Recovery], decide: Callable[[Recovery, RoutingRules], AccessDecision]
    ) -> Selection:
        rules = self.rules()  # one document for the whole selection
        allowed: list[Recovery] = []
        left_out = 0
        for recovery in recoveries:
            if decide(recovery, rules).allowed:
                allowed.append(recovery)
            else:
                left_out += 1
        return Selection(allowed, left_out)

    def _in(self, user_id: str, audience: Audience, what: str) -> AccessDecision:
        return self.policy.in_audience(user_id, audience.user_ids, audience.user_group, what)


def _denied_for(admin: AccessDecision, why: str, rule: Rule | None) -> AccessDecision:
    """A rule without a team (or no rule: the fallback) leaves the admins' own refusal."""
    if admin.lookup_failed or rule is None or rule.team is None:
        return admin
    return AccessDecision(False, why)
