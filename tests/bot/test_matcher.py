"""The job matcher, over the built-in templates created as real jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.commands import Stores
from bot.matcher import THRESHOLD, JobMatcher
from bot.templates import all_templates
from jobs_store.models import Contact, Job
from tests.bot.conftest import Runner

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
NAMES = {key: fields["name"] for key, fields in all_templates().items()}


def _contact(*, platform: str = "slack", days_ago: float = 1, role: str = "member",
             **meta: str) -> Contact:
    return Contact(platform=platform, workspace="T1", user="U1",  # type: ignore[arg-type]
                   first_seen=NOW - timedelta(days=days_ago), role=role,  # type: ignore[arg-type]
                   meta=meta)


@pytest.fixture
def library(run: Runner, stores: Stores) -> list[Job]:
    """Every template created with `/jobs create template=<key>`."""
    for key in NAMES:
        assert run(f"create template={key}").ok
    return stores.jobs.list()


@pytest.mark.parametrize(("text", "key"), [
    ("I forgot my password", "reset-password"),
    ("can we get a demo and pricing", "qualify-lead"),
    ("I want to leave a message for Sam", "take-message"),
    ("how do I add my colleagues", "invite-team"),
    ("the app keeps crashing", "troubleshoot"),
    ("I want to talk to a human", "escalate-request"),
    ("set up my profile", "profile-setup"),
    ("help me create my first project", "first-project"),
])
def test_clear_requests_rank_the_right_job_first(
    library: list[Job], text: str, key: str
) -> None:
    if key not in NAMES:
        pytest.skip(f"no template {key}")

    matches = JobMatcher().rank(library, text, contact=_contact(), now=NOW)

    assert matches, f"nothing matched {text!r}"
    assert matches[0].job.name == NAMES[key]
    assert matches[0].score == 1.0 or matches[0].score >= THRESHOLD


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "the", "???", "hello there", "ok"])
def test_empty_or_unknown_words_match_nothing(library: list[Job], text: str) -> None:
    assert JobMatcher().rank(library, text, contact=_contact(), now=NOW) == []


@pytest.mark.parametrize("text", ["how do I", "hi how are you", "what can you do"])
def test_small_talk_matches_nothing(library: list[Job], text: str) -> None:
    assert JobMatcher().rank(library, text, contact=_contact(), now=NOW) == []


def test_empty_library_matches_nothing() -> None:
    assert JobMatcher().rank([], "I forgot my password", now=NOW) == []


@pytest.mark.parametrize("text", [
    "I forgot my password", "how do I add my colleagues", "set up my profile and photo",
    "can we get a demo and pricing", "I forgot my password and cannot log in",
])
def test_scores_are_between_0_and_1_best_first(library: list[Job], text: str) -> None:
    matches = JobMatcher().rank(library, text, contact=_contact(), now=NOW, limit=20)

    scores = [m.score for m in matches]
    assert scores
    assert all(THRESHOLD <= s <= 1 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert len({m.job.id for m in matches}) == len(matches)


def test_limit_caps_the_number_of_matches(library: list[Job]) -> None:
    matches = JobMatcher().rank(library, "how do I add my colleagues", contact=_contact(),
                                now=NOW, limit=2)

    assert len(matches) == 2


def test_reasons_name_the_shared_words_and_the_rule(library: list[Job]) -> None:
    (best, *_) = JobMatcher().rank(library, "set up my profile", contact=_contact(), now=NOW)

    assert best.job.name == NAMES["profile-setup"]
    assert best.reasons[0].startswith("shares words: ")
    assert "profile" in best.reasons[0]
    assert best.reasons[1] == "audience rule holds: first_seen_within=7d"


# --- audience rules ---------------------------------------------------------------


def test_rule_first_seen_within_excludes_an_old_contact(library: list[Job]) -> None:
    matcher = JobMatcher()
    profile = NAMES["profile-setup"]

    new = matcher.rank(library, "set up my profile", contact=_contact(days_ago=2), now=NOW)
    old = matcher.rank(library, "set up my profile", contact=_contact(days_ago=30), now=NOW,
                       limit=20)

    assert new[0].job.name == profile
    assert profile not in [m.job.name for m in old]


def test_job_with_a_rule_is_not_offered_without_a_contact(library: list[Job]) -> None:
    matches = JobMatcher().rank(library, "set up my profile", contact=None, now=NOW, limit=20)

    assert NAMES["profile-setup"] not in [m.job.name for m in matches]


@pytest.mark.parametrize(("rule", "contact", "admitted"), [
    ("platform=slack", _contact(platform="discord"), False),
    ("platform=slack", _contact(platform="slack"), True),
    ("platform=discord,slack", _contact(platform="discord"), True),
    ("role=admin,owner", _contact(role="member"), False),
    ("role=admin,owner", _contact(role="owner"), True),
    ("meta.plan=trial", _contact(plan="paid"), False),
    ("meta.plan=trial", _contact(), False),
    ("meta.plan=trial", _contact(plan="trial"), True),
    ("first_seen_within=7d platform=slack", _contact(days_ago=6.9), True),
    ("first_seen_within=7d platform=slack", _contact(days_ago=7.1), False),
    ("first_seen_within=7d platform=slack", _contact(days_ago=1, platform="console"), False),
])
def test_rule_decides_whether_the_job_is_ever_returned(
    run: Runner, stores: Stores, rule: str, contact: Contact, admitted: bool
) -> None:
    assert run(["create", "name=Discount for trials", "trigger=discount coupon price",
                "instructions=1. Offer the trial discount", f"rule={rule}"]).ok
    assert run("create name=Open instructions='1. Anything' trigger='discount question'").ok

    matches = JobMatcher().rank(stores.jobs.list(), "is there a discount coupon",
                                contact=contact, now=NOW, limit=10)

    names = [m.job.name for m in matches]
    assert ("Discount for trials" in names) is admitted
    assert "Open" in names


# --- cache --------------------------------------------------------------------------


def test_same_jobs_same_results(library: list[Job]) -> None:
    matcher = JobMatcher()

    first = matcher.rank(library, "can we get a demo and pricing", contact=_contact(), now=NOW)
    second = matcher.rank(library, "can we get a demo and pricing", contact=_contact(), now=NOW)

    assert first == second
    assert first == JobMatcher().rank(library, "can we get a demo and pricing",
                                      contact=_contact(), now=NOW)


def test_edited_job_is_matched_on_its_new_text(
    run: Runner, stores: Stores, library: list[Job]
) -> None:
    matcher = JobMatcher()
    query = "parcel"
    assert matcher.rank(library, query, contact=_contact(), now=NOW) == []

    assert run("edit 'Take a message' trigger='where is my parcel'").ok
    edited = stores.jobs.list()

    matches = matcher.rank(edited, query, contact=_contact(), now=NOW)
    assert matches[0].job.name == "Take a message"
    assert matches[0].job.version == 2
    assert matcher.rank(library, query, contact=_contact(), now=NOW) == [], (
        "the old versions keep their own index")


def test_rename_through_the_command_is_matched(run: Runner, stores: Stores) -> None:
    run("create name=Alpha instructions='1. Say hi'")
    matcher = JobMatcher()
    assert matcher.rank(stores.jobs.list(), "zebra", now=NOW) == []

    run("edit Alpha name='Zebra crossing'")

    (match,) = matcher.rank(stores.jobs.list(), "zebra", now=NOW)
    assert match.job.name == "Zebra crossing"


# --- jobs without indexable words ---------------------------------------------------


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_library_without_words_matches_nothing_instead_of_raising(
    run: Runner, stores: Stores
) -> None:
    assert run("create name=👋 instructions='1. 👋'").ok

    assert JobMatcher().rank(stores.jobs.list(), "hello", now=NOW) == []


def test_job_without_words_beside_others_is_never_matched(run: Runner, stores: Stores) -> None:
    run("create name=👋 instructions='1. 👋'")
    run("create name='Reset a password' instructions='1. Use the reset link'")

    matches = JobMatcher().rank(stores.jobs.list(), "password", now=NOW)

    assert [m.job.name for m in matches] == ["Reset a password"]
