"""The fake Slack peers, driven by the real slack_sdk WebClient, bolt App and Socket Mode client."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from tests.fakes.slack_api import FakeSlackAPI, error, hang, http_error, rate_limited, slow
from tests.fakes.slack_requests import (
    app_mention,
    block_actions_body,
    bolt_request,
    bot_message,
    channel_join,
    command_body,
    command_payload,
    dm_message,
    event_body,
    event_callback,
    message_changed,
    message_deleted,
    post,
    sign,
    signed_headers,
    thread_reply,
    url_verification_body,
    view_submission_body,
    view_submission_payload,
)
from tests.fakes.slack_socket import FakeSocketMode

# Until tests/conftest.py lists it; registering a plugin twice by name is a no-op.
pytest_plugins = ["tests.fakes.slack_fixtures"]

BOT_TOKEN, APP_TOKEN = "xoxb-test", "xapp-test"  # as slack_fixtures (not imported: a plugin)
BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]


def client(fake: FakeSlackAPI, **kwargs: Any) -> WebClient:
    return WebClient(token=kwargs.pop("token", BOT_TOKEN), base_url=fake.base_url, **kwargs)


def app_for(fake: FakeSlackAPI, secret: str, **kwargs: Any) -> App:
    # The token goes on the client: bolt takes App(client=...)'s token and ignores token=.
    return App(signing_secret=secret, client=client(fake), **kwargs)


class Seen:
    """What listeners saw, from bolt's worker threads."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._cond = threading.Condition()

    def add(self, item: Any) -> None:
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def wait(self, n: int = 1, timeout: float = 5.0) -> list[Any]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.items) >= n, timeout):
                raise TimeoutError(f"{len(self.items)} of {n} after {timeout}s")
            return list(self.items)


# -- Web API with WebClient -------------------------------------------------------------------

def test_post_message_with_thread_and_blocks_is_recorded(fake_slack: FakeSlackAPI) -> None:
    answer = client(fake_slack).chat_postMessage(channel="C1", text="hi", thread_ts="1.2",
                                                 blocks=BLOCKS)
    assert answer["ok"] and answer["channel"] == "C1"
    assert answer["ts"] == "1700000000.000100"
    assert answer["message"]["blocks"] == BLOCKS and answer["message"]["bot_id"] == "BBOT"
    assert fake_slack.posted() == [
        {"channel": "C1", "text": "hi", "thread_ts": "1.2", "blocks": BLOCKS}]
    (call,) = fake_slack.calls("chat.postMessage")
    assert call.encoding == "json"  # slack_sdk sends chat.postMessage as a JSON body
    assert call.token == BOT_TOKEN and call.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert BOT_TOKEN not in repr(call)


def test_ts_increase_and_form_bodies_decode_json_fields(fake_slack: FakeSlackAPI) -> None:
    c = client(fake_slack)
    first = c.chat_postMessage(channel="C1", text="a")["ts"]
    # data=... goes as a form body; its blocks are a JSON string, decoded in the record.
    second = c.api_call("chat.postMessage", data={"channel": "C1", "text": "b",
                                                  "blocks": json.dumps(BLOCKS)})["ts"]
    assert first < second
    call = fake_slack.calls("chat.postMessage")[-1]
    assert call.encoding == "form" and call.params["blocks"] == BLOCKS
    c.users_info(user="UBOT")  # a "GET" method: slack_sdk still POSTs it as a form
    assert fake_slack.calls("users.info")[0].encoding == "form"


def test_multipart_bodies(fake_slack: FakeSlackAPI) -> None:
    with pytest.raises(SlackApiError):  # files.upload is not served: unknown_method
        client(fake_slack).api_call("files.upload", files={"file": b"\x00data"},
                                    data={"channels": "C1", "title": "t"})
    (call,) = fake_slack.calls("files.upload")
    assert call.encoding == "multipart"
    assert call.params == {"channels": "C1", "title": "t", "file": b"\x00data"}


def test_get_query_string_and_token_param(fake_slack: FakeSlackAPI) -> None:
    url = f"{fake_slack.base_url}users.info?user=UBOT&token={BOT_TOKEN}"
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["ok"] and body["user"]["is_bot"]
    (call,) = fake_slack.calls("users.info")
    assert call.http_method == "GET" and call.encoding == "query"
    assert call.params == {"user": "UBOT"} and call.token == BOT_TOKEN


