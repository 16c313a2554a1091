"""Faults between the chat and the real vLLM, seen through the front end as a browser sees it.

The front end talks to the session's vLLM through `FaultProxy`, which stalls, garbles, cuts
or fails the stream on demand (or makes the real server reject a request). Each fault must
end in a plain-language note under whatever part of the answer had arrived.
"""

from __future__ import annotations

import socket

import pytest

from backend.engine.process import free_port
from tests.support.chat_app import ChatApp
from tests.support.chat_socket import ChatSession
from tests.support.fault_proxy import Fault, FaultProxy

GREEDY = {"temperature": 0}

STREAM_TIMEOUT_S = 3
CONNECT_TIMEOUT_S = 1
MAX_RETRIES = 1
QUESTION = "What is 37 + 48?"


@pytest.fixture(scope="module")
def app(chat_app):
    env = {
        "STREAM_TIMEOUT_S": str(STREAM_TIMEOUT_S),
        "CONNECT_TIMEOUT_S": str(CONNECT_TIMEOUT_S),
        "MAX_RETRIES": str(MAX_RETRIES),
    }
    with chat_app("faults", env) as app:
        yield app


async def ask_with(proxy: FaultProxy, app: ChatApp, fault: Fault, *, think: bool = True):
    proxy.reset(fault)
    async with ChatSession(app.url, settings=GREEDY) as tab:
        return await tab.ask(QUESTION, think=think, timeout_s=60)


async def test_a_healthy_stream_passes_through_the_proxy(proxy, app):
    reply = await ask_with(proxy, app, Fault())
    assert reply.answer.strip() and "*The model server" not in reply.answer
    assert reply.reasoning and not reply.errors and not reply.notes


async def test_stall_between_chunks_ends_with_a_timeout_note(proxy, app):
    reply = await ask_with(proxy, app, Fault(stall_after=6))
    assert reply.reasoning and reply.reasoning[0].strip(), "the partial reasoning stays"
    assert f"stopped sending for {STREAM_TIMEOUT_S} s" in reply.answer
    assert "STREAM_TIMEOUT_S" in reply.answer
    assert len(proxy.record.bodies) == 1, "a stream that had begun is never sent again"


async def test_stall_before_the_response_is_retried_by_the_sdk_then_explained(proxy, app):
    reply = await ask_with(proxy, app, Fault(hold_s=3600))
    assert f"stopped sending for {STREAM_TIMEOUT_S} s" in reply.answer
    assert len(proxy.record.bodies) == 1 + MAX_RETRIES  # the OpenAI SDK's own retries


async def test_real_http_400_is_described(proxy, app):
    reply = await ask_with(proxy, app, Fault(body_update={"max_tokens": 100_000}))
    assert reply.answer.startswith("*The model server rejected the request:")
    assert "4096" in reply.answer, "vLLM's own reason is passed on"
    assert len(proxy.record.bodies) == 1, "a 400 is not retried"


async def test_http_500_is_retried_then_described(proxy, app):
    reply = await ask_with(proxy, app, Fault(status=500))
    assert "The model server failed (HTTP 500)" in reply.answer
    assert "Please try again" in reply.answer
    assert len(proxy.record.bodies) == 1 + MAX_RETRIES


async def test_malformed_chunk_keeps_the_partial_answer(proxy, app):
    reply = await ask_with(proxy, app, Fault(garble_after=8))
    assert reply.reasoning and reply.reasoning[0].strip()
    assert "malformed response" in reply.answer
    assert not reply.errors, "no stack trace or Chainlit error message"


async def test_connection_cut_mid_answer_says_it_was_interrupted(proxy, app):
    reply = await ask_with(proxy, app, Fault(cut_after=8))
    assert reply.reasoning and reply.reasoning[0].strip()
    assert "broke off mid-answer" in reply.answer
    assert "incomplete" in reply.answer


async def test_next_message_works_after_a_fault(proxy, app):
    proxy.reset(Fault(cut_after=8))
    async with ChatSession(app.url, settings=GREEDY) as tab:
        first = await tab.ask(QUESTION, think=True, timeout_s=60)
        proxy.reset()
        second = await tab.ask("What is 12 + 7?", think=True, timeout_s=60)
    assert "broke off" in first.answer
    assert second.answer.strip() and "model server" not in second.answer
    assert not second.notes and not second.errors


@pytest.fixture(scope="module")
def blackhole():
    """A port whose accept queue is full: connections neither succeed nor fail."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, listener]:
        sock.close()


@pytest.mark.parametrize("target", ["closed", "blackhole"])
async def test_no_server_and_no_launcher_gives_a_clear_message(target, blackhole, chat_app):
    port = blackhole if target == "blackhole" else free_port()
    env = {
        "VLLM_BASE_URL": f"http://127.0.0.1:{port}/v1",
        # A fresh run directory: no launcher status, as for a server started elsewhere.
        "CONNECT_TIMEOUT_S": str(CONNECT_TIMEOUT_S),
        "MAX_RETRIES": "0",
    }
    with chat_app(f"no-server-{target}", env) as app:
        async with ChatSession(app.url, settings=GREEDY) as tab:
            reply = await tab.ask(QUESTION, think=True, timeout_s=60)
    assert len(reply.notes) == 1, reply.items
    assert f"at http://127.0.0.1:{port}/v1 is not answering" in reply.notes[0]
    assert "your message was not sent" in reply.notes[0]
    assert not reply.answers and not reply.errors
