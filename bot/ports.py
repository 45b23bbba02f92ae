"""Ports the core reaches platforms through; each adapter implements them."""

from __future__ import annotations

from typing import Protocol


class Sender(Protocol):
    """Sends the agent's words on one platform (usable from worker processes)."""

    #: "slack", "discord" or "console".
    platform: str

    def reply(self, *, conversation_id: str, text: str) -> None:
        """Answer in a conversation (`platform:workspace:channel:thread`)."""
        ...

    def post(self, *, channel: str, text: str) -> None:
        """Post to a channel, e.g. the escalation channel."""
        ...

    def working(self, *, conversation_id: str, message_id: str, active: bool) -> None:
        """Show (or clear) that the agent is working on a message: a status,
        a reaction, a typing indicator. Best effort: must not raise."""
        ...


class TurnQueue(Protocol):
    """Where ingress hands conversations that have new messages."""

    def schedule(self, conversation_id: str) -> None:
        """Make sure a turn will run for the conversation."""
        ...
