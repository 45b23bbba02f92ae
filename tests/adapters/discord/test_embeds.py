"""Command results as Discord embeds: within Discord's limits, in order, and nothing lost."""

from __future__ import annotations

import discord
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.discord.embeds import (
    DESCRIPTION_MAX,
    EMBEDS_MAX,
    FIELD_NAME_MAX,
    FIELD_VALUE_MAX,
    FIELDS_MAX,
    FOOTER_MAX,
    FULL_TEXT_FILE,
    MESSAGE_TOTAL_MAX,
    REFUSED_COLOUR,
    TITLE_MAX,
    Reply,
    to_embeds,
    to_reply,
)
from bot.commands import Caller, Stores, run_command
from bot.commands.render import to_text
from bot.commands.results import Block, Code, Fields, Paragraph, Result, Table
from jobs_store import BotStore, JobStore


def check_limits(reply: Reply) -> None:
    """Every limit Discord checks on a message's embeds."""
    embeds = reply.embeds
    assert 1 <= len(embeds) <= EMBEDS_MAX
    assert sum(len(e) for e in embeds) <= MESSAGE_TOTAL_MAX
    for embed in embeds:
        data = embed.to_dict()
        assert data.get("title") or data.get("description") or data.get("fields") \
            or data.get("footer"), "an empty embed"
        assert len(data.get("title") or "") <= TITLE_MAX
        assert len(data.get("description") or "") <= DESCRIPTION_MAX
        assert len(data.get("fields") or []) <= FIELDS_MAX
        for f in data.get("fields") or []:
            assert 1 <= len(f["name"]) <= FIELD_NAME_MAX
            assert 1 <= len(f["value"]) <= FIELD_VALUE_MAX
        assert len(embed.footer.text or "") <= FOOTER_MAX
        # Code fences come in pairs, so no block runs on into the next text.
        assert (data.get("description") or "").count("```") % 2 == 0


def shown(reply: Reply) -> str:
    out = []
    for embed in reply.embeds:
        out += [embed.title or "", embed.description or ""]
        for f in embed.fields:
            out += [f.name or "", f.value or ""]
    return "\n".join(out)


def test_a_job_shows_its_title_and_fields_side_by_side() -> None:
    result = Result(title="Take a message (version 2)", blocks=(
        Fields(pairs=(("name", "Take a message"), ("trigger", "leave a message"))),))
    (embed,) = to_embeds(result)
    assert embed.title == "Take a message (version 2)"
    assert embed.colour is None
    assert [(f.name, f.value, f.inline) for f in embed.fields] == [
        ("name", "Take a message", True), ("trigger", "leave a message", True)]


def test_a_refusal_is_red_on_every_embed() -> None:
    result = Result.refused("name: at most 100 characters (you gave 101)",
                            Paragraph(text="x" * 2500), Paragraph(text="y" * 2500))
    reply = to_reply(result)
    check_limits(reply)
    assert len(reply.embeds) >= 2
    assert all(e.colour == REFUSED_COLOUR for e in reply.embeds)


def test_an_empty_result_says_done_and_an_empty_refusal_says_refused() -> None:
    assert [e.title for e in to_embeds(Result())] == ["Done."]
    assert [e.title for e in to_embeds(Result(ok=False, blocks=(Paragraph(text="why"),)))] \
        == ["Refused."]


def test_a_title_longer_than_an_embed_title_opens_the_description_in_bold() -> None:
    title = "Give the job's fields, " + "x" * 300
    (embed,) = to_embeds(Result.refused(title))
    assert embed.title is None
    assert embed.description == f"**{title}**"


def test_tables_and_code_are_code_blocks_and_a_fence_inside_cannot_close_them() -> None:
    table = Table(columns=("name", "id"), rows=(("Take a message", "job_1"),))
    (embed,) = to_embeds(Result(title="1 job", blocks=(
        table, Code(text="a: ```b```", language="yaml"))))
    description = embed.description or ""
    assert description.startswith("```\nname            id\n")
    assert "```yaml\na: ``\u200b`b``\u200b`\n```" in description
    assert description.count("```") == 4


def test_markdown_in_user_text_is_escaped_outside_code() -> None:
    (embed,) = to_embeds(Result(title="Created '*draft*'", blocks=(
        Paragraph(text="# not a heading"), Code(text="*kept*"))))
    assert embed.title == "Created '\\*draft*'"
    assert embed.description == "\\# not a heading\n\n```\n*kept*\n```"


def test_a_value_too_long_for_a_field_goes_to_the_description_in_order() -> None:
    steps = "\n".join(f"{n}. Ask question number {n}." for n in range(1, 80))
    result = Result(title="Take a message", blocks=(
        Fields(pairs=(("name", "Take a message"), ("instructions", steps),
                      ("audience", "everyone"))),))
    reply = to_reply(result)
    check_limits(reply)
    first, second = reply.embeds
    assert [f.name for f in first.fields] == ["name"]
    assert (second.description or "").startswith("**instructions**\n1. Ask question number 1.")
    # Fields show below the description: after the long value, as in the result.
    assert [f.name for f in second.fields] == ["audience"]
    assert not reply.files


