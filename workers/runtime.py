"""What RQ job functions run with: the agent, a Redis client, the beats of the
work running in this process, and whether its worker was asked to stop.

RQ calls job functions with their ids only. The worker's entry point builds
the runtime once and installs it for the worker's thread before working;
job functions read it with `current()`. Tests install their own.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

import redis

from bot.turns import Agent

#: How often running work beats, in seconds.
BEAT_S = 3.0
#: No beat for this long (four beats missed): the work's process is gone.
STALE_AFTER_S = 4 * BEAT_S

_runtime: ContextVar[Runtime] = ContextVar("chatjobs_runtime")


class Beats:
    """Keeps the scores (epoch ms) of running work fresh in sorted sets, so others can
    tell work whose process died (its beats stopped) from work that runs long.

    One thread beats for all the work running in the process, every `every` seconds,
    in one round trip; it ends when nothing runs, and the next work starts it again.
    (A thread per piece of work cost more CPU than a short turn's own Redis calls.)
    """

    def __init__(self, client: redis.Redis, *, every: float = BEAT_S) -> None:
        self._redis = client
        self._every = every
        self._lock = threading.Lock()
        self._running: Counter[tuple[str, str]] = Counter()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def beating(self, key: str, member: str) -> Iterator[None]:
        """Add `member` to the sorted set `key`, beat it while the block runs, and
        remove it after (left to go stale if Redis is unreachable then)."""
        self._redis.zadd(key, {member: time.time() * 1000})
        self._track(key, member)
        try:
            yield
        finally:
            if self._untrack(key, member):  # not while another block here still runs it
                with contextlib.suppress(redis.RedisError):
                    self._redis.zrem(key, member)

    @contextlib.contextmanager
    def tracking(self, key: str, member: str) -> Iterator[None]:
        """Beat `member` of `key` while the block runs; the caller adds and removes it
        (the scripts that take and end a conversation's turn do)."""
        self._track(key, member)
        try:
            yield
        finally:
            self._untrack(key, member)

    def _track(self, key: str, member: str) -> None:
        with self._lock:
            self._running[key, member] += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._beat, name="chatjobs-beats",
                                                daemon=True)
                self._thread.start()

    def _untrack(self, key: str, member: str) -> bool:
        """Stop beating for one block; True if it was the last of this process."""
        with self._lock:
            self._running[key, member] -= 1
            if self._running[key, member] > 0:
                return False
            del self._running[key, member]
            return True

    def _beat(self) -> None:
        try:
            while True:
                time.sleep(self._every)
                with self._lock:
                    running = list(self._running)
                    if not running:
                        self._thread = None
                        return
                now = time.time() * 1000
                # XX: work that ended meanwhile (and was removed) is not brought back.
                with contextlib.suppress(redis.RedisError), \
                        self._redis.pipeline(transaction=False) as pipe:
                    for key, member in running:
                        pipe.zadd(key, {member: now}, xx=True)
                    pipe.execute()
        except BaseException:
            with self._lock:  # the next work starts a new thread
                self._thread = None
            raise


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """The parts a worker's jobs use."""

    agent: Agent
    #: Text-mode client for our own keys.
    redis: redis.Redis
    #: The beats of the work running in this process (on `redis`).
    beats: Beats = field(init=False, repr=False, compare=False)
    #: Set when the worker is asked to stop: a turn runner takes no more turns.
    stopping: threading.Event = field(default_factory=threading.Event, repr=False,
                                      compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "beats", Beats(self.redis))


def install(runtime: Runtime) -> Token[Runtime]:
    """Make `runtime` the one jobs in this thread (and threads it starts) see."""
    return _runtime.set(runtime)


def current() -> Runtime:
    """The installed runtime; jobs run outside `chatjobs worker` have none."""
    try:
        return _runtime.get()
    except LookupError:
        raise RuntimeError(
            "no chatjobs runtime in this worker: run jobs with `chatjobs worker`") from None
