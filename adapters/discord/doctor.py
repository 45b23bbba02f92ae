"""`chatjobs doctor`'s Discord check: log in over REST, and the Message Content intent.

    for check in discord_checks(settings, timeout=5.0):
        print(check.line())

The check uses the very REST client the workers use (`DiscordRest`, with
DISCORD_API_URL honoured), bounded by `timeout`. `bot.doctor.run_checks` takes
`discord_checks` as one of its platforms (wired by `bot.cli`) and scrubs every
detail of the configured secrets; the check itself never puts one in a detail either.
"""

from __future__ import annotations

from collections.abc import Iterator

import discord
from discord.http import Route

from adapters.discord.sender import DiscordRest
from bot.doctor import FAIL, OK, SKIP, TIMEOUT_S, Check, attempt, redacted_url
from config.errors import ChatjobsError, ConfigError
from config.settings import Settings

#: Discord application flags: the Message Content intent is on (verified apps, and
#: apps in fewer than 100 servers that switched it on in the Developer Portal).
GATEWAY_MESSAGE_CONTENT = 1 << 19
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 18


def discord_checks(settings: Settings, *, timeout: float = TIMEOUT_S) -> Iterator[Check]:
    """The Discord check: one line, `skip` without DISCORD_TOKEN."""
    yield attempt("Discord", lambda: check_discord(settings, timeout=timeout))


def check_discord(settings: Settings, *, timeout: float = TIMEOUT_S) -> Check:
    """Log in over REST (DISCORD_API_URL honoured) and read the Message Content intent."""
    if settings.discord_token is None:
        return Check("Discord", SKIP, "DISCORD_TOKEN not set")
    rest = DiscordRest(settings.discord_token.get_secret_value(),
                       api_url=settings.discord_api_url, timeout=timeout)
    where = redacted_url(rest.api_base)
    refused = Check("Discord", FAIL, "DISCORD_TOKEN is refused: reset it in the Developer "
                                     "Portal (Bot → Reset Token) and put the new one in "
                                     "DISCORD_TOKEN")
    try:
        me = rest.call(lambda http: http.request(Route("GET", "/users/@me")))
        app = rest.call(lambda http: http.request(Route("GET", "/oauth2/applications/@me")))
    except ConfigError:  # DiscordRest's login answered 401
        return refused
    except discord.HTTPException as exc:
        if exc.status == 401:
            return refused
        return Check("Discord", FAIL, f"{where} answered {exc.status} — check DISCORD_API_URL")
    except (ChatjobsError, discord.DiscordException, OSError) as exc:
        return Check("Discord", FAIL, f"cannot reach Discord at {where} ({type(exc).__name__}) "
                                      "— check DISCORD_API_URL and the network")
    except ValueError as exc:  # aiohttp refuses the URL, e.g. one with credentials in it
        return Check("Discord", FAIL, f"cannot use DISCORD_API_URL {where}: {exc}")
    finally:
        rest.close()
    name = str(me.get("username", "?"))
    if str(me.get("discriminator") or "0").strip("0"):
        name += f"#{me['discriminator']}"
    application = str(app.get("id", "?"))
    who = f"logged in as {name} (application {application})"
    flags = int(app.get("flags") or 0)
    if flags & (GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED):
        return Check("Discord", OK, f"{who}; Message Content intent on")
    return Check("Discord", FAIL, f"{who}, but the Message Content intent is off — Developer "
                                  "Portal → Bot → Privileged Gateway Intents → Message Content "
                                  f"Intent (https://discord.com/developers/applications/"
                                  f"{application}/bot)")
