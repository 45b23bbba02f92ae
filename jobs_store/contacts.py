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
        """Store what the platform tells us, keeping the earliest first-seen time."""
        key = keys.contact(contact.id)

        def write(pipe: redis.client.Pipeline) -> Contact:
            raw = pipe.get(key)
            if raw:
                first_seen = min(Contact.model_validate_json(raw).first_seen, contact.first_seen)
                merged = contact.model_copy(update={"first_seen": first_seen})
            else:
                merged = contact
            pipe.multi()
            pipe.set(key, merged.model_dump_json())
            return merged

        result = self._redis.transaction(write, key, value_from_callable=True)  # type: ignore[arg-type]
        assert isinstance(result, Contact)
        return result
