"""The Slack app: `SlackDeps`, what the adapter works with, and `create_app`.

`create_app(settings, deps)` builds one slack-bolt `App` that serves the
Events API, slash commands and interactivity (HTTP at `POST /slack/events`,
see `adapters.slack.server`, with events through `adapters.slack.inbox`; or
Socket Mode). It registers the message
listeners of `adapters.slack.events` and, when `adapters.slack.commands`
exists, its `register_commands(app, deps)` (slash commands, Block Kit, modals).

Every Web API call of the app goes through `deps.web`, built from the settings
by `adapters.slack.sender.web_client` (`SLACK_API_URL`, 429s retried per
Retry-After).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from redis import Redis
from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from adapters.slack.events import SlackInbound, register_events
from adapters.slack.sender import SlackSender, web_client
from adapters.slack.users import SlackUsers
from bot.commands import Stores
from bot.ingress import Ingress
from config.errors import ConfigError
from config.settings import Settings
from jobs_store import ContactStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class SlackDeps:
    """What the Slack app's listeners (messages, commands, modals) work with.

    Build it with `SlackDeps.build(settings, redis=…, ingress=…, contacts=…, stores=…)`,
    which makes the one Web API client and the helpers that share it.
    """

    settings: Settings
    #: Text-mode client (decode_responses=True) for our own keys.
    redis: Redis
    ingress: Ingress
    contacts: ContactStore
    #: The repositories admin commands work on.
    stores: Stores
    #: The Web API client every call of the app goes through (`SLACK_API_URL`).
    web: WebClient
    #: Contacts from users.info, and `is_admin(team, user, admins)`.
    users: SlackUsers
    #: The `Sender` port on `web` (also what workers use).
    sender: SlackSender

    @classmethod
    def build(cls, settings: Settings, *, redis: Redis, ingress: Ingress,
              contacts: ContactStore, stores: Stores) -> SlackDeps:
        """The deps on open stores; raises `ConfigError` without SLACK_BOT_TOKEN."""
        if settings.slack_bot_token is None:
            raise ConfigError("SLACK_BOT_TOKEN: required to run the Slack app")
        web = web_client(settings)
        return cls(settings=settings, redis=redis, ingress=ingress, contacts=contacts,
                   stores=stores, web=web, users=SlackUsers(web, redis, contacts),
                   sender=SlackSender(web, redis))

    @property
    def admins(self) -> frozenset[str]:
        """User ids listed in CHATJOBS_ADMINS."""
        return self.settings.chatjobs_admins


def create_app(settings: Settings, deps: SlackDeps) -> App:
    """The bolt App: message events to ingress, plus the commands module's listeners.

    Raises `ConfigError` naming the variable: a missing token or secret, a
    token Slack refuses, or a Slack it cannot reach (building the app calls
    `auth.test` once, bolt's token check).
    """
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN: required to run the Slack app")
    if settings.slack_signing_secret is None:
        raise ConfigError("SLACK_SIGNING_SECRET: required to verify Slack's requests")
    try:
        app = App(
            name="chatjobs",
            token=settings.slack_bot_token.get_secret_value(),
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            client=deps.web,
            # Run listeners before the response: over Socket Mode an event is
            # acked only once ingress kept it (if Redis is down, Slack retries
            # instead of getting an ack for a message we lost), and the event
            # inbox learns from the status whether an event was handled.
            process_before_response=True,
        )
    except BoltError as exc:  # auth.test refused the token
        raise ConfigError(f"SLACK_BOT_TOKEN: Slack refused it ({exc})") from exc
    except (SlackClientError, OSError) as exc:
        raise ConfigError(
            f"SLACK_API_URL: could not reach Slack at {settings.slack_api_url} ({exc})"
        ) from exc
    register_events(app, SlackInbound(ingress=deps.ingress, users=deps.users,
                                      threads=deps.sender.threads))
    register = _commands_hook()
    if register is not None:
        register(app, deps)
    return app


def _commands_hook() -> Callable[[App, SlackDeps], None] | None:
    """`adapters.slack.commands.register_commands` when that module exists."""
    try:
        from adapters.slack.commands import register_commands  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError as exc:
        if exc.name != "adapters.slack.commands":
            raise  # the module exists but something it imports is missing
        log.warning("adapters.slack.commands is missing: no slash commands")
        return None
    hook: Callable[[App, SlackDeps], None] = register_commands
    return hook
