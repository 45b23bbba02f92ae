"""Which Slack messages the agent answers, handed to ingress.

Answered: `app_mention`; every person's message in a DM (`message.im`); in
channels (and group DMs), messages in a thread the bot takes part in, and
messages inside an open session window (`Ingress.in_session`). Never the bot's own or
other bots' messages, edits, deletions, joins or other subtypes (see
`normalize.person_message`).

In HTTP mode the listeners run after Slack's 200, from the event inbox
(`adapters.slack.inbox`: the event is kept in Redis first, so nothing acked
is lost). Over Socket Mode the app's `process_before_response=True` acks only
once ingress has kept the message, so if Redis is down Slack retries instead of
getting an ack for a lost message. Ingress queues the turn for the workers.

An @mention in a channel arrives twice (`app_mention` and `message.channels`,
with different event ids) and a Slack retry arrives again with the same
event: all of them carry the same message id `{channel}:{ts}`, so ingress's
`SET NX` keeps the first and drops the rest, whether the first is queued,
running, finished or failed. That is why no separate event-id dedupe is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt import App, BoltContext

from adapters.slack.normalize import (
    conversation_id,
    is_dm,
    mentions,
    person_message,
    team_of,
    to_incoming,
)
from adapters.slack.sender import BotThreads
from adapters.slack.users import SlackUsers
from bot.ingress import Ingress

log = logging.getLogger(__name__)



class SlackInbound:
    """Decides whether a message event is for the agent, and hands it to ingress."""

    def __init__(self, *, ingress: Ingress, users: SlackUsers, threads: BotThreads,
                 session_open: Callable[[str], bool] | None = None) -> None:
        self._ingress = ingress
        self._users = users
        self._threads = threads
        #: Whether a task's session window is open on a conversation (ingress knows).
        self._session_open = session_open or ingress.in_session

    def handle(self, event: Mapping[str, Any], *, team: str, bot_user_id: str | None) -> bool:
        """Take the event if the agent should answer it; True if ingress accepted it."""
        if not team or not person_message(event, bot_user_id=bot_user_id):
            return False
        if not self.addressed(event, team=team, bot_user_id=bot_user_id):
            return False
        contact = self._users.contact(team, str(event["user"]))
        message = to_incoming(event, team=team, bot_user_id=bot_user_id,
                              user_name=contact.display_name)
        if message is None:
            return False
        if message.mentions_bot and message.thread:
            self._threads.join(team, message.channel, message.thread)
        accepted = self._ingress.accept(message)  # the contact is saved by SlackUsers
        if accepted:  # every message: DEBUG, as bolt's own request lines
            log.debug("slack message %s in %s taken", message.message_id,
                      message.conversation_id)
        return accepted

    def addressed(self, event: Mapping[str, Any], *, team: str, bot_user_id: str | None) -> bool:
        """DMs, mentions, threads the bot is in, and open session windows."""
        if event.get("type") == "app_mention" or is_dm(event) or mentions(event, bot_user_id):
            return True
        channel, thread_ts = str(event["channel"]), str(event.get("thread_ts") or "")
        if thread_ts and self._threads.takes_part(team, channel, thread_ts):
            return True
        return self._session_open(conversation_id(team, channel, thread_ts))


def register_events(app: App, inbound: SlackInbound) -> None:
    """Listen for `app_mention` and `message` events (every subtype, so none go unhandled)."""

    def on_event(body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
        inbound.handle(event, team=team_of(body, event), bot_user_id=context.bot_user_id)

    app.event("app_mention")(on_event)
    app.event("message")(on_event)
