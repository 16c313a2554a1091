"""One chat turn: fit the history into the context, stream the answer, keep what arrived.

The stream runs inside ``ChatClient.stream()``: when the user presses Stop, Chainlit
cancels this task, leaving the context manager closes the HTTP response and vLLM aborts
the request. Whatever had arrived stays on screen and in the history.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import asdict

import chainlit as cl

from backend.chat.context_fit import ContextTooSmall, fit_history
from backend.chat.features import served_settings
from backend.chat.history import History
from backend.chat.modes import MessageMode
from backend.chat.settings import SamplingSettings, SettingsState
from backend.chat.stats import AnswerStats
from backend.chat.view import AnswerView
from backend.engine.status import read_status
from backend.metrics import METRICS, error_kind
from backend.metrics.chat import Outcome
from backend.server.client import ChatClient, Finish, ServerError, Usage
from backend.server.reasoning import Segment

log = logging.getLogger("hybrid_chat")
UNREACHABLE_GRACE_S = 10.0


async def run_turn(
    client: ChatClient,
    history: History,
    settings_state: SettingsState,
    mode: MessageMode,
    budget: int | None = None,
    on_view: Callable[[AnswerView], None] | None = None,
) -> AnswerView:
    """Answer ``mode.text``; ``budget`` is the composer's thinking budget (None: the panel's).
    ``on_view`` receives the answer's view first, to learn what was shown and saved.
    Returns the view (its ``message`` is the answer shown, None if nothing was shown)."""
    settings, missing = _settings(client, settings_state, mode, budget)
    view = _begin(client, history, settings, mode, on_view)
    try:
        if missing:
            await cl.Message(content=missing, author="Chat").send()
        if not await _prepare(client, history, settings, mode):
            history.drop_last_user()
            return view
        messages = history.messages(settings.system_prompt)
        try:
            usage, finish = await _stream(client, messages, settings, mode, view)
        except ServerError as exc:
            # Nothing was sent: the server may still be loading, or restarting.
            if not exc.unreachable or not await _wait_until_ready(client):
                raise
            usage, finish = await _stream(client, messages, settings, mode, view)
    except asyncio.CancelledError:
        await _end_stopped(view, history, mode)
        raise
    except ServerError as exc:
        await view.finish(note=str(exc))
        history.add_assistant(view.answer)
        _record(view, mode, "error", exc=exc)
        return view
    except Exception as exc:  # never a stack trace in the chat
        log.exception("chat turn failed")
        await view.finish(note=f"Something went wrong ({type(exc).__name__}); please try again.")
        _record(view, mode, "error", exc=exc)
        return view
    stats = AnswerStats.from_view(view, usage, finish)
    client.pace.observe(usage.completion_tokens if usage else None, stats.tokens_per_s)
    view.saved.update(usage=asdict(stats), finish_reason=finish)
    await view.finish(note=_finish_note(view, finish, settings.max_tokens), stats=stats.line())
    history.add_assistant(view.answer)
    _record(view, mode, "length" if finish == "length" else "completed", stats)
    return view


async def stopped_turn(
    client: ChatClient,
    history: History,
    settings_state: SettingsState,
    mode: MessageMode,
    budget: int | None = None,
    on_view: Callable[[AnswerView], None] | None = None,
) -> AnswerView:
    """Stop was pressed before the answer began: shown and kept like any stopped answer
    (the question and an empty "Stopped." answer), so every question has its answer."""
    settings, _ = _settings(client, settings_state, mode, budget)
    view = _begin(client, history, settings, mode, on_view)
    await _end_stopped(view, history, mode)
    return view


async def _end_stopped(view: AnswerView, history: History, mode: MessageMode) -> None:
    """Show and keep what arrived, with "Stopped."."""
    await view.finish(note="Stopped.", stopped=True)
    history.add_assistant(view.answer)
    _record(view, mode, "stopped")


def _settings(
    client: ChatClient, settings_state: SettingsState, mode: MessageMode, budget: int | None
) -> tuple[SamplingSettings, str | None]:
    wanted = settings_state.for_message(mode.thinking, budget)
    return served_settings(client.config, wanted, thinking=mode.thinking)


def _begin(
    client: ChatClient,
    history: History,
    settings: SamplingSettings,
    mode: MessageMode,
    on_view: Callable[[AnswerView], None] | None,
) -> AnswerView:
    """The question goes into the history; the answer's view, told to ``on_view``."""
    history.add_user(mode.text)
    METRICS.message(mode.thinking)
    view = AnswerView(interval_s=client.config.stream_flush_ms / 1000)
    view.saved = {"mode": mode.label, "settings": settings.model_dump()}
    if on_view is not None:
        on_view(view)
    return view


