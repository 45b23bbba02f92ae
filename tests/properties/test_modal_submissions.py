"""The job and task forms with arbitrary submitted values: never an exception, a refusal
names an input of the form, and nothing is stored on a refusal.

Slack: `SlackCommands.on_submit` (the `view_submission` listener) is driven
as bolt calls it, with an `ack` that records what Slack would get, on real
stores; the form is the one `job_modal` draws (create, or edit of a job,
at its version or a stale one), and the submitted state holds arbitrary text,
huge text, empty inputs, values of the wrong type, missing inputs and blocks
that are not the form's. `parse_submission` and `field_blocks` are also fed
arbitrary views.

Discord: `save_form` (the job form) and `form_fields` + `save_task_form`
(the task form), the pure functions the modals' `on_submit` call, with
arbitrary text for each input.

Every example starts from an emptied, seeded database (hypothesis runs many
examples on one function-scoped fixture).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adapters.discord import modals as discord_modals
from adapters.discord import task_form
from adapters.slack.commands import SlackCommands
from adapters.slack.modals import (
    TEMPLATE_ACTION,
    VALUE_ACTION,
    ModalMeta,
    field_blocks,
    job_modal,
    parse_submission,
)
from bot.commands import Caller, Result, Stores, run_command
from bot.schedules import plan
from bot.templates import all_templates
from jobs_store import BotStore, ContactStore, JobStore, TaskStore
from jobs_store.models import JOB_FIELDS, Job
from tests.helpers import Clock
from tests.properties import full_dump

NOW = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
ADMIN, MEMBER = "U_ADMIN", "U_MEMBER"
ADMIN_CALLER = Caller(user=ADMIN, is_admin=True, workspace="T1")
SEEDED = "Take a message"
LONG = "Long instructions"
SEEDED_TASK = "Weekly digest"

_fuzz = settings(max_examples=100, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture,
                                        HealthCheck.too_slow, HealthCheck.data_too_large])

# --- the world -------------------------------------------------------------------------------


class _Users:
    """`SlackUsers.is_admin`, without Slack: one admin."""

    def is_admin(self, team: str, user: str, admins: frozenset[str]) -> bool:
        return user == ADMIN


@dataclass(frozen=True)
class _Deps:
    """What `SlackCommands` reads from `SlackDeps` when a form is submitted."""

    stores: Stores
    users: _Users = field(default_factory=_Users)
    admins: frozenset[str] = frozenset()


class _Client:
    """The Web API client the confirmation goes through (after a save), recording."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def chat_postEphemeral(self, **params: Any) -> None:
        self.calls.append(params)

    def chat_postMessage(self, **params: Any) -> None:
        self.calls.append(params)


@dataclass
class World:
    client: redis.Redis
    stores: Stores
    slack: SlackCommands

    def reset(self) -> dict[str, Any]:
        """Empty the database, seed two jobs (one too long for a Slack input) and a task."""
        self.client.flushdb()
        self.stores.bots.ensure_default()
        self.stores.jobs.create({"name": SEEDED, "instructions": "1. Ask who.",
                                 "trigger": "leave a message"}, actor="seed")
        self.stores.jobs.create({"name": LONG, "instructions": "1. Step.\n" * 500},
                                actor="seed")
        created = run_command("tasks", f'create name="{SEEDED_TASK}" description="Post it" '
                              'schedule="weekly mon 09:00" timezone=Europe/Paris '
                              "contact=discord:123456789012345678",
                              caller=ADMIN_CALLER, stores=self.stores)
        assert created.ok, created.title
        return full_dump(self.client)

    def job(self, name: str) -> Job:
        return self.stores.jobs.get(name)


@pytest.fixture
def world(redis_client: redis.Redis) -> Iterator[World]:
    clock = Clock(NOW)
    stores = Stores(jobs=JobStore(redis_client, clock=clock),
                    bots=BotStore(redis_client, clock=clock),
                    tasks=TaskStore(redis_client, clock=clock, planner=plan),
                    contacts=ContactStore(redis_client))
    slack = SlackCommands(_Deps(stores), workers=1, model_workers=1)  # type: ignore[arg-type]
    yield World(client=redis_client, stores=stores, slack=slack)
    slack.shutdown(wait=True)


