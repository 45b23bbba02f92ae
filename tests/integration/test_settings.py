"""Start-up configuration of the `chatjobs` process: environment, `.env`, REDIS_URL."""

from __future__ import annotations

import pytest
import redis

from jobs_store import JobStore
from tests.integration.clirunner import Cli, clean_env, one_line

pytestmark = pytest.mark.slow

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-secret-123",
    "SLACK_SIGNING_SECRET": "signing-secret-456",
    "DISCORD_TOKEN": "discord-secret-789",
    "OPENAI_API_KEY": "sk-secret-abc",
}


def assert_config_error(result_stderr: str, status: int, variable: str) -> str:
    assert status == 2, result_stderr
    line = one_line(result_stderr)
    assert "Traceback" not in result_stderr
    assert variable in line, line
    for secret in SECRETS.values():
        assert secret not in result_stderr
    return line


@pytest.mark.parametrize(("variable", "value"), [
    ("OPENAI_BASE_URL", "notaurl"),
    ("DISCORD_GUILD_ID", "abc"),
    ("REDIS_URL", "http://x"),
    ("CHATJOBS_LOG_LEVEL", "LOUD"),
    ("CHATJOBS_VOCABULARY", "no-such-words.yaml"),
])
def test_an_invalid_variable_stops_start_up_with_one_line_naming_it(
    cli: Cli, variable: str, value: str
) -> None:
    result = cli.run("jobs", "list", env=cli.env(**SECRETS, **{variable: value}))
    assert_config_error(result.stderr, result.returncode, variable)
    assert result.stdout == ""
    assert not cli.data_dir.exists(), "nothing may start before the settings are valid"


def test_two_invalid_variables_still_give_one_line_and_no_secret_of_a_bad_url(cli: Cli) -> None:
    env = cli.env(**SECRETS, OPENAI_BASE_URL="notaurl",
                  REDIS_URL="http://admin:hunter2-redis-password@cache:6379")
    result = cli.run("chat", env=env, input="/quit\n")
    line = assert_config_error(result.stderr, result.returncode, "OPENAI_BASE_URL")
    assert "REDIS_URL" in line
    assert "hunter2" not in result.stderr and "hunter2" not in result.stdout


def test_an_unreachable_redis_url_is_reported_without_its_password(cli: Cli) -> None:
    result = cli.run("jobs", "list",
                     env=cli.env(REDIS_URL="redis://:hunter2-redis-password@127.0.0.1:1/0"))
    assert result.returncode == 1
    message = one_line(result.stderr)
    assert "127.0.0.1:1" in message and "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr


def test_a_teams_vocabulary_file_is_used_and_a_broken_one_is_named(cli: Cli) -> None:
    ok = cli.run("jobs", "create", "name=Sync setup", "trigger=connect a tool",
                 "instructions=1. Ask which tool.")
    assert ok.returncode == 0, ok.stderr
    words = cli.cwd / "words.yaml"
    words.write_text("groups:\n  integration: [acmesync]\n")

    found = cli.run("jobs", "match", "--json", "acmesync please",
                    env=cli.env(CHATJOBS_VOCABULARY=str(words)))
    without = cli.run("jobs", "match", "--json", "acmesync please")
    words.write_text("groups:\n  integration: acmesync\n")
    broken = cli.run("jobs", "match", "acmesync please",
                     env=cli.env(CHATJOBS_VOCABULARY=str(words)))

    assert '"name": "Sync setup"' in found.stdout, found.stdout + found.stderr
    assert without.stdout.strip() == '{"matches": []}', without.stdout
    line = assert_config_error(broken.stderr, broken.returncode, "CHATJOBS_VOCABULARY")
    assert "group 'integration' must be a list" in line


def test_a_data_dir_that_is_a_file_is_a_configuration_error(cli: Cli) -> None:
    not_a_dir = cli.root / "data"
    not_a_dir.write_text("a file\n")
    result = cli.run("jobs", "list")
    assert "Traceback" not in result.stderr, result.stderr
    assert_config_error(result.stderr, result.returncode, "CHATJOBS_DATA_DIR")


def test_the_data_dir_defaults_to_dot_chatjobs_and_dot_env_is_read(cli: Cli) -> None:
    env = clean_env()  # no CHATJOBS_DATA_DIR at all
    cli.watch(cli.root / ".chatjobs")
    cli.watch(cli.root / "custom")

    result = cli.run("jobs", "create", "template=take-message", env=env)
    assert result.returncode == 0, result.stderr
    assert (cli.root / ".chatjobs" / "appendonly.aof").is_file()

    (cli.root / ".env").write_text("# local settings\nCHATJOBS_DATA_DIR=custom\n")
    result = cli.run("jobs", "create", "name=In custom", "instructions=1. Go.", env=env)
    assert result.returncode == 0, result.stderr
    assert (cli.root / "custom" / "appendonly.aof").is_file()
    assert (cli.root / "custom" / "dump.rdb").is_file()  # saved on shutdown

    listing = cli.run("jobs", "list", env=env)
    assert "In custom" in listing.stdout
    assert "Take a message" not in listing.stdout, "the .env data dir must be a different library"


def test_a_bad_variable_in_dot_env_is_reported_like_one_in_the_environment(cli: Cli) -> None:
    (cli.root / ".env").write_text(
        f"SLACK_BOT_TOKEN={SECRETS['SLACK_BOT_TOKEN']}\nDISCORD_GUILD_ID=abc\n")
    result = cli.run("jobs", "list", env=clean_env())
    assert_config_error(result.stderr, result.returncode, "DISCORD_GUILD_ID")


def test_redis_url_is_used_instead_of_the_embedded_server(
    cli: Cli, redis_url: str, redis_client: redis.Redis
) -> None:
    env = cli.env(REDIS_URL=redis_url)
    try:
        created = cli.run("jobs", "create", "template=take-message", env=env)
        assert created.returncode == 0, created.stderr
        assert not cli.data_dir.exists(), "no embedded server when REDIS_URL is set"
        assert not (cli.root / ".chatjobs").exists()
        assert [job.name for job in JobStore(redis_client).list()] == ["Take a message"]

        chat = cli.run("chat", env=env, input="/jobs list\n")
        assert chat.returncode == 0, chat.stderr
        assert "Redis at REDIS_URL, 1 job in the library" in chat.stdout
        assert redis_url not in chat.stdout  # a URL may carry a password
    finally:
        redis_client.flushdb()
