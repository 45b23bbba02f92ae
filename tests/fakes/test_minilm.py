"""Checks that the numpy all-MiniLM-L6-v2 matches the sentence-transformers reference model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.fakes.minilm import (
    DIMENSION,
    MiniLM,
    _gelu,
    _openblas,
    is_available,
    shared,
    unavailable_reason,
)

if not is_available():
    pytest.skip(f"numpy MiniLM unavailable: {unavailable_reason()}", allow_module_level=True)


@pytest.fixture(scope="module")
def model() -> MiniLM:
    return shared()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# First dimensions of SentenceTransformer("all-MiniLM-L6-v2").encode(...) as published
# independently in several places (e.g. `model.encode("Hello world")` ->
# [-0.03447726, 0.03102319, 0.00673499, 0.02610895, -0.03936201]; OpenSearch ml-commons docs
# for the same model show "how are you" -> [-0.031369038, 0.037830487, 0.07630822, ...]).
REFERENCE = {
    "Hello world": [-0.03447726, 0.03102319, 0.00673499, 0.02610895, -0.03936201],
    "how are you": [-0.031369038, 0.037830487, 0.07630822],
}


@pytest.mark.parametrize("text", sorted(REFERENCE))
def test_matches_published_reference_values(model: MiniLM, text: str) -> None:
    expected = np.array(REFERENCE[text], dtype=np.float32)
    got = model.embed([text])[0][: len(expected)]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_reference_values_hold_inside_a_padded_batch(model: MiniLM) -> None:
    texts = ["Hello world", "a much longer sentence that forces padding of the short one", "hi"]
    got = model.embed(texts)[0][:5]
    np.testing.assert_allclose(got, np.array(REFERENCE["Hello world"]), atol=1e-4)


def test_shape_dtype_and_unit_norm(model: MiniLM) -> None:
    texts = ["one", "two words", "", "A somewhat longer sentence, with punctuation!"]
    emb = model.embed(texts)
    assert emb.shape == (len(texts), DIMENSION)
    assert emb.dtype == np.float32
    assert np.all(np.isfinite(emb))
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_empty_input(model: MiniLM) -> None:
    emb = model.embed([])
    assert emb.shape == (0, DIMENSION)
    assert emb.dtype == np.float32


def test_rejects_bare_string(model: MiniLM) -> None:
    with pytest.raises(TypeError):
        model.embed("not a list")  # type: ignore[arg-type]


def test_deterministic(model: MiniLM) -> None:
    texts = ["Deploy the staging build", "What is on the agenda for today?"]
    first = model.embed(texts)
    second = model.embed(texts)
    assert np.array_equal(first, second)
    assert np.array_equal(first, MiniLM().embed(texts))


def test_batch_equals_single_despite_padding(model: MiniLM) -> None:
    texts = [
        "hi",
        "How do I reset my password?",
        "Summarize the incident report from last night and list the follow-up actions, "
        "with owners and due dates, for the on-call team.",
        "ok",
        *(f"filler sentence number {i} to span several batches" for i in range(70)),
    ]
    batched = model.embed(texts)
    for i in (0, 1, 2, 3, 40, 73):
        single = model.embed([texts[i]])[0]
        assert np.max(np.abs(batched[i] - single)) < 1e-5, texts[i]


def test_batch_size_does_not_change_results(model: MiniLM) -> None:
    texts = [f"message {i}: {'word ' * (i % 13)}" for i in range(40)]
    small = MiniLM(batch_size=3).embed(texts)
    assert np.max(np.abs(small - model.embed(texts))) < 1e-5


def test_tokenizer_adds_special_tokens_and_truncates(model: MiniLM) -> None:
    ids = model.tokenizer.encode("Hello world").ids
    assert ids[0] == 101 and ids[-1] == 102  # [CLS] ... [SEP]
    assert len(ids) == 4
    long_ids = model.tokenizer.encode("word " * 1000).ids
    assert len(long_ids) == 256
    assert long_ids[0] == 101 and long_ids[-1] == 102


def test_long_text_is_truncated_not_crashing(model: MiniLM) -> None:
    base = " ".join(f"token{i % 50}" for i in range(600))
    emb = model.embed([base, base + " completely different tail about pizza", "short"])
    assert emb.shape == (3, DIMENSION)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # Everything past 256 tokens is cut off, so the tail changes nothing.
    assert np.max(np.abs(emb[0] - emb[1])) < 1e-6


def test_gelu_is_exact_erf_form() -> None:
    x = np.linspace(-8.0, 8.0, 4001, dtype=np.float32).reshape(-1, 1).repeat(3, axis=1)
    expected = np.array(
        [0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x[:, 0].astype(np.float64)]
    )
    got = _gelu(x.copy())
    assert np.max(np.abs(got[:, 0] - expected)) < 1e-6
    assert np.array_equal(got[:, 0], got[:, 2])


def test_password_paraphrase_vs_unrelated(model: MiniLM) -> None:
    q, para, weather = model.embed(
        [
            "How do I reset my password?",
            "I forgot my login credentials",
            "The weather is sunny today",
        ]
    )
    assert cosine(q, para) > 0.5
    assert cosine(q, weather) < 0.2
    assert cosine(para, weather) < 0.2


PARAPHRASES = [
    ("How do I reset my password?", "I forgot my login credentials"),
    ("A man is playing a guitar.", "Someone is strumming a guitar."),
    ("The cat sits on the mat.", "A cat is sitting on a rug."),
    ("Deploy the latest build to production", "Push the newest release to the prod servers"),
    ("Schedule a meeting for tomorrow morning", "Book a call for tomorrow at 9am"),
    ("What is the capital of France?", "Which city is France's capital?"),
    ("The stock market fell sharply today", "Share prices dropped a lot today"),
    ("How do I request vacation days?", "How can I ask for time off from work?"),
    ("The server is down", "The website is not responding"),
    ("Summarize yesterday's sales report", "Give me a summary of the sales numbers from yesterday"),
    ("Translate this paragraph into Spanish", "Convert this text to Spanish"),
]


def test_paraphrases_rank_above_unrelated_pairs(model: MiniLM) -> None:
    left = model.embed([a for a, _ in PARAPHRASES])
    right = model.embed([b for _, b in PARAPHRASES])
    sims = left @ right.T
    for i, (a, b) in enumerate(PARAPHRASES):
        others_row = np.delete(sims[i], i)
        others_col = np.delete(sims[:, i], i)
        assert sims[i, i] > others_row.max(), (a, b)
        assert sims[i, i] > others_col.max(), (a, b)
    diagonal = np.diag(sims)
    off_diagonal = sims[~np.eye(len(PARAPHRASES), dtype=bool)]
    assert diagonal.mean() > 0.55
    assert off_diagonal.mean() < 0.15
    assert diagonal.mean() - off_diagonal.mean() > 0.4


def test_two_hundred_sentences_are_fast(model: MiniLM) -> None:
    import time

    texts = [f"Job {i}: post the weekly {['sales', 'ops', 'hr'][i % 3]} digest" for i in range(200)]
    start = time.perf_counter()
    emb = model.embed(texts)
    elapsed = time.perf_counter() - start
    assert emb.shape == (200, DIMENSION)
    assert elapsed < 20.0  # ~0.3 s on 2 cores; generous bound for slow CI


def test_blas_thread_limit_is_scoped_and_harmless(model: MiniLM) -> None:
    blas = _openblas()
    texts = ["Restart the build agent", "Who is on call this week?"]
    if blas._get is None:
        pytest.skip("numpy is not using OpenBLAS here")
    before = blas._get()
    limited = model.embed(texts)
    assert blas._get() == before
    unlimited = MiniLM(blas_threads=None).embed(texts)
    assert np.max(np.abs(limited - unlimited)) < 1e-5
