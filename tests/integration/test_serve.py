"""`chatjobs serve` as people run it: one process, the embedded Redis, Slack faked."""

from __future__ import annotations

import re
import signal
import time

import pytest

from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_requests import app_mention, event_body, post, signed_headers
from tests.integration.clirunner import Cli

pytestmark = pytest.mark.slow


def _wait_for_address(proc: object, timeout: float = 30) -> str:
    """Read serve's start-up line from stderr; return the events URL."""
    deadline = time.monotonic() + timeout
    stderr = proc.stderr  # type: ignore[attr-defined]
    seen = ""
    while time.monotonic() < deadline:
        line = stderr.readline()
        seen += line
        found = re.search(r"Slack at (http://\S+/slack/events)", line)
        if found:
            return found[1]
        if not line and proc.poll() is not None:  # type: ignore[attr-defined]
            break
    raise AssertionError(f"serve did not start:\n{seen}")


def test_serve_answers_a_mention_once_in_its_thread_and_stops_cleanly(
    cli: Cli, fake_slack: FakeSlackAPI, fake_slack_env: dict[str, str], slack_secret: str,
) -> None:
    env = cli.env(**fake_slack_env)
    assert cli.run("jobs", "create", "template=reset-password", env=env).returncode == 0
    serve = cli.popen("serve", "--port", "0", env=env)
    url = _wait_for_address(serve)

    mention = app_mention("I forgot my password", ts="1700000000.000100")
    body = event_body(mention, event_id="Ev1")
    assert post(url, body, signed_headers(body, slack_secret))[0] == 200
    assert post(url, body, signed_headers(body, slack_secret, retry_num=1))[0] == 200

    fake_slack.wait_for("chat.postMessage", 1, timeout=30)
    time.sleep(0.5)  # room for a wrong second reply to show up
    [reply] = fake_slack.posted()
    assert reply["channel"] == "C1" and reply["thread_ts"] == "1700000000.000100"
    assert reply["text"].startswith("Reset a password — step 1 of")

    unsigned = post(url, body, {"Content-Type": "application/json"})
    assert unsigned[0] == 401

    serve.send_signal(signal.SIGTERM)
    assert serve.wait(timeout=30) == 128 + signal.SIGTERM
    cli.assert_no_server("after serve stopped")


def test_serve_without_slack_settings_says_what_to_set(cli: Cli) -> None:
    result = cli.run("serve")

    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr
