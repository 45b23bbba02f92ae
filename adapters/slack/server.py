"""Serving the Slack app: HTTP (Events API, commands, interactivity) and Socket Mode.

HTTP mode is bolt's WSGI adapter on the standard library's WSGI server with
a thread per request (`socketserver.ThreadingMixIn`), so one slow request
never holds up the others' acks. Everything Slack sends comes to
`POST /slack/events`; `GET /healthz` answers 200 for load balancers; anything
else is 404.
"""

from __future__ import annotations

import logging
import socket
import socketserver
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler

from config.errors import ConfigError
from config.settings import Settings

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request; threads never block shutdown."""

    daemon_threads = True
    # Slack may open many connections at once (bursts, retries).
    request_queue_size = 128

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        # wsgiref writes the head and the body separately: without this, Nagle's
        # algorithm holds the body until the client's delayed ACK, ~40 ms later.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to our logger at DEBUG instead of stderr."""

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s - " + format, self.address_string(), *args)


class SlackWSGI:
    """The WSGI app: bolt at /slack/events, plus a health check."""

    def __init__(self, app: App) -> None:
        self._bolt = SlackRequestHandler(app, path=EVENTS_PATH)

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok"]
        return self._bolt(environ, start_response)


def wsgi_app(app: App) -> SlackWSGI:
    """The WSGI callable, for running the app under another WSGI server (e.g. gunicorn)."""
    return SlackWSGI(app)


def serve_http(app: App, host: str, port: int) -> ThreadingWSGIServer:
    """A bound, not yet serving, HTTP server for the app (port 0: any free port).

    Call `serve_forever()` (blocks; run it on a thread to do other things),
    then `shutdown()` from another thread and `server_close()`. The bound
    port is `server.server_port`.
    """
    server = make_server(host, port, wsgi_app(app), server_class=ThreadingWSGIServer,
                         handler_class=_QuietHandler)
    assert isinstance(server, ThreadingWSGIServer)
    log.info("slack events at http://%s:%d%s", host, server.server_port, EVENTS_PATH)
    return server


def start_socket_mode(app: App, settings: Settings) -> SocketModeHandler:
    """Connect the app to Slack over Socket Mode (SLACK_APP_TOKEN), without blocking.

    The socket client asks `apps.connections.open` through the app's own Web
    API client, so `SLACK_API_URL` applies. Stop it with `handler.close()`.
    """
    if settings.slack_app_token is None:
        raise ConfigError("SLACK_APP_TOKEN: required for Socket Mode")
    handler = SocketModeHandler(app, app_token=settings.slack_app_token.get_secret_value(),
                                web_client=app.client)
    handler.connect()
    log.info("slack socket mode connected")
    return handler
