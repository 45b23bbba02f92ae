"""`chatjobs doctor`'s Slack checks: `auth.test` and the granted scopes, the signing secret,
Socket Mode.

    for check in slack_checks(settings, timeout=5.0):   # each as soon as it is done
        print(check.line())

The checks use the very client the processes use (`web_client`, same settings),
bounded to one try per call. `bot.doctor.run_checks` takes `slack_checks` as one
of its platforms (wired by `bot.cli`) and scrubs every detail of the configured
secrets; the checks themselves never put one in a detail either.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterator

import yaml
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from adapters.slack.sender import web_client
from bot.doctor import FAIL, OK, SKIP, TIMEOUT_S, WARN, Check, attempt, redacted_url
from config.settings import Settings

#: Slack errors that mean "this token is no good".
_SLACK_REFUSED = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                            "token_expired", "not_allowed_token_type"})
_DEFAULT_SLACK_API = "https://slack.com/api/"


def slack_checks(settings: Settings, *, timeout: float = TIMEOUT_S) -> Iterator[Check]:
    """The Slack checks, in order, as each finishes: one `skip`/`warn` line without
    SLACK_BOT_TOKEN, else the token and scopes, the signing secret and Socket Mode."""
    if settings.slack_bot_token is None:
        yield attempt("Slack", lambda: _slack_unset(settings))
        return
    yield attempt("Slack", lambda: check_slack(settings, timeout=timeout))
    yield attempt("Slack signing secret", lambda: check_slack_signing_secret(settings))
    yield attempt("Slack Socket Mode", lambda: check_slack_socket_mode(settings, timeout=timeout))


def manifest_scopes() -> frozenset[str]:
    """The bot scopes config/slack-manifest.yml asks for."""
    text = importlib.resources.files("config").joinpath("slack-manifest.yml").read_text()
    manifest = yaml.safe_load(text)
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


def check_slack(settings: Settings, *, timeout: float = TIMEOUT_S) -> Check:
    """auth.test with SLACK_BOT_TOKEN at SLACK_API_URL, and the granted scopes."""
    client = _slack_client(settings, timeout)
    api = _slack_api(settings)
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if error in _SLACK_REFUSED:
            return Check("Slack", FAIL, f"SLACK_BOT_TOKEN is refused ({error}): copy the Bot "
                                        "User OAuth Token (xoxb-…) again from the app's OAuth "
                                        "& Permissions page (reinstall the app if it was "
                                        "removed)")
        return Check("Slack", FAIL, f"auth.test at {api} failed: {error}")
    except Exception as exc:  # urllib's URLError, timeouts, a proxy's HTML page …
        return Check("Slack", FAIL, f"cannot reach SLACK_API_URL {api} "
                                    f"({type(exc).__name__}) — check the URL and the network")
    who = f"auth.test as @{answer.get('user')} in team {answer.get('team')} " \
          f"({answer.get('team_id')})"
    if api != _DEFAULT_SLACK_API:
        who += f" via {api}"
    if not answer.get("bot_id"):
        return Check("Slack", FAIL, f"{who}, but SLACK_BOT_TOKEN is not a bot token: use the "
                                    "Bot User OAuth Token (xoxb-…)")
    header = next((v for k, v in answer.headers.items() if k.lower() == "x-oauth-scopes"), None)
    if header is None:
        return Check("Slack", WARN, f"{who}; Slack did not say which scopes were granted (no "
                                    "x-oauth-scopes header), so they were not checked")
    granted = {s.strip() for s in str(header).split(",") if s.strip()}
    missing = sorted(manifest_scopes() - granted)
    if missing:
        return Check("Slack", FAIL, f"{who}, but missing scopes {', '.join(missing)} — add them "
                                    "in the app's OAuth & Permissions page "
                                    "(config/slack-manifest.yml lists them) and reinstall")
    return Check("Slack", OK, f"{who}; scopes ok")


def check_slack_signing_secret(settings: Settings) -> Check:
    """SLACK_SIGNING_SECRET is set (only a real request from Slack can prove its value)."""
    secret = settings.slack_signing_secret
    if secret is None:
        return Check("Slack signing secret", FAIL, "SLACK_SIGNING_SECRET not set: `chatjobs "
                                                   "serve` needs it to verify Slack's requests "
                                                   "(Basic Information → Signing Secret)")
    if not re.fullmatch(r"[0-9a-f]{32}", secret.get_secret_value()):
        return Check("Slack signing secret", WARN, "SLACK_SIGNING_SECRET is set but does not "
                                                   "look like one (32 hex digits): copy it "
                                                   "from Basic Information → Signing Secret")
    return Check("Slack signing secret", OK, "SLACK_SIGNING_SECRET set")


def check_slack_socket_mode(settings: Settings, *, timeout: float = TIMEOUT_S) -> Check:
    """apps.connections.open with SLACK_APP_TOKEN (a Socket Mode URL is handed out)."""
    if settings.slack_app_token is None:
        return Check("Slack Socket Mode", SKIP, "SLACK_APP_TOKEN not set: HTTP mode only")
    client = _slack_client(settings, timeout)
    try:
        client.apps_connections_open(app_token=settings.slack_app_token.get_secret_value())
    except SlackApiError as exc:
        error = str(exc.response.get("error") or f"HTTP {exc.response.status_code}")
        if error in _SLACK_REFUSED:
            return Check("Slack Socket Mode", FAIL,
                         f"SLACK_APP_TOKEN is refused ({error}): generate an app-level token "
                         "(xapp-…) with the connections:write scope under Basic Information → "
                         "App-Level Tokens")
        return Check("Slack Socket Mode", FAIL, f"apps.connections.open failed ({error}) — "
                                                "is Socket Mode switched on for the app?")
    except Exception as exc:
        return Check("Slack Socket Mode", FAIL,
                     f"cannot reach SLACK_API_URL {_slack_api(settings)} "
                     f"({type(exc).__name__}) — check the URL and the network")
    return Check("Slack Socket Mode", OK, "apps.connections.open ok with SLACK_APP_TOKEN")


def _slack_unset(settings: Settings) -> Check:
    unused = [name for name, value in (("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
                                       ("SLACK_APP_TOKEN", settings.slack_app_token))
              if value is not None]
    if unused:
        return Check("Slack", WARN, f"SLACK_BOT_TOKEN not set, so {' and '.join(unused)} "
                                    "unused — set SLACK_BOT_TOKEN (OAuth & Permissions → Bot "
                                    "User OAuth Token) to serve Slack")
    return Check("Slack", SKIP, "SLACK_BOT_TOKEN not set")


def _slack_client(settings: Settings, timeout: float) -> WebClient:
    client = web_client(settings)
    # Bounded: one try per call, none of the sender's retries after 429s or resets.
    client.timeout = int(max(timeout, 1))
    client.retry_handlers = []
    return client


def _slack_api(settings: Settings) -> str:
    return redacted_url(str(settings.slack_api_url))
