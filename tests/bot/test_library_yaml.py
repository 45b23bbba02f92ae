"""Jobs as code: `/jobs export` and `/jobs import`, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import Caller, Stores, library_yaml
from bot.commands.render import to_text
from bot.commands.results import Code
from bot.errors import InvalidInput
from jobs_store.models import JOB_FIELDS, LIMITS, Job
from tests.bot.conftest import Runner

DbState = Callable[[], dict[str, Any]]

LIBRARY: list[dict[str, str]] = [
    {
        "name": "Take a message",
        "description": "Takes a message: who, why, how to reach them.",
        "trigger": "leave a message, tell Sam I called, \"urgent\": call back",
        "instructions": ("Goal: Collect the caller's name, company and reason.\n"
                         "1. Ask who the message is for.\n"
                         "2. Ask for: 1) name, 2) company, 3) reason.\n"
                         "   Keep it short: one question at a time.\n"
                         "\n"
                         "3. Read it back; if they decline, end politely."),
        "audience": "Visitors who want to reach someone: customers, partners",
    },
    {
        "name": "Réinitialiser le mot de passe 🔑",
        "trigger": "mot de passe oublié, パスワード, пароль",
        "instructions": ("1. Demandez l'adresse e-mail — jamais le mot de passe.\n"
                         "2. « Envoyez » le lien."),
        "rule": "platform=discord,slack role=member first_seen_within=30d meta.plan=trial",
    },
    {
        "name": "Yes: no # comment? - [list] {map} & *alias !tag %",
        "description": "'single' and \"double\" quotes, a colon: here, a hash # there",
        "trigger": "true",
        "instructions": "null",
        "audience": "123",
    },
    {"name": "Plain", "instructions": "  Step with leading spaces after a strip  "},
]


def _create_library(stores: Stores) -> None:
    for fields in LIBRARY:
        stores.jobs.create(fields, actor="U_SEED")


def _fields_by_name(stores: Stores) -> dict[str, dict[str, str]]:
    return {job.name: {f: getattr(job, f) for f in JOB_FIELDS} for job in stores.jobs.list()}


def _export(run: Runner, *args: str, stores: Stores | None = None) -> str:
    result = run(["export", *args], stores=stores)
    assert result.ok, result.title
    (block,) = result.blocks
    assert isinstance(block, Code)
    assert block.language == "yaml"
    return block.text


# --- export -------------------------------------------------------------------------


def test_export_writes_readable_yaml(run: Runner, stores: Stores) -> None:
    _create_library(stores)

    text = _export(run)

    assert text.startswith("# chatjobs job library: 4 jobs, exported ")
    assert "  instructions: |-\n    Goal: Collect the caller's name" in text
    assert "Réinitialiser le mot de passe 🔑" in text
    document = yaml.safe_load(text)
    assert [job["name"] for job in document["jobs"]] == sorted(
        (f["name"] for f in LIBRARY), key=str.lower)
    plain = next(job for job in document["jobs"] if job["name"] == "Plain")
    assert set(plain) == {"name", "instructions"}, "empty fields are left out"


def test_export_named_jobs_only(run: Runner, stores: Stores) -> None:
    _create_library(stores)

    document = yaml.safe_load(_export(run, "Plain", "take a message"))

    assert [job["name"] for job in document["jobs"]] == ["Plain", "Take a message"]


def test_export_of_unknown_job_is_refused(run: Runner, stores: Stores) -> None:
    _create_library(stores)

    result = run("export Plain Nope")

    assert not result.ok
    assert result.title.startswith("No job named 'Nope'.")


def test_export_of_empty_library_is_an_empty_list(run: Runner) -> None:
    assert yaml.safe_load(_export(run)) == {"jobs": []}


# --- round trips ----------------------------------------------------------------------


def test_export_then_import_into_a_fresh_workspace_is_identical(
    run: Runner, stores: Stores, other_stores: Stores
) -> None:
    _create_library(stores)
    text = _export(run)

    result = run("import " + text, stores=other_stores)

    assert result.ok, result.title
    assert result.title == "Imported 4 jobs: 4 created, 0 updated, 0 unchanged."
    assert _fields_by_name(other_stores) == _fields_by_name(stores)
    assert all(job.created_by == "U_ADMIN" and job.version == 1
               for job in other_stores.jobs.list())


def test_import_into_the_same_workspace_changes_nothing(
    run: Runner, stores: Stores, db_state: DbState
) -> None:
    _create_library(stores)
    text = _export(run)
    before = db_state()

    result = run("import\n" + text)

    assert result.ok
    assert result.title == "Imported 4 jobs: 0 created, 0 updated, 4 unchanged."
    assert db_state() == before


def test_import_of_changed_yaml_updates_and_creates(run: Runner, stores: Stores) -> None:
    _create_library(stores)
    document = yaml.safe_load(_export(run))
    document["jobs"][1]["trigger"] = "a brand new trigger"
    document["jobs"].append({"name": "Brand new", "instructions": "1. New"})
    document["jobs"][0]["name"] = document["jobs"][0]["name"].upper()

    result = run("import " + yaml.safe_dump(document, allow_unicode=True))

    assert result.ok, result.title
    assert result.title == "Imported 5 jobs: 1 created, 2 updated, 2 unchanged."
    changed = stores.jobs.get(document["jobs"][1]["name"])
    assert (changed.trigger, changed.version) == ("a brand new trigger", 2)
    assert changed.updated_by == "U_ADMIN"
    assert stores.jobs.get(document["jobs"][0]["name"]).name == document["jobs"][0]["name"]
    assert stores.jobs.get("Brand new").instructions == "1. New"
    assert [v.version for v in stores.jobs.history(changed.id)] == [2, 1]


def test_import_takes_a_bare_list(run: Runner, stores: Stores) -> None:
    result = run("import - name: Bare\n  instructions: 1. Go")

    assert result.ok, result.title
    assert stores.jobs.get("Bare").instructions == "1. Go"


def test_import_numbers_are_kept_as_text(run: Runner, stores: Stores) -> None:
    result = run("import jobs:\n- name: 404\n  instructions: 1.5")

    assert result.ok, result.title
    assert stores.jobs.get("404").instructions == "1.5"


def test_import_of_an_export_clears_fields_that_are_empty_in_it(
    run: Runner, stores: Stores, other_stores: Stores
) -> None:
    stores.jobs.create({"name": "Take a message", "instructions": "1. Ask"}, actor="U_SEED")
    other_stores.jobs.create({"name": "Take a message", "instructions": "1. Ask",
                              "description": "an old description"}, actor="U_SEED")

    result = run("import " + _export(run), stores=other_stores)

    assert result.ok
    assert other_stores.jobs.get("Take a message").description == ""


#: Characters YAML treats specially, mixed into arbitrary text. NEL (U+0085) is left out
#: here: `test_next_line_character_survives_export_and_import` shows it does not survive.
_YAML_SPECIAL = ["\n", "\r", "\t", " ", ":", "#", "'", '"', "-", "|", ">", "&", "*", "!",
                 "%", "@", "`", "{", "}", "[", "]", ",", "?", "\u2028", "\u2029", "\ufeff",
                 "\xa0", "é", "🔑"]
_field_text = st.text(
    st.one_of(st.characters(exclude_categories=("Cs",), exclude_characters="\x00\x85"),
              st.sampled_from(_YAML_SPECIAL)),
    max_size=40)


def _job_values(field: str) -> st.SearchStrategy[str]:
    low, high = LIMITS[field]
    text = _field_text.map(str.strip)
    return text.filter(lambda v: low <= len(v) <= high)


@settings(max_examples=150, deadline=None)
@given(name=_job_values("name"), description=_job_values("description"),
       trigger=_job_values("trigger"), instructions=_job_values("instructions"),
       audience=_job_values("audience"))
def test_dump_then_load_gives_the_same_fields(
    name: str, description: str, trigger: str, instructions: str, audience: str
) -> None:
    fields = {"name": name, "description": description, "trigger": trigger,
              "instructions": instructions, "audience": audience}
    try:
        job = Job(id="job_x", **fields)
    except ValueError:  # pydantic strips a few characters str.strip keeps
        return
    text = library_yaml.dump([job], now=datetime(2025, 1, 1, tzinfo=UTC))

    (loaded,) = library_yaml.load(text)

    again = Job(id="job_x", **loaded)
    assert {f: getattr(again, f) for f in JOB_FIELDS} == {f: getattr(job, f) for f in JOB_FIELDS}


@pytest.mark.parametrize("instructions", ["1. Ask\x852. Tell\n3. End", "Wait\x85then go"])
def test_next_line_character_survives_export_and_import(
    run: Runner, stores: Stores, other_stores: Stores, instructions: str
) -> None:
    stores.jobs.create({"name": "NEL", "instructions": instructions}, actor="U_SEED")

    run("import " + _export(run), stores=other_stores)

    assert other_stores.jobs.get("NEL").instructions == instructions


# --- refusals: all or nothing -----------------------------------------------------------


def _three_jobs(third: str) -> str:
    return ("import jobs:\n"
            "- name: First\n  instructions: 1. One\n"
            "- name: Second\n  instructions: 1. Two\n"
            f"- {third}\n")


@pytest.mark.parametrize(("text", "title"), [
    (_three_jobs("name: " + "x" * 101 + "\n  instructions: 1. Three"),
     "job 3: name: at most 100 characters (you gave 101)"),
    (_three_jobs("name: Third"), "job 3: instructions: is required"),
    (_three_jobs("name: Third\n  instructions: 1. Three\n  colour: red"),
     "job 3: colour: is not a job field; use name, description, trigger, instructions, "
     "audience, rule"),
    (_three_jobs("name: [a, b]\n  instructions: 1. Three"), "job 3: name: must be text"),
    (_three_jobs("name: Third\n  instructions: {step: one}"),
     "job 3: instructions: must be text"),
    (_three_jobs("name: Third\n  instructions: 1. Three\n  trigger: yes"),
     "job 3: trigger: must be text; YAML reads yes/no/true/false unquoted as a yes-or-no "
     "value, so put it in quotes"),
    (_three_jobs("name: Third\n  instructions: 1. Three\n  rule: role=boss"),
     "job 3: rule: role takes owner, admin, member; not 'boss'"),
    (_three_jobs("just a string"), "job 3: each job must be a mapping of field: value"),
    (_three_jobs("name: FIRST\n  instructions: 1. Again"),
     "job 3: name is already used by job 1."),
    ("import jobs:\n- name: First\n  instructions: 1. One\n  - broken",
     "import: not valid YAML at line 4: expected <block end>, but found '-'"),
    ("import jobs: []", "import: expected a 'jobs:' list with at least one job "
                        "(see /jobs export for the format)"),
    ("import {name: First, instructions: x}", "import: expected a 'jobs:' list with at "
                                              "least one job (see /jobs export for the format)"),
    ("import", "Give the YAML to import after /jobs import (the format /jobs export writes)."),
])
def test_bad_import_is_refused_naming_job_and_field_and_writes_nothing(
    run: Runner, stores: Stores, db_state: DbState, text: str, title: str
) -> None:
    stores.jobs.create({"name": "First", "instructions": "1. Old"}, actor="U_SEED")
    before = db_state()

    result = run(text)

    assert not result.ok
    assert result.title == title
    assert db_state() == before
    assert [job.name for job in stores.jobs.list()] == ["First"]
    assert stores.jobs.get("First").instructions == "1. Old"


def test_load_raises_invalid_input_naming_the_job() -> None:
    with pytest.raises(InvalidInput) as caught:
        library_yaml.load("jobs:\n- name: a\n  instructions: b\n- name: c\n  when: now\n")

    assert caught.value.field == "job 2: when"


# --- import from a file ---------------------------------------------------------------


def test_import_from_a_file_path_when_local_files_are_allowed(
    run: Runner, stores: Stores, other_stores: Stores, tmp_path: Path
) -> None:
    _create_library(stores)
    path = tmp_path / "jobs library.yaml"
    path.write_text(_export(run), "utf-8")
    cli = Caller(user="cli:ann", is_admin=True, local_files=True)

    as_text = run(f"import {path}", caller=cli, stores=other_stores)

    assert as_text.ok, as_text.title
    assert as_text.title == "Imported 4 jobs: 4 created, 0 updated, 0 unchanged."
    assert _fields_by_name(other_stores) == _fields_by_name(stores)

    as_argv = run(["import", str(path)], caller=cli, stores=other_stores)
    assert as_argv.title == "Imported 4 jobs: 0 created, 0 updated, 4 unchanged."


def test_a_path_is_yaml_text_when_local_files_are_not_allowed(
    run: Runner, stores: Stores, tmp_path: Path, db_state: DbState
) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text("jobs:\n- name: Secret\n  instructions: from disk\n", "utf-8")
    before = db_state()

    result = run(f"import {path}", caller=Caller(user="U_SLACK", is_admin=True))

    assert not result.ok
    assert result.title == ("import: expected a 'jobs:' list with at least one job "
                            "(see /jobs export for the format)")
    assert stores.jobs.find("Secret") is None
    assert db_state() == before


def test_a_missing_file_is_read_as_yaml_text(run: Runner, tmp_path: Path) -> None:
    cli = Caller(user="cli:ann", is_admin=True, local_files=True)

    result = run(f"import {tmp_path / 'nope.yaml'}", caller=cli)

    assert not result.ok
    assert "expected a 'jobs:' list" in result.title


def test_import_reply_renders_as_one_line(run: Runner, stores: Stores) -> None:
    result = run("import jobs: [{name: A, instructions: x}, {name: B, instructions: y}]")

    assert to_text(result) == "Imported 2 jobs: 2 created, 0 updated, 0 unchanged."
