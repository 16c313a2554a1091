"""The chat in a real browser (Debian's chromium) on the demo model, as a person uses it."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_demo_banner_and_starters(chat):
    expect(chat.banner()).to_contain_text(
        re.compile("demo model — not Qwen3-4B", re.IGNORECASE), timeout=15_000
    )
    for label in ("Add with carries (think)", "Quick hello"):
        expect(chat.page.get_by_text(label)).to_be_visible()


def test_reasoning_collapses_and_is_titled(chat):
    # How it looks while it streams is checked through a slow link (test_stop.py): the
    # demo model can think faster than a browser on two busy cores renders a frame.
    chat.send("What is 23 + 45?")
    chat.wait_idle()
    title = chat.step_title()
    expect(title).to_have_text(re.compile(r"^\s*Thought for \d+\.\d s\s*$"))
    assert "Used" not in title.inner_text() and "Using" not in title.inner_text()
    # Collapsed once the answer started.
    region = chat.reasoning_steps().last.locator('[role="region"]')
    expect(region).to_have_attribute("data-state", "closed")
    assert "68" in chat.last_answer_text()
    expect(chat.user_messages().last.locator(".command-span")).to_have_text("Think")


def test_think_off_answers_without_a_step(chat):
    chat.toggle_think()
    chat.send("What is 23 + 45?")
    chat.wait_idle()
    expect(chat.answers().last).to_contain_text("first token")
    expect(chat.reasoning_steps()).to_have_count(0)
    expect(chat.user_messages().last.locator(".command-span")).to_have_text("No think")


def test_no_think_suffix_overrides_the_button(chat):
    chat.send("Hello! /no_think")
    chat.wait_idle()
    expect(chat.reasoning_steps()).to_have_count(0)
    expect(chat.user_messages().last.locator(".command-span")).to_have_text("No think")


def test_setting_takes_effect(chat):
    chat.set_setting("max_tokens", "4")
    chat.send("What is 487 + 356?")
    chat.wait_idle()
    expect(chat.answers().last).to_contain_text("still thinking when it reached the 4-token limit")


def test_out_of_range_setting_is_clamped_with_a_note(chat):
    chat.set_setting("top_k", "5000")
    expect(chat.answers().last).to_contain_text("top_k 5000 is above 1000; set to 1000")


def test_thinking_budget_cut_shows_in_the_step(chat):
    chat.set_setting("thinking_budget", "6")
    chat.send("What is 487 + 356?")
    chat.wait_idle()
    expect(chat.step_title()).to_contain_text("thinking budget reached")
    answer = chat.last_answer_text()
    assert answer.strip() and "first token" in answer


def test_starter_runs_with_thinking(chat):
    chat.click_starter("Add with carries (think)")
    chat.wait_idle()
    expect(chat.step_title()).to_contain_text("Thought for")
    assert "900" in chat.last_answer_text()


def test_stats_line_under_the_answer(chat):
    chat.send("What is 12 + 30?")
    chat.wait_idle()
    stats = chat.answers().last.locator("em, .italic").last
    expect(stats).to_have_text(
        re.compile(r"first token \d+ ms · thought \d+\.\d s · .*answer tokens · [\d.]+ tok/s")
    )


def test_status_command(chat):
    chat.page.locator("#command-button").click()
    chat.page.get_by_text("Show the model server's status").click()
    chat.send("now")
    expect(chat.answers().last).to_contain_text("Health: ok", timeout=30_000)
    expect(chat.answers().last).to_contain_text("KV cache usage")
    expect(chat.answers().last).to_contain_text("Requests running")
