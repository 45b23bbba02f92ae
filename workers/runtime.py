"""What RQ job functions run with: the agent and a Redis client.

RQ calls job functions with their ids only. The worker's entry point builds
the runtime once and installs it for the worker's thread before working;
job functions read it with `current()`. Tests install their own.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass

import redis

from bot.turns import Agent

_runtime: ContextVar[Runtime] = ContextVar("chatjobs_runtime")


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """The parts a worker's jobs use."""

    agent: Agent
    #: Text-mode client for our own keys.
    redis: redis.Redis


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
