"""The job matcher: ranks jobs for what a user just said.

Lexical relevance is BM25 (bm25s) over each job's name, trigger, description
and instructions, with the name and trigger counted more because they say
what the job is for. A job whose audience rule excludes the contact is never
returned. Scores are normalized to 0–1 against the best score any job could
get for the query, so one threshold works whatever the library size.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import bm25s
import numpy as np

from jobs_store.models import Contact, Job

#: How many times a field's words count toward relevance.
_WEIGHTS = (("name", 3), ("trigger", 2), ("description", 1), ("instructions", 1))
#: Below this normalized score, a job did not match.
THRESHOLD = 0.2


@dataclass(frozen=True)
class Match:
    """A job that fits the message, with its score (0–1) and why."""

    job: Job
    score: float
    reasons: tuple[str, ...]


def _tokens(texts: list[str]) -> list[list[str]]:
    result = bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)
    return [list(tokens) for tokens in result]


class _Index:
    """A BM25 index over one set of job versions."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = list(jobs)
        docs = [" ".join(" ".join([getattr(job, f)] * w) for f, w in _WEIGHTS) for job in jobs]
        self.doc_tokens = _tokens(docs)
        self.vocab = {token for tokens in self.doc_tokens for token in tokens}
        self.bm25 = bm25s.BM25()
        self.bm25.index(self.doc_tokens, show_progress=False)

    def scores(self, text: str) -> tuple[np.ndarray, set[str]]:
        """Raw BM25 scores per job, and the query words the library knows."""
        query = [t for t in _tokens([text])[0] if t in self.vocab]
        if not query:
            return np.zeros(len(self.jobs)), set()
        return np.asarray(self.bm25.get_scores(query)), set(query)


class JobMatcher:
    """Ranks jobs for a message; indexes are cached per set of job versions."""

    def __init__(self, *, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        self._cache: dict[tuple[tuple[str, int], ...], _Index] = {}
        self._lock = threading.Lock()

    def rank(
        self,
        jobs: Sequence[Job],
        text: str,
        *,
        contact: Contact | None = None,
        now: datetime,
        limit: int = 5,
    ) -> list[Match]:
        """The jobs above the threshold that the contact may be offered, best first."""
        eligible = [job for job in jobs if _admits(job, contact, now)]
        if not eligible or not text.strip():
            return []
        index = self._index(eligible)
        raw, words = index.scores(text)
        best_possible = max(float(raw.max()), 1e-9)
        matches = []
        for position in np.argsort(-raw)[:limit]:
            score = float(raw[position]) / best_possible * _coverage(words, text)
            if raw[position] <= 0 or score < self.threshold:
                continue
            job = index.jobs[position]
            shared = sorted(words & set(index.doc_tokens[position]))
            reasons = [f"shares words: {', '.join(shared[:6])}"]
            if job.rule:
                reasons.append(f"audience rule holds: {job.rule}")
            matches.append(Match(job=job, score=round(score, 3), reasons=tuple(reasons)))
        return matches

    def _index(self, jobs: Sequence[Job]) -> _Index:
        key = tuple((job.id, job.version) for job in jobs)
        with self._lock:
            index = self._cache.get(key)
            if index is None:
                if len(self._cache) > 32:
                    self._cache.clear()
                index = self._cache[key] = _Index(jobs)
            return index


def _coverage(words: set[str], text: str) -> float:
    """The share of the message's content words the library knows (0–1)."""
    asked = set(_tokens([text])[0])
    return len(words) / len(asked) if asked else 0.0


def _admits(job: Job, contact: Contact | None, now: datetime) -> bool:
    rule = job.audience_rule
    return rule is None or (contact is not None and rule.admits(contact, now=now))
