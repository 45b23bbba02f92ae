"""Sending through the right platform, at most once per key.

Every reply and post carries a key derived from what it answers (the
conversation and message number, the execution and message index). The key
is marked in Redis before sending, so a retried turn or a worker that died
after sending never sends the same thing twice; a send that fails clears the
mark, so a retry can send it. When the send failed because Redis went away
(senders use it too: rate slots, the console outbox), clearing the mark is
tried again for up to `CLEAR_WITHIN_S`, so a Redis restart or failover does
not leave a reply marked sent that never was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from bot.errors import ChatjobsError
from bot.ports import Sender
from jobs_store import keys

log = logging.getLogger(__name__)

_SENT_TTL_S = 7 * 86_400
#: How long a failed send keeps trying to clear its mark while Redis is unreachable:
#: waits of 0.2, 0.4, 0.8, 1.6, then 2 s, 18 tries in all.
CLEAR_WITHIN_S = 30.0
_CLEAR_RETRY = Retry(ExponentialBackoff(cap=2.0, base=0.1), retries=18)


class NoSender(ChatjobsError):
    """No adapter is registered for a platform."""


class Delivery:
    """Routes sends to the conversation's platform, once per key."""

    def __init__(self, client: redis.Redis, senders: Mapping[str, Sender]) -> None:
        self._redis = client
        self._senders = dict(senders)

    def reply(self, *, conversation_id: str, text: str, key: str) -> bool:
        """Reply in the conversation unless `key` was sent; True if sent now."""
        sender = self._sender(conversation_id.split(":", 1)[0])
        return self._once(key, lambda: sender.reply(conversation_id=conversation_id, text=text))

    def post(self, *, platform: str, channel: str, text: str, key: str) -> bool:
        """Post to a channel unless `key` was sent; True if sent now."""
        sender = self._sender(platform)
        return self._once(key, lambda: sender.post(channel=channel, text=text))

    def direct(self, *, platform: str, workspace: str, user: str) -> str:
        """The conversation id of a direct-message conversation with `user` (opened)."""
        return self._sender(platform).direct(workspace=workspace, user=user)

    def channel(self, *, platform: str, workspace: str, channel: str) -> str:
        """The conversation id of the top level of `channel`."""
        return self._sender(platform).channel(workspace=workspace, channel=channel)

    def working(self, *, conversation_id: str, message_id: str, active: bool) -> None:
        """Show or clear the working state on the message's platform (best effort)."""
        sender = self._senders.get(conversation_id.split(":", 1)[0])
        if sender is None or not message_id:
            return
        try:
            sender.working(conversation_id=conversation_id, message_id=message_id, active=active)
        except Exception:  # a missing reaction must never cost the reply
            log.warning("could not show the working state in %s", conversation_id,
                        exc_info=True)

    def _sender(self, platform: str) -> Sender:
        try:
            return self._senders[platform]
        except KeyError:
            raise NoSender(f"no {platform} sender is configured in this process") from None

    def _once(self, key: str, send: Callable[[], None]) -> bool:
        mark = keys.sent(key)
        if not self._redis.set(mark, "1", nx=True, ex=_SENT_TTL_S):
            log.info("already sent %s; not sending again", key)
            return False
        try:
            send()
        except BaseException:
            self._clear(mark, key)
            raise
        return True

    def _clear(self, mark: str, key: str) -> None:
        try:
            _CLEAR_RETRY.call_with_retry(lambda: self._redis.delete(mark), lambda _: None)
        except redis.RedisError:
            log.error("could not clear the mark of %s for about %.0f s: it will not be sent"
                      " again", key, CLEAR_WITHIN_S)
