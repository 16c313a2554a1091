"""A page object for the chat in chromium: what a person does and sees, by selector."""

from __future__ import annotations

from contextlib import contextmanager

from playwright.sync_api import Locator, Page, expect

from tests.support.engine import ARTIFACTS

ANSWER_TIMEOUT_MS = 90_000


class ChatPage:
    def __init__(self, page: Page, url: str):
        self.page = page
        self.url = url

    def open(self) -> None:
        self.page.goto(self.url)
        expect(self.page.locator("#chat-input")).to_be_visible(timeout=30_000)
        expect(self.page.locator("#command-Think")).to_be_visible(timeout=30_000)

    # -- composer -------------------------------------------------------------
    def send(self, text: str) -> None:
        self.page.locator("#chat-input").fill(text)
        self.page.locator("#chat-input").press("Enter")

    def toggle_think(self) -> None:
        self.page.locator("#command-Think").click()

    def stop(self) -> None:
        self.page.locator("#stop-button").click()

    def stop_once_answer_shows(self, text: str, timeout_ms: int = ANSWER_TIMEOUT_MS) -> None:
        """Press Stop from inside the page, on the first frame where the streamed answer
        shows ``text`` — a person's reaction time would miss a fast model's whole answer."""
        self.page.wait_for_function(
            """text => {
              const answer = [...document.querySelectorAll(
                '[data-step-type="assistant_message"] .message-content')]
                .find(el => el.innerText.includes(text));
              const stop = document.querySelector('#stop-button');
              if (answer && stop) { stop.click(); return true; }
              return false;
            }""",
            arg=text,
            polling="raf",
            timeout=timeout_ms,
        )

    def wait_idle(self, timeout_ms: int = ANSWER_TIMEOUT_MS) -> None:
        """The answer is over when the send button is back (the stop button is gone)."""
        expect(self.page.locator("#stop-button")).to_have_count(0, timeout=timeout_ms)
        expect(self.page.locator("#chat-submit")).to_be_visible(timeout=timeout_ms)

    def set_settings(self, values: dict[str, str] | None = None, *, sliders_to_max=()) -> None:
        """Open the settings panel, type ``values``, push sliders to their maximum, confirm."""
        self.page.locator("#chat-settings-open-modal").click()
        for field, value in (values or {}).items():
            self.page.locator(f"#{field}").fill(value)
        for field in sliders_to_max:
            thumb = self.page.locator(f'#{field} [role="slider"]')
            thumb.focus()
            thumb.press("End")
        self.page.get_by_role("button", name="Confirm").click()

    def set_setting(self, field: str, value: str) -> None:
        self.set_settings({field: value})

    def watch_thinking(self) -> None:
        """Record, from the page itself, whether a live "Thinking…" step was ever shown,
        open, with streamed text in it (watch a slow link: the demo model thinks fast)."""
        self.page.evaluate(
            """() => {
              window.__thinking = {shown: false, open: false, text: 0};
              const check = () => {
                const title = document.querySelector('button[id="step-Thinking…"]');
                if (!title) return;
                const step = title.closest('[data-step-type="llm"]');
                const region = step && step.querySelector('[role="region"]');
                window.__thinking.shown = true;
                if (region && region.dataset.state === "open") {
                  window.__thinking.open = true;
                  window.__thinking.text = Math.max(window.__thinking.text,
                                                    region.innerText.length);
                }
              };
              new MutationObserver(check).observe(document.body,
                {subtree: true, childList: true, attributes: true, characterData: true});
            }"""
        )

    def thinking_seen(self) -> dict:
        return self.page.evaluate("() => window.__thinking")

    # -- what is on screen ------------------------------------------------------
    def user_messages(self) -> Locator:
        return self.page.locator('[data-step-type="user_message"]')

    def reasoning_steps(self) -> Locator:
        return self.page.locator('[data-step-type="llm"]')

    def step_title(self, index: int = -1) -> Locator:
        return self.reasoning_steps().nth(index).locator('button[id^="step-"]').first

    def answers(self) -> Locator:
        return self.page.locator('[data-step-type="assistant_message"] .message-content')

    def last_answer_text(self) -> str:
        return self.answers().last.inner_text()

    def banner(self) -> Locator:
        return self.page.locator("#model-banner")


@contextmanager
def open_chat(browser, url: str, name: str):
    """A fresh tab on ``url`` (a new chat session); its screenshot is kept as an artifact."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    chat_page = ChatPage(page, url)
    chat_page.open()
    try:
        yield chat_page
    finally:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        context.close()
