"""The agent turn end to end, the way the console drives it.

A console `IncomingMessage` goes through `Ingress.accept`, the turn runs on a
real RQ worker (in this process, burst mode), the model is the real openai SDK
against the fake OpenAI server (or the offline model), and the reply comes back
through `ConsoleSender` and `wait_for_reply`, as the person at the console sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis

from bot.llm.offline import NO_JOBS_TEXT, done_reply
from bot.prompt import JOB_HEADING
from bot.templates import template
from bot.turns import APOLOGY, RATE_NOTICE
from tests.fakes.openai_server import FakeOpenAI, Reply, error, reply, slow, tool_call
from tests.helpers import Clock
from tests.integration.agent_helpers import (
    AppFactory,
    Chat,
    admin,
    stats_rows,
    turn_jobs,
    work,
)
from tests.integration.clirunner import Cli

TEMPLATES = ("take-message", "reset-password", "generate-report", "book-meeting")


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()


def system_prompt(request: object) -> str:
    return request.json["messages"][0]["content"]  # type: ignore[attr-defined]


def first_job(request: object) -> str | None:
    """The job whose full instructions lead the request's system prompt."""
    found = JOB_HEADING.search(system_prompt(request))
    return found["name"] if found else None


def user_texts(request: object) -> list[str]:
    return [m["content"] for m in request.json["messages"]  # type: ignore[attr-defined]
            if m["role"] == "user"]


def with_jobs(apps: AppFactory, fake: FakeOpenAI | None = None, **settings: object) -> Chat:
    app = apps.build(fake, **settings)
    for key in TEMPLATES:
        admin(app, f"create template={key}")
    return Chat(app)


# --- with the OpenAI-compatible model ------------------------------------------------------


