"""Job-matching evaluation, for tuning: `python bench/matching_eval.py`.

Prints the table of tests/bot/test_matching_eval.py (top-1 accuracy per kind,
no-match precision and recall, lexical only and lexical + all-MiniLM-L6-v2),
every miss with what ranked first, the cosine similarities behind the
semantic scores, and sweeps of the matcher's THRESHOLD and of
SEMANTIC_FLOOR / SEMANTIC_CEILING (patched in `bot.matcher` for the sweep only).
Runs its own embedded Redis in a temporary directory.
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import redis

import bot.matcher as matcher_module
from bot.embeddings import JobVectors
from bot.matcher import JobMatcher
from jobs_store.embedded import EmbeddedRedis
from tests.bot import matching_eval_data as data
from tests.bot.matching_sets import ALL, SETS

THRESHOLDS = (0.1, 0.15, 0.2, 0.25, 0.3)
FLOORS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35)
CEILINGS = (0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.75)


@contextmanager
def semantic_range(floor: float, ceiling: float) -> Iterator[None]:
    """Patch the cosine range the matcher maps to semantic scores 0–1."""
    saved = matcher_module.SEMANTIC_FLOOR, matcher_module.SEMANTIC_CEILING
    matcher_module.SEMANTIC_FLOOR, matcher_module.SEMANTIC_CEILING = floor, ceiling
    try:
        yield
    finally:
        matcher_module.SEMANTIC_FLOOR, matcher_module.SEMANTIC_CEILING = saved


def cell(report: data.Report) -> str:
    """top-1 / no-match precision / no-match recall, in percent."""
    return "/".join("n/a" if math.isnan(v) else f"{v * 100:.0f}"
                    for v in (report.top1, report.no_match_precision, report.no_match_recall))


def threshold_sweep(vectors: JobVectors | None) -> None:
    rows = []
    for threshold in THRESHOLDS:
        rows.append(data.evaluate(JobMatcher(threshold=threshold, vectors=vectors),
                                  f"threshold {threshold}", cases=ALL))
    print(data.format_table(rows))


def semantic_sweep(vectors: JobVectors) -> None:
    print("cells: top-1 / no-match precision / no-match recall (%)")
    print(f"{'floor-ceiling':<14}" + "".join(f"{'thr ' + str(t):>14}" for t in THRESHOLDS))
    for floor in FLOORS:
        for ceiling in CEILINGS:
            if ceiling <= floor + 0.1:
                continue
            with semantic_range(floor, ceiling):
                cells = [cell(data.evaluate(JobMatcher(threshold=t, vectors=vectors), "",
                                            cases=ALL))
                         for t in THRESHOLDS]
            print(f"{floor:.2f}-{ceiling:.2f}    " + "".join(f"{c:>14}" for c in cells))


def cosines(vectors: JobVectors) -> None:
    """The raw cosines: where the expected job sits, and how high no-job messages reach."""
    jobs = data.jobs()
    ids = [job.id for job in jobs]
    matrix = vectors.for_jobs(jobs)
    by_kind: dict[str, list[float]] = {}
    lines = []
    for case in ALL:
        cos = matrix @ vectors.for_text(case.text)
        best = int(np.argmax(cos))
        if case.expected is None:
            by_kind.setdefault("none (best job)", []).append(float(cos[best]))
            lines.append(f"  [none      ] best {ids[best]:<19} {cos[best]:.2f}"
                         f"{'':<28} {case.text[:60]!r}")
            continue
        want = float(cos[ids.index(case.expected)])
        by_kind.setdefault(f"{case.kind} (expected)", []).append(want)
        mark = "" if ids[best] == case.expected else f"  best {ids[best]} {cos[best]:.2f}"
        lines.append(f"  [{case.kind:<10}] want {case.expected:<19} {want:.2f}{mark:<34}"
                     f" {case.text[:60]!r}")
    print("cosine of the expected job (job messages) / of the best job (no-job messages):")
    for kind, values in by_kind.items():
        quartiles = statistics.quantiles(values, n=4)
        print(f"  {kind:<24} min {min(values):.2f}  q1 {quartiles[0]:.2f}"
              f"  median {quartiles[1]:.2f}  q3 {quartiles[2]:.2f}  max {max(values):.2f}")
    print("\n".join(lines))


def reports(matcher: JobMatcher, label: str) -> list[data.Report]:
    """One report per set, then one over all of them."""
    return [*(data.evaluate(matcher, f"{label}, {name}", cases=cases)
              for name, cases in SETS.items()),
            data.evaluate(matcher, f"{label}, all", cases=ALL)]


def main() -> None:
    print(f"job matching, {len(ALL)} messages in sets {', '.join(SETS)} over"
          f" {len(data.jobs())} jobs (threshold {matcher_module.THRESHOLD}, semantic range"
          f" {matcher_module.SEMANTIC_FLOOR}-{matcher_module.SEMANTIC_CEILING})\n")
    lexical = reports(JobMatcher(), "lexical only")
    reason = data.embeddings_unavailable()
    if reason is not None:
        print(data.format_table(lexical))
        print(f"\nlexical+embeddings skipped: all-MiniLM-L6-v2 unavailable ({reason})\n")
        print(data.format_misses(lexical[-1]))
        print("\nTHRESHOLD sweep, lexical only, all sets")
        threshold_sweep(None)
        return
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as url:
        client = redis.Redis.from_url(url, decode_responses=True)
        vectors = JobVectors(client, data.MiniLMEmbedder())
        semantic = reports(JobMatcher(vectors=vectors), "lexical + embeddings")
        print(data.format_table([*lexical, *semantic]))
        print()
        print(data.format_misses(lexical[-1]))
        print()
        print(data.format_misses(semantic[-1]))
        print("\nTHRESHOLD sweep, lexical only, all sets")
        threshold_sweep(None)
        print("\nTHRESHOLD sweep, lexical + embeddings (default semantic range), all sets")
        threshold_sweep(vectors)
        print("\nSEMANTIC_FLOOR-SEMANTIC_CEILING × THRESHOLD, lexical + embeddings, all sets")
        semantic_sweep(vectors)
        print()
        cosines(vectors)
        client.close()


if __name__ == "__main__":
    main()