# --- values people type --------------------------------------------------------------------

_SPECIAL = ['"', "'", "\n", "\r", "\t", " ", "\\", "n", "=", ":", "<", ">", "&", "@", "#",
            "*", "/", "²", "\u200b", "\ufeff", "\x00", "🙂", "é"]
_chars = st.one_of(st.characters(), st.sampled_from(_SPECIAL))
_typed = st.one_of(
    st.text(_chars, max_size=60),
    st.sampled_from(["", " ", "\n", "Book a meeting", SEEDED, SEEDED.upper(), "1. Ask.",
                     "platform=slack", "role=boss", "daily 09:00", "daily 25:00",
                     "weekly mon 09:00", "once 2020-01-01 09:00", "cron 0 9 * * 1-5",
                     "Europe/Paris", "Mars/Olympus", "123456789012345678",
                     "<@123456789012345678>", "<#123456789012345678>", "#general", "@ana",
                     "slack:T1:U0123", "discord:12"]),
    st.tuples(st.sampled_from(["x", "é", " ", "\n", "🙂"]), st.integers(90, 12_000)).map(
        lambda p: p[0] * p[1]),
)


def _refusal_names_input(title: str, labels: list[str], phrases: tuple[str, ...]) -> bool:
    return bool(title.strip()) and (any(title.startswith(f"{label}:") for label in labels)
                                    or any(p in title for p in phrases))


# --- Slack: the job form's view_submission -------------------------------------------------


@dataclass
class _Form:
    view: dict[str, Any]
    editing: str | None


@st.composite
def _slack_forms(draw: st.DrawFn, world: World) -> _Form:
    """The form as `job_modal` draws it, as the submission carries it back."""
    kind = draw(st.sampled_from(["create", "edit", "edit long", "stale", "deleted"]))
    rev = draw(st.integers(0, 3))
    if kind == "create":
        view = job_modal(job=None, templates=all_templates(), version=None, channel="C1",
                         rev=rev)
        return _Form(view, None)
    job = world.job(LONG if kind == "edit long" else SEEDED)
    version = {"stale": job.version + 1, "deleted": None}.get(kind, job.version)
    view = job_modal(job=job, templates=all_templates(), version=version, channel="C1",
                     rev=rev)
    if kind == "deleted":
        view["private_metadata"] = ModalMeta(job_id="job_0badc0de", version=1).dump()
    return _Form(view, job.name)


_leaf = st.one_of(st.none(), st.integers(), st.booleans(), st.floats(allow_nan=False),
                  st.lists(st.text(max_size=3), max_size=2),
                  st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2))


_GOOD = {"name": "Book a meeting", "trigger": "book a meeting",
         "instructions": "1. Ask when.\n2. Book it.", "description": "Books meetings.",
         "audience": "customers", "rule": "platform=slack"}


@st.composite
def _state(draw: st.DrawFn, view: dict[str, Any]) -> dict[str, Any]:
    """`state.values` for the view: each input typed (often a valid value), left empty,
    of the wrong type or missing, plus blocks that are not the form's inputs."""
    values: dict[str, Any] = {}
    mostly_valid = draw(st.booleans())
    for name, block_id in field_blocks(view).items():
        if mostly_valid:
            how = draw(st.sampled_from(["valid"] * 30 + ["typed", "empty", "wrong",
                                                          "missing", "no value"]))
        else:
            how = draw(st.sampled_from(["typed", "typed", "typed", "empty", "wrong",
                                        "missing", "no value", "other action"]))
        action: dict[str, Any] = {"type": "plain_text_input"}
        if how == "valid":
            action["value"] = _GOOD[name]
        elif how == "typed":
            action["value"] = draw(_typed)
        elif how == "empty":
            action["value"] = None
        elif how == "wrong":
            action["value"] = draw(_leaf)
        elif how == "missing":
            continue
        if how == "other action":
            values[block_id] = {"other": {"type": "plain_text_input", "value": "x"}}
        else:
            values[block_id] = {VALUE_ACTION: action}
    extra = draw(st.dictionaries(
        st.sampled_from(["template", "version", "name-9", "rule-x", "", "-", "bogus"]),
        st.fixed_dictionaries({TEMPLATE_ACTION: st.fixed_dictionaries(
            {"type": st.just("static_select"), "selected_option": _leaf})}),
        max_size=2))
    return {**extra, **values}


