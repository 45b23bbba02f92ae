"""Related words: a message in other words than the job's still finds it, and says why."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.matcher import JobMatcher
from bot.vocabulary import Vocabulary, builtin, load
from config.errors import ConfigError
from jobs_store.models import Job

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def _job(key: str, name: str, trigger: str, instructions: str = "1. Help.") -> Job:
    return Job(id=f"job_{key:0>12}", name=name, trigger=trigger, instructions=instructions)


LIBRARY = [
    _job("a1", "Reset a password", "forgot my password, locked out of my account"),
    _job("b2", "Connect an integration", "connect another tool, set up an integration"),
    _job("c3", "Book a meeting", "schedule a meeting, find a time for a call"),
]


def _best(text: str, vocabulary: Vocabulary | None = None) -> tuple[str | None, tuple[str, ...]]:
    matches = JobMatcher(vocabulary=vocabulary).rank(LIBRARY, text, now=NOW)
    return (matches[0].job.name, matches[0].reasons) if matches else (None, ())


def test_a_message_without_the_jobs_words_finds_it_through_related_ones() -> None:
    name, reasons = _best("it keeps rejecting my pw")

    assert name == "Reset a password"
    assert "related words: rejecting (password), pw (password)" in reasons


def test_phrases_are_matched_as_typed_and_tool_names_mean_an_integration() -> None:
    assert _best("can we hook up zapier")[0] == "Connect an integration"
    assert _best("could we hop on zoom thursday at 2pm")[0] == "Book a meeting"


def test_without_the_groups_those_messages_match_nothing() -> None:
    empty = Vocabulary({})

    assert _best("it keeps rejecting my pw", empty) == (None, ())
    assert _best("can we hook up zapier", empty) == (None, ())


def test_a_word_shared_with_the_job_is_named_once_not_as_related_too() -> None:
    name, reasons = _best("I forgot my password")

    assert name == "Reset a password"
    assert reasons == ("shares words: forgot, password",)


def test_a_member_whose_stem_is_a_small_word_matches_only_as_typed() -> None:
    # "canned" stems to "can": as a stem it would put every "can you…" in the group.
    vocabulary = Vocabulary({"bot": ["canned", "robot"]})

    assert [t.group for t in vocabulary.touches("can you help")] == []
    assert [t.typed for t in vocabulary.touches("enough canned replies, robots")] == [
        "robots", "canned"]


def test_the_builtin_groups_load_and_every_member_is_text() -> None:
    touches = builtin().touches("my headshot, our CSV export and a 404 on zoom")

    assert {t.group for t in touches} >= {"photo", "report", "error", "meeting"}


def test_a_teams_own_file_adds_groups_and_members(tmp_path: Path) -> None:
    words = tmp_path / "words.yaml"
    words.write_text("groups:\n  integration: [acmesync]\n  billing: [invoice, vat]\n")
    library = [*LIBRARY, _job("d4", "Billing questions", "invoice, receipts")]

    vocabulary = load(words)
    best = JobMatcher(vocabulary=vocabulary).rank(library, "set up acmesync", now=NOW)

    assert best[0].job.name == "Connect an integration"
    assert "related words: acmesync (integration)" in best[0].reasons
    assert [t.group for t in vocabulary.touches("our vat id")] == ["billing"]
    assert [t.group for t in vocabulary.touches("my pw")] == ["password"]  # built-in kept


@pytest.mark.parametrize(("text", "says"), [
    ("groups: [a, b]", "expected `groups:`"),
    ("groups:\n  billing: invoice\n", "group 'billing' must be a list"),
    ("groups:\n  billing: []\n", "group 'billing' must be a list"),
    ("groups:\n  billing: [invoice, {a: 1}]\n", "group 'billing' must be a list"),
    ("groups: {billing: [invoice]", "cannot read it"),
    ("", "expected `groups:`"),
])
def test_a_bad_file_is_refused_at_start_naming_the_variable(
        tmp_path: Path, text: str, says: str) -> None:
    words = tmp_path / "words.yaml"
    words.write_text(text)

    with pytest.raises(ConfigError, match="CHATJOBS_VOCABULARY") as error:
        load(words)
    assert says in str(error.value)
