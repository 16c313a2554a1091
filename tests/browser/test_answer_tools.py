"""Answer again, the thinking-budget picker, and mathematics, in the browser.

The real vLLM (demo model) answers behind a recording proxy. The demo model writes no
LaTeX, so for mathematics the proxy replaces its answer text with Qwen3-style output
(boxed answers, aligned equations, inline fractions, money, code): the stream, its timing
and the rest of the chat stay real.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.chat_page import open_chat
from tests.support.compare_page import comparison, pick_budget, send_compare, side, wait_final
from tests.support.engine import ARTIFACTS
from tests.support.fault_proxy import Fault

QWEN3_MATH = r"""To solve $2x + 3 = 7$, subtract 3 from both sides:

\[
2x = 4 \quad\Rightarrow\quad x = \frac{4}{2} = 2
\]

Step by step:
$$
\begin{aligned}
2x + 3 &= 7 \\
2x &= 4 \\
x &= 2
\end{aligned}
$$

Half of it is \( \frac{1}{2} \cdot 4 = 2 \). If apples cost $5 and $10 buys pears, that is $15.

```python
def solve(a, b, c):
    return (c - b) / a  # costs $5
```

**Final answer:** \boxed{2}"""


@pytest.fixture
def chat(browser, proxied_chat, request):
    proxy, url = proxied_chat
    proxy.reset()
    with open_chat(browser, url, request.node.name) as page:
        yield proxy, page


def _chat_bodies(proxy) -> list[dict]:
    return [b for b in proxy.record.bodies if b.get("stream")]


def test_answer_again_in_the_other_mode_replaces_the_answer(chat):
    proxy, page = chat
    page.send("What is 23 + 45?")
    page.wait_idle()
    expect(page.reasoning_steps()).to_have_count(1)
    page.answer_again("No think")
    page.wait_idle()
    expect(page.answers()).to_have_count(2)
    first, again = page.answers().nth(0), page.answers().nth(1)
    expect(first).to_contain_text("Replaced by the answer below.")
    expect(again).to_contain_text("23 + 45 =")
    expect(page.reasoning_steps()).to_have_count(1)  # the new answer did not think
    # The actions moved under the new answer, now offering the other way round.
    expect(page.page.get_by_role("button", name="Again (Think)")).to_have_count(1)
    bodies = _chat_bodies(proxy)
    assert bodies[1]["chat_template_kwargs"] == {"enable_thinking": False}
    assert bodies[1]["messages"] == bodies[0]["messages"]  # the same question again
    # Next turn: one answer to the first question, the new one.
    asked = len(_chat_bodies(proxy))
    page.send("What is 12 + 7? /no_think")
    page.wait_idle()
    assert len(_chat_bodies(proxy)) == asked + 1
    sent = _chat_bodies(proxy)[-1]["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert sent[1]["content"].strip() in again.inner_text()


def test_answer_again_in_the_same_mode(chat):
    proxy, page = chat
    page.send("What is 305 - 19? /no_think")
    page.wait_idle()
    page.answer_again("No think")
    page.wait_idle()
    expect(page.answers()).to_have_count(2)
    bodies = _chat_bodies(proxy)
    assert [b["chat_template_kwargs"]["enable_thinking"] for b in bodies] == [False, False]


def test_budget_picker_applies_to_the_message_and_shows_on_it(chat):
    proxy, page = chat
    pick_budget(page, "Budget: 1k")
    expect(page.page.locator("#mode-picker-trigger-thinking_budget")).to_contain_text("1k")
    page.send("What is 487 + 356?")
    page.wait_idle()
    expect(page.user_messages().last.locator(".command-span")).to_have_text("Think · budget 1k")
    assert _chat_bodies(proxy)[-1]["thinking_token_budget"] == 1024
    # A tiny budget through the settings field still works when the picker says so.
    pick_budget(page, "Budget: settings")
    page.set_setting("thinking_budget", "6")
    page.send("What is 487 + 356?")
    page.wait_idle()
    expect(page.user_messages().last.locator(".command-span")).to_have_text("Think")
    assert _chat_bodies(proxy)[-1]["thinking_token_budget"] == 6
    expect(page.step_title()).to_contain_text("thinking budget reached")
    # And a comparison's thinking side gets the picked budget too.
    pick_budget(page, "Budget: 4k")
    send_compare(page, "What is 12 + 30?")
    wait_final(page)
    expect(page.user_messages().last.locator(".command-span")).to_have_text("Compare · budget 4k")
    think = [b for b in _chat_bodies(proxy)[-2:] if b["chat_template_kwargs"]["enable_thinking"]]
    assert think[0]["thinking_token_budget"] == 4096


def _assert_math(answer) -> None:
    expect(answer.locator(".katex-display")).to_have_count(2)  # \[ \] and the aligned $$
    assert answer.locator(".katex").count() >= 5  # + $2x+3=7$, \( \), \boxed
    expect(answer.locator(".katex .fbox")).to_have_count(1)  # how KaTeX draws \boxed
    expect(answer.locator(".katex .mfrac").first).to_be_visible()
    # KaTeX's stylesheet is there: the MathML copy is hidden, not shown as text.
    assert answer.locator(".katex-mathml").first.evaluate(
        "el => getComputedStyle(el).position === 'absolute' || getComputedStyle(el).clip !== 'auto'"
    )
    text = answer.inner_text()
    assert "If apples cost $5 and $10 buys pears, that is $15." in text
    assert "\\(" not in text and "\\[" not in text and "\\boxed" not in text


def test_latex_renders_and_dollar_amounts_stay_text(chat):
    proxy, page = chat
    proxy.reset(Fault(answer_text=QWEN3_MATH))
    page.send("What is 2 + 2? /no_think")
    page.wait_idle()
    answer = page.answers().last
    expect(answer).to_contain_text("Final answer")
    _assert_math(answer)
    # Code is highlighted, and a dollar in code stays as written.
    code = answer.locator("pre code.hljs")
    expect(code).to_have_count(1)
    expect(code.locator(".hljs-keyword").first).to_have_text("def")
    expect(code).to_contain_text("# costs $5")
    answer.screenshot(path=str(ARTIFACTS / "latex-answer.png"))


def test_latex_renders_in_a_comparison(chat):
    proxy, page = chat
    proxy.reset(Fault(answer_text=QWEN3_MATH))
    send_compare(page, "What is 2 + 2?")
    wait_final(page)
    for key in ("think", "no_think"):
        _assert_math(side(page, key).locator(".cmp-answer"))
    comparison(page).screenshot(path=str(ARTIFACTS / "latex-compare.png"))


def test_a_users_dollar_amounts_stay_text(chat):
    _, page = chat
    page.send("I have $5 and $10. What is 5 + 10? /no_think")
    page.wait_idle()
    bubble = page.user_messages().last
    expect(bubble).to_contain_text("I have $5 and $10.")
    expect(bubble.locator(".katex")).to_have_count(0)
