"""Slack users as contacts: name, timezone and role from `users.info`, cached a day.

The contact itself lives in the `ContactStore` (which keeps the earliest
first-seen time); `cj:slack:user:{team}:{user}` holds when users.info was
last asked (epoch seconds), so each person costs one API call a day. When
Slack cannot be reached the stored contact (or a bare one) is used: a
message is never lost for want of a display name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import redis
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.permissions import is_admin
from jobs_store import ContactStore
from jobs_store.keys import PREFIX
from jobs_store.models import Contact, Role, now_utc

log = logging.getLogger(__name__)

#: users.info is asked again after this long.
REFRESH = timedelta(days=1)
_FETCHED_TTL_S = 2 * 86_400


def fetched_key(team: str, user: str) -> str:
    """When users.info was last asked about the user (epoch seconds)."""
    return f"{PREFIX}:slack:user:{team}:{user}"


class SlackUsers:
    """Contacts of Slack users, refreshed from users.info once a day."""

    def __init__(self, client: WebClient, redis: redis.Redis, contacts: ContactStore, *,
                 clock: Callable[[], datetime] = now_utc) -> None:
        self._web = client
        self._redis = redis
        self._contacts = contacts
        self._clock = clock

    def contact(self, team: str, user_id: str) -> Contact:
        """The user's contact: stored, or fresh from users.info when a day old or new.

        Whatever it learns is saved here, so ingress need not save it again.
        """
        stored = self._contacts.get(f"slack:{team}:{user_id}")
        now = self._clock()
        fetched = self._redis.get(fetched_key(team, user_id))
        if stored is not None and fetched is not None and (
            now.timestamp() - float(fetched) < REFRESH.total_seconds()
        ):
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
        return contact

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
