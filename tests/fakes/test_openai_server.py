"""The fake OpenAI server, driven by the real openai SDK over HTTP."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx2
import numpy as np
import openai
import pytest
from openai.types.chat import ChatCompletion

from tests.fakes.openai_server import (
    CHAT_PATH,
    FakeOpenAI,
    error,
    hang,
    hashing_embed,
    reply,
    slow,
    tool_call,
    tool_calls,
)

TOOLS = [{"type": "function", "function": {
    "name": "complete_job", "description": "Mark a job done.",
    "parameters": {"type": "object", "properties": {"job_id": {"type": "string"}},
                   "required": ["job_id"]}}}]


def client(fake: FakeOpenAI, strict: bool = True, **kwargs: Any) -> openai.OpenAI:
    # Strict: every answer must match the SDK's own response models. Not for base64
    # embeddings (the SDK's default): their model says list[float] and the SDK decodes after.
    return openai.OpenAI(api_key="test-key", base_url=fake.base_url,
                         _strict_response_validation=strict, **kwargs)


def ask(c: openai.OpenAI, text: str = "hi", **kwargs: Any) -> ChatCompletion:
    return c.chat.completions.create(  # type: ignore[no-any-return]
        model="fake-model", messages=[{"role": "user", "content": text}], **kwargs)


def test_default_reply_is_ok(fake_openai: FakeOpenAI) -> None:
    answer = ask(client(fake_openai))
    assert answer.choices[0].message.content == "ok"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "fake-model"


def test_scripted_replies_in_order_then_default(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(reply("first"), "second")
    fake_openai.default = lambda body: reply(f"echo {body['messages'][-1]['content']}")
    c = client(fake_openai)
    texts = [ask(c, f"m{i}").choices[0].message.content for i in range(3)]
    assert texts == ["first", "second", "echo m2"]
    assert fake_openai.pending == 0


def test_tool_call_is_parsed_by_the_sdk(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(tool_call("complete_job", {"job_id": "j1"}))
    answer = ask(client(fake_openai), tools=TOOLS)
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id == "call_1"
    assert call.function.name == "complete_job"
    assert json.loads(call.function.arguments) == {"job_id": "j1"}


def test_several_tool_calls_with_text(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(tool_calls(
        [("escalate", {"reason": "angry"}), tool_call("complete_job", "{bad json", id="c9")],
        text="On it."))
    message = ask(client(fake_openai)).choices[0].message
    assert message.content == "On it."
    assert [(t.id, t.function.name) for t in message.tool_calls] == [
        ("call_1", "escalate"), ("c9", "complete_job")]
    assert message.tool_calls[1].function.arguments == "{bad json"


def test_request_is_recorded_with_messages_tools_and_key(fake_openai: FakeOpenAI) -> None:
    ask(client(fake_openai), "hello there", tools=TOOLS)
    [record] = fake_openai.chat_requests
    assert record.method == "POST" and record.path == CHAT_PATH
    assert record.json["messages"] == [{"role": "user", "content": "hello there"}]
    assert record.json["tools"] == TOOLS
    assert record.headers["authorization"] == "Bearer test-key"
    assert record.api_key == "test-key"
    assert "test-key" not in repr(record)


def test_429_with_retry_after_then_200_is_retried_by_the_sdk(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(429, "slow down", retry_after=0), reply("after the wait"))
    answer = ask(client(fake_openai, max_retries=2))
    assert answer.choices[0].message.content == "after the wait"
    first, second = fake_openai.chat_requests
    assert first.headers["x-stainless-retry-count"] == "0"
    assert second.headers["x-stainless-retry-count"] == "1"


def test_429_without_retries_raises_rate_limit_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(429, "slow down", retry_after=1))
    with pytest.raises(openai.RateLimitError) as caught:
        ask(client(fake_openai, max_retries=0))
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.code == "rate_limit_exceeded"
    assert "slow down" in str(caught.value)


def test_500_without_retries_raises_internal_server_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(error(500, "boom"))
    with pytest.raises(openai.InternalServerError) as caught:
        ask(client(fake_openai, max_retries=0))
    assert caught.value.status_code == 500
    assert len(fake_openai.requests) == 1


def test_slow_answer_times_out_and_stop_is_prompt() -> None:
    fake = FakeOpenAI().start()
    fake.script(slow(30, then=reply("too late")))
    with pytest.raises(openai.APITimeoutError):
        ask(client(fake, max_retries=0, timeout=0.3))
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 1.0


def test_stop_wakes_a_hanging_handler() -> None:
    fake = FakeOpenAI().start()
    fake.script(hang())
    errors: list[Exception] = []

    def call() -> None:
        try:
            ask(client(fake, max_retries=0, timeout=30))
        except Exception as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    fake.wait_for_requests(1, path=CHAT_PATH)
    started = time.monotonic()
    fake.stop()
    thread.join(5)
    assert time.monotonic() - started < 2.0
    assert [type(e) for e in errors] == [openai.APIConnectionError]


def test_slow_answer_within_the_timeout_arrives(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(slow(0.2, then=reply("late but fine")))
    answer = ask(client(fake_openai, max_retries=0, timeout=5))
    assert answer.choices[0].message.content == "late but fine"


def test_stream_is_refused(fake_openai: FakeOpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        ask(client(fake_openai, max_retries=0), stream=True)


def test_embeddings_for_a_list_in_order(fake_openai: FakeOpenAI) -> None:
    texts = ["reset my password", "Reset my PASSWORD!", "weekly digest for #general"]
    embeddings = client(fake_openai, strict=False).embeddings
    answer = embeddings.create(model="fake-embedding", input=texts)
    vectors = np.array([d.embedding for d in answer.data])
    assert [d.index for d in answer.data] == [0, 1, 2]
    assert vectors.shape == (3, 256)
    np.testing.assert_allclose(vectors, hashing_embed(texts), atol=1e-7)  # order kept
    assert np.array_equal(vectors[0], vectors[1])  # same words, same vector
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert answer.model == "fake-embedding"
    assert fake_openai.embedding_requests[0].json["input"] == texts


def test_embeddings_float_format_and_similarity(fake_openai: FakeOpenAI) -> None:
    texts = ["take a message for sales", "take a message for support", "post the digest"]
    answer = client(fake_openai).embeddings.create(
        model="m", input=texts, encoding_format="float")
    a, b, c = (np.array(d.embedding) for d in answer.data)
    assert a @ b > 0.5 > abs(a @ c)


def test_embeddings_single_string_and_custom_embed() -> None:
    with FakeOpenAI(embed=lambda texts: np.ones((len(texts), 3)) / np.sqrt(3)) as fake:
        answer = client(fake, strict=False).embeddings.create(model="m", input="hello")
    assert len(answer.data) == 1
    np.testing.assert_allclose(answer.data[0].embedding, [3 ** -0.5] * 3, rtol=1e-6)


def test_scripted_embedding_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.script_embeddings(error(503, "overloaded"), None)
    c = client(fake_openai, strict=False, max_retries=0)
    with pytest.raises(openai.InternalServerError):
        c.embeddings.create(model="m", input=["x"])
    assert len(c.embeddings.create(model="m", input=["x"]).data) == 1


def test_models_list(fake_openai: FakeOpenAI) -> None:
    ids = [m.id for m in client(fake_openai).models.list()]
    assert ids == ["fake-model", "fake-embedding"]


def test_unknown_path_is_a_404_in_openai_shape(fake_openai: FakeOpenAI) -> None:
    answer = httpx2.post(f"{fake_openai.base_url}/nope", json={})
    assert answer.status_code == 404
    assert set(answer.json()["error"]) >= {"message", "type", "code"}
    with pytest.raises(openai.NotFoundError):
        client(fake_openai, max_retries=0).completions.create(model="m", prompt="x")


def test_missing_key_is_still_answered(fake_openai: FakeOpenAI) -> None:
    answer = httpx2.post(f"{fake_openai.base_url}/chat/completions",
                         json={"model": "m", "messages": []})
    assert answer.status_code == 200
    assert fake_openai.requests[0].api_key is None


def test_responder_bug_is_surfaced_not_retried() -> None:
    def broken(body: object) -> str:
        raise KeyError("oops")

    with FakeOpenAI(default=broken) as fake:
        with pytest.raises(openai.InternalServerError):
            ask(client(fake, max_retries=2))
        assert len(fake.requests) == 1
        assert [type(e) for e in fake.errors] == [KeyError]


def test_reset_and_wait_for_requests(fake_openai: FakeOpenAI) -> None:
    ask(client(fake_openai))
    assert len(fake_openai.wait_for_requests(1, timeout=1)) == 1
    fake_openai.script("unused")
    fake_openai.reset()
    assert fake_openai.requests == [] and fake_openai.pending == 0
    with pytest.raises(TimeoutError):
        fake_openai.wait_for_requests(1, timeout=0.05)


def test_env_fixture(fake_openai_env: dict[str, str], fake_openai: FakeOpenAI) -> None:
    assert fake_openai_env == {"OPENAI_API_KEY": "test-key",
                               "OPENAI_BASE_URL": fake_openai.base_url,
                               "OPENAI_MODEL": "fake-model"}
    assert fake_openai.base_url.startswith("http://127.0.0.1:")
