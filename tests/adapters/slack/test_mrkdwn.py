"""Markdown → Slack mrkdwn, and splitting long replies into ordered messages."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.slack.mrkdwn import MAX_CHARS, escape, split, to_mrkdwn


@pytest.mark.parametrize(("markdown", "expected"), [
    ("**bold** and __also__", "*bold* and *also*"),
    ("*italic* and _too_", "_italic_ and _too_"),
    ("~~gone~~", "~gone~"),
    ("see [the docs](https://x.test/a?b=1&c=2)", "see <https://x.test/a?b=1&c=2|the docs>"),
    ("![a chart](https://x.test/c.png)", "<https://x.test/c.png|a chart>"),
    ("go to <https://x.test>", "go to <https://x.test>"),
    ("# Title", "*Title*"),
    ("### A **bold** sub-title ###", "*A bold sub-title*"),
    ("- one\n* two\n+ three\n  - nested", "• one\n• two\n• three\n  • nested"),
    ("1. first\n2. second", "1. first\n2. second"),
    ("> quoted **well**", "> quoted *well*"),
    ("R&D <team> > you", "R&amp;D &lt;team&gt; &gt; you"),
    ("ask <@U123> in <#C42|ops>", "ask <@U123> in <#C42|ops>"),
    ("<!channel> look", "&lt;!channel&gt; look"),
    ("a [link with <tags> & more](https://x.test/p>q|r)",
     "a <https://x.test/p%3Eq%7Cr|link with &lt;tags&gt; &amp; more>"),
    ("---", "──────────"),
    ("snake_case_name stays", "snake_case_name stays"),
    ("2 * 3 * 4 = 24", "2 * 3 * 4 = 24"),
])
def test_markdown_becomes_mrkdwn(markdown: str, expected: str) -> None:
    assert to_mrkdwn(markdown) == expected


def test_code_is_left_as_written_with_only_slacks_three_characters_escaped() -> None:
    markdown = ("Run `make **all** <target>` then:\n\n```python\n# not a heading\n"
                "- not a bullet\nif a < b and **c**:\n\n    pass\n```\nDone **now**.")
    assert to_mrkdwn(markdown) == (
        "Run `make **all** &lt;target&gt;` then:\n\n```\n# not a heading\n"
        "- not a bullet\nif a &lt; b and **c**:\n\n    pass\n```\nDone *now*.")


def test_an_unclosed_code_fence_is_closed() -> None:
    assert to_mrkdwn("look:\n```\nx = 1") == "look:\n```\nx = 1\n```"


def test_escape() -> None:
    assert escape("a & b < c > d") == "a &amp; b &lt; c &gt; d"


def test_a_short_reply_is_one_message_and_an_empty_one_is_none() -> None:
    assert split("hello") == ["hello"]
    assert split("  \n ") == []


def sentences(count: int, words: int = 12) -> str:
    return " ".join(f"Sentence {i} " + "word " * words + "ends here." for i in range(count))


def test_long_replies_split_at_paragraphs_in_order() -> None:
    paragraphs = [f"Paragraph {i}. " + "x" * 1500 for i in range(5)]
    parts = split("\n\n".join(paragraphs))
    assert all(len(part) <= MAX_CHARS for part in parts)
    assert "\n\n".join(parts) == "\n\n".join(paragraphs)
    assert [p.split(".")[0] for p in parts] == ["Paragraph 0", "Paragraph 2", "Paragraph 4"]


def test_a_paragraph_longer_than_a_message_splits_at_sentence_ends() -> None:
    text = sentences(60)
    parts = split(text, 1000)
    assert len(parts) > 1
    assert all(len(part) <= 1000 for part in parts)
    assert all(part.endswith("ends here.") for part in parts)
    assert " ".join(parts) == text


def test_a_code_block_that_fits_is_never_cut() -> None:
    block = "```\n" + "\n".join(f"line {i}" for i in range(80)) + "\n```"
    text = "Intro. " * 80 + "\n\n" + block + "\n\nOutro."
    parts = split(text, 1000)
    assert any(block in part for part in parts)
    assert all(len(part) <= 1000 for part in parts)


def test_a_code_block_too_long_for_one_message_is_cut_between_lines_and_refenced() -> None:
    lines = [f"print({i})" for i in range(300)]
    parts = split("```\n" + "\n".join(lines) + "\n```", 500)
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= 500
        assert part.startswith("```\n") and part.endswith("\n```")
    assert [line for part in parts for line in part.split("\n")[1:-1]] == lines


def test_text_without_spaces_is_cut_hard_but_never_inside_an_entity() -> None:
    text = ("a" * 97 + "&amp;") * 10
    parts = split(text, 100)
    assert "".join(parts) == text
    assert all(len(part) <= 100 for part in parts)
    assert all(not re.search(r"&[a-z]*$", part) or part.endswith("&amp;") for part in parts)


def test_a_link_is_never_cut() -> None:
    link = "<https://x.test/page|a link with several words in its label>"
    text = "word " * 15 + link + " tail" * 20
    for part in split(text, 100):
        assert part.count("<") == part.count(">")


_prose = st.lists(
    st.text(alphabet=st.sampled_from("abc xyz.!?\n"), min_size=1, max_size=300),
    min_size=1, max_size=12,
).map("\n\n".join)


@given(_prose, st.integers(min_value=20, max_value=400))
def test_splitting_prose_keeps_every_character_in_order_within_the_limit(
        text: str, limit: int) -> None:
    parts = split(text, limit)
    assert all(0 < len(part) <= limit for part in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


@given(st.text(max_size=400))
def test_any_markdown_converts_and_splits_without_raising(text: str) -> None:
    for part in split(to_mrkdwn(text), 50):
        assert len(part) <= 50
