"""A tiny Chainlit app with known timing, for the load tester's app target.

``on_chat_start`` sends a greeting (which must not be mistaken for an answer). Each message is
answered by a streamed message: the first token 100 ms after the message arrives, then one
token every 20 ms, each one word. A message with the "Think" command first streams as many
reasoning words into a step.

Without settings an answer is ``ANSWER_TOKENS`` words and the message ends without a stats
line (the load tester must count the text). When the settings panel set ``max_tokens``
before the message, each part is that many words and the message ends with the chat's
stats line (``*first token … · N reasoning tokens · N answer tokens*``), as the real chat
writes it from the server's usage.
"""

import asyncio
import time

import chainlit as cl

ANSWER_TOKENS = 12
FIRST_TOKEN_S = 0.100
TOKEN_INTERVAL_S = 0.020


async def _until(deadline: float) -> None:
    delay = deadline - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)  # the scripted token schedule


@cl.on_chat_start
async def greet() -> None:
    await cl.Message(content="hello there").send()


@cl.on_settings_update
async def settings(values: dict) -> None:
    cl.user_session.set("max_tokens", int(values.get("max_tokens") or 0))


@cl.on_message
async def answer(message: cl.Message) -> None:
    arrived = time.perf_counter()
    words = cl.user_session.get("max_tokens") or ANSWER_TOKENS
    i = 0
    stats = [f"first token {FIRST_TOKEN_S * 1000:.0f} ms"]
    if message.command == "Think":
        async with cl.Step(name="Thinking", type="llm") as step:
            for _ in range(words):
                await _until(arrived + FIRST_TOKEN_S + i * TOKEN_INTERVAL_S)
                await step.stream_token(f" r{i}")
                i += 1
        stats.append(f"{words} reasoning tokens")
    reply = cl.Message(content="")
    for _ in range(words):
        await _until(arrived + FIRST_TOKEN_S + i * TOKEN_INTERVAL_S)
        await reply.stream_token(f" w{i}")
        i += 1
    if cl.user_session.get("max_tokens"):
        reply.content += "\n\n*" + " · ".join([*stats, f"{words} answer tokens"]) + "*"
    await reply.send()
