"""One agent turn (`bot.turns.answer_pending` run by `workers.turns.run_turn`).

Real stores on the session's Redis, the real RQ worker in burst mode, the
openai SDK against the fake server; what is checked is what the person sees
(the console outbox, a recording `Sender`) and what admins see (`/jobs stats`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis

from bot.llm.offline import NO_JOBS_TEXT
from bot.prompt import JOB_HEADING
from bot.turns import APOLOGY
from tests.fakes.openai_server import FakeOpenAI, Reply, error, reply, tool_call
from tests.integration.agent_helpers import (
    AppFactory,
    Chat,
    RecordingSender,
    admin,
    stats_rows,
    turn_jobs,
    work,
)

FAIL = [error(500, retry_after=0.01)] * 2  # one more than the SDK's retries (1 here)


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()


def user_texts(request: Any) -> list[str]:
    return [m["content"] for m in request.json["messages"] if m["role"] == "user"]


def system_of(request: Any) -> str:
    return str(request.json["messages"][0]["content"])


def echo(body: dict[str, Any]) -> Reply:
    last = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
    return Reply(f"reply to: {last}")


def test_a_turn_records_the_jobs_it_offered_and_follows_the_best_one(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = apps.build(fake_openai)
    for key in ("take-message", "reset-password"):
        admin(app, f"create template={key}")
    chat = Chat(app)

    chat.ask("I forgot my password")

    rows = stats_rows(app)
    assert (rows["Reset a password"]["chats"], rows["Reset a password"]["offered"]) == ("1", "1")
    assert rows["Take a message"]["chats"] == "0"  # only named, not offered
    assert chat.state().active_job == app.stores.jobs.get("Reset a password").id
    assert admin(app, "gaps").title.startswith("No unmatched questions")


@pytest.mark.parametrize(("script", "shown"), [
    ([reply("")], "Sorry, I have no answer."),
    ([tool_call("escalate", {"reason": "x"}), reply("")], "Done."),
])
def test_a_model_that_says_nothing_still_gets_the_person_an_answer(
    apps: AppFactory, fake_openai: FakeOpenAI, script: list[Any], shown: str
) -> None:
    chat = Chat(apps.build(fake_openai))
    fake_openai.script(*script)

    assert chat.ask("hello") == shown
    assert chat.state().answered == 1


def test_every_failed_turn_apologizes_once_and_loses_nothing(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = Chat(apps.build(fake_openai, chatjobs_model_retries=1))
    fake_openai.script(*FAIL, *FAIL, reply("All three, answered."))

    first = chat.ask("one")
    second = chat.ask("two")
    third = chat.ask("three")

    # Without jobs the apology's offline hint says how to add some.
    assert first == second == f"{APOLOGY}\n\nMeanwhile: {NO_JOBS_TEXT}"
    assert third == "All three, answered."
    assert user_texts(fake_openai.chat_requests[-1]) == ["one", "two", "three"]
    assert chat.outbox() == []
    state = chat.state()
    assert (state.received, state.answered) == (3, 3)
    assert turn_jobs(chat.app)["failed"] == 0


def test_the_working_state_is_cleared_when_the_model_fails(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    sender = RecordingSender()
    chat = Chat(apps.build(fake_openai, senders={"console": sender},
                           chatjobs_model_retries=1))
    fake_openai.script(*FAIL)

    chat.say("hello", message_id="M7")
    work(chat.app)

    assert sender.working_states == [("M7", True), ("M7", False)]
    [(_, text)] = sender.replies
    assert text.startswith(APOLOGY)


def test_a_bot_that_claims_the_channel_answers_with_its_persona_model_and_live_jobs(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = apps.build(fake_openai)
    for key in ("take-message", "reset-password"):
        admin(app, f"create template={key}")
    admin(app, 'create name=Sales channels=dm-ana model=fake-sales-model '
               'persona="You are the Acme sales desk."', group="bots")
    admin(app, 'attach "Take a message" bot=Sales')
    admin(app, "publish bot=Sales")

    Chat(app, "ana").ask("I forgot my password, and please take a message")
    Chat(app, "ben").ask("I forgot my password, and please take a message")

    sales, default = fake_openai.chat_requests
    assert system_of(sales).startswith("You are the Acme sales desk.")
    assert sales.json["model"] == "fake-sales-model"
    assert [m["name"] for m in JOB_HEADING.finditer(system_of(sales))] == ["Take a message"]
    assert "Reset a password" not in system_of(sales)
    assert default.json["model"] == "fake-model"
    assert {m["name"] for m in JOB_HEADING.finditer(system_of(default))} == {
        "Take a message", "Reset a password"}


def test_a_message_arriving_while_the_model_answers_is_answered_next_once(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    # The turn reads the counters and the history together; what lands after that read
    # is answered by the next round of the same job, once.
    chat = Chat(apps.build(fake_openai))
    arrived: list[str] = []

    def answer(body: dict[str, Any]) -> Reply:
        if not arrived:
            arrived.append("second")
            chat.say("second")
        return echo(body)

    fake_openai.default = answer
    chat.say("first")
    work(chat.app)

    assert chat.outbox() == ["reply to: first", "reply to: second"]
    assert len(fake_openai.chat_requests) == 2
    assert chat.state().answered == chat.state().received == 2
