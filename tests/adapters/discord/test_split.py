"""Long replies as Discord messages of at most 2,000 characters, in order."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.discord.split import MAX_CHARS, split


def sentences(count: int, start: int = 0) -> list[str]:
    return [f"Sentence number {i} says something useful about the job at hand."
            for i in range(start, start + count)]


def words_of(parts: list[str]) -> list[str]:
    return " ".join(parts).split()


def test_short_replies_are_one_message_and_blank_ones_none() -> None:
    assert split("hello there") == ["hello there"]
    assert split("x" * MAX_CHARS) == ["x" * MAX_CHARS]
    assert split(" \n\n ") == []


def test_paragraphs_are_packed_whole_into_messages_in_order() -> None:
    paragraphs = [" ".join(sentences(5, start=10 * i)) for i in range(12)]  # ~340 chars each
    parts = split("\n\n".join(paragraphs))

    assert len(parts) > 1 and all(len(p) <= MAX_CHARS for p in parts)
    assert [q for p in parts for q in p.split("\n\n")] == paragraphs


def test_a_paragraph_too_long_is_cut_at_sentence_ends() -> None:
    paragraph = " ".join(sentences(60))  # ~3,800 characters, one paragraph
    parts = split(paragraph)

    assert len(parts) == 2 and all(len(p) <= MAX_CHARS for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert words_of(parts) == paragraph.split()


def test_without_sentences_it_cuts_at_spaces_then_anywhere() -> None:
    spaced = " ".join(["word"] * 900)
    assert all(p.endswith("word") for p in split(spaced))
    solid = "x" * 4500
    assert split(solid) == ["x" * 2000, "x" * 2000, "x" * 500]


def test_a_long_code_block_is_cut_between_lines_and_fenced_again() -> None:
    code = "\n".join(f"print({i})  # line" for i in range(300))
    parts = split(f"Here:\n\n```python\n{code}\n```\n\nThat is all.")

    assert all(len(p) <= MAX_CHARS for p in parts)
    blocks = [p[p.index("```python\n"):] for p in parts if "```python\n" in p]
    assert len(blocks) == 3
    assert all(b.count("```") == 2 and b.endswith("```") for b in blocks[:-1])
    lines = [line for b in blocks for line in b.split("```")[1].split("\n")[1:-1]]
    assert lines == code.split("\n")
    assert parts[0].startswith("Here:") and parts[-1].endswith("That is all.")


def test_a_code_block_that_fits_stays_whole() -> None:
    block = "```\n" + "\n".join(["x = 1"] * 200) + "\n```"  # ~1,200 characters
    text = " ".join(sentences(20)) + "\n\n" + block + "\n\n" + " ".join(sentences(5))
    assert sum(block in part for part in split(text)) == 1


def test_cuts_avoid_mentions_links_and_inline_code() -> None:
    filler = "a" * 1990
    for atom in ("<@123456789012345678>", "<https://example.com/a/very/long/path>",
                 "[the docs](https://example.com/docs)", "`some code here`"):
        parts = split(f"{filler} {atom} tail")
        assert atom in parts[-1], atom
        assert all(len(p) <= MAX_CHARS for p in parts)


def test_limit_is_checked() -> None:
    with pytest.raises(ValueError, match="at least 20"):
        split("hello", 5)


_prose = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                min_size=1, max_size=40),
        st.sampled_from(["\n\n", "\n", ". ", "```", "`", "<@1234>", "[a](b)", "😀", " "]),
    ),
    max_size=200,
).map("".join)


@given(_prose, st.integers(min_value=20, max_value=300))
def test_no_part_is_over_the_limit_and_nothing_but_whitespace_is_lost(
        text: str, limit: int) -> None:
    parts = split(text, limit)

    assert all(0 < len(p) <= limit for p in parts)
    # Everything but whitespace comes out, in order; code blocks cut in parts get their
    # fences (and language tag) repeated, which is all that may be added.
    def visible(s: str) -> str:
        return re.sub(r"\s", "", s)
    if "```" not in text:
        assert visible("".join(parts)) == visible(text)
    else:
        assert _subsequence(visible(text), visible("".join(parts)))


def _subsequence(needle: str, haystack: str) -> bool:
    it = iter(haystack)
    return all(ch in it for ch in needle)
