"""`chatjobs doctor` as a process: the embedded defaults, the fakes, a bad setting.

Every `cli.run` also checks that the call left no redis-server behind.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from adapters.slack.doctor import manifest_scopes
from tests.fakes.discord_rest import GATEWAY_MESSAGE_CONTENT_LIMITED, FakeDiscordAPI
from tests.fakes.discord_rest import TOKEN as DISCORD_TOKEN
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_fixtures import APP_TOKEN, BOT_TOKEN
from tests.fakes.slack_socket import FakeSocketMode
from tests.integration.clirunner import Cli, one_line

pytestmark = pytest.mark.slow

OPENAI_KEY = "sk-doctor-process-secret-42"
SIGNING_SECRET = "fedcba9876543210fedcba9876543210"
SECRETS = (OPENAI_KEY, SIGNING_SECRET, BOT_TOKEN, APP_TOKEN, DISCORD_TOKEN, "hunter2")


def lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """{check name: its line}; asserts no traceback and no secret anywhere."""
    assert "Traceback" not in result.stderr, result.stderr
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr, secret
    found = {}
    for line in result.stdout.splitlines():
        status, _, rest = line.partition(" ")
        assert status in ("ok", "warn", "FAIL", "skip"), line
        found[rest.strip().split(":", 1)[0]] = line
    return found


def test_doctor_on_the_embedded_defaults_is_all_ok(cli: Cli) -> None:
    result = cli.run("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    found = lines(result)
    assert list(found) == ["configuration", "Redis", "model", "embeddings", "vocabulary", "Slack",
                           "Discord"]
    assert found["configuration"].startswith("ok    configuration: loaded from the environment")
    assert found["Redis"].startswith(f"ok    Redis: embedded in {cli.data_dir}")
    assert "(Redis " in found["Redis"] and "round trip" in found["Redis"]
    assert found["model"] == ("ok    model: offline (no OPENAI_API_KEY): answers by walking "
                              "job steps")
    assert found["Slack"] == "skip  Slack: SLACK_BOT_TOKEN not set"
    assert found["Discord"] == "skip  Discord: DISCORD_TOKEN not set"


def test_doctor_with_every_peer_answering_exits_0(cli: Cli, redis_url: str) -> None:
    scopes = ",".join(sorted(manifest_scopes()))
    with FakeSlackAPI(scopes=scopes) as slack, FakeSocketMode(slack), \
            FakeDiscordAPI(application_flags=GATEWAY_MESSAGE_CONTENT_LIMITED) as discord, \
            FakeOpenAI(api_key=OPENAI_KEY) as model:
        result = cli.run("doctor", env=cli.env(
            REDIS_URL=redis_url, OPENAI_API_KEY=OPENAI_KEY, OPENAI_BASE_URL=model.base_url,
            OPENAI_MODEL="fake-model", OPENAI_EMBEDDING_MODEL="fake-embedding",
            SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_URL=slack.base_url,
            DISCORD_TOKEN=DISCORD_TOKEN, DISCORD_API_URL=discord.url))
    assert result.returncode == 0, result.stdout + result.stderr
    found = lines(result)
    assert list(found) == ["configuration", "Redis", "model", "embeddings", "vocabulary", "Slack",
                           "Slack signing secret", "Slack Socket Mode", "Discord"]
    assert not [line for line in found.values() if line.startswith("FAIL")], result.stdout
    assert found["Slack"].endswith("; scopes ok")
    assert found["Discord"].endswith("; Message Content intent on")


def test_doctor_names_each_problem_and_exits_1(cli: Cli) -> None:
    granted = ",".join(sorted(manifest_scopes() - {"im:write"}))
    with FakeSlackAPI(scopes=granted) as slack, FakeDiscordAPI() as discord, \
            FakeOpenAI(api_key="sk-another-key") as model:
        result = cli.run("doctor", env=cli.env(
            REDIS_URL="redis://:hunter2@127.0.0.1:1/0", OPENAI_API_KEY=OPENAI_KEY,
            OPENAI_BASE_URL=model.base_url, SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack.base_url,
            DISCORD_TOKEN=DISCORD_TOKEN, DISCORD_API_URL=discord.url))
    assert result.returncode == 1, result.stdout + result.stderr
    found = lines(result)
    assert found["configuration"].startswith("ok")
    assert found["Redis"].startswith("FAIL  Redis: cannot reach redis://:***@127.0.0.1:1/0")
    assert found["model"].startswith("FAIL") and "check OPENAI_API_KEY" in found["model"]
    assert found["Slack"].startswith("FAIL") and "missing scopes im:write —" in found["Slack"]
    assert found["Slack signing secret"].startswith("ok")
    assert found["Discord"].startswith("FAIL") and "Message Content intent is off" in \
        found["Discord"]


def test_a_bad_setting_is_a_failed_check_not_a_start_up_error(cli: Cli) -> None:
    result = cli.run("doctor", env=cli.env(OPENAI_BASE_URL="notaurl", OPENAI_API_KEY=OPENAI_KEY,
                                           REDIS_URL="http://admin:hunter2@cache:6379"))
    assert result.returncode == 1
    line = one_line(result.stdout)
    assert line.startswith("FAIL  configuration: ")
    assert "OPENAI_BASE_URL" in line and "REDIS_URL" in line
    lines(result)
    assert not cli.data_dir.exists(), "nothing starts without valid settings"


def test_doctor_is_in_the_help(cli: Cli) -> None:
    listed = cli.run("--help")
    assert listed.returncode == 0 and "doctor" in listed.stdout
    own = cli.run("doctor", "--help")
    assert own.returncode == 0
    assert "exit status 1 if any check failed" in " ".join(own.stdout.split())


# --- CHATJOBS_LOG_FORMAT in a real process ---------------------------------------------------

def test_json_logs_from_a_worker_are_one_object_per_line(cli: Cli) -> None:
    result = cli.run("worker", "--burst", env=cli.env(CHATJOBS_LOG_FORMAT="json",
                                                      CHATJOBS_LOG_LEVEL="INFO"))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines()
               if not line.startswith("chatjobs worker: ")]  # the banner is not a log record
    assert records, result.stderr
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record), record
    assert any(r["logger"] == "bot.cli" and "offline model" in r["message"] for r in records)


def test_a_bad_log_format_stops_start_up_naming_it(cli: Cli) -> None:
    result = cli.run("jobs", "list", env=cli.env(CHATJOBS_LOG_FORMAT="xml"))
    assert result.returncode == 2
    assert "CHATJOBS_LOG_FORMAT" in one_line(result.stderr)
