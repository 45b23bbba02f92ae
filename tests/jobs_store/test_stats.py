"""Job usage and unmatched questions on a real Redis: distinct counts, rate, caps, forget."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from redis.connection import AbstractConnection

from jobs_store import keys
from jobs_store.errors import InvalidInput
from jobs_store.stats import (
    MAX_COMPLETIONS,
    MAX_GAP_CHARS,
    MAX_GAPS,
    JobStats,
    StatsStore,
)

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def stats(redis_client: redis.Redis) -> StatsStore:
    return StatsStore(redis_client)


def offer(store: StatsStore, *job_ids: str, conv: str = "slack:T1:C1:", user: str = "slack:T1:U1",
          at: datetime = T0) -> None:
    store.record_referenced(job_ids=list(job_ids), conversation_id=conv, user=user, at=at)


def complete(store: StatsStore, job_id: str, *, user: str = "slack:T1:U1",
             conv: str = "slack:T1:C1:", summary: str = "done", at: datetime = T0) -> None:
    store.record_completed(job_id=job_id, user=user, conversation_id=conv, summary=summary, at=at)


class RoundTrips:
    """Counts the requests the client sends (a pipeline is one)."""

    def __init__(self) -> None:
        self.count = 0


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[RoundTrips]:
    counter = RoundTrips()
    original = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        counter.count += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    yield counter


# --- distinct counts ------------------------------------------------------------


def test_same_user_in_same_chat_twice_counts_once(stats: StatsStore) -> None:
    offer(stats, "job_a")
    offer(stats, "job_a", at=T0 + timedelta(minutes=1))

    usage = stats.job_stats(["job_a"])["job_a"]

    assert (usage.chats, usage.users_offered, usage.users_completed) == (1, 1, 0)


def test_two_conversations_count_two_chats_for_one_user(stats: StatsStore) -> None:
    offer(stats, "job_a", conv="slack:T1:C1:")
    offer(stats, "job_a", conv="slack:T1:C1:1700000000.1")  # a thread is its own chat

    usage = stats.job_stats(["job_a"])["job_a"]

    assert usage.chats == 2
    assert usage.users_offered == 1


def test_two_users_in_one_channel_count_one_chat_two_users(stats: StatsStore) -> None:
    offer(stats, "job_a", user="slack:T1:U1")
    offer(stats, "job_a", user="slack:T1:U2")

    usage = stats.job_stats(["job_a"])["job_a"]

    assert (usage.chats, usage.users_offered) == (1, 2)


def test_one_turn_counts_for_every_job_it_injected_and_only_those(stats: StatsStore) -> None:
    offer(stats, "job_a", "job_b", "job_a")

    usage = stats.job_stats(["job_a", "job_b", "job_c"])

    assert usage["job_a"] == usage["job_b"] == JobStats(chats=1, users_offered=1, last_used=T0)
    assert usage["job_c"] == JobStats()


def test_a_turn_without_a_user_counts_the_chat_only(stats: StatsStore) -> None:
    offer(stats, "job_a", user="")

    usage = stats.job_stats(["job_a"])["job_a"]

    assert (usage.chats, usage.users_offered) == (1, 0)


def test_no_jobs_referenced_writes_nothing(stats: StatsStore, redis_client: redis.Redis) -> None:
    offer(stats)

    assert redis_client.keys("*") == []
    assert stats.job_stats([]) == {}


def test_a_bare_string_of_ids_is_refused(stats: StatsStore) -> None:
    with pytest.raises(InvalidInput) as caught:
        stats.record_referenced(job_ids="job_a", conversation_id="c", user="u", at=T0)

    assert caught.value.field == "job_ids"


def test_naive_times_are_refused_naming_at(stats: StatsStore) -> None:
    with pytest.raises(InvalidInput) as caught:
        offer(stats, "job_a", at=datetime(2025, 3, 4, 9, 0))

    assert caught.value.field == "at"
    assert "timezone-aware" in str(caught.value)


# --- completion rate ------------------------------------------------------------


def test_completion_rate_is_completed_users_over_offered_users(stats: StatsStore) -> None:
    for user in ("U1", "U2", "U3", "U4"):
        offer(stats, "job_a", user=user, conv=f"conv-{user}")
    complete(stats, "job_a", user="U1", conv="conv-U1")
    complete(stats, "job_a", user="U1", conv="conv-U1")  # twice: still one user
    complete(stats, "job_a", user="U3", conv="conv-U3")

    usage = stats.job_stats(["job_a"])["job_a"]

    assert (usage.users_offered, usage.users_completed) == (4, 2)
    assert usage.completion_rate == 0.5


def test_completion_rate_is_zero_when_nobody_was_offered(stats: StatsStore) -> None:
    assert stats.job_stats(["job_a"])["job_a"].completion_rate == 0.0
    assert JobStats().completion_rate == 0.0


def test_completing_without_a_recorded_offer_counts_as_offered_too(stats: StatsStore) -> None:
    offer(stats, "job_a", user="U1")
    complete(stats, "job_a", user="U2", conv="conv-2")

    usage = stats.job_stats(["job_a"])["job_a"]

    assert (usage.chats, usage.users_offered, usage.users_completed) == (2, 2, 1)
    assert usage.completion_rate == 0.5


def test_completion_rate_never_exceeds_one() -> None:
    # Built by hand (e.g. from counters written by an older version): still capped.
    assert JobStats(users_offered=1, users_completed=3).completion_rate == 1.0


# --- last used ------------------------------------------------------------------


def test_last_used_is_the_latest_time_even_when_a_late_turn_arrives(stats: StatsStore) -> None:
    later = T0 + timedelta(hours=2, milliseconds=345)
    offer(stats, "job_a", at=T0)
    offer(stats, "job_a", at=later)
    offer(stats, "job_a", at=T0 + timedelta(hours=1))  # finished late, happened earlier

    assert stats.job_stats(["job_a"])["job_a"].last_used == later


def test_last_used_is_none_for_a_job_never_used(stats: StatsStore) -> None:
    offer(stats, "job_a")

    assert stats.job_stats(["job_b"])["job_b"].last_used is None


def test_a_completion_moves_last_used(stats: StatsStore) -> None:
    offer(stats, "job_a", at=T0)
    complete(stats, "job_a", at=T0 + timedelta(minutes=5))

    assert stats.job_stats(["job_a"])["job_a"].last_used == T0 + timedelta(minutes=5)


def test_other_time_zones_are_stored_in_utc(stats: StatsStore) -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2025, 3, 4, 10, 0, tzinfo=ZoneInfo("Europe/Lisbon"))
    complete(stats, "job_a", at=local)

    usage = stats.job_stats(["job_a"])["job_a"]
    assert usage.last_used == local
    assert usage.last_used is not None and usage.last_used.tzinfo == UTC
    assert stats.recent_completions("job_a")[0].at.utcoffset() == timedelta(0)


# --- completions ----------------------------------------------------------------


def test_recent_completions_are_newest_first_with_who_where_and_what(stats: StatsStore) -> None:
    complete(stats, "job_a", user="U1", conv="c1", summary="Took a message for Ana", at=T0)
    complete(stats, "job_a", user="U2", conv="c2", summary="  Took one for Bo  ",
             at=T0 + timedelta(minutes=1))

    recent = stats.recent_completions("job_a")

    assert [(c.user, c.conversation_id, c.summary, c.at) for c in recent] == [
        ("U2", "c2", "Took one for Bo", T0 + timedelta(minutes=1)),
        ("U1", "c1", "Took a message for Ana", T0),
    ]
    assert stats.recent_completions("job_a", limit=1)[0].user == "U2"
    assert stats.recent_completions("job_a", limit=0) == []
    assert stats.recent_completions("job_b") == []


def test_completion_summaries_are_capped_at_20_per_job(
    stats: StatsStore, redis_client: redis.Redis
) -> None:
    for n in range(MAX_COMPLETIONS + 5):
        complete(stats, "job_a", summary=f"summary {n}", at=T0 + timedelta(minutes=n))

    kept = stats.recent_completions("job_a", limit=100)

    assert MAX_COMPLETIONS == 20
    assert len(kept) == 20
    assert kept[0].summary == "summary 24"
    assert kept[-1].summary == "summary 5"
    stored = redis_client.lrange("cj:default:stats:job:job_a:completions", 0, -1)
    assert len(stored) == 20
    assert set(json.loads(stored[0])) == {"user", "conversation_id", "summary", "at"}


# --- gaps -----------------------------------------------------------------------


def test_gaps_are_newest_first_and_keep_who_and_where(stats: StatsStore) -> None:
    stats.record_gap(text="How do I get a refund?", conversation_id="c1", user="U1", at=T0)
    stats.record_gap(text="  where is my order  ", conversation_id="c2", user="U2",
                     at=T0 + timedelta(minutes=1))

    gaps = stats.gaps()

    assert [(g.text, g.conversation_id, g.user, g.at) for g in gaps] == [
        ("where is my order", "c2", "U2", T0 + timedelta(minutes=1)),
        ("How do I get a refund?", "c1", "U1", T0),
    ]
    assert [g.text for g in stats.gaps(limit=1)] == ["where is my order"]
    assert stats.gaps(limit=0) == []


def test_gaps_are_capped_at_the_newest_500(stats: StatsStore, redis_client: redis.Redis) -> None:
    for n in range(MAX_GAPS + 3):
        stats.record_gap(text=f"question {n}", conversation_id="c", user="U",
                         at=T0 + timedelta(seconds=n))

    assert MAX_GAPS == 500
    assert redis_client.llen(keys.stats_gaps("default")) == 500
    gaps = stats.gaps(limit=10_000)
    assert len(gaps) == 500
    assert (gaps[0].text, gaps[-1].text) == ("question 502", "question 3")


def test_a_gap_is_cut_to_500_characters(stats: StatsStore) -> None:
    stats.record_gap(text="x" * 2_000, conversation_id="c", user="U", at=T0)

    assert MAX_GAP_CHARS == 500
    assert stats.gaps()[0].text == "x" * 500


def test_a_blank_message_is_not_a_gap(stats: StatsStore, redis_client: redis.Redis) -> None:
    stats.record_gap(text=" \n ", conversation_id="c", user="U", at=T0)

    assert stats.gaps() == []
    assert redis_client.keys("*") == []


# --- forget, workspaces, round trips --------------------------------------------


def test_forget_job_deletes_its_stats_and_nothing_else(
    stats: StatsStore, redis_client: redis.Redis
) -> None:
    offer(stats, "job_a", "job_b")
    complete(stats, "job_a")
    complete(stats, "job_b")
    stats.record_gap(text="refund?", conversation_id="c", user="U", at=T0)

    stats.forget_job("job_a")

    assert stats.job_stats(["job_a"])["job_a"] == JobStats()
    assert stats.recent_completions("job_a") == []
    assert not any(":job_a:" in key for key in redis_client.keys("*"))
    assert redis_client.zscore("cj:default:stats:last_used", "job_a") is None
    assert stats.job_stats(["job_b"])["job_b"].users_completed == 1
    assert len(stats.gaps()) == 1


def test_workspaces_are_counted_apart(stats: StatsStore, redis_client: redis.Redis) -> None:
    other = StatsStore(redis_client, workspace="other")
    offer(stats, "job_a")
    stats.record_gap(text="refund?", conversation_id="c", user="U", at=T0)

    assert other.job_stats(["job_a"])["job_a"] == JobStats()
    assert other.gaps() == []
    assert all(str(key).startswith("cj:default:stats:") for key in redis_client.keys("*"))


def test_every_write_and_read_is_one_round_trip(
    stats: StatsStore, round_trips: RoundTrips
) -> None:
    offer(stats, "job_a")  # opens the connection, so the counts below are requests only
    calls = [
        lambda: offer(stats, "job_a", "job_b", "job_c"),
        lambda: complete(stats, "job_a"),
        lambda: stats.record_gap(text="refund?", conversation_id="c", user="U", at=T0),
        lambda: stats.job_stats([f"job_{n}" for n in range(50)]),
        lambda: stats.recent_completions("job_a"),
        lambda: stats.gaps(),
        lambda: stats.forget_job("job_a"),
    ]
    for call in calls:
        before = round_trips.count
        call()
        assert round_trips.count - before == 1
