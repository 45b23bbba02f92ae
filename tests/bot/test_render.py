"""`render.to_text`: the plain-text form the console, the CLI and fallbacks show."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.commands import Stores
from bot.commands.render import to_text
from bot.commands.results import Code, Fields, Paragraph, Result, Table
from tests.bot.conftest import Runner


def test_table_aligns_columns_under_a_rule() -> None:
    result = Result(title="2 jobs", blocks=(Table(
        columns=("name", "id", "version"),
        rows=(("Take a message", "job_1", "v12"), ("FAQ", "job_22222", "v1")),
    ),))

    assert to_text(result) == (
        "2 jobs\n"
        "\n"
        "name            id         version\n"
        "--------------  ---------  -------\n"
        "Take a message  job_1      v12\n"
        "FAQ             job_22222  v1"
    )


def test_fields_indent_multi_line_values_under_the_first_line() -> None:
    result = Result(blocks=(Fields(pairs=(
        ("name", "Take a message"),
        ("instructions", "1. Ask who\n2. Ask why\n\n3. Route"),
        ("rule", ""),
    )),))

    assert to_text(result) == (
        "name:         Take a message\n"
        "instructions: 1. Ask who\n"
        "              2. Ask why\n"
        "              \n"
        "              3. Route\n"
        "rule:         "
    )


def test_blocks_are_separated_by_blank_lines_and_code_is_verbatim() -> None:
    result = Result(title="Title", blocks=(
        Paragraph(text="First paragraph."),
        Code(text="jobs:\n- name: x\n\n", language="yaml"),
        Paragraph(text="Last."),
    ))

    assert to_text(result) == "Title\n\nFirst paragraph.\n\njobs:\n- name: x\n\nLast."


def test_result_without_title_starts_with_its_first_block() -> None:
    assert to_text(Result(blocks=(Paragraph(text="only"),))) == "only"
    assert to_text(Result(title="only")) == "only"


_cell = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=12)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), width=st.integers(min_value=1, max_value=5))
def test_every_column_starts_at_the_same_place_on_every_line(
    data: st.DataObject, width: int
) -> None:
    columns = data.draw(st.tuples(*[_cell.filter(bool)] * width))
    rows = data.draw(st.lists(st.tuples(*[_cell] * width), max_size=6))
    lines = to_text(Result(blocks=(Table(columns=columns, rows=tuple(rows)),))).split("\n")

    rule = lines[1]
    starts = [i for i, ch in enumerate(rule) if ch == "-" and (i == 0 or rule[i - 1] == " ")]
    assert len(starts) == width
    for line, cells in zip([lines[0], *lines[2:]], [columns, *rows], strict=True):
        for start, cell in zip(starts, cells, strict=True):
            assert line[start:start + len(cell)] == cell
        assert line == line.rstrip()


def test_show_of_a_real_job_indents_its_instructions(run: Runner, stores: Stores) -> None:
    run(r'create name="Take a message" "instructions=Goal: route it.\n1. Ask who\n2. Ask why"')

    text = to_text(run('show "Take a message"'))

    assert ("name:         Take a message\n"
            "instructions: Goal: route it.\n"
            "              1. Ask who\n"
            "              2. Ask why") in text
    assert text.startswith("Take a message (version 1)\n\n")


def test_list_of_real_jobs_is_a_aligned_table(run: Runner, stores: Stores) -> None:
    run("create name='Take a message' instructions=x")
    run("create name=FAQ instructions=y")

    lines = to_text(run("list")).split("\n")

    assert lines[0] == "2 jobs"
    header, rule, *rows = lines[2:]
    assert header.split() == ["name", "id", "version", "updated", "live", "on"]
    id_column = header.index("id")
    assert rule.startswith("-" * len("Take a message") + "  ")
    assert all(row[id_column:].startswith("job_") for row in rows)
