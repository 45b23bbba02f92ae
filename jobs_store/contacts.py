"""Contacts: the people the agent talks to, keyed `platform:workspace:user`."""

from __future__ import annotations

import redis

from jobs_store import keys
from jobs_store.models import Contact


class ContactStore:
    """Repository of contacts."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def get(self, contact_id: str) -> Contact | None:
        """The contact, or None if never seen."""
        raw = self._redis.get(keys.contact(contact_id))
        return Contact.model_validate_json(raw) if raw else None

    def save(self, contact: Contact) -> Contact:
        """Store what the platform tells us, keeping the earliest first-seen time.

        A contact that would not change is not written again (one read).
        """
        key = keys.contact(contact.id)
        raw = self._redis.get(key)
        if raw:
            stored = Contact.model_validate_json(raw)
            if _merged(stored, contact) == stored:
                return stored

        def write(pipe: redis.client.Pipeline) -> Contact:
            raw = pipe.get(key)
            merged = _merged(Contact.model_validate_json(raw), contact) if raw else contact
            pipe.multi()
            pipe.set(key, merged.model_dump_json())
            return merged

        result = self._redis.transaction(write, key, value_from_callable=True)  # type: ignore[arg-type]
        assert isinstance(result, Contact)
        return result


def _merged(stored: Contact, contact: Contact) -> Contact:
    """`contact`, first seen when it was first seen."""
    return contact.model_copy(update={"first_seen": min(stored.first_seen, contact.first_seen)})