def _submit(world: World, view: dict[str, Any], state: dict[str, Any], *,
            user: str = ADMIN) -> list[dict[str, Any]]:
    acks: list[dict[str, Any]] = []

    def ack(**answer: Any) -> None:
        acks.append(answer)

    body = {"type": "view_submission", "team": {"id": "T1"},
            "user": {"id": user, "team_id": "T1"},
            "view": {**view, "id": "V1", "state": {"values": state}}}
    world.slack.on_submit(ack, body, _Client())  # type: ignore[arg-type]
    return acks


@_fuzz
@given(data=st.data(), member=st.booleans())
def test_any_slack_form_submission_is_saved_or_refused_under_an_input(
    world: World, data: st.DataObject, member: bool
) -> None:
    before = world.reset()
    form = data.draw(_slack_forms(world), label="form")
    state = data.draw(_state(form.view), label="state")
    acks = _submit(world, form.view, state, user=MEMBER if member else ADMIN)
    assert len(acks) == 1, acks
    (answer,) = acks
    inputs = set(field_blocks(form.view).values())
    event("refused" if answer else "saved")
    if answer:
        assert answer["response_action"] == "errors" and answer["errors"]
        for block, reason in answer["errors"].items():
            assert block in inputs, (block, inputs)
            assert isinstance(reason, str) and reason.strip()
        assert full_dump(world.client) == before, answer
        return
    assert not member, "a member's form was saved"
    if form.editing is None:
        name = parse_submission({"state": {"values": state}})["name"].strip()
        created = world.stores.jobs.find(name)
        assert created is not None and created.version == 1
    else:
        meta = ModalMeta.load(form.view["private_metadata"])
        assert meta.job_id is not None and world.stores.jobs.find(meta.job_id) is not None


@_fuzz
@given(data=st.data())
def test_a_slack_form_with_one_bad_input_is_refused_under_that_input(
    world: World, data: st.DataObject
) -> None:
    before = world.reset()
    view = job_modal(job=None, templates=all_templates(), version=None,
                     rev=data.draw(st.integers(0, 2), label="rev"))
    good = _GOOD
    bad_field = data.draw(st.sampled_from(list(JOB_FIELDS)), label="bad input")
    bad_value = data.draw({
        "name": st.sampled_from(["x" * 101, "a\nb", " ", SEEDED.lower()]),
        "description": st.integers(501, 3000).map(lambda n: "d" * n),
        "trigger": st.integers(501, 3000).map(lambda n: "t" * n),
        "instructions": st.sampled_from(["", " \n ", "x" * 10_001]),
        "audience": st.integers(501, 3000).map(lambda n: "a" * n),
        "rule": st.sampled_from(["role=boss", "colour=red", "first_seen_within=0d", "=",
                                 "platform=slack platform=discord"]),
    }[bad_field], label="bad value")
    blocks = field_blocks(view)
    state = {blocks[f]: {VALUE_ACTION: {"type": "plain_text_input",
                                        "value": bad_value if f == bad_field else v}}
             for f, v in good.items()}
    (answer,) = _submit(world, view, state)
    assert answer.get("response_action") == "errors", answer
    assert list(answer["errors"]) == [blocks[bad_field]], answer
    assert full_dump(world.client) == before


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.one_of(st.sampled_from([*JOB_FIELDS, "name-1", VALUE_ACTION, "value", "state",
                                   "values", "blocks", "block_id", "type", "input"]),
                  st.text(max_size=6)), inner, max_size=4),
    max_leaves=20,
)


