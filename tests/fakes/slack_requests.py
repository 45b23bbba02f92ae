"""Build what Slack sends to an app: signed HTTP requests, and the payloads inside them.

    body = event_body(app_mention("hi"))                 # an Events API POST, as Slack sends it
    response = app.dispatch(bolt_request(body, secret))  # or: post(url, body, signed_headers(...))

Three layers, pick the one the test needs:

- event dicts (`app_mention`, `dm_message`, `thread_reply`, `bot_message`, `message_changed`,
  `channel_join`, `message_deleted`, ...): the `event` object of an Events API callback;
- payload dicts (`event_callback`, `command_payload`, `view_submission_payload`,
  `block_actions_payload`): what Socket Mode carries in an envelope's `payload`;
- HTTP bodies (`event_body`, `url_verification_body`, `command_body`, `view_submission_body`,
  `block_actions_body`): the exact strings Slack POSTs, to sign with `sign`/`signed_headers`.

Message timestamps come from a module counter (1600000000.000100, ...), far below the ones
`FakeSlackAPI` hands out (1700000000.*), so the two never collide. Standard library only
(plus slack_bolt for `bolt_request`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

BOT_USER_ID = "UBOT"  # FakeSlackAPI's auth.test user_id
BOT_ID = "BBOT"

_counter = itertools.count(1)


def next_ts() -> str:
    """A fresh message timestamp, increasing: "1600000000.000100", "1600000000.000200", ..."""
    micros = 1_600_000_000_000_000 + next(_counter) * 100
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def _next_id(prefix: str) -> str:
    return f"{prefix}{next(_counter):08d}"


def dm_channel_for(user_id: str) -> str:
    """The DM channel id the fakes use for a user: "U1" -> "D1" (as FakeSlackAPI does)."""
    return "D" + user_id[1:]


# -- signing ---------------------------------------------------------------------------------

def sign(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The X-Slack-Signature / X-Slack-Request-Timestamp headers for `body` (now, by default).

    v0 scheme: "v0=" + hex HMAC-SHA256(secret, f"v0:{timestamp}:{body}"). Bolt rejects a
    timestamp more than 5 minutes from its clock, so pass an old one to test replay.
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


def retry_headers(num: int = 1, reason: str = "http_timeout") -> dict[str, str]:
    """What Slack adds when it re-sends an event: X-Slack-Retry-Num (1..3), X-Slack-Retry-Reason.

    Reasons Slack uses: "http_timeout", "too_many_connections", "ssl_error", "http_error",
    "connection_failed", "unknown_error".
    """
    return {"X-Slack-Retry-Num": str(num), "X-Slack-Retry-Reason": reason}


def content_type_for(body: str) -> str:
    """Slack's Content-Type: JSON for Events API bodies, form for commands and interactivity."""
    return "application/json" if body.lstrip().startswith("{") else \
        "application/x-www-form-urlencoded"


