"""Ingress: what every adapter does with a message, in milliseconds.

1. append the message to its conversation, numbered, unless this message id
   was taken before: a platform's second delivery is dropped (the id is kept
   a day), whether the first is queued, running or done. Both happen in one
   transaction, so a crash never marks a message seen without keeping it;
2. remember who wrote (the contact, when the adapter knows them);
3. make sure a turn is queued for the conversation.

It never waits for the model: the turn runs on a worker.
"""

from __future__ import annotations

import logging

import redis

from bot.models import Contact, IncomingMessage, Turn
from bot.ports import TurnQueue
from jobs_store import ContactStore, ConversationStore, keys
from jobs_store.models import now_utc

log = logging.getLogger(__name__)

_SEEN_TTL_S = 86_400


class Ingress:
    """Accepts normalized messages from the adapters."""

    def __init__(self, *, client: redis.Redis, conversations: ConversationStore,
                 contacts: ContactStore, queue: TurnQueue) -> None:
        self._redis = client
        self._conversations = conversations
        self._contacts = contacts
        self._queue = queue

    def in_session(self, conversation_id: str) -> bool:
        """Whether a task's session window is open on the conversation (then the
        agent answers it without a mention)."""
        return self._conversations.session(conversation_id, now=now_utc()) is not None

    def accept(self, message: IncomingMessage, *, contact: Contact | None = None) -> bool:
        """Take a message; False when it is a second delivery of one already taken."""
        seen = keys.seen(message.platform, f"{message.workspace}:{message.message_id}")
        seq = self._conversations.append_user(
            message.conversation_id,
            Turn(role="user", text=message.text, user=message.user, ts=message.ts,
                 message_id=message.message_id),
            once_key=seen, once_ttl_s=_SEEN_TTL_S)
        if seq is None:
            log.info("dropped a second delivery of %s message %s",
                     message.platform, message.message_id)
            # The first delivery may have been kept without its turn queued (Redis
            # failed in between): the platform's retry makes sure a turn will run.
            state = self._conversations.state(message.conversation_id)
            if state.received > state.answered:
                self._queue.schedule(message.conversation_id)
            return False
        if contact is not None:
            self._contacts.save(contact)
        self._queue.schedule(message.conversation_id)
        return True
