"""The model failing for a while: apologies, then recovery, nothing lost.

Two `chatjobs worker` processes on the session's Redis, with
CHATJOBS_MODEL_RETRIES=1 and CHATJOBS_MODEL_TIMEOUT=1, and the fake OpenAI
model down: it answers 500 to every request (the SDK retries once, then the
turn gives up). Three people keep writing, one message at a time, each after
the answer to the previous one: every message gets the apology
(`bot.turns.APOLOGY`), once, and stays pending. When the model is back, each
person's next message gets one answer that covers everything they said
during the outage, and every message of every conversation is answered.

The outage lasts `OUTAGE_S` = 10 s rather than 30 s: what happens during an
outage repeats turn by turn (each failing turn ends within about a second
with these settings), so 10 s already holds several failing turns per
person, and the suite stays within its time budget.

A second test has the model hang instead of failing: CHATJOBS_MODEL_TIMEOUT
bounds each request (as well as the turn's time left), so the apology comes
within a few seconds.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rq import Worker

from bot.turns import APOLOGY
from jobs_store.keys import turn_flag
from tests.fakes.openai_server import FakeOpenAI, Reply, Response, error, hang
from tests.faults.conftest import Processes, echo_reply, pending_texts, wait_until, worker_env
from tests.integration.agent_helpers import AppFactory, Chat

pytestmark = pytest.mark.slow

OUTAGE_S = 10.0
USERS = ("ana", "bo", "cy")
RETRIES = 1
TIMEOUT_S = 1.0


class Model:
    """Down (`failure`: an error or a hang) until `recover()`; then it echoes what it answers."""

    def __init__(self, failure: Response) -> None:
        self.failure = failure
        self.up = threading.Event()

    def recover(self) -> None:
        self.up.set()

    def __call__(self, body: dict[str, Any]) -> Response:
        if not self.up.is_set():
            return self.failure
        return Reply(echo_reply(pending_texts(body)))


def wait_for_replies(chat: Chat, n: int, what: str, processes: Processes) -> None:
    """`n` replies in the outbox, and the turn over (its flag cleared): a message sent
    while a failing turn is ending is kept for the next one, by design, not scheduled."""
    def done() -> bool:
        return (len(chat.outbox()) >= n
                and not chat.app.client.exists(turn_flag(chat.conversation_id)))
    wait_until(done, 15, what, details=processes.logs)


def start_workers(tmp_path: Path, redis_url: str, fake: FakeOpenAI,
                  processes: Processes, app_client: Any) -> None:
    processes.env = worker_env(redis_url, tmp_path, OPENAI_API_KEY="test-key",
                               OPENAI_BASE_URL=fake.base_url, OPENAI_MODEL="fake-model",
                               CHATJOBS_MODEL_RETRIES=str(RETRIES),
                               CHATJOBS_MODEL_TIMEOUT=str(TIMEOUT_S))
    processes.start("worker")
    processes.start("worker")
    wait_until(lambda: len(Worker.all(connection=app_client)) == 2, 30,
               "2 workers to register", details=processes.logs)


def test_during_a_model_outage_each_message_gets_one_apology_and_none_is_lost(
        tmp_path: Path, redis_url: str, apps: AppFactory, fake_openai: FakeOpenAI,
        processes: Processes) -> None:
    model = Model(error(500, "the model is down"))
    fake_openai.default = model
    app = apps.build(fake_openai)
    start_workers(tmp_path, redis_url, fake_openai, processes, app.rq_client)
    chats = [Chat(app, user=user) for user in USERS]

    began = time.monotonic()
    batches = 0
    while batches < 2 or time.monotonic() - began < OUTAGE_S:
        batches += 1
        for chat in chats:
            assert chat.say(f"{chat.user} {batches}")
        for chat in chats:
            wait_for_replies(chat, batches, f"{chat.user}'s apology for batch {batches}",
                             processes)
    outage_requests = len(fake_openai.chat_requests)
    model.recover()
    outage_s = time.monotonic() - began

    for chat in chats:
        apologies = chat.outbox()
        assert len(apologies) == batches, f"{chat.user}: {apologies}"
        assert all(text.startswith(APOLOGY) for text in apologies), apologies
        state = chat.state()
        assert (state.received, state.answered) == (batches, 0), "the messages are kept"
    # Each failing turn asked the model 1 + CHATJOBS_MODEL_RETRIES times, no more.
    assert outage_requests == len(USERS) * batches * (1 + RETRIES)

    recovered = time.monotonic()
    for chat in chats:
        assert chat.say(f"{chat.user} {batches + 1}")
    for chat in chats:
        wait_for_replies(chat, batches + 1, f"{chat.user}'s answer after the outage",
                         processes)
    answered_s = time.monotonic() - recovered

    for chat in chats:
        said = [f"{chat.user} {n}" for n in range(1, batches + 2)]
        assert chat.outbox()[-1] == echo_reply(said), chat.outbox()
        state = chat.state()
        assert state.received == state.answered == batches + 1, "something was left pending"
    assert [p.poll() for p in processes.procs] == [None, None], processes.logs()
    print(f"\nmodel down {outage_s:.1f}s: {batches} apologies per person; after it came back "
          f"every person was answered within {answered_s:.1f}s")


def test_a_hanging_model_gets_the_apology_within_the_model_timeout_then_recovers(
        tmp_path: Path, redis_url: str, apps: AppFactory, fake_openai: FakeOpenAI,
        processes: Processes) -> None:
    model = Model(hang())
    fake_openai.default = model
    app = apps.build(fake_openai)
    start_workers(tmp_path, redis_url, fake_openai, processes, app.rq_client)
    chat = Chat(app)

    asked = time.monotonic()
    assert chat.say("hello?")
    # 1 + RETRIES requests of TIMEOUT_S each, the SDK's backoff between them, and slack.
    bound = (1 + RETRIES) * TIMEOUT_S + 2 * RETRIES + 3

    def apologized() -> bool:
        return bool(chat.outbox()) and not app.client.exists(turn_flag(chat.conversation_id))

    try:
        wait_until(apologized, bound, "the apology")
    except AssertionError:
        times = [round(r.time - asked, 1) for r in fake_openai.chat_requests]
        raise AssertionError(
            f"no apology {bound:.0f}s after the message with CHATJOBS_MODEL_TIMEOUT="
            f"{TIMEOUT_S:g} and CHATJOBS_MODEL_RETRIES={RETRIES}: the model was asked at "
            f"{times} s and the first request is still waiting") from None
    apology_s = time.monotonic() - asked
    assert chat.outbox()[0].startswith(APOLOGY)

    model.recover()
    assert chat.say("anyone?")
    wait_until(lambda: len(chat.outbox()) == 2, 15, "the answer after recovery")
    assert chat.outbox()[1] == "answered: hello? | anyone?"
    assert chat.state().answered == chat.state().received == 2
    print(f"\nhanging model: apology after {apology_s:.1f}s")
