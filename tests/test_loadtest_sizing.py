"""Exact prompt sizing on real tokenizers, and /tokenize failures reported as they happened.

``/tokenize`` is answered at the HTTP level (``httpx.MockTransport``) the way vLLM answers it:
the demo model's chat template rendered with jinja2, then counted by a real ``tokenizers``
tokenizer -- the demo model's 512-token BPE (several tokens per word), and a byte-level
vocabulary without merges (one token per character, like the random-weight GPU checkpoint's,
where the old one-word-per-token fit collapsed a 512-token prompt to its 46-token prefix).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jinja2
import pytest
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import models, pre_tokenizers

from backend.loadtest.tokenizer import Tokenizer, api_url_of, root_of
from backend.loadtest.workload import build_plan

DEMO = Path(__file__).resolve().parent.parent / "demo_model"
TEMPLATE = jinja2.Environment().from_string((DEMO / "chat_template.jinja").read_text())


def demo_tokenizer() -> HFTokenizer:
    return HFTokenizer.from_file(str(DEMO / "tokenizer.json"))


def character_tokenizer() -> HFTokenizer:
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {c: i for i, c in enumerate(sorted(alphabet))}
    for special in ("<|im_start|>", "<|im_end|>", "<think>", "</think>"):
        vocab[special] = len(vocab)
    tok = HFTokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.add_special_tokens(["<|im_start|>", "<|im_end|>", "<think>", "</think>"])
    return tok


def tokenize_server(tok: HFTokenizer, calls: list[dict] | None = None) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if calls is not None:
            calls.append({"body": body, "auth": request.headers.get("authorization")})
        if "messages" in body:
            kwargs = body.get("chat_template_kwargs") or {}
            text = TEMPLATE.render(messages=body["messages"], add_generation_prompt=True, **kwargs)
        else:
            text = body["prompt"]
        count = len(tok.encode(text, add_special_tokens=False).ids)
        return httpx.Response(200, json={"count": count, "max_model_len": 4096, "tokens": []})

    return httpx.MockTransport(handle)


async def plan_on(tok: HFTokenizer, endpoint: str, input_len: int, count: int = 12):
    async with httpx.AsyncClient(transport=tokenize_server(tok)) as http:
        tokenizer = Tokenizer("http://vllm:8001/v1", "demo", endpoint, http)
        return await build_plan(
            count, input_len=input_len, output_len=8, think_ratio=0.5, seed=3, tokenizer=tokenizer
        )


@pytest.mark.parametrize("make", [demo_tokenizer, character_tokenizer])
@pytest.mark.parametrize(("endpoint", "input_len"), [("chat", 512), ("completions", 96)])
async def test_every_request_is_exactly_input_len_on_a_real_tokenizer(make, endpoint, input_len):
    plan = await plan_on(make(), endpoint, input_len)
    assert plan.exact, plan.note
    assert {s.prompt_tokens for s in plan.specs} == {input_len}
    assert len({s.prompt for s in plan.specs}) == len(plan.specs)
    assert {s.thinking for s in plan.specs} == {True, False}


async def test_a_template_longer_than_input_len_is_reported_with_the_counts():
    plan = await plan_on(character_tokenizer(), "chat", 20, count=2)
    assert not plan.exact
    assert "not exact" in plan.note and "asked for 20" in plan.note


async def test_a_failing_tokenize_is_reported_with_its_status_and_words():
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "Unauthorized"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        tokenizer = Tokenizer("http://vllm:8001", "demo", "chat", http)
        plan = await build_plan(
            3, input_len=20, output_len=8, think_ratio=0, seed=1, tokenizer=tokenizer
        )
    assert not plan.exact
    assert "HTTP 401 from http://vllm:8001/tokenize" in plan.note and "Unauthorized" in plan.note
    assert [len(s.prompt.split()) for s in plan.specs] == [20, 20, 20]


@pytest.mark.parametrize("base", ["http://h:8001/v1", "http://h:8001/v1/", "http://h:8001"])
async def test_tokenize_is_found_with_or_without_v1_and_gets_the_key(base):
    calls: list[dict] = []
    async with httpx.AsyncClient(transport=tokenize_server(demo_tokenizer(), calls)) as http:
        tokenizer = Tokenizer(base, "demo", "chat", http, api_key="k")
        assert await tokenizer.count_text("hello world") == len(
            demo_tokenizer().encode("hello world", add_special_tokens=False).ids
        )
    assert tokenizer.url == "http://h:8001/tokenize" and tokenizer.available
    assert calls[0]["auth"] == "Bearer k" and calls[0]["body"]["add_special_tokens"] is False
    assert (root_of(base), api_url_of(base)) == ("http://h:8001", "http://h:8001/v1")
