"""A page object for the chat in chromium: what a person does and sees, by selector."""

from __future__ import annotations

from contextlib import contextmanager

from playwright.sync_api import Locator, Page, expect

from tests.support.engine import ARTIFACTS

ANSWER_TIMEOUT_MS = 90_000

_COUNT_JS = """() => ({
  questions: document.querySelectorAll('[data-step-type="user_message"]').length,
  answers: document.querySelectorAll('[data-step-type="assistant_message"]').length,
})"""

# The turn has begun (or is already over): the question is on screen, and the Stop button
# or a new answer shows. A fast turn can come and go between two polls, so the Stop button
# alone is not enough; the new answer stays.
_BEGUN_JS = """before => {
  const count = sel => document.querySelectorAll(`[data-step-type="${sel}"]`).length;
  const asked = !before.asks || count('user_message') > before.questions;
  const answering = document.querySelector('#stop-button') !== null
    || count('assistant_message') > before.answers;
  return asked && answering;
}"""


class ChatPage:
    def __init__(self, page: Page, url: str):
        self.page = page
        self.url = url
        self._before: dict | None = None  # the page before a turn: see mark()

    def open(self) -> None:
        self.page.goto(self.url)
        expect(self.page.locator("#chat-input")).to_be_visible(timeout=30_000)
        expect(self.page.locator("#command-Think")).to_be_visible(timeout=30_000)

    # -- composer -------------------------------------------------------------
    def mark(self, *, asks: bool = True) -> None:
        """Note the page before an action that starts a turn, so that the next wait_idle
        waits for that turn: until it begins, the page still looks idle. ``asks``: the
        action puts a new question on screen (a message, a starter), not only an answer."""
        self._before = {**self.page.evaluate(_COUNT_JS), "asks": asks}

    def send(self, text: str) -> None:
        self.mark()
        self.page.locator("#chat-input").fill(text)
        self.page.locator("#chat-input").press("Enter")

    def click_starter(self, label: str) -> None:
        self.mark()
        self.page.get_by_text(label).click()

    def answer_again(self, mode: str) -> None:
        """Press "Again (``mode``)" under the last answer."""
        self.mark(asks=False)
        self.page.get_by_role("button", name=f"Again ({mode})").click()

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
        """The answer is over when the send button is back (the stop button is gone). After
        an action that starts a turn (mark()), that turn must have begun first."""
        before, self._before = self._before, None
        if before is not None:
            self.page.wait_for_function(_BEGUN_JS, arg=before, polling=100, timeout=timeout_ms)
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
