"""Block Kit rendering of command results: limits kept, text escaped, nothing lost."""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.slack.blocks import MAX_BLOCKS, chunk, escape, fallback_text, to_blocks
from bot.commands import Caller, Stores, run_command
from bot.commands.render import to_text
from bot.commands.results import Code, Fields, Paragraph, Result, Table
from jobs_store import BotStore, JobStore
from tests.adapters.slack.blockkit import check_message


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [field["text"] for field in block.get("fields", [])]
        out += [element["text"] for element in block.get("elements", [])]
    return out


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _checked(result: Result) -> list[dict[str, Any]]:
    blocks = to_blocks(result)
    check_message(blocks, fallback_text(result))
    return blocks


def test_title_is_a_bold_section_and_paragraphs_are_mrkdwn_sections() -> None:
    blocks = _checked(Result(title="Created 'Take a message'.",
                             blocks=(Paragraph(text="To use it: /jobs attach x."),)))
    assert blocks == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Created 'Take a message'.*"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "To use it: /jobs attach x."}},
    ]


def test_a_refusal_starts_with_a_warning_sign_in_blocks_and_fallback() -> None:
    result = Result.refused("Only admins can use /jobs create.")
    blocks = _checked(result)
    assert blocks[0]["text"]["text"] == ":warning: *Only admins can use /jobs create.*"
    assert fallback_text(result) == ":warning: Only admins can use /jobs create."


def test_a_title_never_breaks_its_bold_run() -> None:
    blocks = _checked(Result(title="Saved '*bold*'\nas version 2."))
    assert blocks[0]["text"]["text"] == "*Saved 'bold' as version 2.*"


def test_slack_control_characters_are_escaped_so_text_cannot_ping_or_link() -> None:
    result = Result(title="A & B", blocks=(
        Paragraph(text="Say <!channel> & <https://evil.example|click>"),
        Fields(pairs=(("trigger", "x < y > z"),)),
        Code(text="a: <b>"),
    ))
    texts = _checked(result)
    joined = "\n".join(_texts(texts))
    assert "<!channel>" not in joined and "<https" not in joined
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in joined
    assert "x &lt; y &gt; z" in joined
    assert "a: &lt;b&gt;" in joined


def test_a_long_paragraph_is_split_at_line_breaks_into_sections_of_3000() -> None:
    lines = [f"{i:04d} " + "word " * 30 for i in range(120)]  # ~18,600 characters
    blocks = _checked(Result(blocks=(Paragraph(text="\n".join(lines)),)))
    texts = _texts(blocks)
    assert len(texts) > 5 and all(len(t) <= 3000 for t in texts)
    # Cut only at line breaks: every section starts with a line number.
    assert all(re.match(r"^\d{4} ", t) for t in texts)
    assert "\n".join(texts) == "\n".join(lines)


def test_one_enormous_line_is_cut_without_splitting_an_escape() -> None:
    text = "a&" * 4000  # 8,000 characters, 20,000 once escaped
    pieces = chunk(text, 3000)
    assert all(len(p) <= 3000 for p in pieces)
    assert all("&" not in re.sub(r"&(amp|lt|gt);", "", p) for p in pieces)
    assert _unescape("".join(pieces)) == text


def test_short_fields_share_sections_of_at_most_ten() -> None:
    pairs = tuple((f"label{i}", f"value {i}") for i in range(23))
    blocks = _checked(Result(blocks=(Fields(pairs=pairs),)))
    assert [len(b["fields"]) for b in blocks] == [10, 10, 3]
    assert blocks[0]["fields"][0] == {"type": "mrkdwn", "text": "*label0*\nvalue 0"}


def test_long_or_multiline_field_values_get_sections_of_their_own() -> None:
    instructions = "\n".join(f"{i}. " + "Ask one thing. " * 40 for i in range(1, 17))
    assert len(instructions) > 9000
    pairs = (("name", "Take a message"), ("instructions", instructions), ("rule", ""),
             ("audience", "everyone"))
    blocks = _checked(Result(blocks=(Fields(pairs=pairs),)))
    assert blocks[0] == {"type": "section", "fields": [
        {"type": "mrkdwn", "text": "*name*\nTake a message"}]}
    own = [b["text"]["text"] for b in blocks[1:-1]]
    assert own[0].startswith("*instructions*\n1. ")
    assert "\n".join(own).removeprefix("*instructions*\n") == instructions
    assert blocks[-1]["fields"] == [{"type": "mrkdwn", "text": "*rule*\n-"},
                                    {"type": "mrkdwn", "text": "*audience*\neveryone"}]


