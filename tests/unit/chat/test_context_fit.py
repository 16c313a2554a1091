import pytest

from backend.chat.context_fit import ContextTooSmall, answer_reserve, fit_history
from backend.chat.history import History
from backend.chat.settings import SamplingSettings
from backend.config import Config
from backend.server.client import ChatClient
from tests.support.vllm_sse import FakeVllm


def make(max_model_len):
    fake = FakeVllm(max_model_len=max_model_len)
    return fake, ChatClient(Config(max_retries=0), http_client=fake.client())


def history_of(*contents):
    history = History()
    for i, text in enumerate(contents):
        (history.add_user if i % 2 == 0 else history.add_assistant)(text)
    return history


async def test_short_chat_needs_no_counting():
    fake, client = make(4096)
    history = history_of("hi", "hello", "how are you?")
    assert await fit_history(client, history, SamplingSettings(), thinking=True) == 0
    assert len(history.turns) == 3


async def test_oldest_exchanges_dropped_first():
    fake, client = make(1000)  # reserve: 125 tokens; fake counts bytes + 4
    history = history_of("a" * 400, "b" * 400, "c" * 300, "d" * 10, "newest")
    dropped = await fit_history(client, history, SamplingSettings(), thinking=True)
    assert dropped == 1
    assert [t.content[0] for t in history.turns] == ["c", "d", "n"]


async def test_single_message_too_large_gets_numbers_and_keeps_history():
    fake, client = make(1000)
    history = history_of("old", "answer", "x" * 5000)
    with pytest.raises(ContextTooSmall) as info:
        await fit_history(client, history, SamplingSettings(), thinking=False)
    message = str(info.value)
    assert "5,0" in message and "1,000" in message and "125" in message
    assert len(history.turns) == 3  # nothing lost: the caller decides


def test_answer_reserve():
    assert answer_reserve(SamplingSettings(max_tokens=300), 4096) == 300
    assert answer_reserve(SamplingSettings(), 4096) == 512
    assert answer_reserve(SamplingSettings(), 40960) == 1024
