"""Compare through the front end's socket.io, on the real vLLM with the demo model.

What the browser tests cannot see well: the order of queued work, how often the element is
republished, and the record of the comparison a saved conversation would keep.
"""

from __future__ import annotations

import pytest

from backend.store.transcript import SAVED_KEY
from tests.support.chat_socket import ChatSession
from tests.support.fault_proxy import Fault

FLUSH_MS = 200
COMPARE = {"command": "Compare"}


@pytest.fixture(scope="module")
def app(chat_app):
    with chat_app("compare-socket", {"STREAM_FLUSH_MS": str(FLUSH_MS)}) as running:
        yield running


def _compare_versions(tab: ChatSession) -> list[dict]:
    versions = [v for vs in tab.elements.values() for v in vs if v.get("name") == "Compare"]
    assert versions, tab.tail()
    return versions


async def test_element_is_republished_at_the_coalesced_rate_and_records_both_sides(app, proxy):
    proxy.reset(Fault(event_delay_s=0.01))
    async with ChatSession(app.url) as tab:
        await tab.send("What is 487 + 356?", extra=COMPARE)
        await tab.wait_idle(120)
    versions = _compare_versions(tab)
    final = versions[-1]["props"]
    sides = {s["key"]: s for s in final["sides"]}
    assert final["final"] and final["kept"] == "think"
    assert sides["think"]["reasoning"].strip() and not sides["no_think"]["reasoning"]
    assert "843" in sides["think"]["answer"] and "487 + 356 =" in sides["no_think"]["answer"]
    for s in sides.values():
        assert s["status"] == "done"
        assert s["stats"]["ttft_ms"] > 0 and s["stats"]["answer_tokens"] > 0
    tokens = sides["think"]["stats"]["reasoning_tokens"] + sum(
        s["stats"]["answer_tokens"] for s in sides.values()
    )
    elapsed_s = max(s["stats"]["total_s"] for s in sides.values())
    # One frame per interval at most (+ the first, each side's end, the final store).
    assert len(versions) <= elapsed_s / (FLUSH_MS / 1000) + 5, (len(versions), elapsed_s)
    assert len(versions) < tokens / 2, (len(versions), tokens)
    # The message carries both sides and which answer the conversation continues from.
    message = next(i for i in tab.shown.values() if i.metadata.get(SAVED_KEY))
    record = message.metadata[SAVED_KEY]
    assert record["role"] == "compare" and record["kept"] == "think" and record["final"]
    assert record["answer"] == sides["think"]["answer"]
    assert [s["answer"] for s in record["sides"]] == [s["answer"] for s in final["sides"]]


async def test_compare_while_an_answer_streams_waits_its_turn(app, proxy):
    proxy.reset(Fault(event_delay_s=0.05))  # a slow but healthy stream
    async with ChatSession(app.url) as tab:
        mark = tab.mark()
        await tab.send("What is 37 + 48?", think=True)
        await tab.wait_for(lambda: any(i.type == "llm" for i in tab.since(mark).items), 60)
        await tab.send("What is 12 + 7?", extra=COMPARE)
        await tab.wait_idle(120)
        reply = tab.since(mark)
    assert reply.notes == ["Still answering your previous message; this one is next in line."]
    bodies = [b for b in proxy.record.bodies if b.get("stream")]
    assert len(bodies) == 3
    # The comparison's two requests ran together, after the first answer had ended.
    assert proxy.record.max_in_flight == 2
    assert bodies[0]["messages"][-1]["content"] == "What is 37 + 48?"
    assert {b["messages"][-1]["content"] for b in bodies[1:]} == {"What is 12 + 7?"}
    assert len(bodies[1]["messages"]) == 3  # the first exchange, then the new question
