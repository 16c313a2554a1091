"""A fast scripted OpenAI-compatible server for the front-end benchmarks, run as its own process.

It is the test suite's ``FakeOpenAIServer`` (vLLM's SSE dialect, ``/tokenize``, ``/metrics``)
with a fixed answer shape, whatever ``max_tokens`` says, so a request sent direct and the same
request sent by the chat app (which sets no ``max_tokens``) stream exactly the same tokens:

- thinking requests stream ``reasoning_tokens`` reasoning tokens, then ``answer_tokens``;
- other requests stream ``reasoning_tokens + answer_tokens`` answer tokens;
- ``tokens_per_chunk`` tokens go in each SSE chunk, one chunk every
  ``tokens_per_chunk * token_interval_s`` (so 4 tokens every 1.6 ms is 2,500 tokens/s); a
  request's ``stream_interval`` asks for more, served as vLLM serves it (`_chunks`).

Reasoning tokens read `` r0 r1 …``, answer tokens `` a0 a1 …`` (one word each, so ``/tokenize``
counts them exactly). With ``--send-log`` it appends one JSON line per request with the wall
clock (``time.time()``) of its first chunk, of each 500th reasoning token, of the last
reasoning token and of the last answer token, for comparing with what a browser rendered.

    python -m bench.scripted_server --port 8031 --token-interval-ms 0.4 --tokens-per-chunk 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from aiohttp import web

from tests.support.fake_openai_server import (
    FakeOpenAIServer,
    Script,
    chat_chunk,
    send_event,
    sleep_until,
)


class FixedShapeServer(FakeOpenAIServer):
    def __init__(self, script: Script, args: argparse.Namespace):
        super().__init__(script)
        self.args = args

    async def answer(
        self, request: web.Request, body: dict[str, Any], arrived: float, chat: bool, nth: int
    ) -> web.StreamResponse:
        a = self.args
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        thinking = (body.get("chat_template_kwargs") or {}).get("enable_thinking", False)
        kinds = ["reasoning"] * a.reasoning_tokens if thinking else ["content"] * a.reasoning_tokens
        kinds += ["content"] * a.answer_tokens
        log: dict[str, Any] = {"thinking": thinking, "reasoning_sent": {}}
        await send_event(response, chat_chunk({"role": "assistant", "content": ""}))
        for start, end, due in self._chunks(len(kinds), int(body.get("stream_interval") or 1)):
            await sleep_until(
                arrived + self.script.first_token_s + due * self.script.token_interval_s
            )
            for kind in dict.fromkeys(kinds[start:end]):  # reasoning, then content
                idx = [i for i in range(start, end) if kinds[i] == kind]
                prefix = "r" if kind == "reasoning" else "a"
                base = 0 if kind == "reasoning" or not thinking else a.reasoning_tokens
                text = "".join(f" {prefix}{i - base}" for i in idx)
                await send_event(response, chat_chunk({kind: text}))
                self._note(log, kind, [i - base for i in idx], len(kinds))
        usage = {"prompt_tokens": 7, "completion_tokens": len(kinds), "total_tokens": len(kinds)}
        await send_event(response, {"object": "chunk", "choices": [], "usage": usage})
        await response.write(b"data: [DONE]\n\n")
        if a.send_log:
            with open(a.send_log, "a") as f:
                f.write(json.dumps(log) + "\n")
        return response

    def _chunks(self, tokens: int, interval: int) -> list[tuple[int, int, int]]:
        """(first token, end, the token whose time it goes at) of each chunk. A request's
        ``stream_interval`` above ``tokens_per_chunk`` is served as vLLM does: the first token
        alone, then ``interval`` tokens a chunk, each sent once its last token is made."""
        if interval <= self.args.tokens_per_chunk:
            step = self.args.tokens_per_chunk
            return [(s, min(s + step, tokens), s) for s in range(0, tokens, step)]
        starts = [0, *range(1, tokens, interval)]
        ends = [*starts[1:], tokens]
        return [(s, e, e - 1) for s, e in zip(starts, ends, strict=True)]

    def _note(self, log: dict[str, Any], kind: str, numbers: list[int], total: int) -> None:
        now = time.time()
        log.setdefault("first_chunk", now)
        if kind == "reasoning":
            log["last_reasoning"] = now
            for n in numbers:
                if n % 500 == 0 or n == self.args.reasoning_tokens - 1:
                    log["reasoning_sent"][str(n)] = now
        else:
            log["last_answer"] = now


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.scripted_server", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--first-token-ms", type=float, default=20.0)
    p.add_argument("--token-interval-ms", type=float, default=0.4)
    p.add_argument("--tokens-per-chunk", type=int, default=4)
    p.add_argument("--reasoning-tokens", type=int, default=500)
    p.add_argument("--answer-tokens", type=int, default=500)
    p.add_argument("--send-log", default=None, help="append one JSON line per answer")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    script = Script(args.first_token_ms / 1000, args.token_interval_ms / 1000)
    server = FixedShapeServer(script, args)
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port).start()
    print(f"ready on {args.port}", flush=True)
    await asyncio.Event().wait()  # until the benchmark terminates this process


if __name__ == "__main__":
    asyncio.run(serve(parse_args()))
