"""The job-matching evaluation: top-1 accuracy and no-match precision over realistic messages.

The dataset (tests/bot/matching_eval_data.py) holds 100+ messages over the 12
built-in templates, a third of them paraphrases that share no word with their
job, and 20+ that fit no job. The figures are printed in the normal pytest
output for lexical-only matching and for lexical + embeddings (the real
all-MiniLM-L6-v2, tests/fakes/minilm.py, skipped when it is not installed).
`python bench/matching_eval.py` prints the same table, every miss and a
threshold sweep.
"""

from __future__ import annotations

from collections import Counter

import pytest
import redis

from bot.embeddings import JobVectors
from bot.matcher import JobMatcher
from bot.templates import all_templates
from tests.bot import matching_eval_data as data

JOBS = {job.id: job for job in data.jobs()}
NO_KEYWORD = [case for case in data.CASES if case.kind == "no_keyword"]

_JOB_CASES = [case for case in data.CASES if case.expected is not None]
_NONE_CASES = [case for case in data.CASES if case.expected is None]
# No lexical matcher can find a message that shares no word with its job, and
# such a message then lands among the no-matches: the best lexical-only figures.
_LEXICAL_CEILING = (
    f"any lexical matcher scores at most top-1 {len(_JOB_CASES) - len(NO_KEYWORD)}"
    f"/{len(_JOB_CASES)} and no-match precision {len(_NONE_CASES)}"
    f"/{len(_NONE_CASES) + len(NO_KEYWORD)} here"
)
# The figures when the mark below was set; update them with the matcher.
_LEXICAL = (f"lexical-only top-1 is 52% (44/85) on this set, 73% on the messages that share"
            f" a word with their job; {_LEXICAL_CEILING}")

@pytest.fixture(scope="module")
def lexical() -> data.Report:
    return data.evaluate(JobMatcher(), "lexical only")


@pytest.fixture(scope="module")
def embedder() -> data.MiniLMEmbedder:
    reason = data.embeddings_unavailable()
    if reason is not None:
        pytest.skip(f"lexical+embeddings not measured: all-MiniLM-L6-v2 unavailable ({reason})")
    return data.MiniLMEmbedder()  # memoizes message vectors across the tests of this module


@pytest.fixture
def semantic(redis_client: redis.Redis, embedder: data.MiniLMEmbedder) -> data.Report:
    matcher = JobMatcher(vectors=JobVectors(redis_client, embedder))
    return data.evaluate(matcher, "lexical + embeddings (MiniLM)")


def _show(capsys: pytest.CaptureFixture[str], *reports: data.Report) -> None:
    with capsys.disabled():
        print(f"\n\njob matching, {len(data.CASES)} messages over {len(JOBS)} jobs"
              f" (misses: python bench/matching_eval.py)")
        print(data.format_table(reports))


def test_the_dataset_covers_every_job_with_every_kind() -> None:
    assert set(JOBS) == set(all_templates())
    assert len(data.CASES) >= 90
    assert len({case.text for case in data.CASES}) == len(data.CASES), "duplicate messages"
    per_job = Counter((case.expected, case.kind) for case in data.CASES)
    for key in JOBS:
        assert sum(n for (job, _), n in per_job.items() if job == key) >= 5, key
        assert per_job[key, "no_keyword"] >= 1, f"{key} has no paraphrase without its words"
        assert per_job[key, "none"] == 0
    nones = [case for case in data.CASES if case.expected is None]
    assert len(nones) >= 15
    assert all(case.kind == "none" for case in nones)
    assert all(case.kind in data.KINDS for case in data.CASES)


@pytest.mark.parametrize("case", NO_KEYWORD, ids=[case.text[:40] for case in NO_KEYWORD])
def test_no_keyword_messages_share_no_word_with_their_job(case: data.Case) -> None:
    assert case.expected is not None
    shared = data.shared_words(case.text, JOBS[case.expected])

    assert not shared, f"shares {shared} with {case.expected}: mark it a paraphrase"


def test_paraphrases_and_plain_requests_share_words_with_their_job() -> None:
    wordless = [case.text for case in data.CASES if case.kind in ("plain", "paraphrase")
                and case.expected and not data.shared_words(case.text, JOBS[case.expected])]

    assert not wordless, f"these share no word with their job: mark them no_keyword: {wordless}"


@pytest.mark.xfail(strict=False, reason=f"target not reached: {_LEXICAL}; the bar is 80%")
def test_lexical_only_top1_accuracy(
    lexical: data.Report, capsys: pytest.CaptureFixture[str]
) -> None:
    _show(capsys, lexical)

    assert lexical.top1 >= 0.80


def test_embeddings_do_not_lower_top1_accuracy(
    lexical: data.Report, semantic: data.Report, capsys: pytest.CaptureFixture[str]
) -> None:
    _show(capsys, lexical, semantic)

    assert semantic.top1 >= lexical.top1


def test_embeddings_no_match_precision(semantic: data.Report) -> None:
    assert semantic.no_match_precision >= 0.6