def test_auth_test_identity(fake_slack: FakeSlackAPI) -> None:
    answer = client(fake_slack).auth_test()
    assert {k: answer[k] for k in ("user_id", "bot_id", "team_id", "team")} == {
        "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "team": "Acme"}
    assert answer["url"].startswith("https://")
    assert "chat:write" in answer.headers["x-oauth-scopes"]


def test_users_info_known_and_unknown(fake_slack: FakeSlackAPI) -> None:
    fake_slack.add_user("U1", name="ana", real_name="Ana Lima", tz="Europe/Lisbon",
                        is_admin=True)
    c = client(fake_slack)
    user = c.users_info(user="U1")["user"]
    assert (user["name"], user["real_name"], user["tz"], user["is_admin"],
            user["is_owner"], user["deleted"]) == ("ana", "Ana Lima", "Europe/Lisbon", True,
                                                   False, False)
    assert user["profile"]["real_name"] == "Ana Lima"
    with pytest.raises(SlackApiError) as e:
        c.users_info(user="U404")
    assert e.value.response["error"] == "user_not_found"


def test_rate_limit_is_retried_by_the_retry_handler(fake_slack: FakeSlackAPI) -> None:
    fake_slack.script("chat.postMessage", rate_limited(retry_after=0))
    c = client(fake_slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert c.chat_postMessage(channel="C1", text="hi")["ok"]
    assert len(fake_slack.calls("chat.postMessage")) == 2
    assert fake_slack.pending() == 0


def test_rate_limit_without_a_retry_handler_raises(fake_slack: FakeSlackAPI) -> None:
    fake_slack.script("chat.postMessage", rate_limited(retry_after=7))
    with pytest.raises(SlackApiError) as e:
        client(fake_slack).chat_postMessage(channel="C1", text="hi")
    assert e.value.response.status_code == 429
    assert e.value.response["error"] == "ratelimited"
    assert e.value.response.headers["Retry-After"] == "7"


def test_scripted_errors_then_default(fake_slack: FakeSlackAPI) -> None:
    fake_slack.script("chat.postMessage", error("channel_not_found"), http_error(500),
                      {"ok": True, "ts": "9.9", "channel": "C9"})
    c = client(fake_slack)
    with pytest.raises(SlackApiError) as e:
        c.chat_postMessage(channel="C1", text="a")
    assert (e.value.response.status_code, e.value.response["error"]) == (200,
                                                                         "channel_not_found")
    with pytest.raises(SlackApiError) as e:
        c.chat_postMessage(channel="C1", text="b")
    assert e.value.response.status_code == 500
    assert c.chat_postMessage(channel="C1", text="c")["ts"] == "9.9"
    assert c.chat_postMessage(channel="C1", text="d")["ts"].startswith("1700000000.")
    assert [p["text"] for p in fake_slack.posted()] == ["a", "b", "c", "d"]


def test_callable_and_standing_answers(fake_slack: FakeSlackAPI) -> None:
    fake_slack.always("conversations.info",
                      lambda call: {"ok": True, "channel": {"id": call.params["channel"],
                                                            "name": "custom"}})
    c = client(fake_slack)
    assert c.conversations_info(channel="C7")["channel"]["name"] == "custom"
    assert c.conversations_info(channel="C8")["channel"]["name"] == "custom"
    fake_slack.always("conversations.info", None)
    assert c.conversations_info(channel="C7")["channel"]["name"] == "c7"


def test_slow_answers_and_stop_wakes_a_hung_handler() -> None:
    fake = FakeSlackAPI().start()
    try:
        fake.script("auth.test", slow(0.3), hang())
        c = client(fake, timeout=10)
        started = time.monotonic()
        assert c.auth_test()["ok"]
        assert time.monotonic() - started >= 0.3
        outcome: list[BaseException] = []

        def call() -> None:
            try:
                c.auth_test()
            except BaseException as e:
                outcome.append(e)

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        fake.wait_for("auth.test", 2)
    finally:
        started = time.monotonic()
        fake.stop()
        assert time.monotonic() - started < 1.0
    thread.join(5)
    assert not thread.is_alive() and outcome  # the client saw the connection drop


def test_unknown_method_is_recorded(fake_slack: FakeSlackAPI) -> None:
    with pytest.raises(SlackApiError) as e:
        client(fake_slack).api_call("bogus.method", json={"x": 1})
    assert e.value.response["error"] == "unknown_method"
    assert fake_slack.calls("bogus.method")[0].params == {"x": 1}


def test_token_checks(fake_slack: FakeSlackAPI) -> None:
    with pytest.raises(SlackApiError) as e:
        WebClient(base_url=fake_slack.base_url).auth_test()
    assert e.value.response["error"] == "not_authed"
    with pytest.raises(SlackApiError) as e:
        client(fake_slack, token=APP_TOKEN).chat_postMessage(channel="C1", text="x")
    assert e.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as e:
        client(fake_slack).apps_connections_open(app_token=BOT_TOKEN)
    assert e.value.response["error"] == "not_allowed_token_type"
    strict = FakeSlackAPI(bot_token="xoxb-right").start()
    try:
        with pytest.raises(SlackApiError) as e:
            client(strict, token="xoxb-wrong").auth_test()
        assert e.value.response["error"] == "invalid_auth"
        assert client(strict, token="xoxb-right").auth_test()["ok"]
    finally:
        strict.stop()


def test_message_lifecycle_threads_and_dms(fake_slack: FakeSlackAPI) -> None:
    c = client(fake_slack)
    parent = fake_slack.add_message("C1", "help?", user="U1")
    reply = c.chat_postMessage(channel="C1", text="sure", thread_ts=parent["ts"])
    thread = c.conversations_replies(channel="C1", ts=parent["ts"])["messages"]
    assert [m["text"] for m in thread] == ["help?", "sure"]
    assert thread[0]["reply_count"] == 1
    updated = c.chat_update(channel="C1", ts=reply["ts"], text="sure!")
    assert updated["message"]["text"] == "sure!"
    assert [m["text"] for m in fake_slack.messages("C1")] == ["help?", "sure!"]
    c.chat_delete(channel="C1", ts=reply["ts"])
    with pytest.raises(SlackApiError) as e:
        c.chat_update(channel="C1", ts=reply["ts"], text="again")
    assert e.value.response["error"] == "message_not_found"
    dm = c.chat_postMessage(channel="U1", text="hello")  # a user id posts to the DM
    assert dm["channel"] == "D1" == fake_slack.dm_channel("U1")
    assert c.conversations_open(users="U1")["channel"]["id"] == "D1"
    assert c.chat_postEphemeral(channel="C1", user="U1", text="psst")["message_ts"]
    with pytest.raises(SlackApiError) as e, pytest.warns(UserWarning, match="`text`"):
        c.chat_postMessage(channel="C1")
    assert e.value.response["error"] == "no_text"
    fake_slack.add_channel("C2", name="private", is_member=False)
    with pytest.raises(SlackApiError) as e:
        c.chat_postMessage(channel="C2", text="x")
    assert e.value.response["error"] == "not_in_channel"
    assert c.conversations_info(channel="C2")["channel"]["name"] == "private"
    info = c.conversations_info(channel="D5")["channel"]
    assert info["is_im"] and info["user"] == "U5"


def test_reactions_and_assistant_status(fake_slack: FakeSlackAPI) -> None:
    c = client(fake_slack)
    assert c.reactions_add(channel="C1", timestamp="1.1", name="eyes")["ok"]
    with pytest.raises(SlackApiError) as e:
        c.reactions_add(channel="C1", timestamp="1.1", name="eyes")
    assert e.value.response["error"] == "already_reacted"
    assert c.reactions_remove(channel="C1", timestamp="1.1", name="eyes")["ok"]
    assert c.assistant_threads_setStatus(channel_id="D1", thread_ts="1.1",
                                         status="is thinking...")["ok"]
    fake_slack.assistant_error = "not_allowed_token_type"
    with pytest.raises(SlackApiError) as e:
        c.assistant_threads_setStatus(channel_id="D1", thread_ts="1.1", status="...")
    assert e.value.response["error"] == "not_allowed_token_type"
    assert fake_slack.calls("assistant.threads.setStatus")[0].params["status"] == \
        "is thinking..."


def test_views(fake_slack: FakeSlackAPI) -> None:
    c = client(fake_slack)
    view = {"type": "modal", "callback_id": "new_job", "title": {"type": "plain_text",
                                                                 "text": "New job"},
            "blocks": BLOCKS, "private_metadata": "meta"}
    opened = c.views_open(trigger_id="trig.1", view=view)["view"]
    assert opened["id"] and opened["callback_id"] == "new_job"
    assert opened["private_metadata"] == "meta"
    updated = c.views_update(view_id=opened["id"], view={**view, "private_metadata": "m2"})
    assert updated["view"]["id"] == opened["id"]
    pushed = c.views_push(trigger_id="trig.2", view=view)["view"]
    assert pushed["id"] != opened["id"]
    assert fake_slack.calls("views.open")[0].params["view"]["blocks"] == BLOCKS
    with pytest.raises(SlackApiError):
        c.views_open(trigger_id="", view=view)


def test_response_url(fake_slack: FakeSlackAPI) -> None:
    url = fake_slack.response_url("cmd-1")
    assert WebhookClient(url).send(text="done", response_type="ephemeral").status_code == 200
    assert fake_slack.responses("cmd-1") == [{"text": "done", "response_type": "ephemeral"}]
    assert fake_slack.responses("other") == []
    fake_slack.reset()
    assert fake_slack.responses() == [] and fake_slack.calls() == []


def test_wait_for_times_out(fake_slack: FakeSlackAPI) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        fake_slack.wait_for("chat.postMessage", 1, timeout=0.2)
    assert time.monotonic() - started < 1.0


# -- bolt over HTTP (app.dispatch) ------------------------------------------------------------

def test_bolt_calls_auth_test_at_init(fake_slack: FakeSlackAPI, slack_secret: str) -> None:
    app_for(fake_slack, slack_secret)
    assert len(fake_slack.calls("auth.test")) == 1
    fake_slack.script("auth.test", error("invalid_auth"))
    with pytest.raises(Exception, match="invalid_auth"):
        app_for(fake_slack, slack_secret)


def test_signed_event_reaches_the_handler(fake_slack: FakeSlackAPI, slack_secret: str) -> None:
    app, seen = app_for(fake_slack, slack_secret), Seen()

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Callable[..., Any], request: Any) -> None:
        seen.add((event["text"], request.headers.get("x-slack-retry-num")))
        say(text="on it", thread_ts=event["ts"])

    event = app_mention("hello", user="U1", channel="C1")
    response = app.dispatch(bolt_request(event_body(event), slack_secret))
    assert response.status == 200 and response.body == ""  # acked before the handler ran
    assert seen.wait() == [("<@UBOT> hello", None)]
    assert fake_slack.wait_for("chat.postMessage")[0].params["thread_ts"] == event["ts"]
    assert fake_slack.posted()[0]["text"] == "on it"
    # A Slack retry: same body (same event_id), retry headers; bolt runs the handler again.
    retry = app.dispatch(bolt_request(event_body(event, event_id="Ev1"), slack_secret,
                                      retry_num=1))
    assert retry.status == 200 and seen.wait(2)[1] == ("<@UBOT> hello", ["1"])


def test_unsigned_or_old_requests_get_401(fake_slack: FakeSlackAPI, slack_secret: str) -> None:
    app, seen = app_for(fake_slack, slack_secret), Seen()
    app.event("app_mention")(lambda event: seen.add(event))
    body = event_body(app_mention("hi"))
    assert app.dispatch(bolt_request(body, slack_secret, signed=False)).status == 401
    old = int(time.time()) - 6 * 60
    assert app.dispatch(bolt_request(body, slack_secret, timestamp=old)).status == 401
    assert app.dispatch(bolt_request(body, "wrong-secret")).status == 401
    time.sleep(0.1)
    assert seen.items == []


def test_url_verification_and_unhandled_events(fake_slack: FakeSlackAPI,
                                               slack_secret: str) -> None:
    app = app_for(fake_slack, slack_secret)
    response = app.dispatch(bolt_request(url_verification_body("xyz"), slack_secret))
    assert response.status == 200 and json.loads(response.body) == {"challenge": "xyz"}
    # No listener for an event: bolt answers 404, and Slack would retry it.
    unhandled = app.dispatch(bolt_request(event_body(dm_message("hi")), slack_secret))
    assert unhandled.status == 404


def test_bolt_drops_its_own_bot_messages(fake_slack: FakeSlackAPI, slack_secret: str) -> None:
    app, seen = app_for(fake_slack, slack_secret), Seen()
    app.event("message")(lambda event: seen.add(event.get("subtype") or event.get("bot_id")))
    own = bot_message("my own reply", bot_id="BBOT", user="UBOT")
    assert app.dispatch(bolt_request(event_body(own), slack_secret)).status == 200
    for event in (bot_message("other bot"), thread_reply("thanks", thread_ts="1.1"),
                  message_changed("edited", ts="1.1"), message_deleted("1.1"),
                  channel_join("U2")):
        assert app.dispatch(bolt_request(event_body(event), slack_secret)).status == 200
    # The adapter sees every other one and must filter bots, edits, deletes and joins itself.
    assert sorted(map(str, seen.wait(5))) == sorted(
        ["B2", "None", "message_changed", "message_deleted", "channel_join"])


def test_slash_command_ack_and_respond(fake_slack: FakeSlackAPI, slack_secret: str) -> None:
    app, seen = app_for(fake_slack, slack_secret), Seen()

    @app.command("/jobs")
    def jobs(ack: Callable[..., Any], respond: Callable[..., Any],
             command: dict[str, Any]) -> None:
        ack("Working on it")
        respond(f"listed for {command['user_id']}: {command['text']}")
        seen.add(command)

    body = command_body("/jobs", "list", user_id="U1", channel_id="C1",
                        trigger_id="trig.9", response_url=fake_slack.response_url("c1"))
    response = app.dispatch(bolt_request(body, slack_secret))
    assert (response.status, response.body) == (200, "Working on it")  # ack(str): text/plain
    assert seen.wait()[0]["trigger_id"] == "trig.9"
    assert fake_slack.wait_for_responses(1, id="c1") == [{"text": "listed for U1: list"}]


def test_view_submission_and_block_actions(fake_slack: FakeSlackAPI,
                                           slack_secret: str) -> None:
    app, seen = app_for(fake_slack, slack_secret), Seen()

    @app.view("new_job")
    def submitted(ack: Callable[..., Any], view: dict[str, Any], body: dict[str, Any]) -> None:
        values = view["state"]["values"]
        if not values["name"]["input"]["value"]:
            ack(response_action="errors", errors={"name": "Name is required"})
            return
        ack()
        seen.add((values["name"]["input"]["value"], view["private_metadata"],
                  body["user"]["id"]))

    @app.action("approve")
    def approve(ack: Callable[..., Any], action: dict[str, Any]) -> None:
        ack()
        seen.add(action["value"])

    body = view_submission_body("new_job", {"name": {"input": "Onboarding"}}, "bot=b1", "U1")
    response = app.dispatch(bolt_request(body, slack_secret))
    assert (response.status, response.body) == (200, "")
    bad = view_submission_body("new_job", {"name": {"input": ""}}, "", "U1")
    errors = app.dispatch(bolt_request(bad, slack_secret))
    assert json.loads(errors.body) == {"response_action": "errors",
                                       "errors": {"name": "Name is required"}}
    assert app.dispatch(bolt_request(block_actions_body("approve", "yes"),
                                     slack_secret)).status == 200
    assert sorted(map(str, seen.wait(2))) == sorted(
        [str(("Onboarding", "bot=b1", "U1")), "yes"])


def test_sign_matches_slack_sdk_verifier(slack_secret: str) -> None:
    from slack_sdk.signature import SignatureVerifier

    body = command_body("/jobs", "list")
    headers = sign(body, slack_secret)
    assert SignatureVerifier(slack_secret).is_valid_request(body, headers)
    assert not SignatureVerifier(slack_secret).is_valid_request(body + "x", headers)


@pytest.fixture
def wsgi_server(fake_slack: FakeSlackAPI, slack_secret: str) -> Iterator[tuple[str, Seen]]:
    """The bolt app behind a real HTTP server (bolt's WSGI adapter on wsgiref)."""
    app, seen = app_for(fake_slack, slack_secret), Seen()
    app.event("app_mention")(lambda event: seen.add(event["text"]))
    handler = SlackRequestHandler(app)

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, handler, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/slack/events", seen
    server.shutdown()
    server.server_close()


def test_post_signed_event_over_http(wsgi_server: tuple[str, Seen], slack_secret: str) -> None:
    url, seen = wsgi_server
    body = event_body(app_mention("over http"))
    status, _, text = post(url, body, signed_headers(body, slack_secret, retry_num=2))
    assert (status, text) == (200, "")
    assert seen.wait() == ["<@UBOT> over http"]
    status, _, _ = post(url, body, {"Content-Type": "application/json"})
    assert status == 401


# -- Socket Mode ----------------------------------------------------------------------------

def test_socket_mode_event_reaches_handler_and_is_acked(
        fake_slack: FakeSlackAPI, fake_slack_socket: FakeSocketMode, slack_secret: str) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app, seen = app_for(fake_slack, slack_secret), Seen()

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Callable[..., Any], request: Any) -> None:
        # bolt maps the envelope's retry_attempt to x-slack-retry-num, "0" included.
        seen.add((event["text"], request.headers.get("x-slack-retry-num")))
        say("hi back")

    handler = SocketModeHandler(app, APP_TOKEN, web_client=client(fake_slack))
    try:
        handler.connect()
        conn = fake_slack_socket.wait_for_connection()
        assert conn.path.startswith("/link/?ticket=")
        (opened,) = fake_slack.calls("apps.connections.open")
        assert opened.token == APP_TOKEN
        envelope = fake_slack_socket.send_event(event_callback(app_mention("via socket")))
        assert fake_slack_socket.wait_for_ack(envelope) == {"envelope_id": envelope}
        assert seen.wait() == [("<@UBOT> via socket", ["0"])]
        assert fake_slack.wait_for("chat.postMessage")[0].params["text"] == "hi back"
    finally:
        started = time.monotonic()
        handler.close()
        assert time.monotonic() - started < 2.5
    fake_slack_socket.wait_for_disconnect(conn, timeout=2)


