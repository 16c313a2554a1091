"""Thumbs and Export in chromium, as a presenter uses them: rate answers with the buttons
under them (a comment too), answer again and rate the new answer on its own, reload and
see the ratings again, then export from the Tools menu and download both files. The model
server is the scripted fake: its thinking answers are t8…t15 after the reasoning t0…t7;
without thinking it answers t0…t15.
"""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from tests.support.chat_page import open_chat
from tests.support.engine import ARTIFACTS
from tests.support.fake_openai_server import fake_model_server
from tests.support.saved_chat import chat as chat_app


def rate(page: Page, answer: int, thumb: str, comment: str) -> None:
    """Click ``thumb`` ("positive" or "negative") under the ``answer``-th rated answer and
    send ``comment`` with it."""
    page.locator(f".{thumb}-feedback-off").nth(answer).click()
    page.locator('[role="dialog"] textarea').fill(comment)
    page.locator("#submit-feedback").click()
    expect(page.locator('[role="dialog"]')).to_have_count(0)


def download(page: Page, suffix: str) -> str:
    link = page.get_by_role("link", name=f"What-is-2-2{suffix}")
    with page.expect_download() as info:
        link.click()
    path = ARTIFACTS / f"exported{suffix}"
    info.value.save_as(str(path))
    return path.read_text(encoding="utf-8")


def test_thumbs_given_in_the_chat_are_kept_shown_again_and_exported(browser, tmp_path):
    with fake_model_server() as server:
        with chat_app(server, tmp_path, "browser-feedback.log") as app:
            with open_chat(browser, app.url, "feedback_and_export") as chat:
                page = chat.page
                chat.send("What is 2+2?")
                chat.wait_idle()
                chat.answer_again("No think")
                chat.wait_idle()
                # The replaced answer and the one that replaced it are rated apart.
                expect(page.locator(".positive-feedback-off")).to_have_count(2)
                rate(page, 1, "negative", "Too short")
                rate(page, 0, "positive", "Right, and clear")
                expect(page.locator(".negative-feedback-on")).to_have_count(1)
                expect(page.locator(".positive-feedback-on")).to_have_count(1)

                page.reload()
                expect(chat.answers()).to_have_count(2, timeout=30_000)
                expect(page.locator(".positive-feedback-on")).to_have_count(1)
                expect(page.locator(".negative-feedback-on")).to_have_count(1)
                expect(page.locator(".negative-feedback-off")).to_have_count(1)  # the first

                page.get_by_role("button", name="Tools").click()
                page.get_by_text("Export", exact=True).click()
                page.locator("#chat-submit").click()
                expect(page.get_by_text("ready to download")).to_be_visible(timeout=30_000)
                markdown, document = download(page, ".md"), download(page, ".json")

    replaced = "<details><summary>Replaced answer · Think 👍</summary>"
    assert replaced in markdown
    assert markdown.index(replaced) < markdown.index("> Feedback: Right, and clear")
    assert markdown.index("> Feedback: Right, and clear") < markdown.index("### Assistant 👎")
    assert "> Feedback: Too short" in markdown
    (exchange,) = json.loads(document)["exchanges"]
    assert exchange["answer"]["feedback"] == {"value": 0, "comment": "Too short"}
    assert exchange["answer"]["mode"] == "No think"
    assert exchange["replaced"][0]["answer"]["feedback"] == {
        "value": 1,
        "comment": "Right, and clear",
    }
