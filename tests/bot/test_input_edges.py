"""Input as people really type it: phones, pasted text, odd characters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.commands import Caller
from bot.commands.registry import Stores
from tests.bot.conftest import Runner


def test_curly_quotes_from_a_phone_keyboard_quote_like_straight_ones(
    run: Runner, stores: Stores
) -> None:
    result = run("create name=“Take a message” instructions=‘1. Ask who it is for’")

    assert result.ok, result.title
    job = stores.jobs.get("take a message")
    assert (job.name, job.instructions) == ("Take a message", "1. Ask who it is for")


def test_a_name_with_a_line_break_is_refused_and_nothing_is_stored(
    run: Runner, stores: Stores, db_state: Callable[[], dict[str, Any]]
) -> None:
    before = db_state()

    result = run(r'create name="Take\na message" instructions=x')

    assert not result.ok
    assert result.title == "name: must be one line of text, without line breaks or tabs"
    assert db_state() == before


def test_a_lone_surrogate_in_a_reference_is_a_clean_not_found(run: Runner) -> None:
    result = run("show \ud83dx")

    assert not result.ok
    assert result.title.startswith("No job named")


def test_import_takes_a_quoted_path_with_spaces_on_the_command_line(
    run: Runner, stores: Stores, tmp_path: Path
) -> None:
    path = tmp_path / "my jobs.yaml"
    path.write_text("jobs:\n- name: Take a message\n  instructions: 1. Ask\n", "utf-8")
    local = Caller(user="cli:ana", is_admin=True, local_files=True)

    result = run(f'import "{path}"', caller=local)

    assert result.ok, result.title
    assert [job.name for job in stores.jobs.list()] == ["Take a message"]


def test_the_default_bot_takes_another_name_when_chatjobs_is_taken(
    run: Runner, stores: Stores
) -> None:
    # A bot named "chatjobs" made before the default existed.
    stores.bots.create({"name": "chatjobs"}, actor="ana")

    default = stores.bots.ensure_default()

    assert default.name == "chatjobs default"
    assert run("list", group="bots").ok