_actions = st.dictionaries(
    st.one_of(st.sampled_from([VALUE_ACTION, TEMPLATE_ACTION]), st.text(max_size=5)),
    st.one_of(st.dictionaries(st.sampled_from(["type", "value", "selected_option"]), _json,
                              max_size=3),
              st.sampled_from([None, "", 0, [], False])),
    max_size=3)
_block_ids = st.one_of(st.sampled_from([*JOB_FIELDS, "name-1", "rule-12", "template", "",
                                        "-", "name-", "instructions-x"]), st.text(max_size=8))
#: Views whose containers are the types Slack sends (objects and lists of objects), with
#: anything inside them.
_slack_views = st.fixed_dictionaries({}, optional={
    "state": st.one_of(st.none(), st.fixed_dictionaries({}, optional={
        "values": st.one_of(st.none(), st.dictionaries(
            _block_ids, st.one_of(_actions, st.none(), st.integers(), st.text(max_size=4),
                                  st.lists(st.integers(), max_size=2)), max_size=7))})),
    "blocks": st.lists(st.dictionaries(st.sampled_from(["type", "block_id", "element"]),
                                       st.one_of(st.sampled_from(["input", "section"]),
                                                 _block_ids, _json), max_size=3), max_size=6),
    "private_metadata": st.one_of(st.none(), st.text(max_size=20)),
})


@settings(max_examples=300, deadline=None)
@given(view=_slack_views)
def test_any_slack_shaped_view_parses_to_text_fields(view: dict[str, Any]) -> None:
    fields = parse_submission(view)
    assert set(fields) <= set(JOB_FIELDS)
    assert all(isinstance(value, str) for value in fields.values())
    blocks = field_blocks(view)
    assert set(blocks) <= set(JOB_FIELDS)
    assert all(isinstance(block, str) for block in blocks.values())


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(st.none(), st.text(max_size=40), _json.map(json.dumps)))
def test_any_private_metadata_loads(raw: str | None) -> None:
    meta = ModalMeta.load(raw)
    assert meta.job_id is None or isinstance(meta.job_id, str)
    assert isinstance(meta.channel, str) and isinstance(meta.rev, int)


@pytest.mark.parametrize(("read", "view"), [
    (parse_submission, {"state": {"values": {"name": {VALUE_ACTION: "Book a meeting"}}}}),
    (parse_submission, {"state": {"values": ["name"]}}),
    (parse_submission, {"state": "name"}),
    (field_blocks, {"blocks": ["name"]}),
    (field_blocks, {"state": {"values": [1]}}),
])
def test_a_view_with_containers_of_the_wrong_type_reads_without_raising(
    read: Any, view: dict[str, Any],
) -> None:
    found = read(view)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in found.items())


# --- Discord: the job form -------------------------------------------------------------------

_JOB_LABELS = [*discord_modals.LABELS.values(), *JOB_FIELDS]
_GENERAL = ("was changed by", "was deleted after the form opened", "Give the job's fields",
            "Nothing to change", "already exists")


@st.composite
def _job_targets(draw: st.DrawFn, world: World) -> discord_modals.FormTarget:
    kind = draw(st.sampled_from(["create", "edit", "edit long", "stale", "deleted"]))
    if kind == "create":
        return discord_modals.FormTarget()
    job = world.job(LONG if kind == "edit long" else SEEDED)
    target = discord_modals.FormTarget.for_job(job)
    if kind == "stale":
        return discord_modals.FormTarget(job_id=job.id, version=job.version + 1,
                                         job_name=job.name)
    if kind == "deleted":
        return discord_modals.FormTarget(job_id="job_0badc0de", version=1, job_name="gone")
    return target