def test_socket_mode_commands_interactivity_pings_and_big_frames(
        fake_slack: FakeSlackAPI, fake_slack_socket: FakeSocketMode, slack_secret: str,
        socket_mode_handler: Callable[..., Any]) -> None:
    app, seen = app_for(fake_slack, slack_secret), Seen()
    long_text = "x" * 300  # > 125 bytes: the client's 16-bit length frames

    @app.command("/jobs")
    def jobs(ack: Callable[..., Any]) -> None:
        ack(long_text)

    @app.view("new_job")
    def submitted(ack: Callable[..., Any], view: dict[str, Any]) -> None:
        ack()
        seen.add(view["state"]["values"]["name"]["input"]["value"])

    app.event("message")(lambda event: seen.add(len(event["text"])))
    socket_mode_handler(app)

    envelope = fake_slack_socket.send_command(command_payload("/jobs", "list"))
    assert fake_slack_socket.wait_for_ack(envelope)["payload"] == {"text": long_text}
    envelope = fake_slack_socket.send_interactive(
        view_submission_payload("new_job", {"name": {"input": "Onboarding"}}))
    fake_slack_socket.wait_for_ack(envelope)
    huge = "y" * 70_000  # > 65535 bytes: a 64-bit length frame to the client
    envelope = fake_slack_socket.send_event(dm_message(huge), retry_attempt=1,
                                            retry_reason="timeout")
    fake_slack_socket.wait_for_ack(envelope)
    assert sorted(map(str, seen.wait(2))) == ["70000", "Onboarding"]
    deadline = time.monotonic() + 2
    while not fake_slack_socket.pongs() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake_slack_socket.pongs()  # the client answers the server's pings


