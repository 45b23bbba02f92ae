"""Ports the core reaches platforms through; each adapter implements them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

    def direct(self, *, workspace: str, user: str) -> str:
        """The id of the direct-message conversation with `user`, opened if needed.

        `workspace` is the Slack team, the console's workspace, or for Discord
        a guild id or "" (DMs do not belong to a guild). Tasks use it to speak
        to their contact first. Raises a `ChatjobsError` when the platform refuses.
        """
        ...

    def channel(self, *, workspace: str, channel: str) -> str:
        """The id of the conversation at the top level of `channel` (where `post` writes).

        `workspace` is the Slack team or the console's workspace; on Discord
        it may be "" (the channel's guild is looked up).
        """
        ...

    def working(self, *, conversation_id: str, message_id: str, active: bool) -> None:
        """Show (or clear) that the agent is working on a message: a status,
        a reaction, a typing indicator. Best effort: must not raise."""
        ...


class TurnQueue(Protocol):
    """Where ingress hands conversations that have new messages."""

    def schedule(self, conversation_id: str, *, claimed: bool = False) -> None:
        """Make sure a turn will run for the conversation; `claimed`: the caller
        holds its turn flag already (see `ConversationStore.append_user`), queue it."""
        ...


class ExecutionQueue(Protocol):
    """Where task executions are handed to the workers."""

    def enqueue(self, runs: Mapping[str, float]) -> None:
        """Queue executions, all in one go: execution id → the seconds it may take.

        An execution queued twice still runs once (a run starts only if queued).
        """
        ...

    def lost(self, execution_ids: Sequence[str]) -> list[str]:
        """The executions among these whose queued job is gone (e.g. Redis lost it)."""
        ...

    def discard(self, execution_id: str) -> None:
        """Take a queued execution off the queue, if it is still there."""
        ...
