"""The integration contract: what a paused execution sends to the recovery queue (version 1).

Any team's state machine can send it (README, "The integration contract"). The task token is a
secret capability: it is kept in the recoveries table and never shown, logged or put in a URL.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Routing(StrEnum):
    """Which support team should look: technical problems or bad client data."""

    TECHNICAL = "technical"
    CLIENT_DATA = "client-data"


class RecoveryRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    contract_version: Literal[1] = 1
    task_token: str = Field(min_length=1, repr=False)
    execution_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:")
    execution_name: str = Field(min_length=1, max_length=256)
    state_machine_arn: str = Field(pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:")
    failed_state: str = Field(min_length=1, max_length=256)
    input: Any = None
    error: str | None = None
    cause: str | None = None
    routing: Routing = Routing.TECHNICAL
    requested_at: datetime | None = None

    @property
    def recovery_id(self) -> str:
        """Stable per paused task: a redelivered message maps to the same id; each branch's differs."""
        return "rec-" + hashlib.sha256(self.task_token.encode()).hexdigest()[:32]

    @property
    def state_machine_name(self) -> str:
        return self.state_machine_arn.rsplit(":", 1)[-1]
