"""`chatjobs jobs …` end to end: each call is its own process on the embedded Redis.

Every `cli.run` also checks that the call left no redis-server behind.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from importlib.metadata import version

import pytest
import redis
import yaml

from jobs_store.embedded import socket_path
from tests.integration.clirunner import Cli

pytestmark = pytest.mark.slow

TAKE_MESSAGE = "Take a message"
JOB_SUBCOMMANDS = ("list", "show", "create", "edit", "delete", "history", "undo", "templates",
                   "attach", "detach", "publish", "diff", "export", "import")


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """Assert the call succeeded quietly; return its stdout."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


# --- limits: a refused create changes nothing --------------------------------


def test_over_long_fields_are_refused_naming_the_limit_and_nothing_is_saved(cli: Cli) -> None:
    cases = [
        ({"name": "n" * 101, "trigger": "x", "instructions": "y"}, "name", "100"),
        ({"name": "Long steps", "instructions": "i" * 10_001}, "instructions", "10,000"),
        ({"name": "Long text", "description": "d" * 501, "instructions": "y"}, "description",
         "500"),
    ]
    for fields, field, limit in cases:
        result = cli.run("jobs", "create", *(f"{k}={v}" for k, v in fields.items()))
        assert result.returncode == 1, (field, result.stdout, result.stderr)
        assert result.stdout == ""
        message = result.stderr.strip()
        assert "Traceback" not in message
        assert field in message and limit in message, message
        assert f"at most {limit} characters" in message, message

    listing = ok(cli.run("jobs", "list"))
    assert "The job library is empty." in listing
    assert "Long" not in listing


# --- the whole admin flow, one process per step -------------------------------


def test_create_to_diff_each_step_a_new_process_sees_the_last(cli: Cli) -> None:
    created = ok(cli.run("jobs", "create", "template=take-message"))
    match = re.search(r"Created 'Take a message' \((job_\w+), version 1\)", created)
    assert match, created
    job_id = match[1]

    listing = ok(cli.run("jobs", "list"))
    assert re.search(rf"Take a message\s+{job_id}\s+v1\s", listing), listing

    shown = ok(cli.run("jobs", "show", TAKE_MESSAGE))
    assert "Take a message (version 1)" in shown
    assert re.search(r"^trigger:\s+leave a message, take a message", shown, re.M), shown

    edited = ok(cli.run("jobs", "edit", TAKE_MESSAGE, "trigger=leave a note"))
    assert "Saved 'Take a message' as version 2 (changed: trigger)." in edited

    history = ok(cli.run("jobs", "history", job_id))  # by id this time
    assert re.search(r"^v2\s.*edited trigger$", history, re.M), history
    assert re.search(r"^v1\s.*created$", history, re.M), history

    undone = ok(cli.run("jobs", "undo", TAKE_MESSAGE))
    assert "Restored version 1 of 'Take a message' as version 3." in undone
    assert re.search(r"^trigger:\s+leave a message, take a message", undone, re.M), undone

    attached = ok(cli.run("jobs", "attach", TAKE_MESSAGE))
    assert "Attached 'Take a message' to chatjobs's draft (1 of 10)." in attached

    published = ok(cli.run("jobs", "publish"))
    assert "Published chatjobs: live jobs are now Take a message." in published

    diff = ok(cli.run("jobs", "diff"))
    assert "chatjobs: the draft is live" in diff
    assert re.search(r"^unchanged:\s+Take a message$", diff, re.M), diff
    assert re.search(r"^goes live on publish:\s+-$", diff, re.M), diff


def test_a_refused_command_exits_1_and_says_why_on_stderr(cli: Cli) -> None:
    result = cli.run("jobs", "show", "Nobody")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Nobody" in result.stderr and "Traceback" not in result.stderr
    # The last user took the server's socket and pid file with it.
    left = sorted(p.name for p in cli.data_dir.iterdir())
    assert "redis.sock" not in left and "redis.pid" not in left, left


def test_a_long_data_dir_path_puts_the_socket_elsewhere_and_still_cleans_up(cli: Cli) -> None:
    deep = cli.root / ("d" * 60) / ("e" * 60)
    assert len(str(socket_path(deep.resolve()).parent)) < len(str(deep))
    assert "Created 'Take a message'" in ok(
        cli.run("jobs", "create", "template=take-message", data_dir=deep))
    assert (deep / "appendonly.aof").is_file()


