"""`chatjobs doctor`'s Discord check against the fake Discord REST API (discord.py's
HTTPClient talks to it): what it finds and how it says it. No check may print a secret.
"""

from __future__ import annotations

from typing import Any

import pytest

from adapters.discord import doctor
from adapters.discord.doctor import check_discord, discord_checks
from bot.doctor import FAIL, OK, SKIP, Check
from config.settings import Settings
from tests.bot.test_doctor import assert_no_secret, free_port, make_settings
from tests.fakes.discord_rest import (
    GATEWAY_MESSAGE_CONTENT,
    GATEWAY_MESSAGE_CONTENT_LIMITED,
    FakeDiscordAPI,
)
from tests.fakes.discord_rest import TOKEN as DISCORD_TOKEN


def discord_settings(fake: FakeDiscordAPI, **overrides: Any) -> Settings:
    return make_settings(**{"discord_token": DISCORD_TOKEN, "discord_api_url": fake.url,
                            **overrides})


@pytest.mark.parametrize("flags", [GATEWAY_MESSAGE_CONTENT_LIMITED, GATEWAY_MESSAGE_CONTENT,
                                   GATEWAY_MESSAGE_CONTENT | 1 << 23])
def test_discord_with_the_message_content_intent_on_is_ok(flags: int) -> None:
    with FakeDiscordAPI(application_flags=flags) as fake:
        check = check_discord(discord_settings(fake))
        assert fake.calls("GET /oauth2/applications/@me"), "DISCORD_API_URL is honoured"
    assert check.status == OK, check
    assert check.detail == (f"logged in as chatjobs (application {fake.application_id}); "
                            "Message Content intent on")


def test_discord_with_the_message_content_intent_off_fails_naming_it() -> None:
    with FakeDiscordAPI(application_flags=1 << 23) as fake:
        check = check_discord(discord_settings(fake))
    assert check.status == FAIL
    assert "Message Content intent is off" in check.detail
    assert "Privileged Gateway Intents" in check.detail
    assert_no_secret(check)


def test_a_refused_discord_token_says_to_reset_it() -> None:
    with FakeDiscordAPI(token="the-right-token") as fake:
        check = check_discord(discord_settings(fake))
    assert check == Check("Discord", FAIL, "DISCORD_TOKEN is refused: reset it in the Developer "
                                           "Portal (Bot → Reset Token) and put the new one in "
                                           "DISCORD_TOKEN")


def test_an_unreachable_discord_api_url_fails_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    check = check_discord(make_settings(discord_token=DISCORD_TOKEN, discord_api_url=url),
                                 timeout=2)
    assert check.status == FAIL
    assert f"cannot reach Discord at {url}/api/v10" in check.detail
    assert "DISCORD_API_URL" in check.detail


def test_discord_checks_are_the_one_login_check() -> None:
    with FakeDiscordAPI(application_flags=GATEWAY_MESSAGE_CONTENT) as fake:
        (check,) = discord_checks(discord_settings(fake), timeout=2)
    assert check.name == "Discord" and check.status == OK, check


def test_without_a_token_discord_is_one_skip_line() -> None:
    assert list(discord_checks(make_settings())) == [Check("Discord", SKIP,
                                                           "DISCORD_TOKEN not set")]


def test_the_intent_flags_are_discords() -> None:
    assert (doctor.GATEWAY_MESSAGE_CONTENT, doctor.GATEWAY_MESSAGE_CONTENT_LIMITED) == (
        GATEWAY_MESSAGE_CONTENT, GATEWAY_MESSAGE_CONTENT_LIMITED)

