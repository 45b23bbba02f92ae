"""`chatjobs chat` end to end: lines on stdin, answers on stdout, real embedded Redis."""

from __future__ import annotations

import contextlib
import re
import signal
import time
from collections.abc import Iterator

import pytest

from tests.integration.clirunner import Cli

pytestmark = pytest.mark.slow

TAKE_MESSAGE = "Take a message"


def chat_session(cli: Cli, *lines: str, args: tuple[str, ...] = ()) -> str:
    """Run one `chatjobs chat` with `lines` piped in; return stdout (exit 0, no traceback)."""
    result = cli.run("chat", *args, input="".join(f"{line}\n" for line in lines))
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def test_admin_flow_in_the_chat_persists_to_the_next_chat(cli: Cli) -> None:
    first = chat_session(
        cli,
        "/jobs create template=take-message",
        '/jobs edit "Take a message" trigger="leave a note"',
        '/jobs undo "Take a message"',
        '/jobs attach "Take a message"',
        "/jobs publish",
        "/quit",
        args=("--user", "ana"),
    )
    assert "chatjobs console — embedded Redis in" in first
    assert "0 jobs in the library" in first
    for said in ("Created 'Take a message'", "as version 2 (changed: trigger)",
                 "Restored version 1 of 'Take a message' as version 3.",
                 "Attached 'Take a message' to chatjobs's draft",
                 "Published chatjobs: live jobs are now Take a message."):
        assert said in first, f"{said!r} missing:\n{first}"
    assert first.rstrip().endswith("Bye.")

    second = chat_session(cli, '/jobs show "Take a message"', "/bots show", "/quit")
    assert "1 job in the library" in second
    assert "Take a message (version 3)" in second
    assert re.search(r"^trigger:\s+leave a message, take a message,", second, re.M), second
    assert "leave a note" not in second
    assert re.search(r"^live on:\s+chatjobs$", second, re.M), second
    assert re.search(r"^updated:.* by console:ana$", second, re.M), second
    assert "chatjobs (version" in second
    assert re.search(r"^live jobs:\s+Take a message$", second, re.M), second


def test_replies_help_unknown_command_and_end_of_input(cli: Cli) -> None:
    out = chat_session(
        cli,
        "I want to leave a message for Sam",
        "/help",
        "/foo",
        "",
        '/jobs create name="Unclosed quote',
        "/jobs create template=take-message",
        "I want to leave a message for Sam",
        # no /quit: end of input ends the chat
    )
    lines = out.splitlines()
    assert lines[-1] == "Bye."
    # The banner is two lines; the first reply follows.
    empty_reply = lines[2]
    assert re.search(r"no jobs|don't know any jobs|library is empty", empty_reply, re.I), out
    assert "/jobs create" in empty_reply

    help_text = out[out.index("Commands:"):out.index("Unknown command")]
    for command in ("/jobs", "/bots", "/quit"):
        assert re.search(rf"^\s*{command}\b", help_text, re.M), f"{command} not in help:\n{out}"

    [unknown] = [line for line in lines if "/foo" in line]
    assert "/jobs" in unknown and "/bots" in unknown, unknown

    [unclosed] = [line for line in lines if line.startswith("Could not read the command")]
    assert "Close every quote" in unclosed

    reply = lines[-2]
    assert reply.startswith("Take a message — step 1 of 6: Ask who the message is for"), out


def test_a_cli_call_joins_the_chats_server_and_leaves_it_running(cli: Cli) -> None:
    chat = cli.chat()
    assert cli.servers(), "the chat should have started the embedded server"

    joined = cli.run("jobs", "create", "template=take-message", expect_no_server=False)
    assert joined.returncode == 0, joined.stderr
    assert cli.servers(), "the CLI call stopped the server the chat still uses"

    chat.send("/jobs list")
    listing = chat.read_until("1 job")
    chat.read_until(TAKE_MESSAGE)
    assert "1 job" in listing

    chat.send("I want to leave a message for Sam")
    assert "step 1 of 6: Ask who" in chat.read_until("step 1 of 6: Ask who")

    chat.send("/quit")
    status, rest, err = chat.finish()
    assert status == 0, err
    assert rest.strip().endswith("Bye.")
    assert "Traceback" not in err
    cli.assert_no_server("after the chat quit")


@pytest.fixture
def sigint_default() -> Iterator[None]:
    """A shell starts background jobs with SIGINT ignored, a child inherits that, and
    Python leaves an ignored SIGINT alone. Catch it here meanwhile, so the chat starts
    with the default disposition, as from a terminal."""
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)],
                         ids=["SIGTERM", "SIGINT"])
@pytest.mark.usefixtures("sigint_default")
def test_a_signal_ends_the_chat_cleanly_and_keeps_the_data(
    cli: Cli, signum: signal.Signals, status: int
) -> None:
    chat = cli.chat()
    chat.send("/jobs create template=take-message")
    chat.read_until("Created 'Take a message'")

    chat.proc.send_signal(signum)
    code, _, err = chat.finish()
    assert code == status, err
    assert "Traceback" not in err, err
    cli.assert_no_server(f"after {signum.name}")

    listing = cli.run("jobs", "list")
    assert listing.returncode == 0, listing.stderr
    assert TAKE_MESSAGE in listing.stdout


def test_a_tasks_message_to_the_person_at_the_console_shows_at_the_next_prompt(
        cli: Cli) -> None:
    chat = cli.chat("--user", "ana")
    chat.send('/tasks create name="Check in" description="How is the import going?" '
              'schedule="daily 09:00" contact=console:ana session=1h')
    chat.read_until("Created 'Check in'")
    chat.send('/tasks trigger "Check in"')
    chat.read_until("Started 'Check in' now")
    # The run's message is shown at the next prompt (Enter alone looks for news).
    deadline = time.monotonic() + 15
    while "How is the import going?" not in chat.output and time.monotonic() < deadline:
        chat.send("")
        time.sleep(0.3)
        with contextlib.suppress(AssertionError):
            chat.read_until("How is the import going?", timeout=0.5)
    assert "How is the import going?" in chat.output
    chat.send('/tasks executions "Check in"')
    chat.read_until("succeeded")
    chat.send("/quit")
    status, _, stderr = chat.finish()
    assert status == 0 and "Traceback" not in stderr
