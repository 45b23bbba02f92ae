"""`chatjobs doctor`'s Slack checks against the fake Slack Web API (slack_sdk's WebClient
talks to it): what each one finds and how it says it. No check may print a secret.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from adapters.slack.doctor import (
    check_slack,
    check_slack_signing_secret,
    check_slack_socket_mode,
    manifest_scopes,
    slack_checks,
)
from bot.doctor import FAIL, OK, SKIP, WARN, Check
from config.settings import Settings
from tests.bot.test_doctor import ALL_SCOPES, SIGNING_SECRET, assert_no_secret, make_settings
from tests.fakes.slack_api import FakeSlackAPI, hang
from tests.fakes.slack_fixtures import APP_TOKEN, BOT_TOKEN
from tests.fakes.slack_socket import FakeSocketMode


def slack_settings(fake: FakeSlackAPI, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"slack_bot_token": BOT_TOKEN, "slack_api_url": fake.base_url,
                              "slack_signing_secret": SIGNING_SECRET}
    return make_settings(**{**values, **overrides})


def test_slack_with_every_scope_is_ok() -> None:
    with FakeSlackAPI(scopes=ALL_SCOPES, team_id="T123") as fake:
        check = check_slack(slack_settings(fake))
        assert [c.method for c in fake.calls()] == ["auth.test"]
    assert check.status == OK, check
    assert check.detail.startswith("auth.test as @chatjobs in team Acme (T123)")
    assert check.detail.endswith("; scopes ok")


def test_missing_slack_scopes_fail_naming_them_and_the_fix() -> None:
    granted = ",".join(sorted(manifest_scopes() - {"im:write", "reactions:write"}))
    with FakeSlackAPI(scopes=granted) as fake:
        check = check_slack(slack_settings(fake))
    assert check.status == FAIL
    assert "missing scopes im:write, reactions:write" in check.detail
    assert "OAuth & Permissions" in check.detail and "slack-manifest.yml" in check.detail
    assert_no_secret(check)


def test_a_refused_slack_token_fails_naming_slack_bot_token() -> None:
    with FakeSlackAPI(bot_token="xoxb-the-right-one") as fake:
        check = check_slack(slack_settings(fake))
    assert check.status == FAIL
    assert "SLACK_BOT_TOKEN is refused (invalid_auth)" in check.detail
    assert_no_secret(check)


def test_a_slack_api_that_does_not_answer_fails_within_the_timeout() -> None:
    with FakeSlackAPI() as fake:
        fake.script("auth.test", hang())
        started = time.monotonic()
        check = check_slack(slack_settings(fake), timeout=1)
        elapsed = time.monotonic() - started
    assert check.status == FAIL and "cannot reach SLACK_API_URL" in check.detail
    assert elapsed < 5


def test_socket_mode_opens_a_connection_url_with_the_app_token(
    fake_slack: FakeSlackAPI, fake_slack_socket: FakeSocketMode,
) -> None:
    check = check_slack_socket_mode(slack_settings(fake_slack, slack_app_token=APP_TOKEN))
    assert check.status == OK, check
    (call,) = fake_slack.calls("apps.connections.open")
    assert call.token == APP_TOKEN


def test_a_bot_token_given_as_the_app_token_fails_naming_slack_app_token(
    fake_slack: FakeSlackAPI,
) -> None:
    check = check_slack_socket_mode(slack_settings(fake_slack,
                                                          slack_app_token="xoxb-not-an-app-one"))
    assert check.status == FAIL
    assert "SLACK_APP_TOKEN is refused (not_allowed_token_type)" in check.detail
    assert "xoxb-not" not in check.detail


def test_the_signing_secret_must_be_set(fake_slack: FakeSlackAPI) -> None:
    assert check_slack_signing_secret(slack_settings(fake_slack)).status == OK
    missing = check_slack_signing_secret(
        slack_settings(fake_slack, slack_signing_secret=None))
    assert missing.status == FAIL and "SLACK_SIGNING_SECRET not set" in missing.detail
    odd = check_slack_signing_secret(slack_settings(fake_slack,
                                                           slack_signing_secret="xoxb-oops-1234"))
    assert odd.status == WARN and "xoxb-oops" not in odd.detail


def test_slack_checks_are_the_token_the_signing_secret_and_socket_mode_in_order(
    fake_slack: FakeSlackAPI, fake_slack_socket: FakeSocketMode,
) -> None:
    checks = list(slack_checks(slack_settings(fake_slack, slack_app_token=APP_TOKEN)))
    assert [c.name for c in checks] == ["Slack", "Slack signing secret", "Slack Socket Mode"]
    assert [c.status for c in checks[1:]] == [OK, OK]
    assert_no_secret(*checks)


def test_without_a_bot_token_slack_is_one_skip_line() -> None:
    assert list(slack_checks(make_settings())) == [Check("Slack", SKIP, "SLACK_BOT_TOKEN not set")]


def test_slack_secrets_without_a_bot_token_are_a_warning_naming_them() -> None:
    (check,) = slack_checks(make_settings(slack_signing_secret=SIGNING_SECRET,
                                          slack_app_token=APP_TOKEN))
    assert check.status == WARN and check.name == "Slack"
    assert check.detail.startswith("SLACK_BOT_TOKEN not set, so SLACK_SIGNING_SECRET and "
                                   "SLACK_APP_TOKEN unused")
    assert_no_secret(check)


def test_a_slack_check_that_raises_is_a_fail_line_and_the_others_still_run(
    fake_slack: FakeSlackAPI, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(settings: Settings) -> Check:
        raise RuntimeError("boom")

    monkeypatch.setattr("adapters.slack.doctor.check_slack_signing_secret", explode)
    checks = list(slack_checks(slack_settings(fake_slack)))
    assert [c.name for c in checks] == ["Slack", "Slack signing secret", "Slack Socket Mode"]
    assert checks[1] == Check("Slack signing secret", FAIL, "unexpected RuntimeError: boom")
