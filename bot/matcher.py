"""The job matcher: ranks jobs for what a user just said.

Lexical relevance is BM25 (bm25s) over each job's name, trigger, description
and instructions, with the name and trigger counted more because they say
what the job is for. Words are stemmed (Snowball, via PyStemmer) and the small
words of conversation ("how do I", "can you") are left out, so small talk
matches nothing. Words that name the same thing are related through the word
groups of `bot/vocabulary.yaml` ("pw" and "password", "hook up zapier" and
"integration"): a job earns, for each word of the message, the better of the
word itself and its group at `RELATED` weight; a job's groups are taken
from its name and trigger only.

A score is what the job earns over what an ideal job would: each word of the
message is worth its weight (IDF; the group's when only the group is known),
and the message as a whole at most `CAP` unknown words, so a long message is
not held against the job that fits its request. It reads as "how much of what
the user said this job explains", 0–1, and words no job knows pull it down, so
one threshold works whatever the library size. Word weights (IDF) are
computed as if the library held at least `_MIN_LIBRARY` jobs: in a library of
two jobs, a word both share is still strong evidence, not none.

With embeddings (`OPENAI_EMBEDDING_MODEL`), each job also gets a semantic score
from the cosine similarity between the message and what the job is for,
rescaled from [`SEMANTIC_FLOOR`, `SEMANTIC_CEILING`] to 0–1; it finds
paraphrases that share no word with the job. The fused score is the chance
that either signal is right: 1 − (1 − lexical)(1 − semantic).

A job whose audience rule excludes the contact is never returned. A job in
progress in the conversation stays first until it is completed or the user
clearly moves on: another job scores at least `MOVED_ON` while it scores below
the threshold.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime

import bm25s
import numpy as np

from bot.embeddings import JobVectors
from bot.llm.base import ModelError
from bot.text import content_words, stemmed
from bot.vocabulary import MARK, Touch, Vocabulary, builtin
from jobs_store.models import Contact, Job

log = logging.getLogger(__name__)

#: How many times a field's words count toward relevance.
_WEIGHTS = (("name", 3), ("trigger", 2), ("description", 1), ("instructions", 1))
#: The same for related words (word groups): only what the job is for and how people
#: ask for it. Instructions' asides ("if something breaks, escalate") and a
#: description's details would relate every job to most groups.
_GROUP_WEIGHTS = (("name", 3), ("trigger", 2))
#: Below this normalized score, a job did not match.
THRESHOLD = 0.2
#: Cosine similarities mapped to semantic scores 0 and 1.
SEMANTIC_FLOOR = 0.15
SEMANTIC_CEILING = 0.60
#: A score at which another job shows the user has moved on from the one in progress.
MOVED_ON = 0.5
_MIN_LIBRARY = 50
#: How much a related word (one of the same word group) counts beside the same word.
RELATED = 0.85
#: A message is worth at most this many unknown words: past that, what a long
#: message says besides its request no longer lowers the job that fits it.
CAP = 2.0


@dataclass(frozen=True)
class Match:
    """A job that fits the message, with its score (0–1) and why."""

    job: Job
    score: float
    reasons: tuple[str, ...]


class _Index:
    """A BM25 index (and the job vectors, with embeddings) over one set of job versions."""

    def __init__(self, jobs: Sequence[Job], vectors: JobVectors | None,
                 vocabulary: Vocabulary) -> None:
        self.jobs = list(jobs)
        self.position = {job.id: i for i, job in enumerate(self.jobs)}
        #: Audience rules, parsed once: most jobs have none.
        self.rules = [(i, rule) for i, job in enumerate(self.jobs)
                      if (rule := job.audience_rule) is not None]
        self.vectors: np.ndarray | None = None
        #: True when embeddings were wanted but failed: lexical only, not kept.
        self.degraded = False
        if vectors is not None:
            try:
                self.vectors = vectors.for_jobs(self.jobs)
            except ModelError as exc:
                log.warning("job embeddings failed; matching on words for now: %s", exc)
                self.degraded = True
        tokens = [stemmed(" ".join(" ".join([getattr(job, f)] * w) for f, w in _WEIGHTS))
                  + [group for f, w in _GROUP_WEIGHTS
                     for group in vocabulary.group_words(getattr(job, f)) * w]
                  for job in jobs]
        self.doc_tokens = [set(doc) for doc in tokens]
        self.doc_freq = Counter(t for tokens in self.doc_tokens for t in tokens)
        self.bm25: bm25s.BM25 | None = None
        if self.doc_freq:  # bm25s cannot index a corpus without a single word
            self.bm25 = bm25s.BM25(method="lucene")
            self.bm25.index(tokens, show_progress=False)

    def scores(self, units: dict[str, set[str]]) -> np.ndarray:
        """Normalized scores (0–1) per job for the message's words.

        `units` maps each word of the message (its stem, or a phrase) to the
        word groups it belongs to. A job earns, per word, the better of the
        word itself and `RELATED` times one of its groups (BM25 term scores);
        a word is worth its IDF, or its best group's when only the group is
        known to the library.
        """
        total = np.zeros(len(self.jobs))
        if self.bm25 is None:
            return total
        terms: dict[str, np.ndarray] = {}
        ideal = 0.0
        for stem, groups in units.items():
            known = [g for g in groups if g in self.doc_freq]
            if stem in self.doc_freq or not known:
                ideal += self._idf(stem, smoothed=True)
            else:
                ideal += max(self._idf(g, smoothed=True) for g in known)
            best = self._term(stem, terms) if stem in self.doc_freq else None
            for group in known:
                related = self._term(group, terms) * RELATED
                best = related if best is None else np.maximum(best, related)
            if best is not None:
                total += best
        ideal = min(ideal, CAP * self._idf("", smoothed=True))  # "": an unknown word
        return np.minimum(total / ideal, 1.0) if ideal else total

    def _term(self, token: str, terms: dict[str, np.ndarray]) -> np.ndarray:
        """BM25 scores per job for one known token with the smoothed IDF, kept in `terms`."""
        if token not in terms:
            assert self.bm25 is not None
            weight = self._idf(token, smoothed=True) / self._idf(token, smoothed=False)
            terms[token] = np.asarray(self.bm25.get_scores([token])) * weight
        return terms[token]

    def admitted(self, contact: Contact | None, now: datetime) -> np.ndarray:
        """Which jobs the contact may be offered (audience rules)."""
        mask = np.ones(len(self.jobs), dtype=bool)
        for position, rule in self.rules:
            mask[position] = contact is not None and rule.admits(contact, now=now)
        return mask

    def _idf(self, token: str, *, smoothed: bool) -> float:
        """BM25's (Lucene) inverse document frequency; highest for unknown words."""
        n = max(len(self.jobs), _MIN_LIBRARY) if smoothed else len(self.jobs)
        df = self.doc_freq.get(token, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))