def test_socket_mode_disconnect_message_reconnects(
        fake_slack: FakeSlackAPI, fake_slack_socket: FakeSocketMode, slack_secret: str,
        socket_mode_handler: Callable[..., Any]) -> None:
    app, seen = app_for(fake_slack, slack_secret), Seen()
    app.event("app_mention")(lambda event: seen.add(event["text"]))
    socket_mode_handler(app)
    first = fake_slack_socket.wait_for_connection(1)
    fake_slack_socket.send_disconnect()
    second = fake_slack_socket.wait_for_connection(2)
    assert second.id != first.id and len(fake_slack.calls("apps.connections.open")) == 2
    fake_slack_socket.wait_for_disconnect(first)
    envelope = fake_slack_socket.send_event(app_mention("after reconnect"))
    fake_slack_socket.wait_for_ack(envelope)
    assert seen.wait() == ["<@UBOT> after reconnect"]


def test_socket_server_refuses_foreign_tickets_and_stops_promptly(
        fake_slack: FakeSlackAPI) -> None:
    import socket

    other = FakeSocketMode().start()
    mine = FakeSocketMode(fake_slack).start()
    try:
        assert fake_slack.socket is mine
        url = other.connection_url().replace(other.url, mine.url)
        port = int(mine.url.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            path = url.split(str(port), 1)[1]
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n\r\n".encode())
            assert sock.recv(100).startswith(b"HTTP/1.1 401")
        assert mine.refused == 1 and mine.connections() == []
    finally:
        started = time.monotonic()
        mine.stop()
        other.stop()
        assert time.monotonic() - started < 1.0
    assert fake_slack.socket is None
    with pytest.raises(SlackApiError):
        client(fake_slack).apps_connections_open(app_token=APP_TOKEN)