_form_values = st.dictionaries(
    st.sampled_from([*discord_modals.FORM_FIELDS, *discord_modals.FORM_FIELDS, "rule",
                     "version", "bogus"]),
    _typed, max_size=7)


@_fuzz
@given(data=st.data())
def test_any_discord_job_form_is_saved_or_refused_naming_an_input(
    world: World, data: st.DataObject
) -> None:
    before = world.reset()
    target = data.draw(_job_targets(world), label="target")
    values = data.draw(_form_values, label="values")
    saved = discord_modals.save_form(world.stores, ADMIN_CALLER, target, values)
    assert isinstance(saved.result, Result)
    event("saved" if saved.result.ok else "refused")
    if saved.result.ok:
        assert saved.retry is None
        return
    assert _refusal_names_input(saved.result.title, _JOB_LABELS, _GENERAL), saved.result.title
    assert isinstance(saved.retry, discord_modals.FormTarget)
    assert full_dump(world.client) == before


# --- Discord: the task form ------------------------------------------------------------------

_TASK_LABELS = [*task_form._ERROR_LABELS.values(), *task_form._ERROR_LABELS]
_TASK_GENERAL = ("was changed by", "was deleted after the form opened", "already exists",
                 "Nothing to change")
_task_values = st.dictionaries(
    st.sampled_from([*task_form.FORM_FIELDS, *task_form.FORM_FIELDS, "bogus"]),
    _typed, max_size=6)


@st.composite
def _task_targets(draw: st.DrawFn, world: World) -> tuple[task_form.TaskFormTarget,
                                                          dict[str, str]]:
    """A target, and the values the form showed (an edit starts from the task's)."""
    kind = draw(st.sampled_from(["create", "edit", "stale", "deleted"]))
    if kind == "create":
        return task_form.TaskFormTarget(), {}
    assert world.stores.tasks is not None
    task = world.stores.tasks.get(SEEDED_TASK)
    target = task_form.TaskFormTarget.for_task(task)
    if kind == "stale":
        target = task_form.TaskFormTarget(task_id=task.id, version=task.version + 1,
                                          task_name=task.name, shown=target.shown)
    if kind == "deleted":
        target = task_form.TaskFormTarget(task_id="task_0badc0de", version=1,
                                          task_name="gone", shown=target.shown)
    return target, task_form.task_values(task)


@_fuzz
@given(data=st.data(), channel=st.booleans())
def test_any_discord_task_form_is_saved_or_refused_naming_an_input(
    world: World, data: st.DataObject, channel: bool
) -> None:
    before = world.reset()
    target, shown = data.draw(_task_targets(world), label="target")
    typed = data.draw(_task_values, label="typed")
    values = {**shown, **typed}
    fields = task_form.form_fields(target, values, is_channel=lambda _: channel)
    assert set(fields) <= {"name", "description", "schedule", "timezone", "contact",
                           "channel"}
    assert all(isinstance(value, str) for value in fields.values())
    saved = task_form.save_task_form(world.stores, ADMIN_CALLER, target, fields)
    assert isinstance(saved.result, Result)
    event("saved" if saved.result.ok else "refused")
    if saved.result.ok:
        assert saved.retry is None
        return
    assert _refusal_names_input(saved.result.title, _TASK_LABELS, _TASK_GENERAL), \
        saved.result.title
    assert isinstance(saved.retry, task_form.TaskFormTarget)
    assert full_dump(world.client) == before


@_fuzz
@given(text=st.one_of(st.text(_chars, max_size=40), st.from_regex(
    r"(discord:)?[0-9]{10,30}|<[@#][0-9]{15,25}>|slack:[A-Za-z0-9]{1,5}:[A-Za-z0-9]{1,8}",
    fullmatch=True)), channel=st.booleans())
def test_any_target_text_is_a_contact_or_a_channel(text: str, channel: bool) -> None:
    fields = task_form.target_fields(text, is_channel=lambda _: channel)
    assert set(fields) in ({"contact"}, {"channel"}, {"contact", "channel"})
    assert all(isinstance(value, str) for value in fields.values())
