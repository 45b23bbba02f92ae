"""Helpers shared by the repositories: ids, lookups by name, suggestions."""

from __future__ import annotations

import difflib
import re
import secrets
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from redis.client import Pipeline

from jobs_store.errors import NotFound

DEFAULT_WORKSPACE = "default"

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def transact(client: Any, write: Callable[[Pipeline], T], *watched: str) -> T:
    """Run `write` in a WATCH/MULTI transaction on `watched`, retried on a conflict;
    return what it returns."""
    return cast(T, client.transaction(write, *watched, value_from_callable=True))


def new_id(prefix: str) -> str:
    """A short random id such as `job_3fa2c1d97b0e`.

    48 random bits: a collision is unlikely (about 1 in 50,000) even among
    100,000 records of a kind; ids made before were 32 bits, and still resolve.
    """
    return f"{prefix}_{secrets.token_hex(6)}"


def load(pipe: Any, key: str, model: type[M]) -> M | None:
    """Read one JSON record (works on a client or a watching pipeline)."""
    raw = pipe.get(key)
    return model.model_validate_json(raw) if raw else None


_ID = re.compile(r"^[a-z]+(?:_[0-9a-f]{8,16})?$")


def resolve_id(pipe: Pipeline | Any, names_key: str, ref: str, record_key: Any) -> str | None:
    """The id of the record named `ref` (any case), or `ref` itself if it is an id."""
    ref = ref.strip()
    found = pipe.hget(names_key, ref.lower())
    if found:
        return str(found)
    return ref if _ID.match(ref) and pipe.exists(record_key(ref)) else None


def not_found(kind: str, ref: str, names: Iterable[str], list_command: str) -> NotFound:
    """A `NotFound` that suggests the closest name, if any is close."""
    close = difflib.get_close_matches(ref, list(names), n=1, cutoff=0.6)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return NotFound(f"No {kind} named '{ref}'.{hint} See {list_command} for the list.")
