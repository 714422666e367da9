"""The routing rules in force on a deployment: the SSM parameter ``ROUTING_RULES_PARAMETER``
names, read through Powertools' cache, over the stack's channels.

Every function that decides by the rules (the collector: channels; the Slack app: who may act and
see; the reminders: escalation) asks ``rules_source``. One source per parameter and channels is
kept by a warm function, so the last good document outlives a refused one across invocations (a
cold start begins with the stack's channels and no rules).
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from recovery_ops.service.recovery.access.routing_rules import RoutingRulesSource, RulesUnavailableError
from recovery_ops.service.recovery.ports.notifier import ChannelRouting

RULES_MAX_AGE_SECONDS = 300  # a changed routing rules document is in force within five minutes

_sources: dict[tuple[str | None, ChannelRouting], RoutingRulesSource] = {}


def rules_source(parameter: str | None, fallback: ChannelRouting) -> RoutingRulesSource:
    """The rules of ``parameter`` (None: no rules, the fallback decides) over ``fallback``; the
    same source for every invocation of a warm function."""
    key = (parameter, fallback)
    if key not in _sources:
        _sources[key] = RoutingRulesSource(load=lambda: rules_document(parameter), fallback=fallback)
    return _sources[key]


def rules_document(parameter: str | None) -> str | None:
    """The document's text (None without a parameter); a refusal is ``RulesUnavailableError``."""
    if not parameter:
        return None
    try:
        return parameters.get_parameter(parameter, max_age=RULES_MAX_AGE_SECONDS)
    except parameters.exceptions.GetParameterError as exc:
        raise RulesUnavailableError(str(exc)) from exc
