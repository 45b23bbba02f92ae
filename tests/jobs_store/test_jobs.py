"""The job library on a real Redis: limits, unique names, versions, undo, delete, import."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

from jobs_store import JobStore, keys
from jobs_store.errors import AlreadyExists, InvalidInput, NotFound, StaleVersion
from jobs_store.models import Job

STEPS = "1. Ask for their name.\n2. Ask why they called.\n3. Post it in #front-desk."
RULE_500 = "meta.k=" + "v" * 493
RULE_501 = "meta.k=" + "v" * 494


def new_job(
    store: JobStore, name: str = "Take a message", *, actor: str = "ana", **fields: Any
) -> Job:
    return store.create({"name": name, "instructions": STEPS, **fields}, actor=actor)


# --- limits -------------------------------------------------------------------

REFUSED = [
    # (field, value, words the message must contain)
    ("name", "", ["required"]),
    ("name", "   \t ", ["required"]),
    ("name", "n" * 101, ["at most 100 characters", "you gave 101"]),
    ("description", "d" * 501, ["at most 500 characters", "you gave 501"]),
    ("trigger", "t" * 501, ["at most 500 characters", "you gave 501"]),
    ("instructions", "", ["required"]),
    ("instructions", " \n ", ["required"]),
    ("instructions", "i" * 10_001, ["at most 10,000 characters", "you gave 10,001"]),
    ("audience", "a" * 501, ["at most 500 characters", "you gave 501"]),
    ("rule", RULE_501, ["at most 500 characters", "you gave 501"]),
    ("rule", "plan trial", ["'plan' is not a condition", "first_seen_within=7d"]),
    ("rule", "tier=gold", ["unknown condition 'tier'", "meta.KEY=VALUE"]),
    ("rule", "platform=teams", ["platform takes slack, discord, console", "teams"]),
    ("rule", "platform=slack,teams", ["platform takes", "teams"]),
    ("rule", "role=guest", ["role takes owner, admin, member", "guest"]),
    ("rule", "first_seen_within=0d", ["1d to 3650d", "'0d'"]),
    ("rule", "first_seen_within=3651d", ["1d to 3650d", "'3651d'"]),
    ("rule", "first_seen_within=7", ["1d to 3650d", "'7'"]),
    ("rule", "first_seen_within=week", ["1d to 3650d", "'week'"]),
    ("rule", "meta.plan=,", ["meta.plan needs a value"]),
]
REFUSED_IDS = [f"{field}-{value[:12]!r}-{len(value)}" for field, value, _ in REFUSED]


@pytest.mark.parametrize(("field", "value", "words"), REFUSED, ids=REFUSED_IDS)
def test_create_refuses_a_value_past_a_limit_and_stores_nothing(
    jobs: JobStore, db_state: Any, field: str, value: str, words: list[str]
) -> None:
    new_job(jobs, "Existing job")
    before, listed = db_state(), jobs.list()
    fields = {"name": "Take a message", "instructions": STEPS, field: value}

    with pytest.raises(InvalidInput) as refused:
        jobs.create(fields, actor="ana")

    assert refused.value.field == field
    message = str(refused.value)
    assert message.startswith(f"{field}: ")
    for word in words:
        assert word in message
    assert db_state() == before
    assert jobs.list() == listed


@pytest.mark.parametrize(("field", "value", "words"), REFUSED, ids=REFUSED_IDS)
def test_update_refuses_a_value_past_a_limit_and_keeps_the_job(
    jobs: JobStore, db_state: Any, field: str, value: str, words: list[str]
) -> None:
    job = new_job(jobs)
    before = db_state()

    with pytest.raises(InvalidInput) as refused:
        jobs.update(job.id, {field: value}, actor="bob")

    assert refused.value.field == field
    for word in words:
        assert word in str(refused.value)
    assert db_state() == before
    assert jobs.get(job.id) == job
    assert [v.version for v in jobs.history(job.id)] == [1]


ACCEPTED = [
    ("name", "N", "N"),
    ("name", "n" * 100, "n" * 100),
    ("name", "  " + "n" * 100 + "  ", "n" * 100),  # pasted with spaces: trimmed, then counted
    ("description", "d" * 500, "d" * 500),
    ("trigger", "t" * 500, "t" * 500),
    ("instructions", "i", "i"),
    ("instructions", "i" * 10_000, "i" * 10_000),
    ("audience", "a" * 500, "a" * 500),
    ("rule", RULE_500, RULE_500),
    ("rule", "role=owner,admin platform=slack", "platform=slack role=admin,owner"),
]


@pytest.mark.parametrize(
    ("field", "value", "stored"), ACCEPTED, ids=[f"{f}-{len(v)}" for f, v, _ in ACCEPTED]
)
def test_values_at_the_limit_are_stored_as_given(
    jobs: JobStore, redis_client: redis.Redis, field: str, value: str, stored: str
) -> None:
    job = jobs.create({"name": "Take a message", "instructions": STEPS, field: value}, actor="ana")

    reread = JobStore(redis_client).get(job.id)
    assert getattr(reread, field) == stored
    assert reread == job


def test_unknown_fields_are_refused_by_name(jobs: JobStore, db_state: Any) -> None:
    job = new_job(jobs)
    before = db_state()

    with pytest.raises(InvalidInput) as on_create:
        jobs.create({"name": "Other", "instructions": STEPS, "colour": "red"}, actor="ana")
    assert on_create.value.field == "colour"
    assert "is not a job field" in str(on_create.value)
    assert "name, description, trigger, instructions, audience, rule" in str(on_create.value)

    # The store keeps version, authorship and ids itself; nobody may set them.
    for kept in ("version", "created_by", "id", "updated_at"):
        with pytest.raises(InvalidInput) as on_update:
            jobs.update(job.id, {kept: "x"}, actor="mallory")
        assert on_update.value.field == kept

    assert db_state() == before


def test_an_update_with_no_changes_is_refused(jobs: JobStore, db_state: Any) -> None:
    job = new_job(jobs)
    before = db_state()

    with pytest.raises(InvalidInput, match="Nothing to change"):
        jobs.update(job.id, {}, actor="ana")

    assert db_state() == before


# --- unique names -------------------------------------------------------------


@pytest.mark.parametrize("taken", ["TAKE A MESSAGE", "take a message", "  Take A Message "])
def test_names_are_unique_in_any_case(jobs: JobStore, db_state: Any, taken: str) -> None:
    new_job(jobs, "Take a message")
    before = db_state()

    with pytest.raises(AlreadyExists) as refused:
        new_job(jobs, taken)

    assert "name:" in str(refused.value)
    assert "already exists" in str(refused.value)
    assert "any case" in str(refused.value)
    assert db_state() == before
    assert [j.name for j in jobs.list()] == ["Take a message"]


def test_the_same_name_is_free_in_another_workspace(
    jobs: JobStore, redis_client: redis.Redis
) -> None:
    other = JobStore(redis_client, workspace="other")
    ours = new_job(jobs, "Take a message")
    theirs = new_job(other, "TAKE A MESSAGE", instructions="Their own steps.")

    assert ours.id != theirs.id
    assert [j.id for j in jobs.list()] == [ours.id]
    assert [j.id for j in other.list()] == [theirs.id]
    assert jobs.get("take a message").instructions == STEPS
    assert other.get("take a message").instructions == "Their own steps."
    assert other.find(ours.id) is None  # ids do not leak across workspaces either


def test_renaming_onto_a_taken_name_is_refused(jobs: JobStore, db_state: Any) -> None:
    new_job(jobs, "Take a message")
    lead = new_job(jobs, "Qualify a lead")
    before = db_state()

    with pytest.raises(AlreadyExists, match="'take a MESSAGE' already exists"):
        jobs.update("qualify a lead", {"name": "take a MESSAGE"}, actor="bob")

    assert db_state() == before
    assert jobs.get(lead.id).name == "Qualify a lead"


def test_renaming_frees_the_old_name(jobs: JobStore) -> None:
    job = new_job(jobs, "Take a message")

    renamed = jobs.update("take a message", {"name": "Take a phone message"}, actor="bob")

    assert renamed.id == job.id
    assert jobs.find("Take a message") is None
    assert jobs.get("take a phone message").id == job.id
    again = new_job(jobs, "Take a message")
    assert again.id != job.id
    assert [j.name for j in jobs.list()] == ["Take a message", "Take a phone message"]


def test_a_job_may_change_the_case_of_its_own_name(jobs: JobStore) -> None:
    job = new_job(jobs, "take a message")

    renamed = jobs.update(job.id, {"name": "Take a Message"}, actor="bob")

    assert renamed.name == "Take a Message"
    assert jobs.get("TAKE A MESSAGE").id == job.id
    assert len(jobs.list()) == 1


# --- versions -----------------------------------------------------------------


def test_every_update_keeps_the_previous_version(jobs: JobStore, clock: Any) -> None:
    created = new_job(jobs, "Take a message", actor="ana")
    clock.advance(minutes=5)
    v2 = jobs.update(created.id, {"description": "For callers"}, actor="bob")
    clock.advance(minutes=5)
    v3 = jobs.update("TAKE A MESSAGE", {"instructions": "1. Ask for a name."}, actor="cara")

    history = jobs.history("take a message")

    assert [v.version for v in history] == [3, 2, 1]
    assert history == [v3, v2, created]
    assert [v.updated_by for v in history] == ["cara", "bob", "ana"]
    assert {v.created_by for v in history} == {"ana"}
    assert {v.created_at for v in history} == {created.created_at}
    assert history[0].instructions == "1. Ask for a name."
    assert history[0].description == "For callers"  # unchanged fields carry over
    assert history[2].description == ""
    assert jobs.get(created.id) == v3


def test_a_stale_edit_is_refused_naming_who_changed_it_and_when(
    jobs: JobStore, clock: Any, db_state: Any
) -> None:
    job = new_job(jobs, actor="ana")
    seen_by_ana = jobs.get(job.id)
    clock.advance(hours=1, minutes=15)
    jobs.update(job.id, {"description": "Bob's wording"}, actor="bob")
    before = db_state()

    with pytest.raises(StaleVersion) as stale:
        jobs.update(job.id, {"description": "Ana's wording"}, actor="ana",
                    expected_version=seen_by_ana.version)

    message = str(stale.value)
    assert "bob" in message
    assert "2025-03-04 10:15 UTC" in message
    assert "version 2" in message and "version 1" in message
    assert "Nothing was saved" in message
    assert db_state() == before
    assert jobs.get(job.id).description == "Bob's wording"


def test_an_edit_based_on_the_current_version_is_saved(jobs: JobStore) -> None:
    job = new_job(jobs)

    saved = jobs.update(job.id, {"trigger": "someone wants to leave a message"}, actor="bob",
                        expected_version=1)

    assert saved.version == 2
    assert jobs.get(job.id).trigger == "someone wants to leave a message"


def _run_editors(redis_url: str, job_id: str, *, edits: int, check_version: bool) -> tuple[
    list[tuple[int, str]], int, list[BaseException]
]:
    """Two admins, each on their own connection, editing the same job at once."""
    saved: list[tuple[int, str]] = []
    refused: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def editor(n: int) -> None:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        store = JobStore(client)
        try:
            start.wait()
            for i in range(edits):
                text = f"editor {n}, edit {i}"
                seen = store.get(job_id).version if check_version else None
                try:
                    job = store.update(job_id, {"description": text}, actor=f"admin{n}",
                                       expected_version=seen)
                except StaleVersion:
                    refused.append(n)
                else:
                    saved.append((job.version, text))
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=editor, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return saved, len(refused), errors


@pytest.mark.parametrize("check_version", [True, False], ids=["expected-version", "blind"])
def test_concurrent_edits_never_lose_an_update(
    jobs: JobStore, redis_url: str, check_version: bool
) -> None:
    job = new_job(jobs)
    edits = 60

    saved, refused, errors = _run_editors(
        redis_url, job.id, edits=edits, check_version=check_version
    )

    assert errors == []
    assert len(saved) + refused == 2 * edits  # each edit was either saved or refused, loudly
    if not check_version:
        assert refused == 0
    final = jobs.get(job.id)
    assert final.version == len(saved) + 1
    history = jobs.history(job.id)
    assert [v.version for v in history] == list(range(final.version, 0, -1))
    by_version = {v.version: v.description for v in history}
    for version, text in saved:
        assert by_version[version] == text
    assert final.description == max(saved)[1]


# --- undo ---------------------------------------------------------------------


def test_undo_restores_the_previous_content_as_a_new_version(jobs: JobStore) -> None:
    v1 = new_job(jobs, instructions="Steps A")
    jobs.update(v1.id, {"instructions": "Steps B", "audience": "callers"}, actor="bob")
    jobs.update(v1.id, {"instructions": "Steps C"}, actor="bob")

    v4 = jobs.undo("take a message", actor="cara")

    assert v4.version == 4
    assert (v4.instructions, v4.audience) == ("Steps B", "callers")
    assert v4.restored_from == 2
    assert v4.updated_by == "cara"
    assert jobs.get(v1.id) == v4
    assert [v.instructions for v in jobs.history(v1.id)] == ["Steps B", "Steps C", "Steps B",
                                                            "Steps A"]


def test_repeated_undo_walks_further_back_until_the_first_version(
    jobs: JobStore, db_state: Any
) -> None:
    job = new_job(jobs, instructions="Steps A")
    jobs.update(job.id, {"instructions": "Steps B"}, actor="bob")
    jobs.update(job.id, {"instructions": "Steps C"}, actor="bob")

    assert jobs.undo(job.id, actor="ana").instructions == "Steps B"
    fifth = jobs.undo(job.id, actor="ana")
    assert (fifth.version, fifth.instructions, fifth.restored_from) == (5, "Steps A", 1)

    before = db_state()
    with pytest.raises(NotFound, match="'Take a message' has no earlier version to go back to"):
        jobs.undo(job.id, actor="ana")
    assert db_state() == before


def test_undo_after_a_new_edit_goes_back_to_the_version_before_it(jobs: JobStore) -> None:
    job = new_job(jobs, instructions="Steps A")
    jobs.update(job.id, {"instructions": "Steps B"}, actor="bob")
    jobs.undo(job.id, actor="ana")  # v3 = A
    jobs.update(job.id, {"instructions": "Steps D"}, actor="bob")  # v4

    assert jobs.undo(job.id, actor="ana").instructions == "Steps A"


def test_undo_at_the_first_version_is_refused(jobs: JobStore, db_state: Any) -> None:
    job = new_job(jobs)
    before = db_state()

    with pytest.raises(NotFound) as refused:
        jobs.undo(job.id, actor="ana")

    assert str(refused.value) == "'Take a message' has no earlier version to go back to."
    assert db_state() == before


def test_undo_of_a_rename_restores_the_old_name_in_the_index(jobs: JobStore) -> None:
    job = new_job(jobs, "Take a message")
    jobs.update(job.id, {"name": "Take a phone message"}, actor="bob")

    restored = jobs.undo("take a phone message", actor="ana")

    assert restored.name == "Take a message"
    assert jobs.get("TAKE A MESSAGE").id == job.id
    assert jobs.find("Take a phone message") is None
    assert new_job(jobs, "Take a phone message").id != job.id  # that name is free again


def test_undo_of_a_rename_is_refused_when_the_old_name_was_taken_since(
    jobs: JobStore, db_state: Any
) -> None:
    job = new_job(jobs, "Take a message")
    jobs.update(job.id, {"name": "Take a phone message"}, actor="bob")
    new_job(jobs, "take a message")
    before = db_state()

    with pytest.raises(AlreadyExists, match="'Take a message' already exists"):
        jobs.undo(job.id, actor="ana")

    assert db_state() == before


# --- delete -------------------------------------------------------------------


def test_delete_removes_the_job_its_name_and_its_attachments(
    jobs: JobStore, bots: Any, redis_client: redis.Redis
) -> None:
    job = new_job(jobs, "Take a message")
    kept = new_job(jobs, "Qualify a lead")
    jobs.update(job.id, {"description": "v2"}, actor="bob")
    default = bots.ensure_default()
    sales = bots.create({"name": "Sales"}, actor="ana")
    for bot in (default.id, sales.id):
        bots.attach(bot, job, actor="ana")
        bots.attach(bot, kept, actor="ana")
    bots.publish(default.id, actor="ana")

    deleted = jobs.delete("TAKE A MESSAGE", actor="ana")

    assert deleted.id == job.id
    assert jobs.find(job.id) is None
    assert jobs.find("take a message") is None
    assert [j.name for j in jobs.list()] == ["Qualify a lead"]
    assert redis_client.hget(keys.job_names("default"), "take a message") is None
    assert not redis_client.exists(keys.job("default", job.id))
    assert not redis_client.exists(keys.job_versions("default", job.id))
    for bot in (bots.get(default.id), bots.get("sales")):
        assert bot.draft_jobs == (kept.id,)
    assert bots.get(default.id).live_jobs == (kept.id,)
    assert bots.get("sales").live_jobs == ()
    assert new_job(jobs, "Take a message").id != job.id  # the name can be used again


def test_a_deleted_job_is_not_found_with_a_suggestion(jobs: JobStore) -> None:
    new_job(jobs, "Take a message")
    new_job(jobs, "Take a message for sales")
    jobs.delete("take a message", actor="ana")

    with pytest.raises(NotFound) as gone:
        jobs.get("Take a message")
    assert str(gone.value) == (
        "No job named 'Take a message'. Did you mean 'Take a message for sales'? "
        "See /jobs list for the list."
    )
    for later in (
        lambda: jobs.update("Take a message", {"description": "x"}, actor="bob"),
        lambda: jobs.undo("Take a message", actor="bob"),
        lambda: jobs.history("Take a message"),
        lambda: jobs.delete("Take a message", actor="bob"),
    ):
        with pytest.raises(NotFound, match="Did you mean 'Take a message for sales'"):
            later()


def test_not_found_without_a_close_name_makes_no_suggestion(
    jobs: JobStore, db_state: Any
) -> None:
    new_job(jobs, "Take a message")
    before = db_state()

    with pytest.raises(NotFound) as gone:
        jobs.delete("Onboard a trial user", actor="ana")

    assert "Did you mean" not in str(gone.value)
    assert "No job named 'Onboard a trial user'" in str(gone.value)
    assert db_state() == before


# --- import -------------------------------------------------------------------


def items(*names: str, **fields: Any) -> list[dict[str, Any]]:
    return [{"name": name, "instructions": STEPS, **fields} for name in names]


def test_import_creates_updates_and_counts_unchanged(jobs: JobStore) -> None:
    assert jobs.import_many(items("Take a message", "Qualify a lead"), actor="ana") == (2, 0, 0)
    lead = jobs.get("qualify a lead")

    batch = [
        {"name": "TAKE A MESSAGE", "instructions": "1. Ask for a name."},  # changed, any case
        {"name": "Qualify a lead", "instructions": STEPS},  # same as stored
        {"name": "Onboard a trial user", "instructions": STEPS, "rule": "first_seen_within=7d"},
    ]
    assert jobs.import_many(batch, actor="bob") == (1, 1, 1)

    message = jobs.get("take a message")
    assert (message.name, message.version, message.updated_by) == ("TAKE A MESSAGE", 2, "bob")
    assert [v.instructions for v in jobs.history(message.id)] == ["1. Ask for a name.", STEPS]
    assert jobs.get("qualify a lead") == lead  # unchanged: no new version
    assert jobs.get("onboard a trial user").rule == "first_seen_within=7d"
    assert len(jobs.list()) == 3


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ({"name": "n" * 101}, ["job 3: name: at most 100 characters", "you gave 101"]),
        ({"instructions": ""}, ["job 3: instructions: is required"]),
        ({"description": "d" * 501}, ["job 3: description: at most 500"]),
        ({"rule": "platform=teams"}, ["job 3: rule: platform takes"]),
        ({"colour": "red"}, ["job 3: colour: is not a job field"]),
    ],
    ids=["long-name", "no-instructions", "long-description", "bad-rule", "unknown-field"],
)
def test_import_is_all_or_nothing(
    jobs: JobStore, db_state: Any, bad: dict[str, Any], words: list[str]
) -> None:
    new_job(jobs, "Take a message")
    before = db_state()
    batch = [
        {"name": "Take a message", "instructions": "New steps."},  # would be an update
        {"name": "Qualify a lead", "instructions": STEPS},  # would be created
        {"name": "Onboard a trial user", "instructions": STEPS, **bad},
        {"name": "Escalate a complaint", "instructions": STEPS},
    ]

    with pytest.raises(InvalidInput) as refused:
        jobs.import_many(batch, actor="bob")

    for word in words:
        assert word in str(refused.value)
    assert db_state() == before
    assert [j.name for j in jobs.list()] == ["Take a message"]


def test_import_refuses_a_name_twice_in_one_batch(jobs: JobStore, db_state: Any) -> None:
    before = db_state()

    with pytest.raises(AlreadyExists) as refused:
        jobs.import_many(items("Take a message", "Qualify a lead", "TAKE A MESSAGE"), actor="ana")

    assert str(refused.value) == "job 3: name is already used by job 1."
    assert db_state() == before
    assert jobs.list() == []


def test_import_of_nothing_changes_nothing(jobs: JobStore, db_state: Any) -> None:
    new_job(jobs)
    before = db_state()

    assert jobs.import_many([], actor="ana") == (0, 0, 0)
    assert jobs.import_many(items("Take a message"), actor="ana") == (0, 0, 1)
    assert db_state() == before


# --- reading ------------------------------------------------------------------


def test_list_is_sorted_by_name_any_case_and_get_many_keeps_order(jobs: JobStore) -> None:
    zeta = new_job(jobs, "zeta")
    alpha = new_job(jobs, "Alpha")
    beta = new_job(jobs, "beta")

    assert [j.name for j in jobs.list()] == ["Alpha", "beta", "zeta"]
    assert [j.id for j in jobs.get_many([zeta.id, "job_gone", alpha.id])] == [zeta.id, alpha.id]
    assert jobs.get_many([]) == []
    assert jobs.get(beta.id) == jobs.get("  BETA ") == beta


def test_a_cached_library_sees_every_write_from_another_process_at_once(
    redis_client: redis.Redis,
) -> None:
    reader, writer = JobStore(redis_client), JobStore(redis_client)  # two processes' stores
    job = writer.create({"name": "Take a message", "instructions": "1. Ask"}, actor="ana")
    assert [j.instructions for j in reader.list()] == ["1. Ask"]

    writer.update(job.id, {"instructions": "1. Ask who"}, actor="ben")
    assert [j.instructions for j in reader.list()] == ["1. Ask who"]

    writer.create({"name": "Reset a password", "instructions": "1. Email"}, actor="ana")
    writer.delete(job.id, actor="ana")
    assert [j.name for j in reader.list()] == ["Reset a password"]