def _units(words: dict[str, str], touches: list[Touch]) -> dict[str, set[str]]:
    """Each stem (or phrase) of the message → the word groups it belongs to."""
    units: dict[str, set[str]] = {stem: set() for stem in words.values()}
    for touch in touches:
        units.setdefault(touch.key, set()).add(MARK + touch.group)
    return units


class JobMatcher:
    """Ranks jobs for a message; indexes are cached per set of job versions."""

    def __init__(self, *, threshold: float = THRESHOLD, vectors: JobVectors | None = None,
                 vocabulary: Vocabulary | None = None) -> None:
        self.threshold = threshold
        self._vectors = vectors
        self._vocabulary = vocabulary if vocabulary is not None else builtin()
        self._cache: dict[Hashable, _Index] = {}
        self._lock = threading.Lock()

    @property
    def semantic(self) -> bool:
        """Whether embeddings are used."""
        return self._vectors is not None

    def rank(
        self,
        jobs: Sequence[Job],
        text: str,
        *,
        contact: Contact | None = None,
        now: datetime,
        limit: int = 5,
        in_progress: str | None = None,
        key: Hashable | None = None,
    ) -> list[Match]:
        """The jobs above the threshold that the contact may be offered, best first.

        `in_progress` is the id of a job the conversation is following; it is
        kept first (even below the threshold) unless the user clearly moved on.
        `key` names this set of jobs for the index cache (e.g. the library's
        revision); without it, the jobs' ids and versions are the key.
        """
        if not jobs or not text.strip():
            return []
        index = self._index(jobs, key)
        words = content_words(text)
        touches = self._vocabulary.touches(text)
        fused = index.scores(_units(words, touches))
        semantic = self._semantic(index, text)
        if semantic is not None:
            fused = 1 - (1 - fused) * (1 - semantic)
        fused = np.where(index.admitted(contact, now), fused, -1.0)  # excluded: never offered
        sticky = index.position.get(in_progress) if in_progress else None
        if sticky is not None and (fused[sticky] < 0 or (
                fused[sticky] < self.threshold
                and np.delete(fused, sticky).max(initial=0.0) >= MOVED_ON)):
            sticky = None  # excluded, or the user clearly moved on to something else
        above = np.flatnonzero(fused >= max(self.threshold, 1e-9))
        best = [int(p) for p in above[np.argsort(-fused[above], kind="stable")][:limit]]
        if sticky is not None:
            best = [sticky, *(p for p in best if p != sticky)][:limit]
        return [self._match(index, p, float(fused[p]), words, touches, semantic, sticky)
                for p in best]

    @staticmethod
    def _match(index: _Index, position: int, score: float, words: dict[str, str],
               touches: list[Touch], semantic: np.ndarray | None, sticky: int | None) -> Match:
        job = index.jobs[position]
        tokens = index.doc_tokens[position]
        reasons = []
        if position == sticky:
            reasons.append("in progress in this conversation")
        shared = [word for word, stem in words.items() if stem in tokens]
        if shared:
            reasons.append(f"shares words: {', '.join(shared[:6])}")
        related = dict.fromkeys(
            f"{t.typed} ({t.group})" for t in touches if MARK + t.group in tokens
            and not set(content_words(t.typed).values()) <= tokens)  # else shared
        if related:
            reasons.append(f"related words: {', '.join(list(related)[:6])}")
        if semantic is not None and semantic[position] > 0:
            reasons.append(f"similar meaning ({semantic[position]:.2f})")
        if job.rule:
            reasons.append(f"audience rule holds: {job.rule}")
        return Match(job=job, score=round(max(score, 0.0), 3), reasons=tuple(reasons))

    def _semantic(self, index: _Index, text: str) -> np.ndarray | None:
        if self._vectors is None or index.vectors is None:
            return None
        try:
            query = self._vectors.for_text(text)
        except ModelError as exc:
            log.warning("semantic matching skipped for this message: %s", exc)
            return None
        cosine = index.vectors @ query
        return np.clip((cosine - SEMANTIC_FLOOR) / (SEMANTIC_CEILING - SEMANTIC_FLOOR), 0, 1)

    def _index(self, jobs: Sequence[Job], key: Hashable | None) -> _Index:
        key = key if key is not None else tuple((job.id, job.version) for job in jobs)
        with self._lock:
            index = self._cache.get(key)
            if index is None:
                if len(self._cache) > 32:
                    self._cache.clear()
                index = _Index(jobs, self._vectors, self._vocabulary)
                if not index.degraded:  # else try the embeddings again next time
                    self._cache[key] = index
            return index


