"""Chat features the serving vLLM lacks: say so and send the request without them.

The launcher leaves out a flag the installed vLLM does not know (an older ENGINE_PYTHON)
and records the feature it costs in its status file. `served_settings` takes those
features out of one message's settings and returns the note the chat shows instead of
a request vLLM would reject.
"""

from __future__ import annotations

from backend.chat.settings import SamplingSettings
from backend.config import Config
from backend.engine.status import read_status

THINKING_BUDGET = "thinking budget"
BUDGET_NOTE = (
    "The thinking budget is unavailable: the vLLM serving this chat has no "
    "--reasoning-config (it needs vLLM 0.26 or newer with that flag), so the model thinks "
    "without a limit."
)


def served_settings(
    config: Config, settings: SamplingSettings, *, thinking: bool
) -> tuple[SamplingSettings, str | None]:
    """(settings without what the server lacks, the note to show, or None)."""
    if not (thinking and settings.thinking_budget):
        return settings, None
    status = read_status(config)
    if status is None or THINKING_BUDGET not in status.unavailable:
        return settings, None
    return settings.model_copy(update={"thinking_budget": 0}), BUDGET_NOTE