def _record(
    view: AnswerView,
    mode: MessageMode,
    outcome: Outcome,
    stats: AnswerStats | None = None,
    exc: BaseException | None = None,
) -> None:
    """Count the answer in the chat's metrics (after ``view.finish``: the budget flag is set)."""
    stats = stats or AnswerStats.from_view(view, None)
    METRICS.answer(
        outcome,
        thinking=mode.thinking,
        ttft_s=stats.ttft_s,
        elapsed_s=stats.elapsed_s,
        reasoning_tokens=stats.reasoning_tokens,
        answer_tokens=stats.answer_tokens,
        budget_cut=view.budget_cut,
        error_kind=error_kind(exc) if exc is not None else None,
    )


async def _prepare(
    client: ChatClient, history: History, settings: SamplingSettings, mode: MessageMode
) -> bool:
    """Fit the history into the context; False (after telling the user) when it cannot."""
    try:
        trimmed = await fit_history(client, history, settings, thinking=mode.thinking)
    except ContextTooSmall as exc:
        METRICS.not_sent("context_full")
        await cl.Message(content=str(exc), author="Chat").send()
        return False
    except ServerError as exc:
        if not exc.unreachable or not await _wait_until_ready(client):
            METRICS.not_sent(error_kind(exc))
            if not exc.unreachable:
                await cl.Message(content=str(exc), author="Chat").send()
            return False
        return await _prepare(client, history, settings, mode)
    if trimmed:
        await cl.Message(
            content=f"The conversation no longer fits the model's context, so the oldest "
            f"{trimmed} exchange(s) were left out of what the model sees.",
            author="Chat",
        ).send()
    return True


async def _stream(
    client: ChatClient,
    messages: list[dict[str, str]],
    settings: SamplingSettings,
    mode: MessageMode,
    view: AnswerView,
) -> tuple[Usage | None, str | None]:
    usage: Usage | None = None
    finish: str | None = None
    with METRICS.answers_in_progress.track_inprogress():
        async with client.stream(messages, settings, thinking=mode.thinking) as events:
            async for event in events:
                if isinstance(event, Segment):
                    await view.add(event)
                elif isinstance(event, Usage):
                    usage = event
                elif isinstance(event, Finish):
                    finish = event.reason
    return usage, finish


def _finish_note(view: AnswerView, finish: str | None, max_tokens: int) -> str | None:
    if finish != "length":
        return None
    limit = f"the {max_tokens}-token limit" if max_tokens else "the end of the context"
    if not view.answer.strip() and view.reasoning.strip():
        return (
            f"The model was still thinking when it reached {limit}, so there is no answer. "
            "Raise max tokens in the settings, set a thinking budget, or turn Think off."
        )
    return f"The answer was cut off at {limit}."


async def _wait_until_ready(client: ChatClient) -> bool:
    """Wait for an unreachable server: long while the launcher reports loading, else briefly."""
    status = read_status(client.config)
    loading = status is not None and status.state in ("starting", "loading")
    deadline_s = client.config.loading_wait_s if loading else UNREACHABLE_GRACE_S
    notice = None
    if loading:
        notice = cl.Message(
            content="The model is still loading; your message will be sent as soon as it is ready.",
            author="Chat",
        )
        await notice.send()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + deadline_s
    while loop.time() < deadline:
        await asyncio.sleep(1.0)
        if await client.healthy():
            if notice is not None:
                notice.content = "The model is ready."
                await notice.update()
            return True
        status = read_status(client.config)
        if status is not None and status.state == "failed":
            break
    detail = f" ({status.detail})" if status is not None and status.detail else ""
    await cl.Message(
        content=f"The model server at {client.config.vllm_base_url} is not answering{detail}. "
        "Check that vLLM is running (./start.sh starts it) and that VLLM_BASE_URL points at "
        "it; your message was not sent.",
        author="Chat",
    ).send()
    return False
