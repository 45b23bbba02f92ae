"""The domain model: what adapters hand the core, and the stored records.

The stored records (Job, Bot, Contact, Turn, AudienceRule) are defined in
`jobs_store.models`, beside the stores that persist them, and re-exported here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jobs_store.models import AudienceRule, Bot, Contact, Job, Platform, Turn, now_utc

__all__ = ["AudienceRule", "Bot", "Contact", "IncomingMessage", "Job", "Platform", "Turn"]


class IncomingMessage(BaseModel):
    """One message from a user, normalized by an adapter; `raw` keeps the original."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    #: Slack team id, Discord guild id, or "dm".
    workspace: str
    channel: str
    #: Slack `thread_ts` or Discord thread channel id; empty when not in a thread.
    thread: str = ""
    user: str
    user_name: str = ""
    text: str
    message_id: str
    ts: datetime = Field(default_factory=now_utc)
    mentions_bot: bool = False
    is_dm: bool = False
    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def conversation_id(self) -> str:
        """`platform:workspace:channel:thread`."""
        return f"{self.platform}:{self.workspace}:{self.channel}:{self.thread}"

    @property
    def contact_id(self) -> str:
        """`platform:workspace:user`."""
        return f"{self.platform}:{self.workspace}:{self.user}"
