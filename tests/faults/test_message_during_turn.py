"""A message that arrives while its conversation's turn runs (found by the load tests here).

Under load (test_redis_restart.py's stream) people write while the agent is
answering them. The turn's reply is appended to the history when it is sent,
so it lands *after* the message that came in meanwhile; the next turn, which
must answer that message, must give the model a conversation that ends with
that message, not with the agent's reply (a model reading that transcript
would see nothing left to answer).

In this process, on the session's Redis, with a real RQ worker in burst mode.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.integration.agent_helpers import AppFactory, Chat, work

pytestmark = pytest.mark.slow


def test_the_turn_for_a_message_sent_mid_turn_ends_its_prompt_with_that_message(
        apps: AppFactory, fake_openai: FakeOpenAI) -> None:
    prompts: list[list[dict[str, Any]]] = []
    chat: list[Chat] = []

    def model(body: dict[str, Any]) -> Reply:
        prompts.append(body["messages"])
        if len(prompts) == 1:
            assert chat[0].say("and my invoice?")  # the person writes while the agent thinks
            return Reply("Your order shipped.")
        return Reply("Your invoice is attached.")

    fake_openai.default = model
    chat.append(Chat(apps.build(fake_openai)))
    assert chat[0].say("where is my order?")

    work(chat[0].app)

    assert chat[0].outbox() == ["Your order shipped.", "Your invoice is attached."]
    assert chat[0].state().answered == 2
    second = [(m["role"], m["content"]) for m in prompts[1][1:]]
    assert second[-1] == ("user", "and my invoice?"), (
        f"the second turn's prompt ends with {second[-1]}: {second}")
