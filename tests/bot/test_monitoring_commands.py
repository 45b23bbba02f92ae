"""`/jobs stats` and `/jobs gaps` through the real dispatcher, on a real Redis.

The subcommands run inside a `/jobs` group built here from the existing ones
plus `monitoring.SUBCOMMANDS`, so these tests hold before and after they are
added to `bot.commands.jobs.GROUP`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
import redis

from bot.commands import Caller, Result, Stores
from bot.commands import jobs as jobs_commands
from bot.commands.monitoring import (
    SUBCOMMANDS,
    content_words,
    group_questions,
    jaccard,
)
from bot.commands.registry import Group
from bot.commands.render import to_text
from bot.commands.results import Fields, Paragraph, Table
from jobs_store import BotStore, JobStore
from jobs_store.models import Job
from jobs_store.stats import Gap, StatsStore
from tests.bot.conftest import Clock, dump_db

T0 = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)

_MINE = {sub.name for sub in SUBCOMMANDS}
JOBS = Group("jobs", jobs_commands.GROUP.summary, [
    *(sub for sub in jobs_commands.GROUP.subcommands.values() if sub.name not in _MINE),
    *SUBCOMMANDS,
])

Run = Callable[..., Result]


@pytest.fixture
def stores(redis_client: redis.Redis, clock: Clock) -> Stores:
    """The conftest's stores, with the stats store."""
    return Stores(jobs=JobStore(redis_client, clock=clock),
                  bots=BotStore(redis_client, clock=clock),
                  stats=StatsStore(redis_client))


@pytest.fixture
def jobs_run(stores: Stores, admin: Caller) -> Run:
    def runner(command: str | Sequence[str], *, caller: Caller | None = None) -> Result:
        return JOBS.run(stores, caller or admin, command)

    return runner


def _stats(stores: Stores) -> StatsStore:
    assert stores.stats is not None
    return stores.stats


def _make(stores: Stores, name: str) -> Job:
    return stores.jobs.create({"name": name, "instructions": "1. Do it"}, actor="U_SEED")


def _gap(stores: Stores, text: str, *, minutes: int = 0, user: str = "U1") -> None:
    _stats(stores).record_gap(text=text, conversation_id=f"conv-{user}", user=user,
                              at=T0 + timedelta(minutes=minutes))


def _gap_record(text: str, minutes: int = 0) -> Gap:
    return Gap(text=text, conversation_id="c", user="U", at=T0 + timedelta(minutes=minutes))


# --- /jobs stats ------------------------------------------------------------------


def test_stats_table_counts_chats_users_rate_and_last_use(
    jobs_run: Run, stores: Stores
) -> None:
    message = _make(stores, "Take a message")
    lead = _make(stores, "Qualify a lead")
    _make(stores, "Unused")
    for n, user in enumerate(("U1", "U2", "U3")):
        _stats(stores).record_referenced(job_ids=[message.id], conversation_id=f"c{n}",
                                          user=user, at=T0 + timedelta(days=n))
    _stats(stores).record_completed(job_id=message.id, user="U1", conversation_id="c0",
                                     summary="Took a message for Ana", at=T0)
    _stats(stores).record_referenced(job_ids=[lead.id], conversation_id="c9", user="U1", at=T0)

    result = jobs_run("stats")

    assert result.ok
    assert result.title == "Usage of 3 jobs"
    table = result.blocks[0]
    assert isinstance(table, Table)
    assert table.columns == ("job", "chats", "offered", "completed", "completion rate",
                             "last used")
    assert table.rows == (
        ("Take a message", "3", "3", "1", "33%", "2025-03-06"),
        ("Qualify a lead", "1", "1", "0", "0%", "2025-03-04"),
        ("Unused", "0", "0", "0", "-", "never"),
    )
    text = to_text(result)
    assert "Take a message  3      3        1          33%" in text
    assert "/jobs stats <job>" in text


def test_stats_ties_on_chats_are_sorted_by_name(jobs_run: Run, stores: Stores) -> None:
    for name in ("beta", "Alpha", "gamma"):
        _make(stores, name)

    table = jobs_run("stats").blocks[0]

    assert isinstance(table, Table)
    assert [row[0] for row in table.rows] == ["Alpha", "beta", "gamma"]


def test_stats_of_an_empty_library_says_so(jobs_run: Run) -> None:
    result = jobs_run("stats")

    assert result.ok
    assert result.title == "The job library is empty."
    assert "/jobs templates" in to_text(result)