def test_tables_and_code_are_preformatted_and_split_inside_fences() -> None:
    rows = tuple((f"job number {i}", f"job_{i:08x}", "v1") for i in range(200))
    table = Table(columns=("name", "id", "version"), rows=rows)
    blocks = _checked(Result(title="200 jobs", blocks=(table,)))
    texts = _texts(blocks)[1:]
    assert len(texts) > 1
    for text in texts:
        assert text.startswith("```\n") and text.endswith("\n```")
    body = "\n".join(t[4:-4] for t in texts)
    assert body == to_text(Result(blocks=(table,)))  # columns padded as in plain text


def test_a_fence_inside_code_cannot_close_the_block_early() -> None:
    blocks = _checked(Result(blocks=(Code(text="before\n```\nafter"),)))
    (text,) = _texts(blocks)
    assert text.count("```") == 2 and text.startswith("```\n") and text.endswith("\n```")


def test_more_than_fifty_blocks_end_with_a_count_of_what_is_not_shown() -> None:
    result = Result(title="Many", blocks=tuple(Paragraph(text=f"p{i}") for i in range(80)))
    blocks = _checked(result)
    assert len(blocks) == MAX_BLOCKS
    assert blocks[-1] == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": "… 32 more sections not shown (Slack shows 50 at most)."}]}


def test_an_empty_result_still_renders_valid_blocks_and_text() -> None:
    assert _checked(Result()) == [{"type": "section",
                                   "text": {"type": "mrkdwn", "text": "Done."}}]
    assert fallback_text(Result()) == "Done."
    assert _checked(Result(blocks=(Paragraph(text="  "), Code(text=""))))


def test_fallback_text_is_the_plain_text_trimmed_to_3000() -> None:
    short = Result(title="t", blocks=(Fields(pairs=(("a", "b"),)),))
    assert fallback_text(short) == to_text(short)
    long = Result(blocks=(Paragraph(text="x" * 5000),))
    text = fallback_text(long)
    assert len(text) == 3000 and text.endswith("…")


def test_escape_handles_the_three_characters_only() -> None:
    assert escape("<&>*_~`") == "&lt;&amp;&gt;*_~`"


# --- real command results -------------------------------------------------------------


@pytest.fixture
def stores(redis_client: redis.Redis) -> Stores:
    return Stores(jobs=JobStore(redis_client), bots=BotStore(redis_client))


def test_real_command_results_fit_block_kit(stores: Stores) -> None:
    admin = Caller(user="U1", is_admin=True)
    for key in ("take-message", "qualify-lead", "book-meeting", "troubleshoot"):
        assert run_command("jobs", f"create template={key}", caller=admin, stores=stores).ok
    long = "Goal: a long job.\n" + "\n".join(f"{i}. Step {'x' * 90}" for i in range(1, 101))
    created = run_command("jobs", ["create", "name=Long job", f"instructions={long[:10_000]}",
                                   "trigger=long <!here> & more"], caller=admin, stores=stores)
    assert created.ok, created.title
    commands = ["help", "help create", "list", "show 'Long job'", "templates", "export",
                "history 'Long job'", "diff", "edit nope name=x", "create name=",
                "show 'Take a message'"]
    for text in commands:
        result = run_command("jobs", text, caller=admin, stores=stores)
        blocks = _checked(result)
        assert "<!here>" not in str(blocks)
    member = run_command("jobs", "delete x", caller=Caller(user="U2", is_admin=False),
                         stores=stores)
    assert _checked(member)[0]["text"]["text"].startswith(":warning: *Only admins")


# --- any result -----------------------------------------------------------------------

_chars = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=4000)
_line_heavy = st.lists(st.sampled_from(["", "<", "&", "> x", "```", "*", "a" * 500, "\n"]),
                       max_size=40).map("".join)
_any_text = st.one_of(_chars, _line_heavy)
_blocks = st.one_of(
    _any_text.map(lambda t: Paragraph(text=t)),
    st.lists(st.tuples(st.text(min_size=1, max_size=40), _any_text), min_size=1, max_size=25)
    .map(lambda pairs: Fields(pairs=tuple(pairs))),
    st.lists(st.tuples(_chars.map(lambda t: t[:60]), _chars.map(lambda t: t[:60])), max_size=60)
    .map(lambda rows: Table(columns=("a", "b"), rows=tuple(rows))),
    _any_text.map(lambda t: Code(text=t)),
)


@settings(max_examples=150, deadline=None)
@given(ok=st.booleans(), title=_any_text.map(lambda t: t[:300]),
       blocks=st.lists(_blocks, max_size=12))
def test_any_result_renders_within_block_kit_limits(ok: bool, title: str,
                                                   blocks: list[Any]) -> None:
    result = Result(ok=ok, title=title, blocks=tuple(blocks))
    rendered = to_blocks(result)
    check_message(rendered, fallback_text(result))
    if len(rendered) < MAX_BLOCKS:  # nothing hidden: every paragraph's words are there
        shown = _unescape("\n".join(_texts(rendered)))
        for block in blocks:
            if isinstance(block, Paragraph):
                assert "".join(block.text.split()) in "".join(shown.split())