def test_the_model_gets_the_matched_jobs_instructions_and_no_unrelated_ones(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = with_jobs(apps, fake_openai)
    fake_openai.script(reply("Let's get you back in. Did you forget it or are you locked out?"))

    answer = chat.ask("I forgot my password")

    assert answer == "Let's get you back in. Did you forget it or are you locked out?"
    [request] = fake_openai.chat_requests
    system = system_prompt(request)
    assert template("reset-password")["instructions"] in system
    assert first_job(request) == "Reset a password"
    for key in ("take-message", "generate-report", "book-meeting"):
        instructions = template(key)["instructions"]
        steps = [line for line in instructions.splitlines() if line[:2] in ("1.", "2.", "3.")]
        for line in [instructions, *steps]:
            assert line not in system, f"{key}'s instructions leaked into the prompt: {line!r}"
    assert user_texts(request) == ["I forgot my password"]
    assert request.json["model"] == "fake-model"
    offered = {tool["function"]["name"] for tool in request.json["tools"]}
    assert offered == {"complete_job", "escalate", "schedule_follow_up"}
    assert chat.state().received == chat.state().answered == 1
    assert chat.outbox() == []


def test_a_completed_job_shows_in_jobs_stats(apps: AppFactory, fake_openai: FakeOpenAI) -> None:
    chat = with_jobs(apps, fake_openai)
    fake_openai.script(
        tool_call("complete_job", {"job": "Reset a password",
                                   "summary": "Reset through the email link"}),
        reply("done"),
    )

    assert chat.ask("I forgot my password") == "done"

    rows = stats_rows(chat.app)
    assert rows["Reset a password"]["completed"] == "1"
    assert rows["Reset a password"]["offered"] == "1"
    assert rows["Reset a password"]["completion rate"] == "100%"
    for name in ("Take a message", "Generate a report", "Book a meeting"):
        assert rows[name]["completed"] == "0", rows[name]
    details = admin(chat.app, 'stats "Reset a password"')
    assert "Reset through the email link" in str(details.blocks)
    # The model was told the tool worked, and the job is no longer in progress.
    tool_result = fake_openai.chat_requests[1].json["messages"][-1]
    assert tool_result["role"] == "tool"
    assert tool_result["content"] == "recorded: Reset a password completed"
    assert chat.state().active_job is None


def test_a_rate_limit_then_success_gives_exactly_one_answer(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = with_jobs(apps, fake_openai)
    fake_openai.script(error(429, retry_after=0.01), reply("Here is how to reset it."))

    assert chat.ask("I forgot my password") == "Here is how to reset it."

    assert len(fake_openai.chat_requests) == 2
    assert chat.next_reply(timeout=0.2) is None, "a second answer reached the user"
    assert chat.state().received == chat.state().answered == 1
    assert turn_jobs(chat.app) == {"queued": 0, "finished": 1, "failed": 0, "scheduled": 0}


def test_a_model_outage_apologizes_keeps_the_message_and_answers_it_next_time(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = with_jobs(apps, fake_openai, chatjobs_model_retries=2)
    # One more failure than the SDK retries: the request fails for good.
    fake_openai.script(*[error(500, retry_after=0.01)] * 3)

    apology = chat.ask("I forgot my password")

    assert apology.startswith(APOLOGY)
    # Meanwhile the offline model's first step of the matched job helps a little.
    assert "Reset a password — step 1 of" in apology
    assert len(fake_openai.chat_requests) == 3
    state = chat.state()
    assert (state.received, state.answered) == (1, 0), "the message must stay unanswered"
    assert turn_jobs(chat.app)["failed"] == 0

    fake_openai.script(reply("Sorry for the wait: let's reset your password, then the report."))
    answer = chat.ask("Also I need a monthly report")

    assert answer == "Sorry for the wait: let's reset your password, then the report."
    [retry] = fake_openai.chat_requests[3:]
    texts = user_texts(retry)
    assert texts[-2:] == ["I forgot my password", "Also I need a monthly report"]
    state = chat.state()
    assert (state.received, state.answered) == (2, 2)
    assert chat.next_reply(timeout=0.2) is None


def test_a_message_matching_no_job_is_listed_in_jobs_gaps(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = with_jobs(apps, fake_openai)
    fake_openai.script(reply("I can't help with that, sorry."), reply("Sure."))

    chat.ask("How tall is the Eiffel tower?")
    Chat(chat.app, "ben").ask("I forgot my password")

    assert first_job(fake_openai.chat_requests[0]) is None
    assert "No job matches" in system_prompt(fake_openai.chat_requests[0])
    gaps = admin(chat.app, "gaps")
    assert gaps.title.startswith("1 unmatched question in 1 group"), gaps.title
    assert "How tall is the Eiffel tower?" in str(gaps.blocks)
    assert "password" not in str(gaps.blocks)


def test_a_job_in_progress_sticks_until_the_person_clearly_moves_on(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = with_jobs(apps, fake_openai)
    app = chat.app
    follow_up = "Tomorrow around noon is fine"  # shares no word with any job
    now = app.agent.clock()
    assert app.agent.matcher.rank(app.stores.jobs.list(), follow_up, now=now) == []

    for text in ("I want to leave a message for Sam", "my name is Ana", follow_up,
                 "I forgot my password"):
        chat.ask(text)

    jobs = [first_job(request) for request in fake_openai.chat_requests]
    assert jobs == ["Take a message", "Take a message", "Take a message", "Reset a password"]
    assert len(fake_openai.chat_requests) == 4
    assert app.stores.jobs.get(chat.state().active_job or "").name == "Reset a password"


def test_complete_job_counts_for_a_person_whose_contact_is_not_stored(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    app = with_jobs(apps, fake_openai).app
    chat = Chat(app, "U042", save_contact=False)  # an adapter that does not know the person
    fake_openai.script(
        tool_call("complete_job", {"job": "Reset a password", "summary": "done by email"}),
        reply("done"),
    )

    assert chat.ask("I forgot my password") == "done"

    row = stats_rows(app)["Reset a password"]
    assert (row["offered"], row["completed"]) == ("1", "1"), row


# --- with the offline model (no OPENAI_API_KEY) ----------------------------------------------


def test_the_offline_model_walks_a_jobs_steps_across_turns_then_completes_it(
    apps: AppFactory,
) -> None:
    chat = with_jobs(apps)
    assert chat.app.agent.llm.name == "offline"
    said = ["I want to leave a message for Sam", "It's for Sam in sales", "Ana, Acme, 555-0100",
            "Please call me back about the invoice", "Yes that's right", "Not urgent",
            "thanks"]

    answers = [chat.ask(text) for text in said]

    for step, answer in enumerate(answers[:6], start=1):
        assert answer.startswith(f"Take a message — step {step} of 6: "), answer
    assert answers[0].endswith("Ask who the message is for (a person or a team); if they do "
                               "not know, ask what it is about so you can pick the right team.")
    assert answers[6] == done_reply("Take a message")
    assert stats_rows(chat.app)["Take a message"]["completed"] == "1"
    assert chat.state().active_job is None
    assert chat.state().received == chat.state().answered == 7


def test_the_offline_model_sticks_to_the_job_then_switches(apps: AppFactory) -> None:
    chat = with_jobs(apps)

    first = chat.ask("I want to leave a message for Sam")
    second = chat.ask("my name is Ana")
    third = chat.ask("Tomorrow around noon works")
    switched = chat.ask("I forgot my password")

    assert first.startswith("Take a message — step 1 of 6")
    assert second.startswith("Take a message — step 2 of 6")
    assert third.startswith("Take a message — step 3 of 6")
    assert switched.startswith("Reset a password — step 1 of ")


def test_with_no_jobs_the_offline_reply_says_there_are_none(apps: AppFactory) -> None:
    chat = Chat(apps.build())

    answer = chat.ask("I want to leave a message for Sam")

    assert answer == NO_JOBS_TEXT
    assert "/jobs create" in answer
    assert chat.state().received == chat.state().answered == 1


# --- the console itself (`chatjobs chat`) ----------------------------------------------------


@pytest.mark.slow
def test_the_console_waits_for_a_model_that_takes_more_than_5_seconds(
    cli: Cli, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(slow(5.5, reply("Sorry for the wait, here I am.")))
    chat = cli.chat("--user", "ana", env=cli.env(
        OPENAI_API_KEY="test-key", OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_MODEL="fake-model"))

    chat.send("hello")

    try:
        chat.read_until("Sorry for the wait, here I am.", timeout=15)
    except AssertionError:
        status = chat.proc.wait(10)
        err = chat.proc.stderr.read() if chat.proc.stderr else ""
        pytest.fail(f"the console ended (exit {status}) instead of answering:\n{err[-600:]}")
    chat.send("/quit")
    status, _, err = chat.finish()
    assert status == 0, err


def test_past_the_turn_rate_limit_one_notice_then_everything_is_answered_after_the_minute(
        apps: AppFactory, fake_openai: FakeOpenAI) -> None:
    clock = Clock(datetime(2026, 11, 23, 9, 0, 5, tzinfo=UTC))
    app = apps.build(fake_openai, clock=clock, chatjobs_user_turns_per_minute=2)
    ana = Chat(app)
    fake_openai.default = lambda body: Reply(
        "you said: " + " | ".join(m["content"] for m in body["messages"] if m["role"] == "user"
                                  and m["content"].startswith("m")))
    assert ana.ask("m1").endswith("m1")
    assert ana.ask("m2").endswith("m2")
    assert ana.ask("m3") == RATE_NOTICE
    assert ana.say("m4")
    work(app)
    assert ana.next_reply(timeout=0.3) is None  # one notice a minute, not one per message
    assert len(fake_openai.chat_requests) == 2
    clock.advance(minutes=1)
    reply_text = ana.ask("m5")
    assert reply_text.endswith("m3 | m4 | m5")
    assert ana.state().answered == ana.state().received == 5
