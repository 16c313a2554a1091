"""Edit and re-run in saved conversations, against the real chat and real SQLite: an
edited message re-runs from there, in the mode and with the thinking budget it was sent
with, live and in a conversation reopened after a restart; the later exchanges leave the
screen, the model's history and the database.

The model server is the scripted fake: a no-think answer is t0…t15.
"""

from __future__ import annotations

from tests.support.chat_socket import ChatSession
from tests.support.fake_openai_server import FakeOpenAIServer
from tests.support.saved_chat import FAST, chat, outputs, saved_steps, sent_messages, until

NO_THINK = " ".join(f"t{i}" for i in range(16))
# "one", "two", "three" asked, then "two" edited: what the model is sent for the re-run
EDITED_SENT = [("user", "one"), ("assistant", NO_THINK), ("user", "two, edited")]


async def test_edit_reruns_from_the_edited_message(tmp_path):
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-edit.log") as app:
            async with ChatSession(app.url) as tab:
                await tab.ask("one")
                second = tab.mark()
                await tab.ask("two")
                edited_id = tab.sent[-1]
                later = tab.since(second).answers[0].id
                await tab.ask("three")
                third = tab.sent[-1]
                await tab.edit(edited_id, "two, edited")
                assert sent_messages(server) == EDITED_SENT
                assert {third, later} <= set(tab.deleted)
                cookie = tab.cookie

                async def settled():
                    steps = await saved_steps(app, cookie, tab.thread_id)
                    users = outputs(steps, "user_message")
                    answers = outputs(steps, "assistant_message")
                    return users == ["one", "two, edited"] and len(answers) == 2

                await until(settled)  # the removals and the new answer all landed


async def test_edit_in_a_conversation_reopened_after_a_restart(tmp_path):
    """The reopened conversation's messages can be edited as live ones: the model is sent
    what came before the edited one, and the later exchanges leave the database."""
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-edit-resumed-1.log") as app:
            async with ChatSession(app.url) as tab:
                for question in ("one", "two", "three"):
                    await tab.ask(question)
                edited_id = tab.sent[1]
                await until(lambda: _answers_saved(app, tab, 3))
        with chat(server, tmp_path, "saved-edit-resumed-2.log") as app:
            async with ChatSession(app.url, cookie=tab.cookie, thread_id=tab.thread_id) as again:
                await again.edit(edited_id, "two, edited")
                assert sent_messages(server) == EDITED_SENT

                async def settled():
                    steps = await saved_steps(app, again.cookie, again.thread_id)
                    users = outputs(steps, "user_message")
                    return (
                        users == ["one", "two, edited"]
                        and len(outputs(steps, "assistant_message")) == 2
                    )

                await until(settled)


async def _answers_saved(app, tab: ChatSession, count: int) -> bool:
    steps = await saved_steps(app, tab.cookie, tab.thread_id)
    return len(outputs(steps, "assistant_message")) >= count


async def test_an_edited_message_reruns_in_its_mode_with_its_budget(tmp_path):
    """Sent with Think and a 1k budget, the message is labelled "Think · budget 1k"; edited,
    it is asked again thinking, with that budget (the label once turned thinking off)."""
    async with FakeOpenAIServer(FAST) as server:
        with chat(server, tmp_path, "saved-edit-budget.log") as app:
            async with ChatSession(app.url) as tab:
                budget_1k = {"modes": {"thinking_budget": "1k"}}
                await tab.send("one", think=True, extra=budget_1k)
                await tab.wait_idle()
                await tab.edit(tab.sent[-1], "one, edited")
    first, edited = server.record.bodies
    for body in (first, edited):
        assert body["chat_template_kwargs"]["enable_thinking"] is True
        assert body["thinking_token_budget"] == 1024
    assert edited["messages"][-1]["content"].strip() == "one, edited"
