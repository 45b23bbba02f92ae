"""Serving the Slack app: HTTP (Events API, commands, interactivity) and Socket Mode.

HTTP mode is bolt's WSGI adapter on the standard library's WSGI server, its
connections handed to a bounded pool of threads (`HTTP_THREADS`), so a burst
does not pay for a new thread per request. With an `EventInbox` (as `chatjobs
serve` runs it), Events API deliveries skip bolt: they are verified, kept in
Redis and acked, and handled after (`adapters.slack.inbox`); the server tells
the inbox when no request is in hand (`PooledWSGIServer.quiet`), so that work
waits for a burst's acks instead of slowing them down.

With one GIL per process, the server's own CPU per request is part of every
ack's floor under a burst: on a trivial WSGI app, reusing threads cut it from
about 0.5 to 0.2 ms, and each thread more hands the GIL around more (each Redis
round trip lets another thread in). 4 threads ack a burst of 50 events faster
than 8 in bench/slack_ack.py and still leave room for the slow requests: slash
commands and modals call Slack's Web API before they answer.

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

import io
import logging
import socket
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from redis.exceptions import RedisError
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler

from adapters.slack.inbox import EventInbox
from config.errors import ConfigError
from config.settings import Settings

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


#: Threads serving HTTP requests, per process: enough to overlap the slow requests
#: (commands' Web API calls); more only hand the GIL around more during a burst.
HTTP_THREADS = 4


class PooledWSGIServer(WSGIServer):
    """wsgiref's server handing each connection to a pool of `HTTP_THREADS` threads."""

    # Slack may open many connections at once (bursts, retries).
    request_queue_size = 128

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool = ThreadPoolExecutor(max_workers=HTTP_THREADS,
                                        thread_name_prefix="slack-http")
        #: Set while no request is in hand: the inbox handles events then.
        self.quiet = threading.Event()
        self.quiet.set()
        self._in_hand = 0
        self._count = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        # wsgiref writes the head and the body separately: without this, Nagle's
        # algorithm holds the body until the client's delayed ACK, ~40 ms later.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._count:
            self._in_hand += 1
            self.quiet.clear()
        self._pool.submit(self.process_request_thread, request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Serve one connection on a pool thread (as `socketserver.ThreadingMixIn`)."""
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._count:
                self._in_hand -= 1
                if not self._in_hand:
                    self.quiet.set()

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
    """The WSGI app: bolt at /slack/events, plus a health check.

    With an `inbox`, Events API deliveries (JSON bodies) are verified and kept
    there, and acked without bolt (see `adapters.slack.inbox`); everything
    else goes to bolt.
    """

    def __init__(self, app: App, inbox: EventInbox | None = None) -> None:
        self._bolt = SlackRequestHandler(app, path=EVENTS_PATH)
        self._inbox = inbox

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == HEALTH_PATH and method == "GET":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok"]
        inbox = self._inbox
        if (inbox is not None and path == EVENTS_PATH and method == "POST"
                and str(environ.get("CONTENT_TYPE", "")).startswith("application/json")):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            status = _keep(inbox, body, environ)
            if status is not None:
                start_response(_STATUS[status], [("Content-Type", "application/json"),
                                                 ("Content-Length", str(len(_BODY[status])))])
                return [_BODY[status]]
            environ["wsgi.input"] = io.BytesIO(body)  # bolt reads it again
        return self._bolt(environ, start_response)


def _keep(inbox: EventInbox, body: bytes, environ: WSGIEnvironment) -> int | None:
    """The inbox's answer to a delivery (see `EventInbox.take`); 500 if Redis failed."""
    try:
        return inbox.take(body, timestamp=environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "0"),
                          signature=environ.get("HTTP_X_SLACK_SIGNATURE", ""))
    except RedisError as exc:
        log.warning("slack event not kept, Slack will send it again: Redis %s", exc)
        return 500


_STATUS = {200: "200 OK", 401: "401 Unauthorized", 500: "500 Internal Server Error"}
_BODY = {200: b"", 401: b'{"error": "invalid request"}',
         500: b'{"error": "could not keep the event; send it again"}'}


def wsgi_app(app: App, inbox: EventInbox | None = None) -> SlackWSGI:
    """The WSGI callable, for running the app under another WSGI server (e.g. gunicorn).

    With an `inbox`, start it (`inbox.start()`) in each process that serves.
    """
    return SlackWSGI(app, inbox)


def serve_http(app: App, host: str, port: int, *,
               inbox: EventInbox | None = None) -> PooledWSGIServer:
    """A bound, not yet serving, HTTP server for the app (port 0: any free port).

    Call `serve_forever()` (blocks; run it on a thread to do other things),
    then `shutdown()` from another thread and `server_close()`. The bound
    port is `server.server_port`. With an `inbox` (which the caller starts
    and stops), events are acked once kept there.
    """
    server = make_server(host, port, wsgi_app(app, inbox), server_class=PooledWSGIServer,
                         handler_class=_QuietHandler)
    assert isinstance(server, PooledWSGIServer)
    if inbox is not None:
        inbox.defer_to(server.quiet)
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
