"""The job library: jobs, every previous version of each, and undo.

Every write runs in a WATCH/MULTI transaction, so two admins editing at once
never lose an edit: an edit based on a version that has been replaced since is
refused (`StaleVersion`) with who replaced it and when.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import redis
from redis.client import Pipeline

from jobs_store import keys
from jobs_store.errors import AlreadyExists, InvalidInput, NotFound, StaleVersion
from jobs_store.models import JOB_FIELDS, Bot, Job, now_utc, validated
from jobs_store.records import DEFAULT_WORKSPACE, load, new_id, not_found, resolve_id

_Jobs = list[Job]  # `list` is a method name below, so spell the type out here


class JobStore:
    """Repository of one workspace's jobs."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        workspace: str = DEFAULT_WORKSPACE,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self._redis = client
        self._ws = workspace
        self._clock = clock
        self._library: tuple[str, _Jobs] | None = None

    # --- reading ------------------------------------------------------------

    def list(self) -> _Jobs:
        """Every job, sorted by name."""
        return list(self.snapshot()[1])

    def snapshot(self) -> tuple[str, _Jobs]:
        """The library's revision and every job, sorted by name (do not modify the list).

        Every write bumps the revision; while it is unchanged, the jobs parsed
        last time are reused, so a turn costs one GET instead of reading the
        whole library (edits still apply at once everywhere).
        """
        revision = str(self._redis.get(keys.job_revision(self._ws)) or "0")
        if self._library is not None and self._library[0] == revision:
            return self._library
        ids = self._redis.hvals(keys.job_names(self._ws))
        raws = self._redis.mget([keys.job(self._ws, str(i)) for i in ids]) if ids else []
        jobs = sorted((Job.model_validate_json(raw) for raw in raws if raw),
                      key=lambda job: job.name.lower())
        # A write between the GET and the MGET leaves newer jobs under the older
        # revision: the next call sees the new revision and reads again.
        self._library = (revision, jobs)
        return self._library

    def get_many(self, job_ids: Iterable[str]) -> _Jobs:
        """The jobs with these ids, in that order, skipping any that are gone."""
        ids = [*job_ids]
        raws = self._redis.mget([keys.job(self._ws, i) for i in ids]) if ids else []
        return [Job.model_validate_json(raw) for raw in raws if raw]

    def find(self, ref: str) -> Job | None:
        """The job with this id or name (any case), or None."""
        job_id = resolve_id(self._redis, keys.job_names(self._ws), ref, self._job_key)
        return load(self._redis, self._job_key(job_id), Job) if job_id else None

    def get(self, ref: str) -> Job:
        """Like `find`, but raise `NotFound` with the closest name as a hint."""
        job = self.find(ref)
        if job is None:
            raise not_found("job", ref, (j.name for j in self.list()), "/jobs list")
        return job

    def history(self, ref: str) -> _Jobs:
        """Every version of the job, newest first."""
        job = self.get(ref)
        raws = self._redis.lrange(keys.job_versions(self._ws, job.id), 0, -1)
        return [Job.model_validate_json(raw) for raw in reversed(raws)]

    # --- writing ------------------------------------------------------------

    def create(self, fields: Mapping[str, Any], *, actor: str) -> Job:
        """Store a new job; its name must be free (any case)."""
        _only_job_fields(fields)
        now = self._clock()
        draft = validated(
            Job,
            {**fields, "id": new_id("job"), "version": 1, "created_by": actor,
             "created_at": now, "updated_by": actor, "updated_at": now},
        )

        def write(pipe: Pipeline) -> Job:
            job = draft
            while pipe.exists(self._job_key(job.id)):  # an id collision: draw again
                job = job.model_copy(update={"id": new_id("job")})
            self._check_name_free(pipe, job)
            pipe.multi()
            self._write(pipe, job)
            return job

        return self._transaction(write)

    def update(
        self,
        ref: str,
        changes: Mapping[str, Any],
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Job:
        """Save `changes` as the job's next version and return it.

        With `expected_version`, refuse if the job is no longer at that version.
        When nothing would change, nothing is saved and the current version is
        returned.
        """
        _only_job_fields(changes)
        if not changes:
            raise InvalidInput("", "Nothing to change: give at least one field=value.")
        job_id = self.get(ref).id

        def write(pipe: Pipeline) -> Job:
            current = self._current(pipe, job_id, ref)
            if expected_version is not None and current.version != expected_version:
                raise _stale(current, expected_version)
            job = self._next_version(current, dict(changes), actor)
            if _same_fields(job, current):
                return current
            self._check_name_free(pipe, job)
            pipe.multi()
            self._write(pipe, job, old_name=current.name)
            return job

        return self._transaction(write, keys.job(self._ws, job_id))

    def undo(self, ref: str, *, actor: str) -> Job:
        """Restore the version before the current one, as a new version.

        Undoing again keeps walking back: after restoring v2, undo restores v1.
        """
        job_id = self.get(ref).id

        def write(pipe: Pipeline) -> Job:
            current = self._current(pipe, job_id, ref)
            versions = pipe.lrange(keys.job_versions(self._ws, job_id), 0, -1)
            base = current.restored_from or current.version
            if base <= 1:
                raise NotFound(f"'{current.name}' has no earlier version to go back to.")
            older = Job.model_validate_json(versions[base - 2])
            restored = {field: getattr(older, field) for field in JOB_FIELDS}
            job = self._next_version(current, restored, actor, restored_from=older.version)
            self._check_name_free(pipe, job)
            pipe.multi()
            self._write(pipe, job, old_name=current.name)
            return job

        return self._transaction(write, keys.job(self._ws, job_id))

    def delete(self, ref: str, *, actor: str) -> Job:
        """Remove the job, its history and its attachments to bots."""
        job_id = self.get(ref).id
        bot_names = keys.bot_names(self._ws)

        def write(pipe: Pipeline) -> Job:
            current = self._current(pipe, job_id, ref)
            bot_keys = [keys.bot(self._ws, str(bot_id)) for bot_id in pipe.hvals(bot_names)]
            if bot_keys:
                pipe.watch(*bot_keys)
            bots = {key: pipe.get(key) for key in bot_keys}
            pipe.multi()
            pipe.delete(self._job_key(job_id), keys.job_versions(self._ws, job_id))
            pipe.hdel(self._names_key, current.name.lower())
            pipe.incr(keys.job_revision(self._ws))
            for key, raw in bots.items():
                if raw:
                    pipe.set(key, _without_job(str(raw), job_id, actor, self._clock()))
            if any(bots.values()):
                pipe.incr(keys.bot_revision(self._ws))  # the bots' cached copies are stale
            return current

        return self._transaction(write, keys.job(self._ws, job_id), bot_names)

    def import_many(
        self, items: Sequence[Mapping[str, Any]], *, actor: str
    ) -> tuple[int, int, int]:
        """Create or update jobs by name, all or nothing.

        Each item is the whole job: a field it leaves out is emptied, so a
        library imported from an export matches it. Everything is validated
        before anything is written. Returns the counts (created, updated,
        unchanged).
        """
        now = self._clock()
        seen: dict[str, int] = {}
        for position, item in enumerate(items, start=1):
            try:
                _only_job_fields(item)
                validated(Job, {**item, "id": "check"})
            except InvalidInput as exc:
                raise InvalidInput(f"job {position}: {exc.field}", exc.reason) from None
            name = str(item["name"]).strip().lower()
            if name in seen:
                raise AlreadyExists(f"job {position}: name is already used by job {seen[name]}.")
            seen[name] = position

        def write(pipe: Pipeline) -> tuple[int, int, int]:
            planned: list[tuple[Job, str | None]] = []
            taken: set[str] = set()
            created = updated = unchanged = 0
            for item in items:
                existing_id = pipe.hget(self._names_key, str(item["name"]).strip().lower())
                current = load(pipe, self._job_key(str(existing_id)), Job) if existing_id else None
                if current is None:
                    job_id = new_id("job")
                    while pipe.exists(self._job_key(job_id)) or job_id in taken:
                        job_id = new_id("job")  # an id collision: draw again
                    taken.add(job_id)
                    planned.append((validated(Job, {
                        **item, "id": job_id, "created_by": actor, "created_at": now,
                        "updated_by": actor, "updated_at": now}), None))
                    created += 1
                    continue
                job = self._next_version(current, _complete(item), actor)
                if _same_fields(job, current):
                    unchanged += 1
                    continue
                planned.append((job, current.name))
                updated += 1
            pipe.multi()
            for job, old_name in planned:
                self._write(pipe, job, old_name=old_name)
            return created, updated, unchanged

        return self._transaction(write)

    # --- internals ----------------------------------------------------------

    @property
    def _names_key(self) -> str:
        return keys.job_names(self._ws)

    def _job_key(self, job_id: str) -> str:
        return keys.job(self._ws, job_id)

    def _transaction(self, write: Callable[[Pipeline], Any], *watched: str) -> Any:
        return self._redis.transaction(
            write, self._names_key, *watched, value_from_callable=True
        )

    def _current(self, pipe: Pipeline, job_id: str, ref: str) -> Job:
        job = load(pipe, self._job_key(job_id), Job)
        if job is None:  # deleted between our lookup and the transaction
            raise NotFound(f"The job '{ref}' was just deleted.")
        return job

    def _next_version(
        self, current: Job, changes: dict[str, Any], actor: str, restored_from: int | None = None
    ) -> Job:
        data = current.model_dump()
        data.update(changes)
        data.update(version=current.version + 1, updated_by=actor, updated_at=self._clock(),
                    restored_from=restored_from)
        return validated(Job, data)

    def _check_name_free(self, pipe: Pipeline, job: Job) -> None:
        owner = pipe.hget(self._names_key, job.name.lower())
        if owner and owner != job.id:
            raise AlreadyExists(
                f"name: a job named '{job.name}' already exists; names are unique, any case."
            )

    def _write(self, pipe: Pipeline, job: Job, old_name: str | None = None) -> None:
        raw = job.model_dump_json()
        if old_name is not None and old_name.lower() != job.name.lower():
            pipe.hdel(self._names_key, old_name.lower())
        pipe.hset(self._names_key, job.name.lower(), job.id)
        pipe.set(self._job_key(job.id), raw)
        pipe.rpush(keys.job_versions(self._ws, job.id), raw)
        pipe.incr(keys.job_revision(self._ws))


def _only_job_fields(fields: Mapping[str, Any]) -> None:
    for field in fields:
        if field not in JOB_FIELDS:
            raise InvalidInput(field, f"is not a job field; use {', '.join(JOB_FIELDS)}")


def _same_fields(job: Job, other: Job) -> bool:
    return all(getattr(job, f) == getattr(other, f) for f in JOB_FIELDS)


def _complete(item: Mapping[str, Any]) -> dict[str, Any]:
    return {field: item.get(field, "") for field in JOB_FIELDS}


def _stale(current: Job, expected: int) -> StaleVersion:
    when = current.updated_at.strftime("%Y-%m-%d %H:%M UTC")
    return StaleVersion(
        f"'{current.name}' was changed by {current.updated_by or 'someone'} at {when} "
        f"(it is now version {current.version}; your edit was based on version {expected}). "
        "Nothing was saved: look at the new version and make your edit again."
    )


def _without_job(raw: str, job_id: str, actor: str, now: datetime) -> str:
    bot = Bot.model_validate_json(raw)
    bot = bot.model_copy(update={
        "draft_jobs": tuple(j for j in bot.draft_jobs if j != job_id),
        "live_jobs": tuple(j for j in bot.live_jobs if j != job_id),
        "version": bot.version + 1, "updated_by": actor, "updated_at": now,
    })
    return bot.model_dump_json()