# --- jobs as code -------------------------------------------------------------


def test_export_writes_yaml_that_import_accepts_in_a_fresh_data_dir(cli: Cli) -> None:
    ok(cli.run("jobs", "create", "template=take-message", "rule=platform=slack,console"))

    exported = ok(cli.run("jobs", "export"))
    (cli.root / "library.yaml").write_text(exported)  # `chatjobs jobs export > library.yaml`
    document = yaml.safe_load(exported)
    [job] = document["jobs"]
    assert job["name"] == TAKE_MESSAGE
    assert job["rule"] == "platform=console,slack"
    assert job["instructions"].startswith("Goal: ") and "\n2. Ask for: " in job["instructions"]
    assert "instructions: |" in exported  # multi-line text stays a readable block

    fresh = cli.root / "fresh"
    imported = ok(cli.run("jobs", "import", "library.yaml", data_dir=fresh))
    assert imported.strip() == "Imported 1 job: 1 created, 0 updated, 0 unchanged."

    again = yaml.safe_load(ok(cli.run("jobs", "export", data_dir=fresh)))
    assert again["jobs"] == document["jobs"]


# --- help and version ---------------------------------------------------------


def _assert_lists_jobs_commands(output: str) -> None:
    for sub in JOB_SUBCOMMANDS:
        assert re.search(rf"^/jobs {sub}\b", output, re.M), f"/jobs {sub} missing:\n{output}"


def test_jobs_help_lists_the_commands(cli: Cli) -> None:
    _assert_lists_jobs_commands(ok(cli.run("jobs", "help")))


def test_jobs_dash_dash_help_lists_the_commands(cli: Cli) -> None:
    _assert_lists_jobs_commands(ok(cli.run("jobs", "--help")))


def test_version(cli: Cli) -> None:
    assert ok(cli.run("--version")).strip() == f"chatjobs {version('chatjobs')}"


# --- the embedded server's life cycle -------------------------------------------


def test_the_last_process_to_leave_stops_the_server_even_if_another_started_it(
    cli: Cli,
) -> None:
    """The chat starts the server; an import still reading stdin outlives the chat."""
    chat = cli.chat()
    probe = redis.Redis(unix_socket_path=str(socket_path(cli.data_dir.resolve())))
    before = len(probe.client_list())  # the chat's connections and this check
    importer = cli.popen("jobs", "import", "-")
    # The importer holds the server once it has connected.
    deadline = time.monotonic() + 15
    while len(probe.client_list()) <= before:
        assert importer.poll() is None and time.monotonic() < deadline, "import did not join"
        time.sleep(0.02)
    probe.close()

    chat.send("/quit")
    status, _, err = chat.finish()
    assert status == 0 and "Traceback" not in err
    assert cli.servers(), "the chat stopped the server while the import still used it"

    out, err = importer.communicate(
        "jobs:\n  - name: From stdin\n    instructions: 1. Do it.\n", timeout=15)
    assert importer.returncode == 0, err
    assert "1 created" in out
    cli.assert_no_server("after the last user (the import) left")
    assert "From stdin" in ok(cli.run("jobs", "list"))


def test_a_killed_process_leaves_the_server_to_the_next_one_which_stops_it(cli: Cli) -> None:
    chat = cli.chat()
    chat.send("/jobs create template=take-message")
    chat.read_until("Created 'Take a message'")
    chat.proc.kill()  # SIGKILL: no clean-up at all
    chat.proc.wait(10)
    # By design the server outlives a SIGKILLed user; the next process joins it...
    assert TAKE_MESSAGE in ok(cli.run("jobs", "list"))  # ...and, as last user, stops it


def test_sigterm_while_the_server_is_starting_leaves_no_server(cli: Cli) -> None:
    # An append-only file whose replay takes a second or two keeps the new server
    # "loading" (not answering PING) long enough to signal the CLI meanwhile.
    cli.data_dir.mkdir()
    script = "local x = 0 for i = 1, 300000000 do x = x + 1 end return x"
    (cli.data_dir / "appendonly.aof").write_text(
        f"*3\r\n$4\r\nEVAL\r\n${len(script)}\r\n{script}\r\n$1\r\n0\r\n")
    proc = cli.popen("jobs", "list")
    deadline = time.monotonic() + 15
    while not cli.servers():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err
    cli.assert_no_server("after SIGTERM during start-up")
