"""`chatjobs doctor`: check the configuration and each dependency, and say what to fix.

    settings, loaded = check_configuration()     # a bad setting is a FAIL, not a crash
    print(loaded.line())
    if settings is not None:
        for check in run_checks(settings, platforms=(slack_checks, discord_checks)):
            print(check.line())                  # each as soon as it is done

One small function per dependency, each returning a `Check` (name, status,
detail): Redis (`REDIS_URL` or the embedded server, PING round trip, version,
persistence), the model (`models.list`, or a 1-token completion where the
server has no model list), embeddings, and the team's word groups file
(`CHATJOBS_VOCABULARY`). The chat platforms'
checks sit in each platform's own `doctor` module, beside the clients they
check: `slack_checks` (`auth.test` and the granted scopes against
`config/slack-manifest.yml`, the signing secret, Socket Mode) and
`discord_checks` (login, and whether the Message Content intent is on).
The entry point (`bot.cli`) hands them to `run_checks` as `platforms`, so this
module imports no platform package and no platform SDK.

- Status: `ok`; `warn` (works, but something should change); `FAIL` (it will
  not work); `skip` (not configured). Only a FAIL makes the run fail.
- Bounded: every request has a timeout of `TIMEOUT_S` and no retries, so a
  dead peer costs a few seconds, not minutes.
- Secret-free: details never hold a token, key, signing secret or password;
  URLs are shown with their credentials masked (`redacted_url`), and every
  detail — the platforms' included — is also scrubbed of the configured
  secrets' values before `run_checks` yields it, whatever a server or library
  put in an error message.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import unquote, urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bot import vocabulary
from config.errors import ChatjobsError, ConfigError
from config.settings import Settings, load_settings
from jobs_store.connection import client_for, redis_url

Status = Literal["ok", "warn", "FAIL", "skip"]
OK: Final = "ok"
WARN: Final = "warn"
FAIL: Final = "FAIL"
SKIP: Final = "skip"

#: Seconds one request of a check may take.
TIMEOUT_S = 5.0
#: The oldest Redis chatjobs works with (the embedded server is 6.2).
MIN_REDIS = (6, 2)

if TYPE_CHECKING:
    import openai

_OPENAI_DEFAULT = "OpenAI (https://api.openai.com/v1)"
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)@")
_SECRET_PARAM = re.compile(r"([?&][^=&#]*(?:pass|secret|token|key|auth)[^=&#]*=)[^&#]*", re.I)


@dataclass(frozen=True)
class Check:
    """The outcome of one check: `status` is OK, WARN, FAIL or SKIP."""

    name: str
    status: Status
    detail: str

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def line(self) -> str:
        """`ok    Redis: …` — the status padded, so the names line up."""
        return f"{self.status:<6}{self.name}: {self.detail}"


def redacted_url(url: str) -> str:
    """`url` with its password (and any secret-looking query value) shown as `***`.

    `redis://:pass@host` → `redis://:***@host`; `redis://user:pass@host` →
    `redis://user:***@host`; `redis://pass@host` (a lone user part) → `redis://***@host`.
    """
    def userinfo(match: re.Match[str]) -> str:
        user, colon, _ = match[2].partition(":")
        return f"{match[1]}{user}:***@" if colon else f"{match[1]}***@"

    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(userinfo, url, count=1))


# --- configuration ---------------------------------------------------------------------------

def check_configuration(
    load: Callable[[], Settings] = load_settings,
) -> tuple[Settings | None, Check]:
    """Load the settings: (settings, ok) or (None, a FAIL naming each bad variable)."""
    try:
        settings = load()
    except ConfigError as exc:
        return None, Check("configuration", FAIL, f"{exc} — fix it in .env or the environment")
    env_file = Path(".env")
    where = ("loaded from .env and the environment" if env_file.is_file()
             else f"loaded from the environment (no .env in {Path.cwd()})")
    return settings, Check("configuration", OK, where)


#: A platform's checks (`slack_checks`, `discord_checks`): called as
#: `platform(settings, timeout=…)`, yielding its `Check`s in order.
Platform = Callable[..., Iterable[Check]]


def run_checks(settings: Settings, *, timeout: float = TIMEOUT_S,
               platforms: Sequence[Platform] = ()) -> Iterator[Check]:
    """Each dependency's check, in order, as it finishes, then each platform's checks;
    never raises, never a secret."""
    secrets = _secrets(settings)
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("Redis", lambda: check_redis(settings, timeout=timeout)),
        ("model", lambda: check_model(settings, timeout=timeout)),
        ("embeddings", lambda: check_embeddings(settings, timeout=timeout)),
        ("vocabulary", lambda: check_vocabulary(settings)),
    ]
    for name, step in steps:
        yield _scrubbed(attempt(name, step), secrets)
    for platform in platforms:
        for check in _platform_checks(platform, settings, timeout):
            yield _scrubbed(check, secrets)


def attempt(name: str, step: Callable[[], Check]) -> Check:
    """`step()`, or a FAIL named `name` if it raised: a check must report, not crash the others."""
    try:
        return step()
    except Exception as exc:
        return Check(name, FAIL, f"unexpected {type(exc).__name__}: {exc}")


def _platform_checks(platform: Platform, settings: Settings, timeout: float) -> Iterator[Check]:
    # Platforms guard each check with `attempt`; this is the backstop for one that raises
    # between checks: its remaining checks are lost, the others still run.
    try:
        yield from platform(settings, timeout=timeout)
    except Exception as exc:
        name = getattr(platform, "__name__", type(platform).__name__)
        yield Check(name, FAIL, f"unexpected {type(exc).__name__}: {exc}")


# --- Redis -----------------------------------------------------------------------------------

def check_redis(settings: Settings, *, timeout: float = TIMEOUT_S) -> Check:
    """Reach Redis as every command does: REDIS_URL, else the embedded server."""
    if settings.redis_url:
        return _probe_redis(settings.redis_url, redacted_url(settings.redis_url),
                            timeout=timeout, shared=True)
    where = f"embedded in {settings.chatjobs_data_dir}"
    try:
        with redis_url(settings) as url:
            return _probe_redis(url, where, timeout=timeout, shared=False)
    except (ChatjobsError, OSError) as exc:
        return Check("Redis", FAIL, f"cannot start the embedded Redis in "
                                    f"{settings.chatjobs_data_dir}: {exc} — check that "
                                    "CHATJOBS_DATA_DIR is a writable directory")


def _probe_redis(url: str, where: str, *, timeout: float, shared: bool) -> Check:
    client = client_for(url, decode_responses=True, socket_timeout=timeout,
                        socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0))
    try:
        client.ping()  # connects (and authenticates)
        start = time.perf_counter()
        client.ping()
        round_trip_ms = (time.perf_counter() - start) * 1000
        try:
            info: dict[str, Any] = client.info()
        except redis.ResponseError:  # INFO renamed or disabled (some managed services)
            info = {}
    except redis.AuthenticationError:
        return Check("Redis", FAIL, f"{where} refused the credentials — check the password "
                                    "in REDIS_URL (redis://:password@host:6379/0)")
    except redis.TimeoutError:
        return Check("Redis", FAIL, f"no answer from {where} within {timeout:g} s — check "
                                    "REDIS_URL, and that no firewall is in the way")
    except redis.ConnectionError as exc:
        return Check("Redis", FAIL, f"cannot reach {where} ({exc}) — check REDIS_URL, and "
                                    "that Redis is running there")
    except redis.RedisError as exc:
        return Check("Redis", FAIL, f"{where} answered an error: {exc} — check REDIS_URL")
    finally:
        client.close()
    version = info.get("redis_version", "version unknown")
    detail = f"{where} (Redis {version}), round trip {round_trip_ms:.1f} ms"
    if _older(str(version), MIN_REDIS):
        return Check("Redis", FAIL, f"{detail}; chatjobs needs Redis "
                                    f"{'.'.join(map(str, MIN_REDIS))} or newer (ZADD GT, XPENDING "
                                    "IDLE) — upgrade it, or unset REDIS_URL to use the "
                                    "embedded one")
    advice = []
    if shared and info.get("aof_enabled") == 0:
        advice.append("appendonly is no, so a restart loses the last writes — turn on AOF: "
                      "appendonly yes")
    policy = info.get("maxmemory_policy", "noeviction")
    if shared and info.get("maxmemory") and policy != "noeviction":
        advice.append(f"maxmemory-policy is {policy}, so a full Redis drops chatjobs data — "
                      "set maxmemory-policy noeviction")
    if advice:
        return Check("Redis", WARN, f"{detail}; " + "; ".join(advice))
    return Check("Redis", OK, detail)


def _older(version: str, minimum: tuple[int, ...]) -> bool:
    """Whether a "6.0.9"-style version is below `minimum` (False when it can't be read)."""
    try:
        numbers = tuple(int(part) for part in version.split(".")[:len(minimum)])
    except ValueError:
        return False
    return numbers < minimum


# --- model and embeddings --------------------------------------------------------------------

def check_model(settings: Settings, *, timeout: float = TIMEOUT_S) -> Check:
    """One cheap request to the chat model's server (none without OPENAI_API_KEY)."""
    if settings.openai_api_key is None:
        return Check("model", OK, "offline (no OPENAI_API_KEY): answers by walking job steps")
    base = settings.openai_base_url
    where = redacted_url(str(base)) if base else _OPENAI_DEFAULT
    model = settings.openai_model
    client = _openai(settings, base, timeout)
    import openai  # loaded by `_openai`

    start = time.perf_counter()
    try:
        try:
            listed = [m.id for m in client.models.list().data]
        except openai.APIStatusError as exc:
            if exc.status_code not in (404, 405, 501):
                raise
            # No model list on this server: ask the model itself for one token.
            client.chat.completions.create(
                model=model, max_tokens=1, messages=[{"role": "user", "content": "ping"}])
            return Check("model", OK, f"{model} at {where} answered a 1-token completion in "
                                      f"{_ms(start)} ms")
    except openai.OpenAIError as exc:
        return Check("model", FAIL, _openai_problem(exc, where, "OPENAI_BASE_URL", timeout))
    finally:
        client.close()
    if listed and model not in listed:
        return Check("model", WARN, f"{where} answers, but does not list OPENAI_MODEL={model} "
                                    f"among its {len(listed)} models — check the model name")
    return Check("model", OK, f"{model} at {where}, {_ms(start)} ms")


def check_embeddings(settings: Settings, *, timeout: float = TIMEOUT_S) -> Check:
    """One embeddings request when OPENAI_EMBEDDING_MODEL is set."""
    model = settings.openai_embedding_model
    if not model:
        return Check("embeddings", SKIP, "OPENAI_EMBEDDING_MODEL not set: lexical matching only")
    base = settings.embeddings_url
    where = redacted_url(str(base)) if base else _OPENAI_DEFAULT
    variable = "EMBEDDINGS_BASE_URL" if settings.embeddings_base_url else "OPENAI_BASE_URL"
    client = _openai(settings, base, timeout)
    import openai  # loaded by `_openai`

    start = time.perf_counter()
    try:
        answer = client.embeddings.create(model=model, input=["chatjobs doctor"])
    except openai.OpenAIError as exc:
        return Check("embeddings", FAIL, _openai_problem(exc, where, variable, timeout,
                                                         model_variable="OPENAI_EMBEDDING_MODEL"))
    finally:
        client.close()
    if not answer.data:
        return Check("embeddings", FAIL, f"{where} answered no vector for {model}")
    return Check("embeddings", OK, f"{model} at {where}: {len(answer.data[0].embedding)} "
                                   f"dimensions, {_ms(start)} ms")


def check_vocabulary(settings: Settings) -> Check:
    """The team's word groups file (`CHATJOBS_VOCABULARY`) reads as groups."""
    path = settings.chatjobs_vocabulary
    if path is None:
        return Check("vocabulary", SKIP, "CHATJOBS_VOCABULARY not set: the built-in word groups")
    try:
        vocabulary.load(path)
    except ConfigError as exc:
        return Check("vocabulary", FAIL, str(exc))
    return Check("vocabulary", OK, f"{path} adds its word groups to the built-in ones")


def _openai(settings: Settings, base_url: object, timeout: float) -> openai.OpenAI:
    # As bot.app builds it (a placeholder key for keyless servers), without retries;
    # imported here, as there: a configuration without a model key never needs it.
    import openai

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "none"
    return openai.OpenAI(api_key=key, base_url=str(base_url) if base_url else None,
                         max_retries=0, timeout=timeout)


def _openai_problem(exc: openai.OpenAIError, where: str, url_variable: str, timeout: float,
                    *, model_variable: str = "OPENAI_MODEL") -> str:
    import openai  # loaded: `exc` is one of its errors

    if isinstance(exc, openai.APITimeoutError):
        return f"no answer from {where} within {timeout:g} s — check {url_variable}"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return (f"cannot reach {url_variable} {where} ({type(cause).__name__}) — check the "
                "URL and the network")
    if isinstance(exc, openai.AuthenticationError):
        return f"{where} answered 401 — check OPENAI_API_KEY"
    if isinstance(exc, openai.PermissionDeniedError):
        return f"{where} answered 403 — check OPENAI_API_KEY and what it may use"
    if isinstance(exc, openai.NotFoundError):
        return (f"{where} answered 404 — check {model_variable} and {url_variable} "
                "(an OpenAI-compatible base URL usually ends in /v1)")
    if isinstance(exc, openai.RateLimitError):
        return f"{where} answered 429 ({_api_message(exc)}) — check the account's quota"
    if isinstance(exc, openai.APIStatusError):
        return f"{where} answered {exc.status_code}: {_api_message(exc)}"
    return f"{where}: {type(exc).__name__}: {exc}"


def _api_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    message = body.get("message") if isinstance(body, dict) else None
    text = str(message or exc.message or "no message")
    return text if len(text) <= 160 else text[:159] + "…"


# --- secrets ---------------------------------------------------------------------------------

def _secrets(settings: Settings) -> list[str]:
    """Every secret value in the settings: tokens, keys, and passwords inside URLs."""
    values = [s.get_secret_value() for s in (
        settings.openai_api_key, settings.slack_bot_token, settings.slack_signing_secret,
        settings.slack_app_token, settings.discord_token) if s is not None]
    for url in (settings.redis_url, settings.openai_base_url, settings.embeddings_base_url,
                settings.slack_api_url, settings.discord_api_url):
        if url is None:
            continue
        try:
            parts = urlsplit(str(url))
        except ValueError:
            continue
        # The password; a lone user part (`redis://secret@host`) may be one too.
        hidden = parts.password if parts.password is not None else parts.username
        if hidden:
            values += [hidden, unquote(hidden)]
        values += re.findall(r"[?&][^=&#]*(?:pass|secret|token|key|auth)[^=&#]*=([^&#]*)",
                             str(url), re.I)
    # Longest first, so a secret containing another is masked whole.
    return sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)


def _scrubbed(check: Check, secrets: list[str]) -> Check:
    return replace(check, name=_scrub(check.name, secrets), detail=_scrub(check.detail, secrets))


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)
