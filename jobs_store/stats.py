"""Usage of the job library: who was offered each job, who completed it, and gaps.

The agent turn calls `record_referenced` for the jobs whose instructions it
injected, the `complete_job` tool calls `record_completed`, and a user message
that matched no job is kept with `record_gap`. `/jobs stats` and `/jobs gaps`
read them back. Every write and every read is one round trip (a MULTI/EXEC
pipeline), so recording costs a turn almost nothing; a turn's records go in the
transaction that keeps its reply (`pipe=`), which costs no round trip at all.

Its keys (`cj:{ws}:stats:…`) are listed in `jobs_store.keys`.

Distinct counts are exact: they are Redis sets, which grow by one member per
distinct conversation or user of each job (tens of bytes each). At team scale
that is kilobytes per job. HyperLogLog would bound the size but count only
approximately, and the completion rate needs "completed" to be a subset of
"offered", which sets give exactly (a user who completes a job is added to
both). Every call site must name users the same way (today: the platform's
user id), or a completion would not match the offer it follows.

`last_used` is written with `ZADD GT`, so a turn that finishes late never moves
it back in time (Redis 6.2 or newer; the embedded server is 6.2).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import redis
from pydantic import BaseModel, ConfigDict
from redis.client import Pipeline

from jobs_store import keys
from jobs_store.errors import InvalidInput
from jobs_store.records import DEFAULT_WORKSPACE

#: How many completion summaries are kept per job.
MAX_COMPLETIONS = 20
#: How many unmatched messages are kept (the newest).
MAX_GAPS = 500
#: Characters kept of an unmatched message.
MAX_GAP_CHARS = 500
#: Characters kept of a completion summary.
MAX_SUMMARY_CHARS = 1_000


# --- records --------------------------------------------------------------------


class JobStats(BaseModel):
    """How much one job is used."""

    model_config = ConfigDict(frozen=True)

    #: Distinct conversations whose turns carried the job's instructions.
    chats: int = 0
    #: Distinct users the job was offered to (everyone who completed it included).
    users_offered: int = 0
    #: Distinct users who completed the job.
    users_completed: int = 0
    #: When the job was last referenced or completed; None if never.
    last_used: datetime | None = None

    @property
    def completion_rate(self) -> float:
        """Completed / offered, 0–1; 0 when nobody was offered the job."""
        offered = max(self.users_offered, self.users_completed)
        return self.users_completed / offered if offered else 0.0


class Completion(BaseModel):
    """One user finishing a job, as the agent summed it up."""

    model_config = ConfigDict(frozen=True)

    user: str
    conversation_id: str
    summary: str
    at: datetime


class Gap(BaseModel):
    """A user message that matched no job: a candidate for a new one."""

    model_config = ConfigDict(frozen=True)

    text: str
    conversation_id: str
    user: str
    at: datetime


# --- the store ------------------------------------------------------------------


class StatsStore:
    """Usage counters of one workspace's jobs, and its unmatched questions."""

    def __init__(self, client: redis.Redis, *, workspace: str = DEFAULT_WORKSPACE) -> None:
        self._redis = client
        self._ws = workspace

    # --- writing ------------------------------------------------------------

    def record_referenced(
        self, *, job_ids: Sequence[str], conversation_id: str, user: str, at: datetime,
        pipe: Pipeline | None = None,
    ) -> None:
        """Count one agent turn that injected these jobs' instructions.

        Adds the conversation to each job's chats and the user to its offered
        users, and moves its last use forward to `at`. An empty user (a task
        posting in a channel) counts the chat only. With `pipe`, the commands are
        queued there for its caller to execute.
        """
        ids = _ids(job_ids)
        if not ids:
            return
        stamp = _epoch_ms(at)
        with self._writing(pipe) as pipe:
            for job_id in ids:
                if conversation_id:
                    pipe.sadd(keys.stats_chats(self._ws, job_id), conversation_id)
                if user:
                    pipe.sadd(keys.stats_offered(self._ws, job_id), user)
            pipe.zadd(keys.stats_last_used(self._ws), dict.fromkeys(ids, stamp), gt=True)

    def record_completed(
        self, *, job_id: str, user: str, conversation_id: str, summary: str, at: datetime
    ) -> None:
        """Count `user` as having completed the job, and keep the summary.

        The user also counts as offered and the conversation as a chat, so the
        completion rate never exceeds 100% even if the turn that offered the
        job went unrecorded. Only the latest `MAX_COMPLETIONS` summaries are
        kept, each cut to `MAX_SUMMARY_CHARS`.
        """
        if not job_id:
            raise InvalidInput("job_id", "is required")
        record = Completion(user=user, conversation_id=conversation_id,
                            summary=summary.strip()[:MAX_SUMMARY_CHARS], at=_aware(at))
        completions = keys.stats_completions(self._ws, job_id)
        with self._redis.pipeline(transaction=True) as pipe:
            if conversation_id:
                pipe.sadd(keys.stats_chats(self._ws, job_id), conversation_id)
            if user:
                pipe.sadd(keys.stats_offered(self._ws, job_id), user)
                pipe.sadd(keys.stats_completed(self._ws, job_id), user)
            pipe.lpush(completions, record.model_dump_json())
            pipe.ltrim(completions, 0, MAX_COMPLETIONS - 1)
            pipe.zadd(keys.stats_last_used(self._ws), {job_id: _epoch_ms(at)}, gt=True)
            pipe.execute()

    def record_gap(self, *, text: str, conversation_id: str, user: str, at: datetime,
                   pipe: Pipeline | None = None) -> None:
        """Keep a message that matched no job (cut to `MAX_GAP_CHARS`).

        Only the newest `MAX_GAPS` are kept. Blank messages are not recorded.
        With `pipe`, as `record_referenced`.
        """
        text = text.strip()[:MAX_GAP_CHARS]
        if not text:
            return
        record = Gap(text=text, conversation_id=conversation_id, user=user, at=_aware(at))
        key = keys.stats_gaps(self._ws)
        with self._writing(pipe) as pipe:
            pipe.lpush(key, record.model_dump_json())
            pipe.ltrim(key, 0, MAX_GAPS - 1)

    @contextlib.contextmanager
    def _writing(self, pipe: Pipeline | None) -> Iterator[Pipeline]:
        """The caller's pipeline as is, or a transaction of our own run at the end."""
        if pipe is not None:
            yield pipe
            return
        with self._redis.pipeline(transaction=True) as own:
            yield own
            own.execute()

    def forget_job(self, job_id: str) -> None:
        """Delete everything recorded about a job (when the job is deleted)."""
        with self._redis.pipeline(transaction=True) as pipe:
            ws = self._ws
            pipe.delete(keys.stats_chats(ws, job_id), keys.stats_offered(ws, job_id),
                        keys.stats_completed(ws, job_id), keys.stats_completions(ws, job_id))
            pipe.zrem(keys.stats_last_used(self._ws), job_id)
            pipe.execute()

    # --- reading ------------------------------------------------------------

    def job_stats(self, job_ids: Sequence[str]) -> dict[str, JobStats]:
        """Usage of each job, by id (zeros for a job nothing was recorded for)."""
        ids = _ids(job_ids)
        if not ids:
            return {}
        with self._redis.pipeline(transaction=True) as pipe:
            for job_id in ids:
                pipe.scard(keys.stats_chats(self._ws, job_id))
                pipe.scard(keys.stats_offered(self._ws, job_id))
                pipe.scard(keys.stats_completed(self._ws, job_id))
                pipe.zscore(keys.stats_last_used(self._ws), job_id)
            replies = pipe.execute()
        stats = {}
        for position, job_id in enumerate(ids):
            chats, offered, completed, last = replies[position * 4:position * 4 + 4]
            stats[job_id] = JobStats(
                chats=int(chats), users_offered=int(offered), users_completed=int(completed),
                last_used=None if last is None else datetime.fromtimestamp(last / 1000, UTC),
            )
        return stats

    def recent_completions(self, job_id: str, limit: int = 5) -> list[Completion]:
        """The job's latest completions, newest first (at most `MAX_COMPLETIONS`)."""
        if limit <= 0:
            return []
        raws = self._redis.lrange(keys.stats_completions(self._ws, job_id), 0, limit - 1)
        return [Completion.model_validate_json(raw) for raw in raws]

    def gaps(self, *, limit: int = MAX_GAPS) -> list[Gap]:
        """The latest messages that matched no job, newest first."""
        if limit <= 0:
            return []
        raws = self._redis.lrange(keys.stats_gaps(self._ws), 0, limit - 1)
        return [Gap.model_validate_json(raw) for raw in raws]


def _ids(job_ids: Sequence[str]) -> list[str]:
    """The ids once each, in order; a bare string is refused (it would be split)."""
    if isinstance(job_ids, str):
        raise InvalidInput("job_ids", "must be a list of job ids, not one string")
    return list(dict.fromkeys(job_id for job_id in job_ids if job_id))


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("at", "must be timezone-aware, e.g. datetime.now(UTC)")
    return at.astimezone(UTC)


def _epoch_ms(at: datetime) -> int:
    # Whole milliseconds are exact in a sorted-set score (a double); microseconds are not.
    return round(_aware(at).timestamp() * 1000)
