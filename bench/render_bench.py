"""Does a long, fast reasoning stream render in the browser without the page falling behind?

The scripted server (bench/scripted_server.py) streams 4,000 reasoning tokens at 2,500
tokens/s, one token per SSE chunk as vLLM sends them, then a 50-token answer, and logs the
wall clock at which it sent reasoning token 0, 500, 1000, …, 3999 and the last answer token.
Chromium (Playwright) opens the chat, sends a message with Think on, and a MutationObserver
in the page records when each newly highest ``rN`` appeared in the reasoning step and when
the answer's last token appeared (``performance.timeOrigin + performance.now()``, the same
wall clock as the server's ``time.time()``). Lag at token k = rendered(k) − sent(k); a page
that falls behind shows a lag that grows with k. Long tasks (> 50 ms) on the page's main
thread are summed too. Each ``STREAM_FLUSH_MS`` gets its own Chainlit and a fresh page.

    .venv/bin/python -m bench.render_bench --flush-ms 0,50 --json bench/results/render.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from bench.relay_bench import chat_app, scripted_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

OBSERVER = """
() => {
  const rb = window.__rb = {reasoning: [], answer: [], longTasks: 0, longTaskMs: 0,
                            maxR: -1, maxA: -1, mutations: 0};
  const now = () => performance.timeOrigin + performance.now();
  const highest = (text, letter) => {
    let best = -1;
    for (const m of text.slice(-400).matchAll(new RegExp(letter + "(\\\\d+)", "g")))
      best = Math.max(best, +m[1]);
    return best;
  };
  new MutationObserver(() => {
    rb.mutations += 1;
    const steps = document.querySelectorAll('[data-step-type="llm"]');
    if (steps.length) {
      const k = highest(steps[steps.length - 1].textContent, "r");
      if (k > rb.maxR) { rb.maxR = k; rb.reasoning.push([now(), k]); }
    }
    const answers = document.querySelectorAll(
      '[data-step-type="assistant_message"] .message-content');
    if (answers.length) {
      const k = highest(answers[answers.length - 1].textContent, "a");
      if (k > rb.maxA) { rb.maxA = k; rb.answer.push([now(), k]); }
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) { rb.longTasks += 1; rb.longTaskMs += e.duration; }
  }).observe({type: "longtask", buffered: false});
}
"""


def measure(url: str, browser: Any, args: argparse.Namespace) -> dict[str, Any]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(url)
        page.locator("#chat-input").wait_for(timeout=30_000)
        page.locator("#command-Think").wait_for(timeout=30_000)
        page.evaluate(OBSERVER)
        page.locator("#chat-input").fill("Tell me a long story.")
        page.locator("#chat-input").press("Enter")
        last_answer = args.answer_tokens - 1
        page.wait_for_function(
            f"window.__rb.maxA >= {last_answer}", timeout=args.timeout_s * 1000, polling=100
        )
        page.wait_for_timeout(300)  # let a late re-render show up in the long-task count
        return page.evaluate("window.__rb")
    finally:
        page.close()


def lags(sent: dict[str, Any], seen: dict[str, Any], reasoning_tokens: int) -> dict[str, Any]:
    """Render lag (ms) at each logged token: first time the page showed k or more."""
    out = {}
    for k_text, sent_at in sorted(sent["reasoning_sent"].items(), key=lambda kv: int(kv[0])):
        k = int(k_text)
        shown = next((t for t, n in seen["reasoning"] if n >= k), None)
        out[k] = None if shown is None else round(shown - sent_at * 1000, 1)
    last_answer_shown = seen["answer"][-1][0] if seen["answer"] else None
    return {
        "reasoning_lag_ms": out,
        "last_reasoning_lag_ms": out.get(reasoning_tokens - 1),
        "last_answer_lag_ms": None
        if last_answer_shown is None
        else round(last_answer_shown - sent["last_answer"] * 1000, 1),
        "server_reasoning_s": round(sent["last_reasoning"] - sent["first_chunk"], 3),
        "reasoning_updates_seen": len(seen["reasoning"]),
        "page_mutation_batches": seen["mutations"],
        "long_tasks": seen["longTasks"],
        "long_task_ms": round(seen["longTaskMs"], 1),
        "max_reasoning_seen": seen["maxR"],
    }


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for flush_ms in args.flush_ms:
            log = Path(tmp) / f"sent-{flush_ms:g}.jsonl"
            server_args = [
                "--token-interval-ms", str(args.token_interval_ms), "--tokens-per-chunk", "1",
                "--reasoning-tokens", str(args.reasoning_tokens),
                "--answer-tokens", str(args.answer_tokens), "--send-log", str(log),
            ]  # fmt: skip
            with (
                scripted_server(server_args) as (base_url, _),
                chat_app(base_url, flush_ms) as (
                    url,
                    _,
                ),
            ):
                for attempt in range(args.repeat):
                    seen = measure(url, browser, args)
                    sent = json.loads(log.read_text().splitlines()[-1])
                    row = {"flush_ms": flush_ms, "attempt": attempt}
                    row.update(lags(sent, seen, args.reasoning_tokens))
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    time.sleep(0.5)  # let the previous session's teardown finish
        browser.close()
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.render_bench", description=__doc__)
    p.add_argument("--flush-ms", default="0,50")
    p.add_argument("--reasoning-tokens", type=int, default=4000)
    p.add_argument("--answer-tokens", type=int, default=50)
    p.add_argument("--token-interval-ms", type=float, default=0.4)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--timeout-s", type=float, default=180)
    p.add_argument("--json", dest="json_path", default="bench/results/render.json")
    args = p.parse_args(argv)
    args.flush_ms = [float(x) for x in args.flush_ms.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = run(args)
    Path(args.json_path).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_path).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
