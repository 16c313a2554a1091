"""A tiny Chainlit app with known timing, for the load tester's app target.

``on_chat_start`` sends a greeting (which must not be mistaken for an answer). Each message is
answered by a streamed message: the first token 100 ms after the message arrives, then one
token every 20 ms, ``ANSWER_TOKENS`` tokens in all, each one word. A message with the "Think"
command first streams ``ANSWER_TOKENS`` reasoning words into a step.
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


@cl.on_message
async def answer(message: cl.Message) -> None:
    arrived = time.perf_counter()
    i = 0
    if message.command == "Think":
        async with cl.Step(name="Thinking", type="llm") as step:
            for _ in range(ANSWER_TOKENS):
                await _until(arrived + FIRST_TOKEN_S + i * TOKEN_INTERVAL_S)
                await step.stream_token(f" r{i}")
                i += 1
    reply = cl.Message(content="")
    for _ in range(ANSWER_TOKENS):
        await _until(arrived + FIRST_TOKEN_S + i * TOKEN_INTERVAL_S)
        await reply.stream_token(f" w{i}")
        i += 1
    await reply.send()
