"""Ingress: dedupe, one queued turn per conversation, nothing lost in a burst.

Messages go through the real `Ingress` into the line of turns, with a runner on the
real RQ `turns` queue; turns run on a real RQ worker (burst mode, in this process)
against the fake OpenAI server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.integration.agent_helpers import AppFactory, Chat, turn_jobs, work
from workers.queues import waiting_turns


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()


def user_texts(request: object) -> list[str]:
    return [m["content"] for m in request.json["messages"]  # type: ignore[attr-defined]
            if m["role"] == "user"]


def test_a_second_delivery_of_the_same_message_gets_no_second_turn_or_reply(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = Chat(apps.build(fake_openai))
    fake_openai.script("Hello Ana!")

    assert chat.say("hello", message_id="Ev042") is True
    assert chat.say("hello", message_id="Ev042") is False  # the platform's retry
    assert turn_jobs(chat.app)["queued"] == 1
    work(chat.app)
    assert chat.say("hello", message_id="Ev042") is False  # a late retry, after the answer
    work(chat.app)

    assert chat.outbox() == ["Hello Ana!"]
    assert len(fake_openai.chat_requests) == 1
    assert user_texts(fake_openai.chat_requests[0]) == ["hello"]
    state = chat.state()
    assert (state.received, state.answered) == (1, 1)
    assert turn_jobs(chat.app) == {"queued": 0, "finished": 1, "failed": 0, "scheduled": 0}


def test_message_ids_are_only_duplicates_within_their_workspace(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = apps.build(fake_openai)
    ana, ben = Chat(app, "ana"), Chat(app, "ben")
    message = ben.message("hi", message_id="1001")

    assert ana.say("hi", message_id="1001")
    assert app.ingress.accept(message.model_copy(update={"workspace": "T2"}))
    assert not app.ingress.accept(message.model_copy(update={"workspace": "T2"}))


def test_ingress_remembers_who_wrote(apps: AppFactory, fake_openai: FakeOpenAI) -> None:
    chat = Chat(apps.build(fake_openai))

    chat.say("hello")

    assert chat.app.contacts.get("console:local:ana") == chat.contact


def test_a_burst_while_a_turn_is_queued_enqueues_one_job_and_is_answered_together(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = Chat(apps.build(fake_openai))
    fake_openai.script("Got all five.")
    burst = [f"part {n} of my question" for n in range(1, 6)]

    for text in burst:
        assert chat.say(text)

    assert turn_jobs(chat.app)["queued"] == 1
    work(chat.app)
    [request] = fake_openai.chat_requests
    assert user_texts(request) == burst
    assert chat.outbox() == ["Got all five."]
    state = chat.state()
    assert (state.received, state.answered) == (5, 5)
    assert turn_jobs(chat.app)["finished"] == 1


def test_a_message_arriving_during_a_turn_is_answered_by_the_same_turn_job(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = Chat(apps.build(fake_openai))
    answers = iter(["First answer.", "Second answer."])

    def model(body: dict[str, object]) -> Reply:
        if len(fake_openai.chat_requests) == 1:  # while the first turn waits for the model
            assert chat.say("and one more thing")
        return Reply(next(answers))

    fake_openai.default = model
    chat.say("first question")
    work(chat.app)

    assert chat.outbox() == ["First answer.", "Second answer."]
    assert user_texts(fake_openai.chat_requests[1])[-1] == "and one more thing"
    state = chat.state()
    assert (state.received, state.answered) == (2, 2)
    # One RQ job answered both: the second message did not queue another.
    assert turn_jobs(chat.app) == {"queued": 0, "finished": 1, "failed": 0, "scheduled": 0}


def test_a_message_after_the_turn_is_done_queues_the_next_turn(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = Chat(apps.build(fake_openai))
    fake_openai.script("One.", "Two.")

    assert chat.ask("first") == "One."
    assert chat.say("second")
    assert turn_jobs(chat.app)["queued"] == 1
    work(chat.app)

    assert chat.next_reply() == "Two."
    assert turn_jobs(chat.app)["finished"] == 2
    assert chat.state().answered == 2


def test_each_conversation_gets_its_own_turn(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = apps.build(fake_openai)
    ana, ben = Chat(app, "ana"), Chat(app, "ben")
    fake_openai.default = lambda body: Reply(f"hi {body['messages'][-1]['content']}")

    ana.say("from ana")
    ben.say("from ben")
    ana.say("ana again")

    # Both conversations wait in line, in order, for one runner (no worker runs yet).
    assert app.client.zrange(waiting_turns(), 0, -1) == [ana.conversation_id,
                                                         ben.conversation_id]
    assert turn_jobs(app)["queued"] == 1
    work(app)
    assert ana.outbox() == ["hi ana again"]
    assert ben.outbox() == ["hi from ben"]
