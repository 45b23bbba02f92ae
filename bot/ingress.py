"""Ingress: what every adapter does with a message, in milliseconds.

1. append the message to its conversation, numbered, unless this message id
   was taken before: a platform's second delivery is dropped (the id is kept
   a day), whether the first is queued, running or done. Both happen in one
   step, so a crash never marks a message seen without keeping it; the same
   step claims the conversation's turn unless one is claimed, queued or
   running (`ConversationStore.append_user`: one Lua script, one round trip);
2. remember who wrote (the contact, when the adapter knows them);
3. queue the claimed turn (one more round trip). A second delivery claims a
   turn too while messages are pending and none is queued: the first may
   have been kept without its turn queued (Redis failed in between).

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
        conversation_id = message.conversation_id
        kept = self._conversations.append_user(
            conversation_id,
            Turn(role="user", text=message.text, user=message.user, ts=message.ts,
                 message_id=message.message_id),
            once_key=keys.seen(message.platform, f"{message.workspace}:{message.message_id}"),
            once_ttl_s=_SEEN_TTL_S,
            turn_flag=keys.turn_flag(conversation_id))
        if kept.seq is None:
            # Routine (an @mention in a Slack channel comes as two events): DEBUG.
            log.debug("dropped a second delivery of %s message %s",
                     message.platform, message.message_id)
        elif contact is not None:
            self._contacts.save(contact)
        if kept.claimed:
            self._queue.schedule(conversation_id, claimed=True)
        return kept.seq is not None