def test_stats_of_one_job_shows_fields_and_recent_completions(
    jobs_run: Run, stores: Stores
) -> None:
    job = _make(stores, "Take a message")
    _stats(stores).record_referenced(job_ids=[job.id], conversation_id="c1", user="U1", at=T0)
    for n in range(7):
        _stats(stores).record_completed(
            job_id=job.id, user=f"U{n % 2}", conversation_id="c1",
            summary=f"Message {n}\nfor #front-desk", at=T0 + timedelta(hours=n))

    result = jobs_run(["stats", "take a MESSAGE"])

    assert result.ok
    assert result.title == "Usage of Take a message"
    fields = result.blocks[0]
    assert isinstance(fields, Fields)
    assert dict(fields.pairs) == {
        "chats": "1", "users offered": "2", "users completed": "2",
        "completion rate": "100%", "last used": "2025-03-04 15:00 UTC",
    }
    recent = result.blocks[1]
    assert isinstance(recent, Paragraph)
    lines = recent.text.splitlines()
    assert lines[1] == "- 2025-03-04 15:00 UTC, U0: Message 6 for #front-desk"
    assert len(lines) == 1 + 5  # the heading and the five newest
    assert "Message 1 " not in recent.text
    assert "last used:       2025-03-04 15:00 UTC" in to_text(result)


def test_stats_of_an_unused_job(jobs_run: Run, stores: Stores) -> None:
    _make(stores, "Quiet")

    text = to_text(jobs_run("stats Quiet"))

    assert "completion rate: -" in text
    assert "last used:       never" in text
    assert "No completions recorded yet." in text


def test_stats_of_an_unknown_job_is_refused_with_a_hint(
    jobs_run: Run, stores: Stores
) -> None:
    _make(stores, "Take a message")

    result = jobs_run("stats 'Take a mesage'")

    assert not result.ok
    assert "No job named 'Take a mesage'" in result.title
    assert "Did you mean 'Take a message'?" in result.title


def test_stats_takes_one_job_at_most(jobs_run: Run) -> None:
    result = jobs_run("stats a b")

    assert not result.ok
    assert result.title.startswith("Usage: /jobs stats [<job>]")


# --- /jobs gaps -------------------------------------------------------------------

REFUND = ["How do I get a refund?", "I want a refund for my purchase",
          "Can I get my money back? I'd like a refund", "refunds take how long?",
          "refund after 30 days?"]
ORDER = ["where is my order", "track my order status", "order status please"]
PASSWORD = ["How do I reset my password?", "password reset link not working"]


def test_gaps_groups_paraphrases_and_keeps_topics_apart(
    jobs_run: Run, stores: Stores
) -> None:
    questions = [*REFUND, *ORDER, *PASSWORD, "hi", "thanks!"]
    for minutes, text in enumerate(questions):
        _gap(stores, text, minutes=minutes, user=f"U{minutes}")

    result = jobs_run("gaps")

    assert result.ok
    assert result.title == "10 unmatched questions in 3 groups, biggest first"
    groups = [dict(block.pairs) for block in result.blocks if isinstance(block, Fields)]
    assert [g[f"group {n}"] for n, g in enumerate(groups, start=1)] == [
        "asked 5 times, last 2025-03-04 09:04 UTC",
        "asked 3 times, last 2025-03-04 09:07 UTC",
        "asked 2 times, last 2025-03-04 09:09 UTC",
    ]
    refund = groups[0]
    assert refund["example"] in REFUND
    assert all(line in REFUND for line in refund["also asked"].splitlines())
    assert len(refund["also asked"].splitlines()) == 3
    assert groups[1]["example"] in ORDER
    assert groups[2]["example"] in PASSWORD
    text = to_text(result)
    assert "2 messages of small talk left out." in text
    assert f'/jobs create name=… trigger="{refund["example"]}"' in text


def test_gaps_without_any_recorded(jobs_run: Run) -> None:
    result = jobs_run("gaps")

    assert result.ok
    assert result.title == "No unmatched questions recorded yet."


def test_gaps_with_small_talk_only(jobs_run: Run, stores: Stores) -> None:
    _gap(stores, "hello!")

    result = jobs_run("gaps")

    assert result.title == ("No unmatched questions recorded yet "
                            "(only 1 message of small talk).")


def test_gaps_limit_looks_at_the_newest_only(jobs_run: Run, stores: Stores) -> None:
    for minutes, text in enumerate([*PASSWORD, *REFUND]):  # the refund ones are newest
        _gap(stores, text, minutes=minutes)

    result = jobs_run("gaps limit=5")

    assert result.title == "5 unmatched questions in 1 group, biggest first"
    assert "password" not in to_text(result)


@pytest.mark.parametrize("value", ["abc", "0", "-1", "501", "2.5", "", "²", "9" * 5000])
def test_gaps_limit_must_be_a_whole_number_in_range(
    jobs_run: Run, value: str, redis_client: redis.Redis
) -> None:
    before = dump_db(redis_client)

    result = jobs_run(["gaps", f"limit={value}"])

    assert not result.ok
    given = value if len(value) <= 20 else "9" * 19 + "…"
    assert result.title == f"limit: must be a whole number from 1 to 500 (you gave '{given}')"
    assert dump_db(redis_client) == before


