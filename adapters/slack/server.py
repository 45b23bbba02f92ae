"""Serving the Slack app: HTTP (Events API, commands, interactivity) and Socket Mode.

HTTP mode is bolt's WSGI adapter on the standard library's WSGI server, its
connections handed to a bounded pool of threads (`HTTP_THREADS`): a slow
request (users.info for someone new) does not hold up the others' acks, and
a burst does not pay for a new thread per request. With one GIL per process
the server's own CPU per request is part of every ack's floor under a burst:
on a trivial WSGI app, reusing threads cut it from about 0.5 to 0.2 ms, and
the bench's acks cost about a third less CPU on 4 threads than on 16 (each
Redis round trip hands the GIL to another thread). 8 threads leave room for
the slow requests: slash commands and modals call Slack's Web API.
(bench/slack_ack.py measures the app and a trivial one on this server class.)

No WSGI server from PyPI is used: the pure-Python ones (waitress, cheroot)
parse in Python as wsgiref does, the pre-fork ones (gunicorn) own the
process, and the native ones need a compiler (bjoern) or run their own
worker processes (granian), whereas `chatjobs serve` runs the app in its own
process (with the worker and scheduler, in the embedded default). To run
under one of them anyway, serve `wsgi_app(app)`.

Everything Slack sends comes to `POST /slack/events`; `GET /healthz` answers
200 for load balancers; anything else is 404.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
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


#: Threads serving HTTP requests, per process: enough to overlap the slow requests
#: (Web API calls); more only hand the GIL around more during a burst.
HTTP_THREADS = 8


class PooledWSGIServer(WSGIServer):
    """wsgiref's server handing each connection to a pool of `HTTP_THREADS` threads."""

    # Slack may open many connections at once (bursts, retries).
    request_queue_size = 128

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool = ThreadPoolExecutor(max_workers=HTTP_THREADS,
                                        thread_name_prefix="slack-http")

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        # wsgiref writes the head and the body separately: without this, Nagle's
        # algorithm holds the body until the client's delayed ACK, ~40 ms later.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address

    def process_request(self, request: Any, client_address: Any) -> None:
        self._pool.submit(self.process_request_thread, request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection on a pool thread (as `socketserver.ThreadingMixIn`)."""
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to our logger at DEBUG instead of stderr."""

    # A client that stops sending mid-request gives its pool thread back after this.
    timeout = 10

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


def serve_http(app: App, host: str, port: int) -> PooledWSGIServer:
    """A bound, not yet serving, HTTP server for the app (port 0: any free port).

    Call `serve_forever()` (blocks; run it on a thread to do other things),
    then `shutdown()` from another thread and `server_close()`. The bound
    port is `server.server_port`.
    """
    server = make_server(host, port, wsgi_app(app), server_class=PooledWSGIServer,
                         handler_class=_QuietHandler)
    assert isinstance(server, PooledWSGIServer)
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
