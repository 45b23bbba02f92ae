"""Contacts and conversation history on a real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from jobs_store import ContactStore, ConversationStore, keys
from jobs_store.models import Contact, Turn

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
CONV = "slack:T1:C1:1712345678.000100"


# --- contacts -----------------------------------------------------------------


def test_an_unknown_contact_is_none(redis_client: redis.Redis) -> None:
    assert ContactStore(redis_client).get("slack:T1:U404") is None


def test_a_saved_contact_is_read_back(redis_client: redis.Redis) -> None:
    store = ContactStore(redis_client)
    ana = Contact(platform="slack", workspace="T1", user="U1", display_name="Ana",
                  first_seen=T0, timezone="Europe/Lisbon", role="admin", meta={"plan": "trial"})

    assert store.save(ana) == ana
    assert ContactStore(redis_client).get("slack:T1:U1") == ana


def test_saving_again_updates_the_contact_but_keeps_when_we_first_saw_them(
    redis_client: redis.Redis,
) -> None:
    store = ContactStore(redis_client)
    store.save(Contact(platform="slack", workspace="T1", user="U1", display_name="Ana",
                       first_seen=T0))
    seen_later = Contact(platform="slack", workspace="T1", user="U1", display_name="Ana Silva",
                         first_seen=T0 + timedelta(days=30), role="owner",
                         meta={"plan": "pro"})

    saved = store.save(seen_later)

    assert saved.first_seen == T0
    assert (saved.display_name, saved.role, saved.meta) == ("Ana Silva", "owner", {"plan": "pro"})
    assert store.get("slack:T1:U1") == saved


def test_an_earlier_first_seen_from_the_platform_wins(redis_client: redis.Redis) -> None:
    # e.g. Discord's joined_at arrives after we first met the user.
    store = ContactStore(redis_client)
    store.save(Contact(platform="discord", workspace="G1", user="U1", first_seen=T0))

    saved = store.save(Contact(platform="discord", workspace="G1", user="U1",
                               first_seen=T0 - timedelta(days=400)))

    assert saved.first_seen == T0 - timedelta(days=400)
    assert store.get("discord:G1:U1").first_seen == T0 - timedelta(days=400)


def test_the_same_user_id_on_another_platform_is_another_contact(
    redis_client: redis.Redis,
) -> None:
    store = ContactStore(redis_client)
    store.save(Contact(platform="slack", workspace="T1", user="U1", first_seen=T0))
    discord = store.save(Contact(platform="discord", workspace="T1", user="U1",
                                 first_seen=T0 + timedelta(days=3)))

    assert discord.first_seen == T0 + timedelta(days=3)
    assert store.get("slack:T1:U1").first_seen == T0


# --- conversations ------------------------------------------------------------


def turn(n: int) -> Turn:
    role = "user" if n % 2 else "assistant"
    return Turn(role=role, text=f"message {n}", user="U1" if role == "user" else "",
                ts=T0 + timedelta(minutes=n), message_id=f"m{n}")


def test_turns_come_back_oldest_first_as_saved(redis_client: redis.Redis) -> None:
    store = ConversationStore(redis_client)
    for n in range(1, 4):
        store.append(CONV, turn(n))

    assert store.turns(CONV) == [turn(1), turn(2), turn(3)]
    assert store.turns("slack:T1:C1:") == []  # the channel itself is another conversation


def test_history_is_capped_dropping_the_oldest_turns(redis_client: redis.Redis) -> None:
    store = ConversationStore(redis_client, max_turns=3)
    for n in range(1, 6):
        store.append(CONV, turn(n))

    assert [t.text for t in store.turns(CONV)] == ["message 3", "message 4", "message 5"]
    assert redis_client.llen(keys.conversation_turns(CONV)) == 3


def test_the_default_cap_is_fifty_turns(redis_client: redis.Redis) -> None:
    store = ConversationStore(redis_client)
    for n in range(1, 56):
        store.append(CONV, turn(n))

    texts = [t.text for t in store.turns(CONV)]
    assert len(texts) == 50
    assert (texts[0], texts[-1]) == ("message 6", "message 55")


def test_last_returns_only_the_newest_turns(redis_client: redis.Redis) -> None:
    store = ConversationStore(redis_client)
    for n in range(1, 6):
        store.append(CONV, turn(n))

    assert [t.text for t in store.turns(CONV, last=2)] == ["message 4", "message 5"]
    assert len(store.turns(CONV, last=10)) == 5
    assert len(store.turns(CONV, last=None)) == 5
    assert store.turns(CONV, last=0) == []


def test_history_expires_when_idle_and_each_turn_pushes_expiry_back(
    redis_client: redis.Redis,
) -> None:
    store = ConversationStore(redis_client, ttl_days=2)
    key = keys.conversation_turns(CONV)
    store.append(CONV, turn(1))

    assert 86_400 < redis_client.ttl(key) <= 2 * 86_400
    redis_client.expire(key, 60)  # as if it had been idle for almost two days
    store.append(CONV, turn(2))
    assert 86_400 < redis_client.ttl(key) <= 2 * 86_400
    assert len(store.turns(CONV)) == 2