def test_gaps_refuses_other_fields_and_arguments(jobs_run: Run) -> None:
    assert jobs_run("gaps max=3").title.startswith("max: /jobs gaps does not take this field")
    assert jobs_run("gaps refunds").title.startswith("Usage: /jobs gaps [limit=<n>]")


def test_gaps_shows_the_ten_biggest_groups_and_counts_the_rest(
    jobs_run: Run, stores: Stores
) -> None:
    topics = [f"topic{n} question" for n in range(12)]
    for minutes, text in enumerate(topics):
        _gap(stores, f"{text.split()[0]} alpha{minutes}", minutes=minutes)
    _gap(stores, "topic0 again", minutes=30)  # topic0 is the biggest

    result = jobs_run("gaps")

    groups = [b for b in result.blocks if isinstance(b, Fields)]
    assert len(groups) == 10
    assert dict(groups[0].pairs)["group 1"].startswith("asked 2 times")
    assert "2 more groups (2 questions) not shown." in to_text(result)


def test_repeated_questions_are_shown_once(jobs_run: Run, stores: Stores) -> None:
    for minutes in range(4):
        _gap(stores, "How do I get a refund?", minutes=minutes)
    _gap(stores, "refund please", minutes=9)

    groups = [dict(b.pairs) for b in jobs_run("gaps").blocks if isinstance(b, Fields)]

    assert len(groups) == 1
    assert groups[0]["group 1"].startswith("asked 5 times")
    assert {groups[0]["example"], groups[0]["also asked"]} == {
        "How do I get a refund?", "refund please"}


def test_the_suggested_trigger_can_be_pasted(jobs_run: Run, stores: Stores) -> None:
    _gap(stores, 'what does "net 30" mean\non my invoice')

    closing = jobs_run("gaps").blocks[-1]

    assert isinstance(closing, Paragraph)
    assert "trigger=\"what does 'net 30' mean on my invoice\"" in closing.text


# --- permissions and help ---------------------------------------------------------


@pytest.mark.parametrize("command", ["stats", "stats x", "gaps", "gaps limit=5"])
def test_members_are_refused(jobs_run: Run, member: Caller, command: str) -> None:
    result = jobs_run(command, caller=member)

    assert not result.ok
    assert result.title.startswith(f"Only admins can use /jobs {command.split()[0]}.")


@pytest.mark.parametrize("command", ["stats", "gaps"])
def test_without_a_stats_store_the_commands_say_so(
    redis_client: redis.Redis, admin: Caller, command: str
) -> None:
    stores = Stores(jobs=JobStore(redis_client), bots=BotStore(redis_client))  # stats=None
    _make(stores, "A job")

    result = JOBS.run(stores, admin, command)

    assert not result.ok
    assert result.title.startswith("Usage stats are not available here")


def test_help_describes_both(jobs_run: Run) -> None:
    text = to_text(jobs_run("help"))
    assert "/jobs stats [<job>]" in text
    assert "/jobs gaps [limit=<n>]" in text
    assert "1–500" in to_text(jobs_run("gaps help"))
    assert "completion rate is completed / offered" in to_text(jobs_run("help stats"))


# --- grouping helpers -------------------------------------------------------------


def test_content_words_are_stemmed_and_skip_small_words() -> None:
    assert content_words("How do I get REFUNDS for my orders?") == {"refund", "order"}
    assert content_words("Hi! Thanks, ok?") == frozenset()
    assert content_words("what’s the customer's plan") == {"custom", "plan"}


def test_jaccard() -> None:
    assert jaccard(frozenset({"a", "b"}), frozenset({"b", "c"})) == pytest.approx(1 / 3)
    assert jaccard(frozenset(), frozenset()) == 0.0


def test_topics_do_not_chain_through_a_message_that_shares_a_word_with_each() -> None:
    gaps = [_gap_record("refund please", 3), _gap_record("refund for my order", 2),
            _gap_record("where is my order", 1)]

    groups, small_talk = group_questions(gaps)

    assert small_talk == 0
    assert len(groups) == 2  # the middle one joins one side; it does not join the two
    group_of = {gap.text: n for n, group in enumerate(groups) for gap in group.gaps}
    assert group_of["refund please"] != group_of["where is my order"]


def test_groups_of_equal_size_put_the_most_recent_first() -> None:
    groups, _ = group_questions([_gap_record("invoice copy", 1), _gap_record("opening hours", 5)])

    assert [group.example.text for group in groups] == ["opening hours", "invoice copy"]


def test_grouping_500_questions_is_quick() -> None:
    import time

    words = ["refund", "order", "password", "invoice", "shipping", "hours", "canada", "plan"]
    gaps = [_gap_record(f"{words[n % 8]} {words[(n * 3) % 8]} q{n}", n) for n in range(500)]

    started = time.perf_counter()
    groups, _ = group_questions(gaps)

    assert time.perf_counter() - started < 2.0
    assert sum(len(g.gaps) for g in groups) == 500
