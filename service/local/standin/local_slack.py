"""Where the Slack messages of a local run go: a stand-in shown in the terminal, or your workspace.

`recovery-ops demo`, `recovery-ops try` and `recovery-ops serve --local` deploy the embedded stack
with the Slack app's secrets in Secrets Manager, as a deployer does before ``sam deploy``. With
``SLACK_BOT_TOKEN`` set, the stack's functions post to your workspace (``SLACK_CHANNEL``;
``SLACK_API_URL`` for another endpoint), as ``serve --local`` does. Without it, to a Slack stand-in
on 127.0.0.1 whose calls the terminal shows (``recovery_ops.service.local.standin.transcript``) and whose
clicks
are signed with a local signing secret (``recovery_ops.service.local.desk``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from recovery_ops.service.local.standin.server import LOCAL_BOT_TOKEN, SlackStandIn, serve_slack_standin

if TYPE_CHECKING:
    from recovery_ops.service.config import ServeSettings

# the secrets' names: template.yaml's SlackBotTokenSecretName and SlackSigningSecretName defaults
TOKEN_SECRET = "recovery-ops/slack-bot-token"
SIGNING_SECRET_NAME = "recovery-ops/slack-signing-secret"
LOCAL_SIGNING_SECRET = "local-signing-secret"


@dataclass(frozen=True)
class LocalSlack:
    """The Slack side of one local run: the token, the channel, and the stand-in (None: a workspace)."""

    token: str
    channel: str
    standin: SlackStandIn | None = None
    api_url: str | None = None
    signing_secret: str = LOCAL_SIGNING_SECRET

    @classmethod
    def workspace(cls, settings: ServeSettings, signing_secret: str = LOCAL_SIGNING_SECRET) -> LocalSlack:
        """Your workspace, as ``settings`` name it (``serve --local``: the token is checked by serve)."""
        return cls(
            settings.slack_bot_token or "", settings.channel, None, settings.slack_api_url, signing_secret
        )

    @property
    def in_workspace(self) -> bool:
        return self.standin is None

    def secrets(self) -> dict[str, str]:
        """The stack's Slack secrets: its functions read them from Secrets Manager."""
        return {TOKEN_SECRET: self.token, SIGNING_SECRET_NAME: self.signing_secret}

    def environment(self) -> dict[str, str]:
        """The stack's local-only settings: another Slack Web API endpoint, when there is one."""
        return {"SLACK_API_URL": self.api_url} if self.api_url else {}


@contextmanager
def local_slack(settings: ServeSettings, signing_secret: str = LOCAL_SIGNING_SECRET) -> Iterator[LocalSlack]:
    """Your workspace when ``settings`` have a bot token; otherwise a stand-in served while open."""
    if settings.slack_bot_token:
        yield LocalSlack.workspace(settings, signing_secret)
        return
    with serve_slack_standin() as standin:
        yield LocalSlack(LOCAL_BOT_TOKEN, settings.channel, standin, standin.base_url, signing_secret)
