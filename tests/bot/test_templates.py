"""Built-in templates: creating jobs from each, and what a good job looks like."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from bot.commands import Stores
from bot.commands.render import to_text
from bot.commands.results import Table
from bot.templates import all_templates, template
from jobs_store.models import JOB_FIELDS, AudienceRule, Job
from tests.bot.conftest import Runner

REQUIRED = ("profile-setup", "first-project", "invite-team", "generate-report",
            "connect-integration", "take-message", "qualify-lead", "escalate-request",
            "troubleshoot")
TEMPLATES = all_templates()
KEYS = list(TEMPLATES)


# --- creating jobs from templates ---------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_create_from_each_template(run: Runner, stores: Stores, key: str) -> None:
    fields = TEMPLATES[key]

    result = run(f"create template={key}")

    assert result.ok, result.title
    job = stores.jobs.get(fields["name"])
    assert result.title == f"Created '{fields['name']}' ({job.id}, version 1)."
    assert job.instructions == fields["instructions"]
    assert {f: getattr(job, f) for f in JOB_FIELDS} == {
        f: str(AudienceRule.parse(fields.get(f, ""))) if f == "rule" else fields.get(f, "")
        for f in JOB_FIELDS}


@pytest.mark.parametrize("key", KEYS)
def test_field_beside_the_template_overrides_it(run: Runner, stores: Stores, key: str) -> None:
    result = run(["create", f"template={key}", "name=Our own name",
                  r"trigger=only this\nand this"])

    assert result.ok, result.title
    job = stores.jobs.get("Our own name")
    assert job.trigger == "only this\nand this"
    assert job.instructions == TEMPLATES[key]["instructions"]
    assert stores.jobs.find(TEMPLATES[key]["name"]) is None


def test_template_key_any_case_or_its_name(run: Runner, stores: Stores) -> None:
    assert run("create template=TAKE-MESSAGE").ok
    assert run('create template="Qualify a lead"').ok

    assert [job.name for job in stores.jobs.list()] == ["Qualify a lead", "Take a message"]


def test_every_template_at_once_fits_one_library(run: Runner, stores: Stores) -> None:
    for key in KEYS:
        assert run(f"create template={key}").ok

    listing = run("list")

    assert listing.title == f"{len(KEYS)} jobs"


def test_same_template_twice_is_refused_by_name(
    run: Runner, stores: Stores, db_state: Callable[[], dict[str, Any]]
) -> None:
    run("create template=take-message")
    before = db_state()

    result = run("create template=take-message")

    assert not result.ok
    assert "a job named 'Take a message' already exists" in result.title
    assert db_state() == before


def test_unknown_template_is_refused_listing_the_choices(
    run: Runner, stores: Stores, db_state: Callable[[], dict[str, Any]]
) -> None:
    before = db_state()

    result = run("create template=take-mesage name=x instructions=y")

    assert not result.ok
    assert result.title.startswith("template: no template 'take-mesage'. "
                                   "Did you mean 'take-message'? Choose one of: ")
    for key in KEYS:
        assert key in result.title
    assert db_state() == before


def test_templates_command_lists_key_name_audience(run: Runner) -> None:
    result = run("templates")

    assert result.title == f"{len(KEYS)} templates"
    table = result.blocks[0]
    assert isinstance(table, Table)
    assert [row[0] for row in table.rows] == KEYS
    assert {row[0]: row[1] for row in table.rows} == {k: v["name"] for k, v in TEMPLATES.items()}
    assert "/jobs create template=take-message" in to_text(result)


def test_template_returns_a_copy() -> None:
    fields = template("take-message")
    fields["name"] = "changed"

    assert template("take-message")["name"] == "Take a message"


# --- what a good job looks like -----------------------------------------------------


def test_at_least_the_nine_required_templates() -> None:
    assert len(TEMPLATES) >= 9
    missing = [key for key in REQUIRED if key not in TEMPLATES]
    assert not missing, f"missing templates: {missing}"


@pytest.mark.parametrize("key", KEYS)
def test_template_is_a_valid_job(key: str) -> None:
    job = Job(id="job_check", **TEMPLATES[key])

    assert job.trigger, "users need words to find it"
    assert job.description
    assert job.audience, "the audience is stated in words"
    if job.rule:
        assert str(AudienceRule.parse(job.rule)) == job.rule


@pytest.mark.parametrize("key", KEYS)
def test_instructions_start_with_the_goal(key: str) -> None:
    first_line = TEMPLATES[key]["instructions"].splitlines()[0]

    assert first_line.startswith("Goal: ")
    assert len(first_line) > len("Goal: ") + 20


@pytest.mark.parametrize("key", KEYS)
def test_instructions_number_their_steps_in_order(key: str) -> None:
    numbers = [int(m[1]) for m in re.finditer(r"^(\d+)\. ", TEMPLATES[key]["instructions"],
                                              re.M)]

    assert len(numbers) >= 3
    assert numbers == list(range(1, len(numbers) + 1))


@pytest.mark.parametrize("key", KEYS)
def test_instructions_say_what_to_do_when_the_user_declines_or_goes_off_topic(
    key: str
) -> None:
    text = TEMPLATES[key]["instructions"]

    assert re.search(r"\bdeclines?\b", text), "says what to do when the user declines"
    assert "off-topic" in text, "says what to do when the user goes off-topic"


@pytest.mark.parametrize("key", KEYS)
def test_instructions_end_with_complete_job(key: str) -> None:
    text = TEMPLATES[key]["instructions"]

    assert "complete_job" in text
    assert "escalate" in text
