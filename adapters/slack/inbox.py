"""Slack's Events API deliveries, acked once kept: the event inbox.

Slack wants its 200 within 3 s. Under a burst, one process acks only as fast
as its GIL lets it run each request's work, so the inbox moves that work after
the ack. The HTTP handler only verifies the signature (slack_sdk's
`SignatureVerifier`, as bolt does), appends the raw event to a Redis stream
(`cj:slack:inbox`) and answers 200. Consumer threads of every `chatjobs serve`
process then hand each event to the bolt app the way Socket Mode delivers one
(already verified), so the listeners, ingress's dedupe and the turn run after
the ack. Slash commands, interactivity and the URL check are answered by bolt
inline, as before: their answer is the response.

- Kept, then acked: if Redis is down the append fails, Slack gets a 500 and
  retries the event later.
- At least once: an event leaves the stream only once bolt handled it. One
  left behind by a process that stopped or died is claimed by any serve
  process after `CLAIM_IDLE_S`. Handling an event twice is harmless: ingress
  drops a message it has seen, as it drops Slack's own retries.
- In order per channel: in a process, the events of one channel go to one
  lane (a thread) and are handled one after another; other channels' events
  meanwhile run on the other lanes, so one slow users.info call holds up only
  its own lane. (With several serve processes, each reads its share, so two
  events of a channel that arrive together may be handled at once, as two
  deliveries could be before the inbox.)
- Acks first: in a process serving HTTP, the lanes wait while the server has a
  request in hand (up to `DEFER_S`), so a burst is acked before its events are
  handled: with one GIL, the handling would otherwise slow every ack down.
- An event bolt fails on `MAX_ATTEMPTS` times is logged (event id, type,
  team) and moved to `cj:slack:inbox:failed` (the latest 1,000), no longer
  retried; an operator can read it there (`XRANGE`).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from redis import Redis
from redis.exceptions import RedisError, ResponseError
from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

INBOX_KEY = "cj:slack:inbox"
FAILED_KEY = "cj:slack:inbox:failed"
FAILED_KEPT = 1_000
#: The consumer group every serve process reads the inbox in.
GROUP = "serve"

#: Threads handling events. Each handles one channel's events in order; more
#: mostly compete with the acks for the GIL during bursts.
LANES = 5
#: An event handed out this long ago and not handled is taken over (a process
#: that stopped or died); longer than any one event's handling.
CLAIM_IDLE_S = 30.0
#: How often a process looks for such events.
CLAIM_EVERY_S = 10.0
MAX_ATTEMPTS = 5
#: Events read ahead of the lanes, at most.
READ_AHEAD = 200
#: How long one read waits for new events (also how soon `stop` is noticed).
READ_BLOCK_MS = 500
#: How long an event read from the inbox may wait for a moment without acks in hand.
DEFER_S = 1.0
#: Such a moment counts once it has lasted this long: a burst's requests arrive
#: over a few ms, with short gaps between them that are not its end.
SETTLE_S = 0.005
#: Pause after Redis refused or dropped a call, doubling up to `MAX_PAUSE_S`.
FIRST_PAUSE_S = 0.2
MAX_PAUSE_S = 5.0


_inboxes = itertools.count(1)


class EventInbox:
    """Keeps verified event deliveries (`take`), and hands them to the bolt app.

    `start()` runs the consumer (a reader thread and `lanes` lane threads);
    `stop()` ends it: events in hand are finished, the rest stay in the stream
    for the next consumer.
    """

    def __init__(self, redis: Redis, app: App, *, signing_secret: str, lanes: int = LANES,
                 claim_idle_s: float = CLAIM_IDLE_S, claim_every_s: float = CLAIM_EVERY_S,
                 max_attempts: int = MAX_ATTEMPTS, defer_s: float = DEFER_S) -> None:
        self._redis = redis
        self._app = app
        self._verifier = SignatureVerifier(signing_secret)
        self._lanes = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"slack-lane{i}")
                       for i in range(lanes)]
        self._claim_idle_ms = int(claim_idle_s * 1000)
        self._claim_every_s = claim_every_s
        self._max_attempts = max_attempts
        self._defer_s = defer_s
        #: Its consumer name in the group: the host and process, and which inbox of it.
        self.name = f"{socket.gethostname()}:{os.getpid()}:{next(_inboxes)}"
        self._room = threading.BoundedSemaphore(READ_AHEAD)
        self._in_hand: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self._quiet: threading.Event | None = None

    def defer_to(self, quiet: threading.Event) -> None:
        """Handle events only while `quiet` is set (no ack in hand), or once they
        have waited `defer_s`: with one GIL per process, work done beside a burst
        of acks is added to every ack's wait, while Slack waits for none of it."""
        self._quiet = quiet

    # --- the ack side: an HTTP handler thread -----------------------------------------------

    def take(self, body: bytes, *, timestamp: str, signature: str) -> int | None:
        """The HTTP status for a delivery, once kept; None for what bolt answers itself.

        401 for a bad or stale signature; 200 once an `event_callback` is in the
        stream; None for anything else (the URL check, `ssl_check`): bolt answers
        those inline. Raises `RedisError` when the event could not be kept.
        """
        if not self._verifier.is_valid(body, timestamp, signature):
            return 401
        text = body.decode("utf-8", errors="replace")
        try:
            kind = json.loads(text).get("type")
        except (ValueError, AttributeError):
            return None  # not an event: bolt says what is wrong with it
        if kind != "event_callback":
            return None
        self._redis.xadd(INBOX_KEY, {"body": text})
        return 200

    def waiting(self) -> int:
        """Events kept and not handled yet (by any process)."""
        return int(self._redis.xlen(INBOX_KEY))

    # --- the consumer ---------------------------------------------------------------------

    def start(self) -> None:
        """Start handling the inbox on threads of this process."""
        self._stop.clear()
        self._reader = threading.Thread(target=self._run, name="slack-inbox", daemon=True)
        self._reader.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop reading; wait (bounded) for the events in hand."""
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout)
        for lane in self._lanes:
            lane.shutdown(wait=True, cancel_futures=True)
        try:
            if not self._redis.xpending_range(INBOX_KEY, GROUP, min="-", max="+", count=1,
                                              consumername=self.name):
                self._redis.xgroup_delconsumer(INBOX_KEY, GROUP, self.name)
        except RedisError:
            pass  # its pending events, if any, are claimed by the others

    def _run(self) -> None:
        pause = FIRST_PAUSE_S
        claimed_at = 0.0
        grouped = False
        while not self._stop.is_set():
            try:
                if not grouped:
                    self._ensure_group()
                    grouped = True
                now = time.monotonic()
                if now - claimed_at >= self._claim_every_s:
                    claimed_at = now
                    self._claim()
                if self._read() < READ_AHEAD and self._quiet is not None:
                    self._quiet.wait(self._defer_s)  # no backlog: wake up after a burst's acks
                pause = FIRST_PAUSE_S
            except RedisError as exc:
                if isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
                    grouped = False  # Redis lost the group (flushed, or restarted empty)
                    continue
                log.warning("slack inbox: Redis call failed (%s); trying again in %.1f s",
                            exc, pause)
                self._stop.wait(pause)
                pause = min(pause * 2, MAX_PAUSE_S)
            except Exception:
                log.exception("slack inbox: reading failed")
                self._stop.wait(pause)

    def _ensure_group(self) -> None:
        try:
            self._redis.xgroup_create(INBOX_KEY, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _read(self) -> int:
        """Hand new events to the lanes; how many there were."""
        answer: Any = self._redis.xreadgroup(GROUP, self.name, {INBOX_KEY: ">"},
                                             count=READ_AHEAD, block=READ_BLOCK_MS)
        entries = [entry for _, stream in answer or [] for entry in stream]
        for entry_id, fields in entries:
            self._submit(entry_id, fields)
        return len(entries)

    def _claim(self) -> None:
        """Take over events another consumer was handed and never handled."""
        pending: Any = self._redis.xpending_range(INBOX_KEY, GROUP, min="-", max="+",
                                                  count=READ_AHEAD, idle=self._claim_idle_ms)
        with self._lock:
            stuck = [(str(p["message_id"]), int(p["times_delivered"])) for p in pending
                     if p["message_id"] not in self._in_hand]
        for entry_id, tries in stuck:
            if tries >= self._max_attempts:
                self._give_up(entry_id, None, f"failed {tries} times")
        retry: list[Any] = [entry_id for entry_id, tries in stuck
                            if tries < self._max_attempts]
        if retry:
            claimed: Any = self._redis.xclaim(INBOX_KEY, GROUP, self.name,
                                              self._claim_idle_ms, retry)
            for entry_id, fields in claimed:
                self._submit(entry_id, fields)

    def _submit(self, entry_id: str, fields: dict[str, str] | None) -> None:
        if not fields:  # deleted meanwhile: handled by someone else
            self._done(entry_id)
            return
        body = fields.get("body", "")
        try:
            payload: dict[str, Any] = json.loads(body)
            channel = str((payload.get("event") or {}).get("channel") or "")
        except (ValueError, AttributeError):
            self._give_up(entry_id, body, "is not an event")
            return
        while not self._room.acquire(timeout=READ_BLOCK_MS / 1000):
            if self._stop.is_set():
                return  # left pending: claimed later
        with self._lock:
            self._in_hand.add(entry_id)
        lane = self._lanes[zlib.crc32(channel.encode()) % len(self._lanes)]
        try:
            lane.submit(self._handle, entry_id, payload, time.monotonic() + self._defer_s)
        except RuntimeError:  # stopping: the lane is shut
            self._release(entry_id)

    def _handle(self, entry_id: str, payload: dict[str, Any], deferred_until: float) -> None:
        self._wait_for_lull(deferred_until)
        try:
            response = self._app.dispatch(BoltRequest(body=payload, mode="socket_mode"))
            if response.status >= 500:
                log.warning("slack event %s (%s) failed: %s; trying again in %.0f s",
                            payload.get("event_id"), _kind(payload), response.body,
                            self._claim_idle_ms / 1000)
            else:  # 404: no listener for that event type, nothing to do
                self._done(entry_id)
        except RedisError as exc:
            log.warning("slack event %s: Redis call failed (%s); trying again in %.0f s",
                        payload.get("event_id"), exc, self._claim_idle_ms / 1000)
        except Exception:
            log.exception("slack event %s (%s) failed", payload.get("event_id"), _kind(payload))
        finally:
            self._release(entry_id)

    def _wait_for_lull(self, until: float) -> None:
        """Until the server has had no request in hand for `SETTLE_S` (see `defer_to`)."""
        quiet = self._quiet
        while quiet is not None and (left := until - time.monotonic()) > 0:
            if not quiet.wait(left):
                return
            time.sleep(SETTLE_S)
            if quiet.is_set():
                return

    def _release(self, entry_id: str) -> None:
        with self._lock:
            self._in_hand.discard(entry_id)
        self._room.release()

    def _done(self, entry_id: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.xack(INBOX_KEY, GROUP, entry_id)
        pipe.xdel(INBOX_KEY, entry_id)
        pipe.execute()

    def _give_up(self, entry_id: str, body: str | None, why: str) -> None:
        """Move an event to `FAILED_KEY` (its body read from the inbox unless given)."""
        if body is None:
            found: Any = self._redis.xrange(INBOX_KEY, min=entry_id, max=entry_id)
            body = str(found[0][1].get("body", "")) if found else ""
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        log.error("slack event %s (%s, team %s) %s; kept in %s, not retried",
                  payload.get("event_id"), _kind(payload), payload.get("team_id"), why,
                  FAILED_KEY)
        pipe = self._redis.pipeline(transaction=True)
        pipe.xadd(FAILED_KEY, {"body": body, "id": entry_id}, maxlen=FAILED_KEPT,
                  approximate=True)
        pipe.xack(INBOX_KEY, GROUP, entry_id)
        pipe.xdel(INBOX_KEY, entry_id)
        pipe.execute()


def _kind(payload: dict[str, Any]) -> str:
    event = payload.get("event") or {}
    return str(event.get("type", "?")) if isinstance(event, dict) else "?"
