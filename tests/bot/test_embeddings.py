"""Embeddings in real turns: each job version is embedded once; a dead endpoint costs nothing.

The app is built with `openai_embedding_model="fake-embedding"`, so the real
openai SDK asks the fake server's `/v1/embeddings` (its hashing embedder) for
job and message vectors; the vectors are cached in the session's Redis.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from bot.embeddings import job_text
from bot.prompt import JOB_HEADING
from tests.fakes.openai_server import FakeOpenAI, error
from tests.integration.agent_helpers import AppFactory, Chat, admin, turn_jobs, work

TEMPLATES = ("take-message", "reset-password", "generate-report")


@pytest.fixture
def apps(redis_url: str, redis_client: redis.Redis) -> Iterator[AppFactory]:
    factory = AppFactory(redis_url, redis_client)
    yield factory
    factory.close()


def semantic_app(apps: AppFactory, fake: FakeOpenAI, **settings: object) -> Chat:
    app = apps.build(fake, openai_embedding_model="fake-embedding", **settings)
    assert app.agent.matcher.semantic
    for key in TEMPLATES:
        admin(app, f"create template={key}")
    return Chat(app)


def embedded(fake: FakeOpenAI, since: int = 0) -> list[list[str]]:
    """The texts of each embeddings request from the `since`-th on."""
    texts = []
    for request in fake.embedding_requests[since:]:
        assert request.json["model"] == "fake-embedding"
        value = request.json["input"]
        texts.append([value] if isinstance(value, str) else list(value))
    return texts


def first_job(fake: FakeOpenAI) -> str | None:
    system = fake.chat_requests[-1].json["messages"][0]["content"]
    found = JOB_HEADING.search(system)
    return found["name"] if found else None


def test_jobs_are_embedded_once_per_version_and_messages_every_turn(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = semantic_app(apps, fake_openai)
    jobs = {job.name: job for job in chat.app.stores.jobs.list()}

    chat.ask("I forgot my password")
    first = embedded(fake_openai)
    assert sorted(first[0]) == sorted(job_text(job) for job in jobs.values())
    assert first[1:] == [["I forgot my password"]]
    assert first_job(fake_openai) == "Reset a password"

    seen = len(fake_openai.embedding_requests)
    chat.ask("thanks, and can you take a message for Sam?")
    assert embedded(fake_openai, seen) == [["thanks, and can you take a message for Sam?"]]

    # Another process (a new worker: its own matcher) reuses the vectors in Redis.
    other = Chat(apps.build(fake_openai, openai_embedding_model="fake-embedding"), "ben")
    seen = len(fake_openai.embedding_requests)
    other.ask("I need a monthly report")
    assert embedded(fake_openai, seen) == [["I need a monthly report"]]
    assert first_job(fake_openai) == "Generate a report"


def test_editing_a_job_re_embeds_only_that_job(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = semantic_app(apps, fake_openai)
    chat.ask("I forgot my password")
    admin(chat.app, 'edit "Take a message" trigger="leave a note for someone who is out"')
    edited = chat.app.stores.jobs.get("Take a message")
    assert edited.version == 2

    seen = len(fake_openai.embedding_requests)
    Chat(chat.app, "ben").ask("please leave a note for Sam")

    assert embedded(fake_openai, seen) == [[job_text(edited)], ["please leave a note for Sam"]]
    assert first_job(fake_openai) == "Take a message"


def test_a_failing_embeddings_endpoint_falls_back_to_lexical_matching(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = semantic_app(apps, fake_openai, chatjobs_model_retries=2)
    fake_openai.script("Sure.", "Let's reset it.")
    chat.ask("I want to leave a message for Sam")  # the jobs' vectors are in Redis now

    fake_openai.script_embeddings(*[error(500, retry_after=0.01)] * 3)
    answer = Chat(chat.app, "ben").ask("I forgot my password")

    assert answer == "Let's reset it."
    assert first_job(fake_openai) == "Reset a password"
    assert turn_jobs(chat.app)["failed"] == 0


def test_a_failing_embeddings_endpoint_on_new_jobs_still_answers(
    apps: AppFactory, fake_openai: FakeOpenAI
) -> None:
    chat = semantic_app(apps, fake_openai, chatjobs_model_retries=2)
    fake_openai.script("Let's reset it.")
    # Down for every try of the SDK (3): the jobs' vectors cannot be computed.
    fake_openai.script_embeddings(*[error(500, retry_after=0.01)] * 3)

    chat.say("I forgot my password")
    work(chat.app)

    assert chat.next_reply(timeout=0.2) == "Let's reset it."
    assert first_job(fake_openai) == "Reset a password"
    assert turn_jobs(chat.app) == {"queued": 0, "finished": 1, "failed": 0, "scheduled": 0}
    assert len(fake_openai.chat_requests) == 1, "answered on the first attempt"

    # Once the endpoint is back, the jobs get their vectors.
    seen = len(fake_openai.embedding_requests)
    Chat(chat.app, "ben").ask("I need a monthly report")
    jobs, message = embedded(fake_openai, seen)
    assert len(jobs) == len(TEMPLATES)
    assert message == ["I need a monthly report"]
