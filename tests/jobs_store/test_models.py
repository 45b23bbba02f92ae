"""Audience rules: parsing, who they admit, the canonical text form; and the job record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from jobs_store.errors import InvalidInput
from jobs_store.models import AudienceRule, Contact, Job, validated

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def contact(**fields: Any) -> Contact:
    base: dict[str, Any] = {"platform": "slack", "workspace": "T1", "user": "U1",
                            "first_seen": NOW - timedelta(days=1), "role": "member"}
    return Contact(**{**base, **fields})


def admits(rule: str, who: Contact) -> bool:
    return AudienceRule.parse(rule).admits(who, now=NOW)


# --- parse and admits ---------------------------------------------------------


def test_an_empty_rule_admits_everyone() -> None:
    rule = AudienceRule.parse("   ")

    assert str(rule) == ""
    assert rule.admits(contact(platform="discord", role="owner",
                               first_seen=NOW - timedelta(days=9999)), now=NOW)
    assert Job(id="j", name="n", instructions="i").audience_rule is None


def test_first_seen_within_counts_whole_days_up_to_the_limit() -> None:
    assert admits("first_seen_within=7d", contact(first_seen=NOW))
    assert admits("first_seen_within=7d", contact(first_seen=NOW - timedelta(days=7)))
    assert not admits("first_seen_within=7d",
                      contact(first_seen=NOW - timedelta(days=7, seconds=1)))
    assert AudienceRule.parse("first_seen_within=3650d").first_seen_within_days == 3650


def test_platform_admits_only_the_listed_platforms_commas_meaning_any_of() -> None:
    assert admits("platform=slack", contact(platform="slack"))
    assert not admits("platform=slack", contact(platform="discord"))
    assert admits("platform=slack,discord", contact(platform="discord"))
    assert not admits("platform=slack,discord", contact(platform="console"))


def test_role_admits_only_the_listed_roles() -> None:
    assert admits("role=admin,owner", contact(role="owner"))
    assert admits("role=admin,owner", contact(role="admin"))
    assert not admits("role=admin,owner", contact(role="member"))


def test_meta_compares_the_contacts_meta_field() -> None:
    assert admits("meta.plan=trial", contact(meta={"plan": "trial"}))
    assert not admits("meta.plan=trial", contact(meta={"plan": "pro"}))
    assert not admits("meta.plan=trial", contact(meta={}))  # unknown plan is not a trial
    assert admits("meta.plan=trial,pro", contact(meta={"plan": "pro"}))
    assert admits("meta.Team-ID=eu-1", contact(meta={"Team-ID": "eu-1"}))


FULL = "first_seen_within=7d platform=slack role=member meta.plan=trial"


def test_every_condition_must_hold() -> None:
    insider = contact(first_seen=NOW - timedelta(days=2), meta={"plan": "trial"})
    assert admits(FULL, insider)


@pytest.mark.parametrize(
    "outsider",
    [
        {"first_seen": NOW - timedelta(days=8)},
        {"platform": "discord"},
        {"role": "admin"},
        {"meta": {"plan": "pro"}},
    ],
    ids=["too-old", "other-platform", "other-role", "other-plan"],
)
def test_one_failing_condition_is_enough_to_leave_someone_out(outsider: dict[str, Any]) -> None:
    fields = {"first_seen": NOW - timedelta(days=2), "meta": {"plan": "trial"}, **outsider}
    assert not admits(FULL, contact(**fields))


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("role=owner,admin   platform=slack", "platform=slack role=admin,owner"),
        ("meta.plan=trial first_seen_within=07d", "first_seen_within=7d meta.plan=trial"),
        ("meta.b=2 meta.a=1,0", "meta.a=0,1 meta.b=2"),
        ("platform=discord,slack,discord", "platform=discord,slack"),
        ("\tplatform=console\n", "platform=console"),
        (FULL, FULL),
    ],
)
def test_the_text_form_is_canonical_and_round_trips(text: str, canonical: str) -> None:
    rule = AudienceRule.parse(text)

    assert str(rule) == canonical
    assert AudienceRule.parse(str(rule)) == rule
    job = Job(id="j", name="n", instructions="i", rule=text)
    assert job.rule == canonical
    assert job.audience_rule == rule


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("plan", "'plan' is not a condition"),
        ("plan: trial", "'plan:' is not a condition"),
        ("Platform=slack", "'Platform=slack' is not a condition"),
        ("platform=", "'platform=' is not a condition"),
        ("tier=gold", "unknown condition 'tier'"),
        ("platform=teams", "platform takes slack, discord, console; not 'teams'"),
        ("platform=,", "platform takes slack, discord, console"),
        ("role=guest,admin", "role takes owner, admin, member; not 'guest'"),
        ("first_seen_within=0d", "first_seen_within takes days from 1d to 3650d, not '0d'"),
        ("first_seen_within=3651d", "not '3651d'"),
        ("first_seen_within=1w", "not '1w'"),
        ("meta.plan=,", "meta.plan needs a value"),
        ("platform=slack platform=discord", "platform is given twice"),
        ("meta.plan=a meta.plan=b", "meta.plan is given twice"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_condition(text: str, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        AudienceRule.parse(text)

    assert refused.value.field == "rule"
    assert str(refused.value).startswith("rule: ")
    assert words in str(refused.value)


def test_a_job_with_a_bad_rule_is_refused_by_validation() -> None:
    with pytest.raises(InvalidInput, match="rule: unknown condition 'tier'"):
        validated(Job, {"id": "j", "name": "n", "instructions": "i", "rule": "tier=gold"})


# --- properties ---------------------------------------------------------------

_KEYS = st.sampled_from([
    "first_seen_within", "platform", "role", "meta.plan", "meta.Team-1", "meta.", "meta",
    "tier", "Platform", "_x", "meta.a.b",
])
_VALUES = st.one_of(
    st.sampled_from([
        "slack", "discord", "console", "slack,discord", ",slack,", "teams", "owner",
        "admin,member", "7d", "07d", "0d", "3650d", "3651d", "99999d", "d", "\u0663d", ",",
        ",,", "trial,", "a=b", "",
    ]),
    st.text(alphabet="abcdlsk0179,=.-_", max_size=12),
)
_TOKENS = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", _KEYS, _VALUES),
    st.text(max_size=15),
)
_RULE_TEXT = st.builds(
    lambda tokens, seps: "".join(t + s for t, s in zip(tokens, seps, strict=False)),
    st.lists(_TOKENS, max_size=6),
    st.lists(st.sampled_from([" ", "  ", "\t", "\n", "\u00a0"]), min_size=6, max_size=6),
)


@given(st.one_of(st.text(), _RULE_TEXT))
@example("meta.plan=,")
@example("first_seen_within=\u0663d")
@example("platform=slack platform=discord")
def test_parsing_any_text_refuses_cleanly_or_round_trips(text: str) -> None:
    try:
        rule = AudienceRule.parse(text)
    except InvalidInput as refused:
        assert refused.field == "rule"
        return
    again = AudienceRule.parse(str(rule))
    assert again == rule
    assert str(again) == str(rule)


@given(_RULE_TEXT)
@example("meta.plan=,")
def test_a_rule_a_job_was_saved_with_can_always_be_read_back(text: str) -> None:
    try:
        job = validated(Job, {"id": "j", "name": "n", "instructions": "i", "rule": text})
    except InvalidInput:
        return
    assert Job.model_validate_json(job.model_dump_json()) == job
