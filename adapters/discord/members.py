"""Discord members and users as contacts, and who counts as an admin.

Every message carries its author (a `discord.Member` in a guild, with its
roles; a `discord.User` in a DM), so a contact costs no API call: it is built
from the message on the gateway loop (`contact_of`, pure) and saved on a worker
thread merged with the stored one (`DiscordMembers.save`: one read and one
write, and none while the person's name and role stay the same), so that what
chatjobs keeps about the person (meta, a timezone) is not lost.

- display name: the server nickname, else the global display name, else the
  username;
- first seen: when the member joined the server (`joined_at`), else now (DMs);
  the store keeps the earliest time it was told;
- role: the server owner is `owner`; Administrator or Manage Server
  permission makes `admin`; everyone else (and every DM author) is `member`.
  Discord does not tell a person's timezone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from datetime import datetime

import discord

from jobs_store import ContactStore
from jobs_store.models import Contact, Role, now_utc

#: The workspace of direct messages (no guild).
DM_WORKSPACE = "dm"


def role_of(user: discord.User | discord.Member) -> Role:
    """`owner` for the server owner, `admin` with Administrator or Manage Server, else `member`."""
    if not isinstance(user, discord.Member):
        return "member"
    if user.guild.owner_id == user.id:
        return "owner"
    permissions = user.guild_permissions
    if permissions.administrator or permissions.manage_guild:
        return "admin"
    return "member"


def is_admin(user: discord.User | discord.Member, admins: Collection[str]) -> bool:
    """Server owners, Administrator or Manage Server holders, and users in CHATJOBS_ADMINS."""
    return str(user.id) in admins or role_of(user) in ("owner", "admin")


def workspace_of(user: discord.User | discord.Member) -> str:
    """The guild id of a member, or "dm" for a user met outside a guild."""
    return str(user.guild.id) if isinstance(user, discord.Member) else DM_WORKSPACE


def contact_of(user: discord.User | discord.Member, *,
               clock: Callable[[], datetime] = now_utc) -> Contact:
    """The person as a contact, from what the gateway told us about them (no API call)."""
    joined = user.joined_at if isinstance(user, discord.Member) else None
    return Contact(platform="discord", workspace=workspace_of(user), user=str(user.id),
                   display_name=user.display_name, first_seen=joined or clock(),
                   role=role_of(user))


#: People whose contact this process saved lately (the longest unseen is dropped first).
KNOWN_PEOPLE = 10_000


class DiscordMembers:
    """Contacts of Discord people: what the message tells, plus what chatjobs stored.

    Each process remembers what the gateway last told it about the people it
    saved, so a person's next messages cost no Redis call for their contact
    until their name or role changes.
    """

    def __init__(self, contacts: ContactStore) -> None:
        self._contacts = contacts
        #: contact id → what the gateway last told about the person, once stored.
        self._told: dict[str, Contact] = {}
        self._lock = threading.Lock()

    def save(self, contact: Contact) -> None:
        """Store what the gateway tells about the person, keeping what chatjobs stored
        (meta, a timezone, the earliest first-seen time); nothing is read or written
        when it tells what it told this process last time."""
        with self._lock:
            told = self._told.pop(contact.id, None)
        if told is None or told.model_copy(update={"first_seen": contact.first_seen}) \
                != contact:  # a DM author's first_seen is "now" each time
            self._contacts.save(self._with_stored(contact))
        with self._lock:
            self._told[contact.id] = contact  # re-inserted last: the longest unseen first
            if len(self._told) > KNOWN_PEOPLE:
                del self._told[next(iter(self._told))]

    def _with_stored(self, contact: Contact) -> Contact:
        """`contact` with the stored contact's meta and timezone kept (one Redis read)."""
        stored = self._contacts.get(contact.id)
        if stored is None:
            return contact
        return contact.model_copy(update={"meta": dict(stored.meta),
                                          "timezone": contact.timezone or stored.timezone})
