"""The command grammar: quoting, fields, line breaks, raw import, token lists.

Through `run_command` wherever the admin would see the effect, and with
hypothesis for what arbitrary text does to the command layer.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from bot.commands import Caller, Stores, run_command
from bot.commands.grammar import Command, parse
from bot.commands.render import to_text
from bot.errors import CommandError
from tests.bot.conftest import Runner, dump_db

# --- quoting, fields and positionals -----------------------------------------


def test_quoted_values_keep_their_spaces(run: Runner, stores: Stores) -> None:
    result = run('create name="Take a message" trigger=\'leave a message, call back\' '
                 'instructions="1. Ask who it is for"')

    assert result.ok, to_text(result)
    job = stores.jobs.get("Take a message")
    assert job.trigger == "leave a message, call back"
    assert job.instructions == "1. Ask who it is for"


def test_whole_token_may_be_quoted(run: Runner, stores: Stores) -> None:
    result = run('create "name=Take a message" "instructions=Ask, then route"')

    assert result.ok, to_text(result)
    assert stores.jobs.get("Take a message").instructions == "Ask, then route"


def test_key_value_tokens_are_fields_and_the_rest_positional() -> None:
    command = parse("jobs", 'edit "Take a message" trigger="call me back" version=3')

    assert command == Command(group="jobs", name="edit", args=("Take a message",),
                              fields={"trigger": "call me back", "version": "3"},
                              rest="Take a message trigger=call me back version=3")


def test_field_keys_are_case_insensitive_and_values_keep_equals_signs() -> None:
    command = parse("jobs", "create NAME=a=b Instructions=x==y")

    assert command.fields == {"name": "a=b", "instructions": "x==y"}


def test_subcommand_name_is_case_insensitive(run: Runner, stores: Stores) -> None:
    result = run("CREATE name=Hello instructions=Greet")

    assert result.ok, to_text(result)
    assert stores.jobs.get("hello").name == "Hello"


def test_quoted_name_is_one_positional(run: Runner, stores: Stores) -> None:
    run('create name="Take a message" instructions=x')

    result = run('show "Take a message"')

    assert result.ok, to_text(result)
    assert result.title == "Take a message (version 1)"


# --- line breaks ---------------------------------------------------------------


def test_backslash_n_in_a_quoted_value_becomes_a_line_break(run: Runner, stores: Stores) -> None:
    result = run(r'create name=Steps instructions="1. Ask their name\n2. Ask their company"')

    assert result.ok, to_text(result)
    assert stores.jobs.get("Steps").instructions == "1. Ask their name\n2. Ask their company"


def test_backslash_n_in_a_token_becomes_a_line_break(run: Runner, stores: Stores) -> None:
    result = run(["create", "name=Steps", r"instructions=1. Ask\n2. Route"])

    assert result.ok, to_text(result)
    assert stores.jobs.get("Steps").instructions == "1. Ask\n2. Route"


def test_backslash_n_in_an_unquoted_value_becomes_a_line_break(
    run: Runner, stores: Stores
) -> None:
    result = run(r"create name=Steps instructions=1.Ask\n2.Route")

    assert result.ok, to_text(result)
    assert stores.jobs.get("Steps").instructions == "1.Ask\n2.Route"


# --- refusals the grammar itself gives ----------------------------------------


def test_duplicate_field_is_refused_naming_it(
    run: Runner, db_state: Callable[[], dict[str, Any]]
) -> None:
    before = db_state()

    result = run("create name=One Name=Two instructions=x")

    assert not result.ok
    assert result.title.startswith("name: given twice")
    assert db_state() == before


def test_unbalanced_quote_is_a_message_not_an_exception(
    run: Runner, db_state: Callable[[], dict[str, Any]]
) -> None:
    before = db_state()

    result = run('create name="Take a message instructions=x')

    assert not result.ok
    assert "Could not read the command" in result.title
    assert "Close every quote you open" in result.title
    assert db_state() == before


def test_apostrophe_outside_import_is_an_unbalanced_quote(run: Runner, stores: Stores) -> None:
    result = run("create name=Sam's instructions=x")

    assert not result.ok
    assert "Close every quote" in result.title
    assert stores.jobs.list() == []


def test_parse_raises_command_error_on_unbalanced_quote() -> None:
    with pytest.raises(CommandError, match=r"no closing '\. Close every quote"):
        parse("jobs", "show 'Take a message")


# --- import takes raw text ------------------------------------------------------


def test_import_takes_yaml_with_apostrophes_as_is(run: Runner, stores: Stores) -> None:
    yaml_text = (
        "import jobs:\n"
        "  - name: Sam's messages\n"
        "    trigger: don't call, leave a note for Sam\n"
        "    instructions: |-\n"
        "      Goal: Sam gets the caller's message.\n"
        "      1. Ask who's calling\n"
        "      2. Ask what it's about\n"
    )

    result = run(yaml_text)

    assert result.ok, to_text(result)
    job = stores.jobs.get("Sam's messages")
    assert job.trigger == "don't call, leave a note for Sam"
    assert job.instructions == ("Goal: Sam gets the caller's message.\n"
                                "1. Ask who's calling\n2. Ask what it's about")


def test_import_yaml_may_start_on_the_next_line(run: Runner, stores: Stores) -> None:
    result = run("import\njobs:\n- name: It's here\n  instructions: Say it's here")

    assert result.ok, to_text(result)
    assert stores.jobs.get("It's here").instructions == "Say it's here"


def test_import_keyword_is_case_insensitive() -> None:
    command = parse("jobs", "IMPORT jobs: [{name: a, instructions: 'don''t'}]")

    assert command.name == "import"
    assert command.rest == "jobs: [{name: a, instructions: 'don''t'}]"


# --- empty text and token lists -------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", []])
def test_empty_text_or_help_gives_the_group_help(
    run: Runner, text: str | list[str]
) -> None:
    result = run(text)

    assert result.ok
    assert result.title.startswith("/jobs:")
    rendered = to_text(result)
    for sub in ("list", "create", "edit", "attach", "publish", "import", "export"):
        assert f"/jobs {sub}" in rendered
    assert 'Quote values that contain spaces: name="Take a message"' in rendered


TEXT_AND_TOKENS = [
    ('create name="Take a message" trigger="leave a message" '
     r'"instructions=1. Ask who\n2. Ask why" audience="visitors"',
     ["create", "name=Take a message", "trigger=leave a message",
      r"instructions=1. Ask who\n2. Ask why", "audience=visitors"]),
    ('edit "Take a message" version=2 rule="platform=slack"',
     ["edit", "Take a message", "version=2", "rule=platform=slack"]),
    ("attach 'Take a message' bot=Support", ["attach", "Take a message", "bot=Support"]),
    ("export a 'b c' d", ["export", "a", "b c", "d"]),
    ("help create", ["help", "create"]),
]


@pytest.mark.parametrize(("text", "tokens"), TEXT_AND_TOKENS)
def test_token_list_parses_like_text(text: str, tokens: list[str]) -> None:
    assert parse("jobs", tokens) == parse("jobs", text)


def test_token_list_creates_the_same_job_as_text(
    run: Runner, stores: Stores, other_stores: Stores
) -> None:
    text, tokens = TEXT_AND_TOKENS[0]

    from_text = run(text)
    from_tokens = run(tokens, stores=other_stores)

    assert from_text.ok and from_tokens.ok, (to_text(from_text), to_text(from_tokens))
    a, b = stores.jobs.get("Take a message"), other_stores.jobs.get("Take a message")
    fields = ("name", "description", "trigger", "instructions", "audience", "rule")
    assert {f: getattr(a, f) for f in fields} == {f: getattr(b, f) for f in fields}
    assert a.instructions == "1. Ask who\n2. Ask why"


def test_token_list_import_is_a_path_or_yaml(run: Runner, stores: Stores) -> None:
    result = run(["import", "jobs:\n- name: From argv\n  instructions: Do it"])

    assert result.ok, to_text(result)
    assert stores.jobs.get("From argv").instructions == "Do it"


# Curly quotes are left out: in typed text they quote, like straight ones.
_token = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="“”„‘’"),
                 max_size=12)


@settings(max_examples=200, deadline=None)
@given(tokens=st.lists(_token, max_size=6))
def test_quoted_tokens_parse_like_the_token_list(tokens: list[str]) -> None:
    """What the CLI passes (argv) and what a chat client sends (text) agree."""
    assume(not tokens or tokens[0].lower() != "import")
    text = " ".join(shlex.quote(t) for t in tokens)

    def outcome(command: str | list[str]) -> Command | str:
        try:
            return parse("jobs", command)
        except CommandError as exc:
            return str(exc)

    assert outcome(tokens) == outcome(text)


# --- arbitrary text never breaks the command layer ------------------------------

_SUBCOMMANDS = ["list", "show", "create", "edit", "delete", "history", "undo", "templates",
                "attach", "detach", "publish", "diff", "export", "import", "help", "lst",
                "creat", "HISTORY"]
_KEYS = ["name", "description", "trigger", "instructions", "audience", "rule", "template",
         "version", "bot", "colour", "meta.plan", "Name"]
_NAMES = ["Take a message", "Reset a password", "take a message", "chatjobs", "nobody"]


def _value() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=30),
        st.sampled_from(["", "1", "0", "abc", "platform=slack", "first_seen_within=7d",
                         "take-message", "x" * 101, "x" * 501, "role=boss", "chatjobs"]),
    )


_word = st.one_of(
    st.sampled_from(_NAMES).map(shlex.quote),
    st.tuples(st.sampled_from(_KEYS), _value()).map(lambda kv: shlex.quote(f"{kv[0]}={kv[1]}")),
    st.text(max_size=15),
)
_structured = st.tuples(st.sampled_from(_SUBCOMMANDS), st.lists(_word, max_size=3)).map(
    lambda parts: " ".join([parts[0], *parts[1]]))
_yaml_import = st.text(max_size=120).map(lambda body: "import " + body) | st.sampled_from([
    "import jobs:\n- name: Take a message\n  instructions: changed\n- name: ''",
    "import jobs:\n- name: New one\n  instructions: x\n- name: " + "y" * 101
    + "\n  instructions: z",
    "import jobs: [{name: Reset a password, instructions: new}, {name: q, colour: red}]",
    "import - name: Take a message\n  instructions: [1, 2]",
])
_any_command = st.one_of(st.text(max_size=200), _structured, _yaml_import)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_any_command)
def test_arbitrary_text_never_raises_and_refusals_change_nothing(
    redis_client: redis.Redis, stores: Stores, admin: Caller, text: str
) -> None:
    redis_client.flushdb()
    first = stores.jobs.create({"name": "Take a message", "instructions": "1. Ask"},
                               actor="seed")
    stores.jobs.create({"name": "Reset a password", "instructions": "1. Reset",
                        "rule": "platform=slack"}, actor="seed")
    stores.bots.attach(None, first, actor="seed")
    before = dump_db(redis_client)
    names_before = [job.name for job in stores.jobs.list()]

    result = run_command("jobs", text, caller=admin, stores=stores)

    event("accepted" if result.ok else "refused")
    assert result.title or result.blocks
    assert to_text(result).strip()
    if not result.ok:
        assert redis_client.dbsize() == len(before)
        assert [job.name for job in stores.jobs.list()] == names_before
        assert dump_db(redis_client) == before