def test_yaml_is_attached_and_shown_when_it_fits() -> None:
    reply = to_reply(Result(blocks=(Code(text="jobs:\n- name: x\n", language="yaml"),)))
    assert [f.filename for f in reply.files] == ["export.yaml"]
    assert reply.files[0].text == "jobs:\n- name: x\n"
    assert "```yaml\njobs:\n- name: x\n```" in (reply.embeds[0].description or "")


def test_yaml_too_big_to_show_is_only_attached() -> None:
    yaml = "jobs:\n" + "".join(f"- name: job {n}\n  instructions: {'x' * 200}\n"
                               for n in range(60))
    reply = to_reply(Result(title="Exported", blocks=(Code(text=yaml, language="yaml"),)))
    check_limits(reply)
    assert [f.filename for f in reply.files] == ["export.yaml"]
    assert reply.files[0].text == yaml
    assert f"Attached as export.yaml ({len(yaml):,} characters)." in shown(reply)


def test_an_answer_bigger_than_a_message_shows_what_fits_and_attaches_the_whole_text() -> None:
    rows = tuple((f"job {n}", f"job_{n:08x}", "v1", "2025-01-01", "-") for n in range(400))
    result = Result(title="400 jobs", blocks=(
        Table(columns=("name", "id", "version", "updated", "live on"), rows=rows),))
    reply = to_reply(result)
    check_limits(reply)
    assert [f.filename for f in reply.files] == [FULL_TEXT_FILE]
    assert reply.files[0].text == to_text(result)
    footer = reply.embeds[-1].footer.text or ""
    assert footer.startswith("Shown in part") and FULL_TEXT_FILE in footer
    assert reply.embeds[0].title == "400 jobs"


def test_files_are_fresh_discord_files_each_time() -> None:
    reply = to_reply(Result(blocks=(Code(text="a: 1", language="yaml"),)))
    first, second = reply.discord_files(), reply.discord_files()
    assert isinstance(first[0], discord.File) and first[0] is not second[0]
    assert first[0].fp.read() == b"a: 1"


def test_real_command_results_fit(redis_client: redis.Redis) -> None:
    stores = Stores(jobs=JobStore(redis_client), bots=BotStore(redis_client))
    caller = Caller(user="U1", is_admin=True)
    for n in range(40):
        run_command("jobs", ["create", f"name=Job {n}", "instructions=" + "1. Step.\n" * 900],
                    caller=caller, stores=stores)
    for command in (["list"], ["show", "Job 1"], ["help"], ["help", "edit"], ["templates"],
                    ["export"], ["history", "Job 2"], ["create"]):
        reply = to_reply(run_command("jobs", command, caller=caller, stores=stores))
        check_limits(reply)


# --- property: any result fits, and what is not shown is attached -----------------------

_text = st.text(st.characters(codec="utf-8"), max_size=300)
_long_text = st.one_of(_text, st.integers(0, 12_000).map(lambda n: ("ab*_`\\\n " * n)[:n]))
_blocks: st.SearchStrategy[Block] = st.one_of(
    st.builds(Paragraph, text=_long_text),
    st.builds(Fields, pairs=st.lists(st.tuples(st.one_of(_text, st.just("x" * 300)),
                                               _long_text), max_size=30).map(tuple)),
    st.integers(1, 4).flatmap(lambda width: st.builds(
        Table, columns=st.just(tuple(f"c{i}" for i in range(width))),
        rows=st.lists(st.tuples(*[_text] * width), max_size=60).map(tuple))),
    st.builds(Code, text=_long_text, language=st.sampled_from(["", "yaml"])),
)
_results = st.builds(Result, ok=st.booleans(), title=st.one_of(_text, _long_text),
                     blocks=st.lists(_blocks, max_size=8).map(tuple))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_results)
def test_any_result_fits_one_message_and_nothing_is_lost(result: Result) -> None:
    reply = to_reply(result)
    check_limits(reply)
    colours = {e.colour for e in reply.embeds}
    assert colours == ({None} if result.ok else {REFUSED_COLOUR})
    names = [f.filename for f in reply.files]
    yaml = [b for b in result.blocks if isinstance(b, Code) and b.language and b.text.strip()]
    assert len([n for n in names if n.startswith("export")]) == len(yaml)
    if FULL_TEXT_FILE in names:
        assert reply.files[-1].text == to_text(result)
        assert (reply.embeds[-1].footer.text or "").startswith("Shown in part")
    else:
        assert all(not e.footer for e in reply.embeds)
        text = shown(reply)
        for block in result.blocks:  # every paragraph's words are on screen
            if isinstance(block, Paragraph):
                for word in block.text.split()[:20]:
                    plain = word.replace("\\", "")
                    assert all(ch in text for ch in plain)
