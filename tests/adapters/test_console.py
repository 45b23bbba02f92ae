"""The console adapter in-process, through its declared ports: respond and run_command."""

from __future__ import annotations

import io

import pytest
import redis

from adapters.console import WORKSPACE, ConsoleAdapter, ConsoleSender, wait_for_reply
from bot.commands import Result
from bot.models import IncomingMessage


class Core:
    """Stands in for the core behind the adapter's two ports, recording calls."""

    def __init__(self) -> None:
        self.messages: list[IncomingMessage] = []
        self.commands: list[tuple[str, str]] = []

    def respond(self, message: IncomingMessage) -> str:
        self.messages.append(message)
        return f"reply to {message.text}"

    def run_command(self, group: str, text: str) -> Result:
        self.commands.append((group, text))
        return Result(title=f"ran /{group} [{text}]")


def adapter(core: Core, stdin: str = "", user: str | None = "sam") -> tuple[ConsoleAdapter,
                                                                           io.StringIO]:
    out = io.StringIO()
    return ConsoleAdapter(respond=core.respond, run_command=core.run_command,
                          stdin=io.StringIO(stdin), stdout=out, user=user), out


def test_normalize_makes_a_console_dm_with_new_ids_in_one_conversation() -> None:
    console, _ = adapter(Core())
    first, second = console.normalize("hello"), console.normalize("hello")
    for message in (first, second):
        assert message.platform == "console"
        assert message.is_dm is True
        assert message.user == "sam"
        assert message.text == "hello"
    assert first.message_id != second.message_id
    assert first.conversation_id == second.conversation_id
    assert first.contact_id == "console:local:sam"


def test_two_sessions_never_reuse_a_message_id() -> None:
    one, _ = adapter(Core())
    two, _ = adapter(Core())
    ids = {one.normalize("x").message_id for _ in range(3)} | {two.normalize("x").message_id}
    assert len(ids) == 4


def test_each_user_has_their_own_conversation() -> None:
    ana, _ = adapter(Core(), user="ana")
    ben, _ = adapter(Core(), user="ben")
    assert ana.normalize("hi").conversation_id != ben.normalize("hi").conversation_id


def test_the_login_name_is_the_default_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "operator7")
    console, _ = adapter(Core(), user=None)
    assert console.normalize("hi").user == "operator7"


def test_run_routes_lines_skips_blanks_and_stops_at_quit() -> None:
    core = Core()
    console, out = adapter(core, "hello\n\n   \n/jobs list\n  spaced out  \n/quit\nafter quit\n")
    console.run("BANNER")

    assert [m.text for m in core.messages] == ["hello", "spaced out"]
    assert core.commands == [("jobs", "list")]
    assert out.getvalue() == (
        "BANNER\nreply to hello\nran /jobs [list]\nreply to spaced out\nBye.\n"
    )
    assert len({m.message_id for m in core.messages}) == 2


def test_run_ends_at_end_of_input_without_quit() -> None:
    core = Core()
    console, out = adapter(core, "/bots show default\nlast words")  # no final newline
    console.run("hi")
    assert core.commands == [("bots", "show default")]
    assert [m.text for m in core.messages] == ["last words"]
    assert out.getvalue().endswith("reply to last words\nBye.\n")


def test_help_is_answered_by_the_adapter_and_lists_the_commands() -> None:
    core = Core()
    console, out = adapter(core, "/help\n")
    console.run("")
    assert core.commands == [] and core.messages == []
    for command in ("/jobs", "/bots", "/help", "/quit"):
        assert command in out.getvalue()


def test_other_slash_words_go_to_run_command_which_decides() -> None:
    core = Core()
    console, out = adapter(core, "/foo bar baz\n/exit\n")
    console.run("")
    assert core.commands == [("foo", "bar baz")]
    assert "ran /foo [bar baz]" in out.getvalue()
    assert out.getvalue().endswith("Bye.\n")


def test_no_prompt_is_written_when_input_is_not_a_terminal() -> None:
    console, out = adapter(Core(), "hello\n")
    console.run("")
    assert "you>" not in out.getvalue()


@pytest.mark.parametrize("workspace", [WORKSPACE, ""])
def test_direct_is_the_conversation_the_user_types_into(
        redis_client: redis.Redis, workspace: str) -> None:
    console, _ = adapter(Core(), user="you")
    conversation = ConsoleSender(redis_client).direct(workspace=workspace, user="you")
    assert conversation == console.normalize("hi").conversation_id


def test_a_reply_to_the_direct_conversation_reaches_the_users_terminal(
        redis_client: redis.Redis) -> None:
    sender = ConsoleSender(redis_client)
    sender.reply(conversation_id=sender.direct(workspace=WORKSPACE, user="you"),
                 text="How is the setup going?")
    console, _ = adapter(Core(), user="you")
    assert wait_for_reply(redis_client, console.normalize("").conversation_id,
                          timeout=1.0) == "How is the setup going?"
    assert wait_for_reply(redis_client, sender.direct(workspace=WORKSPACE, user="ana"),
                          timeout=0.05) is None  # another user's window stays empty
