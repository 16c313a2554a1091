import httpx
import pytest

from backend.chat.settings import SamplingSettings, defaults_for
from backend.config import Config
from backend.server.client import ChatClient, Finish, ServerError, Usage
from backend.server.reasoning import Segment
from tests.support.vllm_sse import FakeVllm, chunk, error_response, usage_chunk

CONFIG = Config(max_retries=0, vllm_api_key="k")
MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]


async def collect(fake: FakeVllm, *, thinking=True, settings=None):
    client = ChatClient(CONFIG, http_client=fake.client())
    events = []
    async with client.stream(MESSAGES, settings or defaults_for(thinking), thinking=thinking) as s:
        async for event in s:
            events.append(event)
    return events


def text(events, kind):
    return "".join(e.text for e in events if isinstance(e, Segment) and e.kind == kind)


async def test_reasoning_then_answer_then_usage():
    fake = FakeVllm(
        lambda body: fake.stream(
            [
                chunk(reasoning="\n2 plus 2"),
                chunk(reasoning=" is 4."),
                chunk(content="\n\nIt is "),
                chunk(content="4.", finish="stop"),
                usage_chunk(prompt=12, completion=9),
            ]
        )
    )
    events = await collect(fake)
    assert text(events, "reasoning") == "2 plus 2 is 4."
    assert text(events, "answer") == "It is 4."
    assert Finish("stop") in events
    assert events[-1] == Usage(prompt_tokens=12, completion_tokens=9)
    # Reasoning arrives before the answer.
    kinds = [e.kind for e in events if isinstance(e, Segment)]
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning")


async def test_legacy_reasoning_content_field():
    fake = FakeVllm(
        lambda body: fake.stream(
            [chunk(reasoning="old style", legacy=True), chunk(content="ok", finish="stop")]
        )
    )
    events = await collect(fake)
    assert text(events, "reasoning") == "old style"
    assert text(events, "answer") == "ok"


async def test_server_without_reasoning_parser_and_split_tags():
    pieces = ["<th", "ink>\nstep</thi", "nk>\n\nans", "wer"]
    events_in = [chunk(content=p) for p in pieces] + [chunk(content="", finish="stop")]
    fake = FakeVllm(lambda body: fake.stream(events_in))
    events = await collect(fake)
    assert text(events, "reasoning") == "step"
    assert text(events, "answer") == "answer"


async def test_utf8_character_split_across_network_chunks():
    fake = FakeVllm(
        lambda body: fake.stream(
            [chunk(reasoning="naïve 🙂"), chunk(content="café ☕", finish="stop")], split_every=7
        )
    )
    events = await collect(fake)
    assert text(events, "reasoning") == "naïve 🙂"
    assert text(events, "answer") == "café ☕"


async def test_request_carries_mode_and_sampling():
    fake = FakeVllm()
    settings = SamplingSettings(top_k=7, min_p=0.05, max_tokens=99, thinking_budget=50)
    await collect(fake, thinking=True, settings=settings)
    await collect(fake, thinking=False, settings=settings)
    on, off = fake.requests
    assert on["chat_template_kwargs"] == {"enable_thinking": True}
    assert off["chat_template_kwargs"] == {"enable_thinking": False}
    assert (on["top_k"], on["min_p"], on["max_tokens"]) == (7, 0.05, 99)
    assert on["stream"] is True and on["stream_options"] == {"include_usage": True}
    assert on["thinking_token_budget"] == 50
    assert "thinking_token_budget" not in off  # no budget without thinking
    assert on["model"] == "fake-qwen3"  # found through /v1/models


async def test_http_400_message_in_plain_words():
    msg = "This model's maximum context length is 4096 tokens. However, you requested 5000."
    fake = FakeVllm(lambda body: error_response(400, msg))
    with pytest.raises(ServerError) as info:
        await collect(fake)
    assert "rejected the request" in str(info.value)
    assert "maximum context length is 4096" in str(info.value)
    assert not info.value.unreachable


async def test_http_500():
    fake = FakeVllm(lambda body: error_response(500, "engine dead"))
    with pytest.raises(ServerError, match=r"HTTP 500\): engine dead"):
        await collect(fake)


async def test_wrong_api_key():
    fake = FakeVllm(lambda body: error_response(401, "Unauthorized"))
    with pytest.raises(ServerError, match="VLLM_API_KEY"):
        await collect(fake)


async def test_malformed_chunk():
    fake = FakeVllm(lambda body: fake.stream([chunk(reasoning="x"), "{not json"]))
    with pytest.raises(ServerError, match="malformed"):
        await collect(fake)


async def test_unreachable_server_is_marked_for_retry():
    client = ChatClient(Config(max_retries=0, vllm_base_url="http://127.0.0.1:9/v1"))
    with pytest.raises(ServerError) as info:
        async with client.stream(MESSAGES, defaults_for(True), thinking=True):
            pass
    assert info.value.unreachable
    assert "Cannot reach the model server at http://127.0.0.1:9/v1" in str(info.value)


async def test_leaving_early_closes_the_response():
    fake = FakeVllm(
        lambda body: fake.stream([chunk(reasoning="a"), chunk(reasoning="b"), chunk(content="c")])
    )
    client = ChatClient(CONFIG, http_client=fake.client())
    async with client.stream(MESSAGES, defaults_for(True), thinking=True) as events:
        async for _ in events:
            break  # what Stop does: leave mid-stream
    assert fake.streams[0].closed


async def test_served_model_name_must_exist():
    fake = FakeVllm()
    client = ChatClient(Config(served_model_name="other"), http_client=fake.client())
    with pytest.raises(ServerError, match="does not serve 'other'.*fake-qwen3"):
        await client.model_info()


async def test_healthy_false_when_down():
    client = ChatClient(Config(vllm_base_url="http://127.0.0.1:9/v1"))
    assert await client.healthy() is False
    fake = FakeVllm()
    assert await ChatClient(CONFIG, http_client=fake.client()).healthy() is True
    assert isinstance(fake.client(), httpx.AsyncClient)
