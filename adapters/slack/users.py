"""Slack users as contacts: name, timezone and role from `users.info`, cached a day.

The contact itself lives in the `ContactStore` (which keeps the earliest
first-seen time); `cj:slack:user:{team}:{user}` holds when users.info was
last asked (epoch seconds), so each person costs one API call a day. When
Slack cannot be reached the stored contact (or a bare one) is used: a
message is never lost for want of a display name.

users.info runs while Slack waits for the ack, so a 429 on it is not waited
out: the stored (or bare) contact is used, and users.info is asked again with
the person's next message.

Each process also keeps the contacts it read, until their day is over, so a
message from someone seen lately costs no Redis read: ingress uses only the
display name, and the admin check the role, both from users.info, whose
answers are a day old at most anyway. A refresh that changes nothing writes
only the time it was asked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from adapters.slack.sender import without_rate_limit_waits
from bot.permissions import is_admin
from jobs_store import ContactStore
from jobs_store.keys import PREFIX
from jobs_store.models import Contact, Role, now_utc

log = logging.getLogger(__name__)

#: users.info is asked again after this long.
REFRESH = timedelta(days=1)
_FETCHED_TTL_S = 2 * 86_400
#: Contacts each process keeps (the oldest read goes first beyond this).
CACHED_USERS = 10_000


def fetched_key(team: str, user: str) -> str:
    """When users.info was last asked about the user (epoch seconds)."""
    return f"{PREFIX}:slack:user:{team}:{user}"


class SlackUsers:
    """Contacts of Slack users, refreshed from users.info once a day."""

    def __init__(self, client: WebClient, redis: redis.Redis, contacts: ContactStore, *,
                 clock: Callable[[], datetime] = now_utc) -> None:
        self._web = without_rate_limit_waits(client)
        self._redis = redis
        self._contacts = contacts
        self._clock = clock
        #: contact id → (the contact, when users.info was asked, epoch s).
        self._cache: dict[str, tuple[Contact, float]] = {}
        self._lock = threading.Lock()

    def contact(self, team: str, user_id: str) -> Contact:
        """The user's contact: stored, or fresh from users.info when a day old or new.

        Whatever it learns is saved here, so ingress need not save it again.
        """
        contact_id = f"slack:{team}:{user_id}"
        now = self._clock()
        cached = self._cache.get(contact_id)
        if cached is not None and now.timestamp() - cached[1] < REFRESH.total_seconds():
            return cached[0]
        stored = self._contacts.get(contact_id)
        fetched = self._redis.get(fetched_key(team, user_id))
        if stored is not None and fetched is not None and (
            now.timestamp() - float(fetched) < REFRESH.total_seconds()
        ):
            self._remember(stored, float(fetched))
            return stored
        try:
            user = self._web.users_info(user=user_id)["user"]
        except (SlackClientError, KeyError, TypeError):
            log.warning("users.info failed for slack user %s in %s", user_id, team,
                        exc_info=True)
            return stored or self._contacts.save(
                Contact(platform="slack", workspace=team, user=user_id, first_seen=now))
        contact = self._contacts.save(_contact(team, user_id, user, now=now,
                                               meta=stored.meta if stored else {}))
        self._redis.set(fetched_key(team, user_id), str(now.timestamp()), ex=_FETCHED_TTL_S)
        self._remember(contact, now.timestamp())
        return contact

    def _remember(self, contact: Contact, fetched: float) -> None:
        with self._lock:
            self._cache.pop(contact.id, None)  # re-inserted last: the oldest read goes first
            self._cache[contact.id] = (contact, fetched)
            if len(self._cache) > CACHED_USERS:
                del self._cache[next(iter(self._cache))]

    def is_admin(self, team: str, user_id: str, admins: Iterable[str]) -> bool:
        """Workspace owners and admins, and users listed in CHATJOBS_ADMINS."""
        if user_id in admins:
            return True
        return is_admin(user_id, role=self.contact(team, user_id).role, admins=())


def _contact(team: str, user_id: str, user: dict[str, Any], *, now: datetime,
             meta: dict[str, str]) -> Contact:
    profile = user.get("profile") or {}
    name = (profile.get("display_name") or profile.get("real_name") or user.get("real_name")
            or user.get("name") or "")
    role: Role = "member"
    if user.get("is_owner") or user.get("is_primary_owner"):
        role = "owner"
    elif user.get("is_admin"):
        role = "admin"
    tz = user.get("tz")
    return Contact(platform="slack", workspace=team, user=user_id, display_name=str(name),
                   first_seen=now, timezone=tz if isinstance(tz, str) and tz else None,
                   role=role, meta=dict(meta))
