"""Embeddings for semantic job matching.

When `OPENAI_EMBEDDING_MODEL` is set, each job version is embedded once (its
name, trigger and description: what it is for, not how it is done) and the
vector is kept in Redis under `cj:emb:{model}:{job id}:{version}`, so an
unchanged job is never embedded again, by this process or any other.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np
import redis

from bot.llm.base import ModelError
from jobs_store import keys
from jobs_store.models import Job

if TYPE_CHECKING:  # the caller built the client, so openai is loaded by then
    import openai

log = logging.getLogger(__name__)

#: Vectors of old job versions are dropped after this long unused.
_VECTOR_TTL_S = 30 * 86_400
_BATCH = 256


class Embedder(Protocol):
    """Turns texts into vectors."""

    #: Identifies the vector space (cache keys depend on it).
    model: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """One row per text."""
        ...


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible `/v1/embeddings` endpoint."""

    def __init__(self, client: openai.OpenAI, *, model: str) -> None:
        self._client = client
        self.model = model

    def embed(self, texts: list[str]) -> np.ndarray:
        import openai  # loaded already (the client is openai's): a dict lookup

        rows: list[list[float]] = []
        for start in range(0, len(texts), _BATCH):
            try:
                answer = self._client.embeddings.create(
                    model=self.model, input=texts[start:start + _BATCH])
            except openai.OpenAIError as exc:
                raise ModelError(f"embeddings failed: {exc.__class__.__name__}") from exc
            rows += [item.embedding for item in sorted(answer.data, key=lambda d: d.index)]
        return np.asarray(rows, dtype=np.float32)


def job_text(job: Job) -> str:
    """What is embedded for a job: what it is for."""
    return "\n".join(part for part in (job.name, job.trigger, job.description) if part)


class JobVectors:
    """Unit vectors for jobs and messages, with job vectors cached in Redis."""

    def __init__(self, client: redis.Redis, embedder: Embedder) -> None:
        self._redis = client
        self._embedder = embedder

    @property
    def model(self) -> str:
        """The embedding model."""
        return self._embedder.model

    def for_jobs(self, jobs: Sequence[Job]) -> np.ndarray:
        """One unit row per job; only versions never seen before are embedded."""
        names = [keys.embedding(self.model, job.id, job.version) for job in jobs]
        cached = self._redis.mget(names) if names else []
        missing = [i for i, raw in enumerate(cached) if raw is None]
        rows: list[np.ndarray | None] = [_decode(str(raw)) if raw else None for raw in cached]
        if missing:
            fresh = _unit(self._embedder.embed([job_text(jobs[i]) for i in missing]))
            with self._redis.pipeline(transaction=False) as pipe:
                for i, vector in zip(missing, fresh, strict=True):
                    rows[i] = vector
                    pipe.set(names[i], _encode(vector), ex=_VECTOR_TTL_S)
                pipe.execute()
            log.info("embedded %d job versions with %s", len(missing), self.model)
        return np.vstack([row for row in rows if row is not None]) if rows else np.zeros((0, 1))

    def for_text(self, text: str) -> np.ndarray:
        """The unit vector of a message."""
        return _unit(self._embedder.embed([text]))[0]


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def _encode(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype(np.float32).tobytes()).decode("ascii")


def _decode(raw: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(raw), dtype=np.float32)
