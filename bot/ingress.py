"""Ingress: what every adapter does with a message, in milliseconds.

1. dedupe: a platform's second delivery of the same message id is dropped
   (`SET NX` with a one-day expiry), whether the first is queued, running or done;
2. remember who wrote (the contact, when the adapter knows them);
3. append the message to its conversation, numbered;
4. make sure a turn is queued for the conversation.

It never waits for the model: the turn runs on a worker.
"""

from __future__ import annotations

import logging

import redis

from bot.models import Contact, IncomingMessage, Turn
from bot.ports import TurnQueue
from jobs_store import ContactStore, ConversationStore, keys

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

    def accept(self, message: IncomingMessage, *, contact: Contact | None = None) -> bool:
        """Take a message; False when it is a second delivery of one already taken."""
        seen = keys.seen(message.platform, f"{message.workspace}:{message.message_id}")
        if not self._redis.set(seen, "1", nx=True, ex=_SEEN_TTL_S):
            log.info("dropped a second delivery of %s message %s",
                     message.platform, message.message_id)
            return False
        if contact is not None:
            self._contacts.save(contact)
        self._conversations.append_user(message.conversation_id, Turn(
            role="user", text=message.text, user=message.user, ts=message.ts,
            message_id=message.message_id))
        self._queue.schedule(message.conversation_id)
        return True
