"""What a person does with a comparison in chromium, by selector (public/elements/Compare.jsx)."""

from __future__ import annotations

from playwright.sync_api import Locator, expect

from tests.support.chat_page import ANSWER_TIMEOUT_MS, ChatPage

# Records, from the page itself, every state each side showed before the comparison ended.
WATCH_JS = """() => {
  window.__compare = {};
  const check = () => {
    const all = document.querySelectorAll('.cmp');
    const root = all[all.length - 1];  // the newest comparison
    if (!root || root.dataset.final === 'true') return;
    for (const side of root.querySelectorAll('.cmp-side')) {
      const seen = (window.__compare[side.dataset.side] ||= {statuses: [], answers: []});
      if (!seen.statuses.includes(side.dataset.status)) seen.statuses.push(side.dataset.status);
      const text = side.querySelector('.cmp-answer').innerText;
      if (!seen.answers.includes(text)) seen.answers.push(text);
    }
  };
  new MutationObserver(check).observe(document.body,
    {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def send_compare(chat: ChatPage, text: str) -> None:
    chat.page.locator("#command-Compare").click()
    chat.send(text)


def comparison(chat: ChatPage) -> Locator:
    return chat.page.locator(".cmp").last


def side(chat: ChatPage, key: str) -> Locator:
    return comparison(chat).locator(f'.cmp-side[data-side="{key}"]')


def wait_final(chat: ChatPage, timeout_ms: int = ANSWER_TIMEOUT_MS) -> None:
    expect(comparison(chat)).to_have_attribute("data-final", "true", timeout=timeout_ms)
    chat.wait_idle()


def answer_text(chat: ChatPage, key: str) -> str:
    return side(chat, key).locator(".cmp-answer").inner_text().strip()


def pick_budget(chat: ChatPage, name: str) -> None:
    chat.page.locator("#mode-picker-trigger-thinking_budget").click()
    chat.page.locator("#mode-picker-popover-thinking_budget").get_by_text(name).click()
