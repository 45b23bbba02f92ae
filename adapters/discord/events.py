"""Which Discord messages the agent answers, handed to ingress.

Answered: every person's message in a DM; in servers, messages that @mention
the bot (its user or its integration role), replies to the bot's messages,
messages in a thread the bot takes part in (it spoke or was mentioned there,
or started the thread), and messages inside an open session window
(`Ingress.in_session`). Never the bot's own or other bots' messages, webhooks, system
messages (joins, pins, thread created, …) or edits (`on_message` never sees
edits; `normalize.person_message` also refuses an edited payload).

The gateway loop never waits on Redis or the model: `on_message` decides what
it can from the message itself, then hands the rest (the thread and session
checks, the contact, ingress) to a thread with `asyncio.to_thread`; the turn
runs on the workers. A message the gateway delivers again (a resumed session
replays events) has the same id, and ingress keeps it once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import discord

from adapters.discord.members import DiscordMembers, contact_of
from adapters.discord.normalize import (
    conversation_id,
    conversation_of,
    is_dm,
    looks_stripped,
    mentions,
    message_data,
    person_message,
    replies_to,
    thread_owner,
    to_incoming,
)
from adapters.discord.sender import BotThreads
from bot.ingress import Ingress
from bot.models import Contact

log = logging.getLogger(__name__)

NO_CONTENT_WARNING = (
    "Discord sends server messages to chatjobs without their text: the Message Content "
    "intent is off. Turn it on in the Discord Developer Portal (your application → Bot → "
    "Privileged Gateway Intents → Message Content Intent) and restart; until then only "
    "DMs, @mentions of the bot and replies that ping it have text. See the README, "
    "'Run it in your Discord server'."
)



@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in a message's guild: its user id and its integration role's id."""

    user_id: str
    role_id: str | None = None


class DiscordInbound:
    """Decides whether a message is for the agent, and hands it to ingress."""

    def __init__(self, *, ingress: Ingress, members: DiscordMembers, threads: BotThreads,
                 session_open: Callable[[str], bool] | None = None) -> None:
        self._ingress = ingress
        self._members = members
        self._threads = threads
        #: Whether a task's session window is open on a conversation (ingress knows).
        self._session_open = session_open or ingress.in_session
        #: The empty-content warning is logged once (one client, so once per process).
        self._warned_no_content = False

    async def on_message(self, message: discord.Message, *, bot: BotIdentity) -> bool:
        """On the gateway loop: filter, then take the message on a thread; True if accepted."""
        data = message_data(message)
        if not person_message(data, bot_user_id=bot.user_id):
            return False
        if looks_stripped(data):
            self._warn_no_content()
            return False
        contact = contact_of(message.author)
        return await asyncio.to_thread(self.take, data, bot=bot, contact=contact)

    def take(self, data: Mapping[str, Any], *, bot: BotIdentity,
             contact: Contact | None = None) -> bool:
        """Blocking (Redis): hand the message to ingress if the agent should answer it."""
        if not person_message(data, bot_user_id=bot.user_id) or not self.addressed(data, bot):
            return False
        message = to_incoming(data, bot_user_id=bot.user_id, bot_role_id=bot.role_id,
                              user_name=contact.display_name if contact else "")
        if message is None:
            return False
        if message.thread and message.mentions_bot:
            self._threads.join(message.thread)
        if contact is not None:
            self._members.save(contact)
        accepted = self._ingress.accept(message)  # the contact is saved just above
        if accepted:
            log.info("discord message %s in %s taken", message.message_id,
                     message.conversation_id)
        return accepted

    def addressed(self, data: Mapping[str, Any], bot: BotIdentity) -> bool:
        """DMs, mentions, replies to the bot, threads the bot is in, open session windows."""
        if is_dm(data) or mentions(data, bot.user_id, bot.role_id) or replies_to(data,
                                                                                   bot.user_id):
            return True
        where = conversation_of(data)
        if where.thread and (thread_owner(data) == bot.user_id
                             or self._threads.takes_part(where.thread)):
            return True
        return self._session_open(conversation_id(*where))

    def _warn_no_content(self) -> None:
        if not self._warned_no_content:
            self._warned_no_content = True
            log.warning(NO_CONTENT_WARNING)
