"""The agent loop's limits: iterations and time, with the real SDK against the fake server."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import openai
import pytest
import redis

from bot.agent import LIMIT_REPLY, run_agent
from bot.llm.base import ToolCall
from bot.llm.openai_chat import OpenAIChat
from bot.tools import TURN_TOOLS
from bot.turns import APOLOGY
from tests.fakes.openai_server import FakeOpenAI, reply, slow, tool_call, tool_calls
from tests.integration.agent_helpers import AppFactory, Chat, turn_jobs, work

LOOKING = tool_call("escalate", {"reason": "still looking"})


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()


def test_a_model_that_always_calls_a_tool_stops_at_the_iteration_limit(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = Chat(apps.build(fake_openai, chatjobs_turn_max_iterations=3))
    fake_openai.default = lambda body: LOOKING

    assert chat.ask("help me") == LIMIT_REPLY

    assert len(fake_openai.chat_requests) == 3
    assert chat.state().received == chat.state().answered == 1
    assert chat.outbox() == []
    assert turn_jobs(chat.app)["failed"] == 0


def test_at_the_iteration_limit_the_person_gets_the_models_last_words(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = Chat(apps.build(fake_openai, chatjobs_turn_max_iterations=3))
    count = itertools.count(1)
    fake_openai.default = lambda body: tool_calls(
        [("escalate", {"reason": "looking"})], text=f"Still checking ({next(count)})")

    assert chat.ask("help me") == "Still checking (3)"
    assert len(fake_openai.chat_requests) == 3


def test_the_tool_exchange_goes_back_to_the_model_each_round(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = Chat(apps.build(fake_openai))
    fake_openai.script(tool_call("escalate", {"reason": "a person is needed"}, id="call_A"),
                       reply("No one can take over right now, sorry."))

    assert chat.ask("I want a human") == "No one can take over right now, sorry."

    _, second = fake_openai.chat_requests
    call, result = second.json["messages"][-2:]
    assert call["role"] == "assistant"
    assert call["tool_calls"][0]["id"] == "call_A"
    assert call["tool_calls"][0]["function"]["name"] == "escalate"
    assert result["role"] == "tool" and result["tool_call_id"] == "call_A"


def test_a_slow_model_stops_at_the_time_limit(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = Chat(apps.build(fake_openai, chatjobs_turn_max_seconds=0.3,
                           chatjobs_turn_max_iterations=10))
    fake_openai.script(slow(0.5, LOOKING))
    fake_openai.default = lambda body: LOOKING

    assert chat.ask("help me") == LIMIT_REPLY

    # Each try of the first request gets a share of the time left, so the slow
    # first try is cut off and the SDK's retries fit in the limit; then it stops.
    assert len(fake_openai.chat_requests) <= 3
    assert chat.state().received == chat.state().answered == 1


def test_the_time_limit_counts_on_the_loops_clock() -> None:
    with FakeOpenAI() as fake:
        count = itertools.count(1)
        fake.default = lambda body: tool_calls([("escalate", {"reason": "x"})],
                                               text=f"round {next(count)}")
        llm = OpenAIChat(openai.OpenAI(api_key="test-key", base_url=fake.base_url))
        ticks = itertools.count(0, 10)  # every look at the clock is 10 s later
        calls: list[ToolCall] = []

        result = run_agent(llm=llm, model="fake-model",
                           messages=[{"role": "user", "content": "hi"}], tools=TURN_TOOLS,
                           run_tool=lambda call: calls.append(call) or "ok",
                           max_iterations=10, max_seconds=25, clock=lambda: next(ticks))

        assert result.stopped == "time_limit"
        # Started at 0 (deadline 25); looked at 10, 20, 30: two rounds ran, the third did not.
        assert result.iterations == 2
        assert result.text == "round 2"
        assert len(fake.chat_requests) == 2
        assert [c.name for c in calls] == ["escalate", "escalate"]


def test_a_single_slow_model_answer_does_not_hold_the_turn_past_its_time_limit(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = Chat(apps.build(fake_openai, chatjobs_turn_max_seconds=0.3,
                           chatjobs_model_retries=0))
    fake_openai.script(slow(2.0, reply("a late answer")))

    chat.say("help me")
    started = time.monotonic()
    work(chat.app)
    took = time.monotonic() - started
    answer = chat.next_reply()

    assert took < 1.5, f"the turn took {took:.1f}s with a 0.3s limit"
    assert answer is not None
    assert answer == LIMIT_REPLY or answer.startswith(APOLOGY)


@pytest.mark.parametrize("body", [
    {"choices": []},
    {"choices": [{"message": {"tool_calls": [{"id": "call_1"}]}}]},  # no function
    {"error": "not what a chat completion looks like"},
])
def test_an_answer_that_is_not_a_chat_completion_gets_the_apology_and_keeps_the_message(
    apps: AppFactory, fake_openai: FakeOpenAI, body: dict[str, object]
) -> None:
    chat = Chat(apps.build(fake_openai, chatjobs_model_retries=0))
    fake_openai.script(body)

    answer = chat.ask("help me")

    assert answer is not None and answer.startswith(APOLOGY)
    assert chat.state().received == 1
    assert chat.state().answered == 0  # still pending: answered with the next message
    fake_openai.default = lambda body: reply("Here to help.")
    assert chat.ask("are you back?") == "Here to help."
    assert chat.state().answered == 2