def signed_headers(body: str, secret: str, *, timestamp: int | None = None,
                   retry_num: int | None = None, retry_reason: str = "http_timeout",
                   content_type: str | None = None) -> dict[str, str]:
    """All headers of a Slack request: Content-Type, signature, and retry headers if asked."""
    headers = {"Content-Type": content_type or content_type_for(body),
               "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
    headers.update(sign(body, secret, timestamp))
    if retry_num is not None:
        headers.update(retry_headers(retry_num, retry_reason))
    return headers


def bolt_request(body: str, secret: str, *, timestamp: int | None = None,
                 retry_num: int | None = None, retry_reason: str = "http_timeout",
                 signed: bool = True) -> Any:
    """A `slack_bolt.BoltRequest` (HTTP mode) for `app.dispatch`; unsigned if `signed=False`."""
    from slack_bolt.request import BoltRequest

    headers: dict[str, Any] = (
        signed_headers(body, secret, timestamp=timestamp, retry_num=retry_num,
                       retry_reason=retry_reason) if signed
        else {"Content-Type": content_type_for(body)})
    return BoltRequest(body=body, headers=headers)


def post(url: str, body: str, headers: dict[str, str], *,
         timeout: float = 5.0) -> tuple[int, dict[str, str], str]:
    """POST `body` to `url`; (status, lower-cased headers, text body), also for 4xx/5xx."""
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return (response.status, {k.lower(): v for k, v in response.headers.items()},
                    response.read().decode())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


# -- event dicts (the `event` of an event_callback) ------------------------------------------

def message_event(text: str, *, user: str = "U1", channel: str = "C1",
                  channel_type: str = "channel", ts: str | None = None,
                  thread_ts: str | None = None, team: str = "T1",
                  **extra: Any) -> dict[str, Any]:
    """A plain user `message` event (no subtype); `extra` keys are added as is."""
    ts = ts or next_ts()
    event: dict[str, Any] = {
        "type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
        "event_ts": ts, "team": team, "channel_type": channel_type,
        "client_msg_id": _next_id("msg-"),
        "blocks": [{"type": "rich_text", "block_id": "b", "elements": [
            {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}],
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    event.update(extra)
    return event


def app_mention(text: str = "", *, user: str = "U1", channel: str = "C1",
                ts: str | None = None, thread_ts: str | None = None, team: str = "T1",
                bot_user_id: str = BOT_USER_ID, **extra: Any) -> dict[str, Any]:
    """An `app_mention`; the event's text is "<@UBOT> " + `text`, as Slack writes it.

    Slack sends it alongside a `message` event (message.channels) for the same ts when the app
    subscribes to both; send both to test that the adapter answers once.
    """
    event = message_event(f"<@{bot_user_id}> {text}".rstrip(), user=user, channel=channel,
                          ts=ts, thread_ts=thread_ts, team=team, **extra)
    event["type"] = "app_mention"
    del event["channel_type"]  # app_mention events carry none
    return event


def dm_message(text: str, *, user: str = "U1", channel: str | None = None,
               ts: str | None = None, thread_ts: str | None = None,
               **extra: Any) -> dict[str, Any]:
    """A `message.im` event: a user's DM to the bot (channel "D" + user id minus its "U")."""
    return message_event(text, user=user, channel=channel or dm_channel_for(user),
                         channel_type="im", ts=ts, thread_ts=thread_ts, **extra)


def channel_message(text: str, *, user: str = "U1", channel: str = "C1",
                    ts: str | None = None, **extra: Any) -> dict[str, Any]:
    """A `message.channels` event: a top-level message in a public channel."""
    return message_event(text, user=user, channel=channel, ts=ts, **extra)


def thread_reply(text: str, *, thread_ts: str, user: str = "U1", channel: str = "C1",
                 channel_type: str = "channel", ts: str | None = None,
                 parent_user_id: str = BOT_USER_ID, **extra: Any) -> dict[str, Any]:
    """A reply in a thread (`thread_ts` is the parent's ts; `parent_user_id` its author)."""
    return message_event(text, user=user, channel=channel, channel_type=channel_type, ts=ts,
                         thread_ts=thread_ts, parent_user_id=parent_user_id, **extra)


def bot_message(text: str, *, bot_id: str = "B2", user: str | None = "UB2",
                channel: str = "C1", channel_type: str = "channel", ts: str | None = None,
                thread_ts: str | None = None, subtype: str | None = None,
                **extra: Any) -> dict[str, Any]:
    """A message posted by a bot: `bot_id` set (modern bots have no subtype and a `user`;
    classic bots and webhooks have subtype "bot_message" and no user). Use bot_id="BBOT",
    user="UBOT" for the fake's own bot: bolt itself drops those before any listener runs.
    """
    event = message_event(text, user=user or "", channel=channel, channel_type=channel_type,
                          ts=ts, thread_ts=thread_ts, **extra)
    event.pop("client_msg_id")
    event["bot_id"] = bot_id
    event["bot_profile"] = {"id": bot_id, "name": "otherbot", "app_id": "A2",
                            "deleted": False, "team_id": event["team"]}
    if user is None:
        del event["user"]
    if subtype is not None:
        event["subtype"] = subtype
    return event


def message_changed(text: str, *, ts: str, previous_text: str = "", user: str = "U1",
                    channel: str = "C1", channel_type: str = "channel",
                    thread_ts: str | None = None) -> dict[str, Any]:
    """A `message_changed` subtype event: message `ts` edited to `text` (hidden, no user)."""
    event_ts = next_ts()
    edited = message_event(text, user=user, channel=channel, ts=ts, thread_ts=thread_ts,
                           edited={"user": user, "ts": event_ts})
    previous = message_event(previous_text, user=user, channel=channel, ts=ts,
                             thread_ts=thread_ts)
    for m in (edited, previous):
        for key in ("channel", "event_ts", "channel_type"):
            m.pop(key)
    return {"type": "message", "subtype": "message_changed", "hidden": True,
            "channel": channel, "channel_type": channel_type, "ts": event_ts,
            "event_ts": event_ts, "message": edited, "previous_message": previous}


def message_deleted(deleted_ts: str, *, channel: str = "C1", channel_type: str = "channel",
                    previous_text: str = "", user: str = "U1") -> dict[str, Any]:
    """A `message_deleted` subtype event for the message at `deleted_ts` (hidden, no user)."""
    event_ts = next_ts()
    previous = message_event(previous_text, user=user, channel=channel, ts=deleted_ts)
    for key in ("channel", "event_ts", "channel_type"):
        previous.pop(key)
    return {"type": "message", "subtype": "message_deleted", "hidden": True,
            "channel": channel, "channel_type": channel_type, "ts": event_ts,
            "event_ts": event_ts, "deleted_ts": deleted_ts, "previous_message": previous}


def channel_join(user: str = "U1", *, channel: str = "C1", inviter: str | None = None,
                 ts: str | None = None) -> dict[str, Any]:
    """The `channel_join` subtype message Slack posts when someone joins a channel."""
    event = message_event(f"<@{user}> has joined the channel", user=user, channel=channel,
                          ts=ts, subtype="channel_join")
    for key in ("client_msg_id", "blocks"):
        event.pop(key)
    if inviter is not None:
        event["inviter"] = inviter
    return event


def member_joined_channel(user: str = "U1", *, channel: str = "C1",
                          channel_type: str = "C", team: str = "T1") -> dict[str, Any]:
    """The `member_joined_channel` event (channel_type "C" public, "G" private)."""
    ts = next_ts()
    return {"type": "member_joined_channel", "user": user, "channel": channel,
            "channel_type": channel_type, "team": team, "event_ts": ts}


# -- payload dicts (Socket Mode envelope payloads) -------------------------------------------

def event_callback(event: dict[str, Any], *, team_id: str = "T1", event_id: str | None = None,
                   api_app_id: str = "A1", event_time: int | None = None,
                   bot_user_id: str = BOT_USER_ID) -> dict[str, Any]:
    """An Events API `event_callback` payload wrapping `event` (a fresh `event_id` unless given;
    a Slack retry re-sends the same event_id)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "context_team_id": team_id,
        "context_enterprise_id": None,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or _next_id("Ev"),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": bot_user_id,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        "event_context": _next_id("4-ctx-"),
    }


def command_payload(command: str = "/jobs", text: str = "", *, user_id: str = "U1",
                    user_name: str = "ana", channel_id: str = "C1",
                    channel_name: str = "general", team_id: str = "T1",
                    team_domain: str = "acme", trigger_id: str | None = None,
                    response_url: str | None = None, api_app_id: str = "A1",
                    ) -> dict[str, str]:
    """A slash command's fields (all strings), as a dict; `command_body` form-encodes them.

    Give `response_url=fake.response_url("...")` so `respond()` lands on the fake.
    """
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url or "https://hooks.slack.com/commands/T1/1/unused",
        "trigger_id": trigger_id or _next_id("trigger."),
    }


def _state_values(values: dict[str, Any]) -> dict[str, Any]:
    """{block_id: {action_id: "text"}} shorthand -> Slack's plain_text_input state values."""
    return {block: {action: ({"type": "plain_text_input", "value": v}
                             if v is None or isinstance(v, str) else v)
                    for action, v in actions.items()}
            for block, actions in values.items()}


def view_submission_payload(callback_id: str, values: dict[str, Any] | None = None,
                            private_metadata: str = "", user_id: str = "U1", *,
                            team_id: str = "T1", view_id: str | None = None,
                            api_app_id: str = "A1", trigger_id: str | None = None,
                            blocks: list[dict[str, Any]] | None = None,
                            response_urls: list[dict[str, Any]] | None = None,
                            ) -> dict[str, Any]:
    """A `view_submission` payload. `values` is {block_id: {action_id: value}}: a str value
    becomes a plain_text_input's `{"type": "plain_text_input", "value": ...}`; a dict is used
    as is (e.g. {"type": "static_select", "selected_option": {...}})."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "acme"},
        "user": {"id": user_id, "username": "ana", "name": "ana", "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "legacy-verification-token",
        "trigger_id": trigger_id or _next_id("trigger."),
        "view": {
            "id": view_id or _next_id("V"),
            "team_id": team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "blocks": blocks or [],
            "title": {"type": "plain_text", "text": "Form"},
            "state": {"values": _state_values(values or {})},
            "hash": _next_id("hash."),
            "app_id": api_app_id,
            "bot_id": BOT_ID,
            "root_view_id": None,
            "previous_view_id": None,
            "external_id": "",
        },
        "response_urls": response_urls or [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def block_actions_payload(action_id: str, value: str | None = None, *, block_id: str = "b1",
                          user_id: str = "U1", team_id: str = "T1", channel_id: str = "C1",
                          message_ts: str | None = None, trigger_id: str | None = None,
                          response_url: str | None = None, api_app_id: str = "A1",
                          view: dict[str, Any] | None = None,
                          action_type: str = "button") -> dict[str, Any]:
    """A `block_actions` payload for one action (a button by default). With `view`, the action
    came from a modal (no channel/message); otherwise from message `message_ts` in `channel_id`.
    """
    action_ts = next_ts()
    action: dict[str, Any] = {"type": action_type, "action_id": action_id,
                              "block_id": block_id, "action_ts": action_ts}
    if value is not None:
        action["value"] = value
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "acme"},
        "user": {"id": user_id, "username": "ana", "name": "ana", "team_id": team_id},
        "api_app_id": api_app_id,
        "token": "legacy-verification-token",
        "trigger_id": trigger_id or _next_id("trigger."),
        "actions": [action],
        "is_enterprise_install": False,
        "enterprise": None,
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "V1")}
        payload["view"] = view
    else:
        ts = message_ts or next_ts()
        payload["container"] = {"type": "message", "message_ts": ts, "channel_id": channel_id,
                                "is_ephemeral": False}
        payload["channel"] = {"id": channel_id, "name": "general"}
        payload["message"] = {"type": "message", "ts": ts, "user": BOT_USER_ID,
                              "bot_id": BOT_ID, "text": ""}
        payload["response_url"] = (response_url
                                   or "https://hooks.slack.com/actions/T1/1/unused")
    return payload


# -- HTTP bodies (what Slack POSTs) -----------------------------------------------------------

def event_body(event: dict[str, Any], *, team_id: str = "T1", event_id: str | None = None,
               api_app_id: str = "A1", event_time: int | None = None) -> str:
    """The JSON body of an Events API POST carrying `event`."""
    return json.dumps(event_callback(event, team_id=team_id, event_id=event_id,
                                     api_app_id=api_app_id, event_time=event_time))


def url_verification_body(challenge: str = "challenge-token") -> str:
    """The JSON body Slack POSTs when the Request URL is saved; answer {"challenge": ...}."""
    return json.dumps({"token": "legacy-verification-token", "challenge": challenge,
                       "type": "url_verification"})


def command_body(command: str = "/jobs", text: str = "", **fields: Any) -> str:
    """A slash command's form body; keyword arguments as for `command_payload`."""
    return urlencode(command_payload(command, text, **fields))


def payload_body(payload: dict[str, Any]) -> str:
    """An interactivity form body: payload=<url-encoded JSON>."""
    return urlencode({"payload": json.dumps(payload)})


def view_submission_body(callback_id: str, values: dict[str, Any] | None = None,
                         private_metadata: str = "", user_id: str = "U1",
                         **fields: Any) -> str:
    """A `view_submission` form body; arguments as for `view_submission_payload`."""
    return payload_body(view_submission_payload(callback_id, values, private_metadata,
                                                user_id, **fields))


def block_actions_body(action_id: str, value: str | None = None, **fields: Any) -> str:
    """A `block_actions` form body; arguments as for `block_actions_payload`."""
    return payload_body(block_actions_payload(action_id, value, **fields))
